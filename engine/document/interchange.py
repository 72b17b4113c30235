"""Live Link Face CSV in and out of a project (engine.export.livelink has the file format).

Export: the evaluated result of every rig control that is an ARKit blendshape (base layer after gains + edit)
and the head rotation (HeadYaw = ry, HeadPitch = rx, HeadRoll = rz, in radians; the CSV has no head
translation), one row per project frame, timecode at the project's frame rate.
Import: a take becomes ordinary editable keys: for each channel the CSV drives, linear keys (simplified to
within a tolerance) whose edit values make the channel's RESULT follow the capture (edit = captured - base),
from `start` seconds on; keys that were inside the imported span are replaced, others kept, and the edit between the
kept keys and the take is baked as it was (to a frame of the take), so the result outside the take is what it was.
"""
from __future__ import annotations

import os

import numpy as np

from engine.document.curves import KEY_TIME_TOLERANCE, Curve, Interpolation, Key
from engine.document.edits import simplify
from engine.document.project import Project
from engine.document.readout import base_tracks
from engine.export.livelink import ARKIT_SHAPES, LiveLinkTake, read_livelink_csv, write_livelink_csv

HEAD_COLUMNS = ("ry", "rx", "rz")  # HeadYaw, HeadPitch, HeadRoll


def result_tracks(project: Project) -> dict[str, np.ndarray]:
    """channel -> (T,) evaluated result (base after gains + edit) at every frame."""
    tracks = base_tracks(project)
    samples = project.channel_samples()
    return {name: samples[:, j] + (tracks[name] if name in tracks else 0.0)
            for j, name in enumerate(project.channel_names)}


def export_livelink(project: Project, path: str | os.PathLike) -> int:
    """Writes the project's evaluated controls and head rotation; returns the number of frames."""
    results = result_tracks(project)
    shapes = {n: np.clip(results[n], 0.0, 1.0) for n in ARKIT_SHAPES if n in results}
    head = np.radians(np.stack([results[c] for c in HEAD_COLUMNS], axis=1))
    write_livelink_csv(path, project.fps, shapes, head)
    return project.frame_count


# Key reduction of an imported take: the keys keep every channel within this of the capture. Weights: 0.01 of a
# control's range is below what a viewer sees in a mouth; a filmed take (MediaPipe's scores jitter by ~0.025 a
# frame) is imported at VIDEO_TAKE_TOLERANCE instead, so the keys follow the performance, not its noise. Head
# rotation (degrees): a quarter degree moves a face's edge by under a pixel at 512 px.
TAKE_TOLERANCE = 0.01
VIDEO_TAKE_TOLERANCE = 0.03
HEAD_TOLERANCE_DEG = 0.25


# Where a take starts after the clip's start (or ends before its end), its first (last) this many seconds ease
# from the motion that was there into the take: a take dropped in at 2 s turned the head 8.7 degrees in one
# frame. A fifth of a second reads as a quick, deliberate move (a head turn takes 0.2-0.5 s), not a cut, and
# keeps nearly all of the take as captured.
TAKE_BLEND_S = 0.2


