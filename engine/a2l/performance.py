"""The `performance` Audio2Lmk backend (reenactment): the motion comes from a tracked driving video instead of
the audio. Expression = the driver's canonical mesh relative to its most neutral frame (in each shot between
cuts), applied to the portrait's neutral mesh, except the lids: blinks go through the rig's blink (fitted to the
portrait); head pose = the driver's relative to its first frame (of the shot). The result is an ordinary base
layer (keys, gains and every renderer apply), with rig weights fitted to it so the lanes and the inspector
show what the performer did."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from engine.a2l.backend import A2LCapabilities, Cancel, Progress, stage_reporter
from engine.a2l.base_layer import BaseLayer
from engine.audio.decode import AudioClip
from engine.errors import ConfigError
from engine.face.contours import EYE_LEFT_LOWER, EYE_LEFT_UPPER, EYE_RIGHT_LOWER, EYE_RIGHT_UPPER

# Rig controls the fitted weights are reported for (the blinks are measured from the lids: blink_weights).
FITTED_CONTROLS = ("jawOpen", "mouthClose", "mouthFunnel", "mouthPucker", "mouthSmileLeft", "mouthSmileRight",
                   "mouthStretchLeft", "mouthStretchRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight")


@dataclass
class PerformanceConfig:
    VERSION: ClassVar[int] = 1
    video: str = ""  # the driving video
    face_index: int | None = None  # which face drives when the video shows several (default: the largest)
    # Share of the driver's head translation given to the portrait. Rotation transfers whole; a driving clip's
    # translation is mostly the performer leaning and the camera shaking (+-5 cm on the bundled clips), which a
    # 2D warp of a still can follow only by tearing the face from the hair: half keeps the liveliness.
    head_translation: float = 0.5

    def validate(self) -> None:
        if self.face_index is not None and self.face_index < 0:
            raise ValueError(f"face_index must be >= 0, got {self.face_index}")
        if not 0.0 <= self.head_translation <= 1.0:
            raise ValueError(f"head_translation must be between 0 and 1, got {self.head_translation}")


def fit_weights(offsets: np.ndarray, rig, controls=FITTED_CONTROLS) -> dict[str, np.ndarray]:
    """Least-squares rig weights per frame that best explain the offsets (for display and editing)."""
    names = [c for c in controls if c in rig.controls]
    basis = rig.basis[[rig.index(c) for c in names]].reshape(len(names), -1).astype(np.float64)
    w, *_ = np.linalg.lstsq(basis.T, offsets.reshape(len(offsets), -1).T.astype(np.float64), rcond=None)
    return {n: np.clip(w[i], 0.0, 1.0).astype(np.float32) for i, n in enumerate(names)}


# Where the driver's face is lost for long (it leaves the frame, a cutaway), the portrait eases back to its own
# expression and pose over this long from the last frame it was seen, and out again: holding that frame froze
# the portrait mid-word (a wide-open grimace, the head thrown back) for as long as the face was gone.
REST_EASE_S = 0.3


def toward_rest(values: np.ndarray, usable: np.ndarray, fps: float) -> np.ndarray:
    """(T, ...) values where the driver's face is tracked; in a long gap, the nearest tracked frame's values eased
    (raised cosine) to 0 (the rest) over REST_EASE_S."""
    from scipy.ndimage import distance_transform_edt

    if usable.all() or not usable.any():
        return values
    frames_away, (nearest,) = distance_transform_edt(~usable, return_indices=True)
    t = np.clip(frames_away / max(REST_EASE_S * fps, 1.0), 0.0, 1.0)
    share = 0.5 + 0.5 * np.cos(np.pi * t)
    return values[nearest] * share.reshape((-1,) + (1,) * (values.ndim - 1))


# A driver's blink transferred as mesh motion closes the portrait's eyes only as far as the driver's lids travel:
# a portrait with wider eyes than the driver's never shut them (70-90 % open at the driver's blinks). The lids go
# through the rig's blink instead, which closes any face's eyes exactly (the project fits it to the portrait): the
# driver's lid gap against its open-eye gap, the OPEN_EYE_PERCENTILE-th of its frames (eyes are open most of the
# time: blinks take ~10 % of it), the driver's own lid motion left out where the blink moves the mesh (its share
# of the blink's largest displacement, saturating at LID_MASK_SATURATION).
OPEN_EYE_PERCENTILE = 80
LID_MASK_SATURATION = 0.25
# A face this far out of the picture (its share of landmarks outside the frame) is lost: a half-visible face's pose
# is wrong (a 16 cm slide and 10 degrees of pitch on a driver leaving the frame tore the portrait apart), so the
# portrait rests there as where the face is gone. A chin cut by the frame's edge is not that.
EDGE_LOST_SHARE = 0.1
# The portrait's head shift across the picture is soft-limited to this (tanh): a still's warp bends the hair beyond
# ~3 cm and tore the face from it at 7.9 cm (a driver whose camera panned); 1.5 cm keeps 93 % of itself.
MAX_HEAD_SHIFT_CM = 3.0
BLINKS = (("eyeBlinkLeft", EYE_LEFT_UPPER, EYE_LEFT_LOWER), ("eyeBlinkRight", EYE_RIGHT_UPPER, EYE_RIGHT_LOWER))


def blink_weights(meshes: np.ndarray, usable: np.ndarray) -> dict[str, np.ndarray]:
    """Per frame of (T, 468, 3) canonical meshes, each eye's blink (0 open .. 1 shut) from its lid gap."""
    out = {}
    for name, upper, lower in BLINKS:
        gap = (meshes[:, list(upper[1:-1]), 1] - meshes[:, list(lower[1:-1]), 1]).mean(axis=1)
        open_gap = float(np.percentile(gap[usable] if usable.any() else gap, OPEN_EYE_PERCENTILE))
        out[name] = np.clip(1.0 - gap / max(open_gap, 1e-6), 0.0, 1.0)
    return out


