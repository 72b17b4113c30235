"""Target landmarks for driving the warp renderer without audio: rig expressions plus a head pose.

The expressions come from the real expression rig (engine.rig), so the renderer's tests, benchmark
and previews see the same mesh motion as predicted speech. What the rig does not give (a clip that
mixes speech shapes, a head turn and a blink over time) is composed here.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from engine.geometry import project

# Speech-typical mouth shapes (rig control values) and the extremes the renderer must also handle.
SPEECH_EXPRESSIONS: dict[str, dict[str, float]] = {
    "ah": {"jawOpen": 0.55},
    "eh_smile": {"jawOpen": 0.4, "mouthSmileLeft": 0.5, "mouthSmileRight": 0.5, "mouthStretchLeft": 0.2,
                 "mouthStretchRight": 0.2},
    "oh_funnel": {"jawOpen": 0.45, "mouthFunnel": 0.6, "mouthPucker": 0.2},
    "half_closed": {"jawOpen": 0.6, "mouthClose": 0.3, "mouthLowerDownLeft": 0.2, "mouthLowerDownRight": 0.2},
    "small": {"jawOpen": 0.3, "mouthUpperUpLeft": 0.2, "mouthUpperUpRight": 0.2},
}
WIDE_OPEN = {"jawOpen": 1.0}
BLINK = {"eyeBlinkLeft": 1.0, "eyeBlinkRight": 1.0}
HEAD_TURN_POSE = (4.0, 15.0, 3.0, 0.0, 0.0, 0.0)  # rx, ry, rz degrees: a clear three-quarter turn


def expression_mesh(reference, values: Mapping[str, float] | None = None) -> np.ndarray:
    """(468, 3) the reference's own mesh with rig control values applied (cm)."""
    from engine.rig import load_rig

    if not values:
        return np.asarray(reference.mesh, dtype=np.float64)
    return reference.mesh + load_rig().offsets_frame(values).astype(np.float64)


def target_px(reference, values: Mapping[str, float] | None = None, pose=None) -> np.ndarray:
    """(468, 2) target landmarks in the reference frame's pixels for rig values and a relative pose."""
    return project(expression_mesh(reference, values), reference.transform,
                   None if pose is None else np.asarray(pose, float), reference.width, reference.height)


def fidelity_targets(reference) -> dict[str, np.ndarray]:
    """Rig expressions: speech-typical shapes, the jaw wide open, a head turn while talking, a blink."""
    out = {name: target_px(reference, values) for name, values in SPEECH_EXPRESSIONS.items()}
    out["jaw_wide"] = target_px(reference, WIDE_OPEN)
    out["head_turn"] = target_px(reference, SPEECH_EXPRESSIONS["ah"], HEAD_TURN_POSE)
    out["blink"] = target_px(reference, BLINK)
    return out


def demo_sequence(reference, frames: int = 60) -> np.ndarray:
    """(frames, 468, 2) a realistic test clip: speech-like jaw and lip motion, a head turn, one blink."""
    from engine.rig import load_rig

    rig = load_rig()
    t = np.linspace(0.0, 1.0, frames)
    tracks = {
        "jawOpen": 0.15 + 0.45 * (0.5 - 0.5 * np.cos(8 * np.pi * t)) ** 1.5,
        "mouthFunnel": 0.5 * np.clip(np.sin(6 * np.pi * t), 0, 1),
        "mouthSmileLeft": 0.4 * np.clip(-np.sin(6 * np.pi * t), 0, 1),
        "mouthSmileRight": 0.4 * np.clip(-np.sin(6 * np.pi * t), 0, 1),
        "eyeBlinkLeft": np.exp(-0.5 * ((t - 0.6) / 0.04) ** 2),
        "eyeBlinkRight": np.exp(-0.5 * ((t - 0.6) / 0.04) ** 2),
    }
    meshes = reference.mesh[None] + rig.offsets(tracks).astype(np.float64)
    s = np.sin(2 * np.pi * t)
    pose = np.stack([4 * s, 15 * s, 3 * np.sin(4 * np.pi * t), 0 * t, 0 * t, 0 * t], axis=1)
    return project(meshes, reference.transform, pose, reference.width, reference.height)