def import_livelink(project: Project, take: LiveLinkTake | str | os.PathLike, start: float = 0.0,
                    tolerance: float = TAKE_TOLERANCE, head: bool = True,
                    blend: float = TAKE_BLEND_S) -> dict[str, Curve]:
    """New curves for the channels the take drives (see the module docstring); the caller applies them (one undo
    step in the editor). Frames past the project's end are dropped. `tolerance` applies to the controls, head
    rotation keys keep within HEAD_TOLERANCE_DEG; `blend` seconds at each end of the take ease in from and out to
    the motion around it (where there is some)."""
    if not isinstance(take, LiveLinkTake):
        take = read_livelink_csv(take)
    tracks = base_tracks(project)
    captured: dict[str, np.ndarray] = {n: v for n, v in take.shapes.items() if n in project.channels}
    if head and take.head is not None:
        for i, name in enumerate(HEAD_COLUMNS):
            captured[name] = np.degrees(take.head[:, i])
    times = start + take.times
    inside = times <= project.duration + 1e-9
    times = times[inside]
    if times.size < 1:
        return {}
    out = {}
    ease = _take_ease(times, project, blend)
    for name, values in captured.items():
        values = values[inside].astype(np.float64)
        base = tracks.get(name)
        if base is not None:
            frames = np.clip(np.round(times * project.fps).astype(int), 0, project.frame_count - 1)
            values = values - base[frames]
        old = project.channels[name]
        if ease is not None:
            before = np.asarray(old.evaluate(times), dtype=np.float64)
            values = before + ease * (values - before)
        within = HEAD_TOLERANCE_DEG if name in HEAD_COLUMNS else tolerance
        idx = simplify(times, values, within) if times.size > 1 else np.array([0])
        lo, hi = times[0] - KEY_TIME_TOLERANCE, times[-1] + KEY_TIME_TOLERANCE
        keys = [Key(k.time, k.value, k.interpolation, k.handle_left, k.handle_right)
                for k in old.keys if not lo <= k.time <= hi]
        keys += _kept_around(old, keys, times[0], times[-1], project, within)
        keys += [Key(float(times[i]), float(values[i]), Interpolation.LINEAR) for i in idx]
        out[name] = Curve(keys)
    return out


def _take_ease(times: np.ndarray, project: Project, blend: float) -> np.ndarray | None:
    """0..1 per take frame: how much of the take shows (smoothstep over `blend` seconds at an end of the take
    that meets motion of the clip); None where the take shows whole."""
    step = 1.0 / project.fps
    w = np.ones(len(times))
    if blend <= 0 or len(times) < 2:
        return None
    blend = min(blend, (times[-1] - times[0]) / 3.0)  # a short take keeps its middle third as captured
    if times[0] >= step - KEY_TIME_TOLERANCE:  # the clip has frames before the take
        w = np.minimum(w, np.clip((times - times[0] + step) / (blend + step), 0.0, 1.0))
    if times[-1] <= project.duration - 2 * step + KEY_TIME_TOLERANCE:  # ... and after it
        w = np.minimum(w, np.clip((times[-1] + step - times) / (blend + step), 0.0, 1.0))
    return None if np.all(w == 1.0) else w * w * (3.0 - 2.0 * w)


def _kept_around(old: Curve, kept: list[Key], first: float, last: float, project: Project,
                 within: float) -> list[Key]:
    """Keys that keep the edit as it was outside the take: the old curve from the nearest kept key to a frame
    before the take's first key (and from a frame after its last key to the next kept key), baked at frame rate
    and reduced within `within`; without them the curve would run from the take's end keys to the kept ones."""
    step = 1.0 / project.fps
    out = []
    for edge, toward in ((first - step, -1.0), (last + step, 1.0)):
        if not 0.0 <= edge <= project.duration or any(abs(k.time - edge) <= KEY_TIME_TOLERANCE for k in kept):
            continue  # outside the clip, or a kept key already holds the curve there
        beyond = [k.time for k in kept if (k.time - edge) * toward > KEY_TIME_TOLERANCE]
        t = np.array([edge])  # no kept key on that side: the curve holds the edge's value
        if beyond:  # from the edge to the nearest kept key, without a second key where that one is
            far = max(beyond) if toward < 0 else min(beyond)
            t = np.sort(np.arange(edge, far, toward * step))
            t = t[np.abs(t - far) > KEY_TIME_TOLERANCE]
        if t.size == 0:
            continue
        v = np.asarray(old.evaluate(t), dtype=np.float64)
        idx = simplify(t, v, within) if t.size > 1 else np.array([0])
        out += [Key(float(t[i]), float(v[i]), Interpolation.LINEAR) for i in idx]
    return out


__all__ = ["export_livelink", "import_livelink", "result_tracks", "HEAD_COLUMNS"]