# The frames this close to a stretch where the face is lost count as lost too: the tracker's last frames of a face
# leaving the picture and its first of one coming back are half-found faces (their landmarks jumped by 0.88-0.95 of
# the eye distance in one frame, against at most 0.61 on LivePortrait's d12, the fastest driver here), which tore
# the portrait's eyes and mouth apart on the frame before and after such a gap. Two frames at 25 fps.
LOST_MARGIN_S = 0.08


def in_picture(track) -> np.ndarray:
    """(T,) bool: the face is tracked and (nearly all) inside the picture, and not at the edge of a stretch where it
    is not nor at a cut between shots (the first frames of a new shot were a blend of the two faces: torn)."""
    from scipy.ndimage import binary_erosion

    xy = np.asarray(track.landmarks)[..., :2]
    outside = ((xy < 0.0) | (xy > 1.0)).any(axis=-1).mean(axis=1)
    seen = np.asarray(track.usable, bool) & (outside <= EDGE_LOST_SHARE)
    seen[track.cut_frames()] = False
    margin = int(round(LOST_MARGIN_S * track.fps))
    if margin < 1 or seen.all():
        return seen
    # eroded inwards from each lost stretch only (the clip's own ends are not one)
    return seen & binary_erosion(seen, np.ones(2 * margin + 1, bool), border_value=True)


def performance_base(track, fps: float, frames: int, head_translation: float = 1.0) -> BaseLayer:
    """The track's motion at `fps` over `frames` frames (the last frame held past the video's end; the rest pose
    where the face was lost for long or left the picture)."""
    from engine.geometry import relative_pose
    from engine.rig import load_rig
    from engine.timing import resample_frames

    rig = load_rig()
    # each shot against its own first frame (pose) and most neutral frame (expression): after a cut to another
    # person, the two faces' difference in shape was taken for expression (the portrait's eyes grew by the new
    # face's) and the new camera's angle for a turn of the head
    pose, scale = np.zeros((track.frame_count, 6)), np.ones(track.frame_count)
    neutral = np.empty_like(track.meshes)
    for start, stop in track.shots():
        pose[start:stop], scale[start:stop] = relative_pose(track.transforms[start], track.transforms[start:stop])
        neutral[start:stop] = track.meshes[track.neutral_index(start, stop)]
    meshes = track.meshes * scale[:, None, None]
    usable = in_picture(track)
    lids = np.max([np.linalg.norm(rig.basis[rig.index(name)], axis=1) for name, _, _ in BLINKS], axis=0)
    keep = 1.0 - np.clip(lids / (LID_MASK_SATURATION * lids.max()), 0.0, 1.0)  # (468,)
    expression = (meshes - neutral) * keep[None, :, None]
    expression = resample_frames(toward_rest(expression, usable, track.fps), track.fps, fps, frames).astype(np.float32)
    blinks = {name: resample_frames(toward_rest(w, usable, track.fps), track.fps, fps, frames).astype(np.float32)
              for name, w in blink_weights(meshes, usable).items()}
    offsets = expression + rig.offsets(blinks)  # the canonical rig's blinks: the project swaps in the face's own
    pose = resample_frames(toward_rest(pose, usable, track.fps), track.fps, fps, frames)
    pose[:, 3:] *= head_translation
    shift = np.linalg.norm(pose[:, 3:5], axis=1, keepdims=True)  # across the picture, soft-limited
    pose[:, 3:5] *= MAX_HEAD_SHIFT_CM * np.tanh(shift / MAX_HEAD_SHIFT_CM) / np.maximum(shift, 1e-9)
    return BaseLayer(fps=float(fps), offsets=offsets.astype(np.float32), pose=pose,
                     weights={**fit_weights(expression, rig), **blinks})


class PerformanceBackend:
    name: ClassVar[str] = "performance"
    title: ClassVar[str] = "Performance capture (driving video)"
    Config: ClassVar[type] = PerformanceConfig
    capabilities: ClassVar[A2LCapabilities] = A2LCapabilities(rig_weights=True)

    @classmethod
    def available(cls, config: PerformanceConfig) -> tuple[bool, str]:
        if not config.video:
            return False, "needs a driving video (setting video)"
        if not os.path.exists(config.video):
            return False, f"the driving video {config.video} is missing"
        return True, ""

    def predict(self, audio: AudioClip, fps: float, config: PerformanceConfig, *, progress: Progress | None = None,
                cancel: Cancel | None = None) -> BaseLayer:
        from engine.face.track import cached_track, warn_track_problems

        if not config.video:
            raise ConfigError("the performance backend needs a driving video (setting video)")
        report = stage_reporter(progress, cancel)
        track = cached_track(config.video, face_index=config.face_index,
                             progress=lambda f: report(0.9 * f), cancel=cancel)
        warn_track_problems(track, config.video, "the portrait rests there, in its own expression and pose")
        base = performance_base(track, fps, audio.frame_count(fps), config.head_translation)
        report(1.0)
        return base
