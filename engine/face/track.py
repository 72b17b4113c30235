"""Face tracking of a whole video: per frame the 478 landmarks, the canonical mesh, the facial transformation
matrix and the blendshape scores, in MediaPipe's VIDEO running mode (temporal tracking between detections).

Frames without a face are filled by interpolation when the gap is short and reported with their time ranges
when it is long (a renderer passes those frames through untouched). Landmarks are smoothed with a one-euro
filter (little smoothing when the face moves fast, so no lag on speech; strong smoothing at rest, so no
jitter), then the mesh and transform are derived from the smoothed landmarks with MediaPipe's own geometry
pipeline, so all four stay consistent. A track is saved as an .npz so nothing is tracked twice.
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.errors import Cancelled, NoFaceError, VideoReadError
from engine.face.contours import EYE_OUTER_CORNERS, tilt_deg

# Gaps up to this long (s) are interpolated: blinks of the detector on motion blur or a hand passing by.
# Longer ones are a cut-away or the person leaving the shot: reported, never invented.
MAX_FILLED_GAP_S = 0.5
# One-euro filter (Casiez et al. 2012) on pixel coordinates normalised to a 512 px frame: at rest the cut-off is
# ONE_EURO_MIN_CUTOFF_HZ (MediaPipe's frame-to-frame jitter of ~0.5 px is above it), and it rises by
# ONE_EURO_BETA per px/s of speed, so a jaw opening at ~150 px/s passes at ~16 Hz (no visible lag at 25-30 fps).
ONE_EURO_MIN_CUTOFF_HZ = 1.5
ONE_EURO_BETA = 0.1
ONE_EURO_DERIVATIVE_CUTOFF_HZ = 1.0
NORMALISED_FRAME_PX = 512.0
MAX_TRACKED_FACES = 4
NEUTRAL_CLOSED_SHARE = 0.1  # the neutral frame is sought among this share of frames with the most closed mouth  # faces looked for per frame when choosing one of several
TRACK_VERSION = 1
# How the tracker works, in the cache key only (a project's stored track keeps its TRACK_VERSION format): a cached
# track made before a change of the tracking is tracked again. 3: shot cuts found, the filter restarted at them.
TRACKER_REVISION = 3
# A cut between shots: the picture changes by more than this from one frame to the next, as the mean absolute
# change of its hue, saturation and value (0-255, on a 96 px thumbnail): PySceneDetect's ContentDetector measure
# and its default threshold. Talking-head clips here change by at most 17 a frame (LivePortrait's d12, a fast
# mover), cuts by 50-73.
SHOT_CUT_CHANGE = 27.0


@dataclass
class FaceTrack:
    fps: float
    width: int  # frame size as displayed
    height: int
    landmarks: np.ndarray  # (T, 478, 3) normalized, smoothed, gaps filled (long gaps: the nearest found frame)
    transforms: np.ndarray  # (T, 4, 4) canonical -> camera
    meshes: np.ndarray  # (T, 468, 3) canonical meshes, cm
    blendshapes: np.ndarray  # (T, B) MediaPipe's blendshape scores
    blendshape_names: tuple[str, ...]
    detected: np.ndarray  # (T,) bool: the landmarker found the face in this frame
    usable: np.ndarray  # (T,) bool: detected, or inside a short filled gap
    source: str = ""
    gaps: list[tuple[float, float]] = field(default_factory=list)  # long gaps (start, end) in seconds
    cuts: list[float] = field(default_factory=list)  # times (s) of the first frames of new shots (cuts)

    @property
    def frame_count(self) -> int:
        return int(self.landmarks.shape[0])

    def cut_frames(self) -> list[int]:
        """The first frames of the new shots (the cuts' times as frames inside the clip)."""
        frames = (int(round(t * self.fps)) for t in self.cuts)
        return sorted({i for i in frames if 0 < i < self.frame_count})

    def shots(self) -> list[tuple[int, int]]:
        """[start, stop) frame ranges of the shots between the cuts (the whole clip without cuts)."""
        bounds = [0, *self.cut_frames(), self.frame_count]
        return list(zip(bounds[:-1], bounds[1:]))

    def landmarks_px(self, index: int | slice = slice(None)) -> np.ndarray:
        return self.landmarks[index, ..., :2] * np.array([self.width, self.height])

    def neutral_index(self, start: int = 0, stop: int | None = None) -> int:
        """The most neutral usable frame (of frames start..stop, when there is one there; else of the clip): among
        the frames with the most closed mouth (the lowest NEUTRAL_CLOSED_SHARE by inner-lip gap), the one with the
        least expression (smallest sum of blendshape scores other than the eyes', which blink). Blendshapes alone
        are not enough: some faces score near zero with the jaw open."""
        from engine.face.contours import lip_gap_ratio

        idx = np.nonzero(self.usable[start:stop])[0] + start
        if not len(idx):
            idx = np.nonzero(self.usable)[0]
        gaps = lip_gap_ratio(self.landmarks_px(idx)[:, :468])
        closed = idx[gaps <= np.quantile(gaps, NEUTRAL_CLOSED_SHARE)]
        keep = [i for i, n in enumerate(self.blendshape_names) if not n.startswith("eye") and n != "_neutral"]
        scores = self.blendshapes[closed][:, keep].sum(axis=1) if keep else np.zeros(len(closed))
        return int(closed[np.argmin(scores)])

    # --- arrays and file (no pickle: plain arrays, names as a string array) -----------------------------
    def to_arrays(self, prefix: str = "") -> dict[str, np.ndarray]:
        return {f"{prefix}version": np.int32(TRACK_VERSION), f"{prefix}fps": np.float64(self.fps),
                f"{prefix}size": np.asarray([self.width, self.height], np.int32),
                f"{prefix}landmarks": self.landmarks.astype(np.float32), f"{prefix}transforms": self.transforms,
                f"{prefix}meshes": self.meshes.astype(np.float32),
                f"{prefix}blendshapes": self.blendshapes.astype(np.float32),
                f"{prefix}blendshape_names": np.asarray(self.blendshape_names, dtype=str),
                f"{prefix}detected": self.detected, f"{prefix}usable": self.usable,
                f"{prefix}gaps": np.asarray(self.gaps, dtype=np.float64).reshape(-1, 2),
                f"{prefix}cuts": np.asarray(self.cuts, dtype=np.float64).reshape(-1),
                f"{prefix}source": np.asarray(self.source)}

    @classmethod
    def from_arrays(cls, z, prefix: str = "") -> "FaceTrack":
        """Raises KeyError/ValueError on missing or malformed arrays (callers name the file)."""
        if int(z[f"{prefix}version"]) != TRACK_VERSION:
            raise ValueError(f"face track version {int(z[f'{prefix}version'])}, expected {TRACK_VERSION}")
        track = cls(fps=float(z[f"{prefix}fps"]), width=int(z[f"{prefix}size"][0]), height=int(z[f"{prefix}size"][1]),
                    landmarks=np.asarray(z[f"{prefix}landmarks"], np.float64),
                    transforms=np.asarray(z[f"{prefix}transforms"], np.float64),
                    meshes=np.asarray(z[f"{prefix}meshes"], np.float64), blendshapes=np.asarray(z[f"{prefix}blendshapes"]),
                    blendshape_names=tuple(str(n) for n in z[f"{prefix}blendshape_names"]),
                    detected=np.asarray(z[f"{prefix}detected"], bool), usable=np.asarray(z[f"{prefix}usable"], bool),
                    source=str(z[f"{prefix}source"]), gaps=[(float(a), float(b)) for a, b in z[f"{prefix}gaps"]],
                    # (tracks saved before cuts were found have none)
                    cuts=[float(c) for c in z[f"{prefix}cuts"]] if f"{prefix}cuts" in z else [])
        t = track.landmarks.shape[0]
        shapes = [track.landmarks.shape, track.transforms.shape, track.meshes.shape, track.detected.shape,
                  track.usable.shape, track.blendshapes.shape[:1]]
        if shapes != [(t, 478, 3), (t, 4, 4), (t, 468, 3), (t,), (t,), (t,)] or t == 0 or not track.fps > 0:
            raise ValueError(f"face track shapes disagree: {shapes}")
        return track

    def save(self, path: str | os.PathLike) -> str:
        """Written beside the target and renamed over it (the face layer sits below engine.export's helpers)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **self.to_arrays())
        os.replace(tmp, path)
        return os.fspath(path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "FaceTrack":
        try:
            with np.load(path, allow_pickle=False) as z:
                return cls.from_arrays(z)
        except (OSError, KeyError, ValueError, IndexError, TypeError) as exc:
            raise VideoReadError(f"cannot read the face track {path}: {exc}") from None


class OneEuro:
    """One-euro low-pass filter over arrays of values (one filter per element), fed frame by frame."""

    def __init__(self, fps: float, min_cutoff: float, beta: float, d_cutoff: float):
        self.dt = 1.0 / fps
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self.x: np.ndarray | None = None
        self.dx: np.ndarray | None = None

    def _alpha(self, cutoff):
        tau = 1.0 / (2.0 * np.pi * cutoff)
        return 1.0 / (1.0 + tau / self.dt)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if self.x is None:
            self.x, self.dx = x.copy(), np.zeros_like(x)
            return x
        dx = (x - self.x) / self.dt
        self.dx += self._alpha(self.d_cutoff) * (dx - self.dx)
        cutoff = self.min_cutoff + self.beta * np.abs(self.dx)
        self.x = self.x + self._alpha(cutoff) * (x - self.x)
        return self.x


def smooth_landmarks(landmarks: np.ndarray, fps: float, width: int, height: int,
                     restarts: np.ndarray | None = None) -> np.ndarray:
    """(T, 478, 3) normalized landmarks through the one-euro filter, forwards (causal: no look-ahead needed); it
    starts afresh at the frames of `restarts` (bool, T): smoothing across a cut blended two shots' faces."""
    scale = np.array([width, height, width]) * (NORMALISED_FRAME_PX / max(width, height))
    out = []
    for i, frame in enumerate(landmarks):
        if i == 0 or (restarts is not None and restarts[i]):
            f = OneEuro(fps, ONE_EURO_MIN_CUTOFF_HZ, ONE_EURO_BETA, ONE_EURO_DERIVATIVE_CUTOFF_HZ)
        out.append(f(frame * scale))
    return np.stack(out) / scale


def picture_change(rgb: np.ndarray, previous: np.ndarray | None) -> tuple[float, np.ndarray]:
    """How much the picture changed from the previous frame (see SHOT_CUT_CHANGE; 0 for the first) and this frame's
    thumbnail to compare the next with."""
    import cv2

    hsv = cv2.cvtColor(cv2.resize(rgb, (96, 96), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2HSV).astype(np.float32)
    return (0.0 if previous is None else float(np.abs(hsv - previous).mean())), hsv


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) index runs where mask is True."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.nonzero(edges == 1)[0].tolist(), np.nonzero(edges == -1)[0].tolist()))


def fill_gaps(values: np.ndarray, detected: np.ndarray, max_gap: int) -> tuple[np.ndarray, np.ndarray]:
    """Values in undetected runs of at most `max_gap` frames between two detections interpolated linearly;
    other undetected frames take the nearest detected frame's value. Returns (filled, usable mask)."""
    out = values.copy()
    usable = detected.copy()
    found = np.nonzero(detected)[0]
    for start, stop in _runs(~detected):
        inside = start > 0 and stop < len(detected)
        if inside and stop - start <= max_gap:
            a, b = out[start - 1], out[stop]
            w = (np.arange(start, stop) - (start - 1)) / (stop - (start - 1))
            out[start:stop] = a[None] + (b - a)[None] * w.reshape((-1,) + (1,) * (values.ndim - 1))
            usable[start:stop] = True
        else:
            nearest = found[np.clip(np.searchsorted(found, np.arange(start, stop)), 0, len(found) - 1)]
            out[start:stop] = values[nearest]
    return out, usable


def _choose(faces, previous_centre: np.ndarray | None, face_index: int | None):
    """The tracked face: the one nearest the previous frame's, else `face_index` (left to right) or the largest."""
    if previous_centre is not None:
        return min(faces, key=lambda f: np.linalg.norm(f.landmarks[:, :2].mean(0) - previous_centre))
    if face_index is not None:
        return faces[face_index] if face_index < len(faces) else None
    return max(faces, key=lambda f: np.ptp(f.landmarks[:, 0]) * np.ptp(f.landmarks[:, 1]))


def track_video(path: str | os.PathLike, *, face_index: int | None = None,
                progress: Callable[[float], None] | None = None,
                cancel: Callable[[], bool] | None = None) -> FaceTrack:
    """Tracks one face through the video (the largest, or `face_index` counted left to right)."""
    from engine.face.canonical import load_canonical_model
    from engine.face.landmarker import FaceLandmarkerSession
    from engine.geometry import canonical_from_metric, screen_to_metric
    from engine.media.video_read import iter_video_frames, probe_video

    info = probe_video(path)
    total = max(1, info.frame_count)
    raw, transforms, blend, detected, change = [], [], [], [], []
    thumbnail = None
    names: tuple[str, ...] = ()
    centre = None
    most_faces = 0  # in any one frame: names an out-of-range face index
    with FaceLandmarkerSession(video=True, max_faces=MAX_TRACKED_FACES) as session:
        last_ms = -1
        for i, (t, rgb) in enumerate(iter_video_frames(path)):
            if cancel is not None and cancel():
                raise Cancelled("face tracking cancelled")
            ms = max(int(round(t * 1000)), last_ms + 1)  # VIDEO mode needs strictly increasing timestamps
            last_ms = ms
            faces = session.detect(rgb, timestamp_s=ms / 1000.0)
            step, thumbnail = picture_change(rgb, thumbnail)
            change.append(step)
            most_faces = max(most_faces, len(faces))
            face = _choose(faces, centre, face_index) if faces else None
            if face is None:
                raw.append(np.full((478, 3), np.nan))
                transforms.append(np.eye(4))
                blend.append(None)
                detected.append(False)
            else:
                centre = face.landmarks[:, :2].mean(0)
                raw.append(face.landmarks)
                transforms.append(face.transform)
                names = names or tuple(face.blendshapes)
                blend.append(np.array([face.blendshapes.get(n, 0.0) for n in names]))
                detected.append(True)
            if progress is not None and i % 10 == 0:
                progress(min(1.0, (i + 1) / total))
    if not raw:
        raise VideoReadError(f"{path} has no decodable video frames")
    detected_mask = np.asarray(detected)
    if not detected_mask.any():
        if most_faces:
            seen = (f"Talkline tracks at most {MAX_TRACKED_FACES} faces at a time" if most_faces >= MAX_TRACKED_FACES
                    else f"{path} shows at most {most_faces} at a time")
            raise NoFaceError(f"face index {face_index} asks for face {face_index + 1} from the left, but {seen} "
                              "(0 = the leftmost)")
        raise NoFaceError(f"no face found in any frame of {path}: use a video of a person's face (a face smaller "
                          "than about a sixth of the frame's height can be missed: crop the video closer)")
    n_blend = len(names)
    blend_arr = np.stack([b if b is not None else np.zeros(n_blend) for b in blend]) if n_blend else np.zeros((len(raw), 0))
    max_gap = int(round(MAX_FILLED_GAP_S * info.fps))
    landmarks, usable = fill_gaps(np.stack(raw), detected_mask, max_gap)
    blend_arr, _ = fill_gaps(blend_arr, detected_mask, max_gap)
    cuts = np.asarray(change) > SHOT_CUT_CHANGE
    landmarks = smooth_landmarks(landmarks, info.fps, info.width, info.height, cuts)
    model = load_canonical_model()
    meshes, mats = [], []
    for lm in landmarks:
        metric, transform = screen_to_metric(lm[:468], info.width, info.height, model.vertices, model.procrustes_weights)
        meshes.append(canonical_from_metric(metric, transform))
        mats.append(transform)
    gaps = [(a / info.fps, b / info.fps) for a, b in _runs(~usable)]
    return FaceTrack(fps=info.fps, width=info.width, height=info.height, landmarks=landmarks,
                     transforms=np.stack(mats), meshes=np.stack(meshes), blendshapes=blend_arr,
                     blendshape_names=names, detected=detected_mask, usable=usable, source=os.fspath(path),
                     gaps=gaps, cuts=[i / info.fps for i in np.flatnonzero(cuts)])


def warn_track_problems(track: FaceTrack, path: str | os.PathLike, in_gaps: str) -> None:
    """Warns of a variable frame rate and of long stretches without the face (`in_gaps`: what is shown there)."""
    import warnings

    from engine.media.video_read import variable_rate_note

    note = variable_rate_note(path)
    if note:
        warnings.warn(note, stacklevel=3)
    if track.gaps:
        spans = ", ".join(f"{a:.1f}-{b:.1f} s" for a, b in track.gaps[:3]) + (" ..." if len(track.gaps) > 3 else "")
        warnings.warn(f"{os.fspath(path)}: no face in {len(track.gaps)} stretch(es) ({spans}): {in_gaps}",
                      stacklevel=3)


# A dub fits one neutral face to the whole clip (FaceTrack.neutral_index): a zoom changes the face the tracker
# measures (its perspective), and the mouth fitted at one size sits crooked or too wide at the other. The face's
# size (eye corners' distance, 90th to 10th percentile over the clip) varies by 3-12 % in the steady shots of
# ../shared/media's 14 talking and driving videos, 62 % in a punch-in to 1.6x.
FRAMING_ZOOM = 1.3


def _eye_lines(track: FaceTrack) -> np.ndarray:
    """(usable frames, 2) contours.eye_line in pixels, from the two corners alone (not a copy of all 478 points)."""
    corners = track.landmarks[np.flatnonzero(track.usable)][:, EYE_OUTER_CORNERS, :2] * np.array([track.width,
                                                                                                 track.height])
    return corners[:, 1] - corners[:, 0]


def eye_line_deg(track: FaceTrack, lines: np.ndarray | None = None) -> float:
    """The median angle (degrees, image axes) of the line from the right eye's outer corner to the left's over
    the usable frames (`lines`: _eye_lines, when known): 0 for an upright face, about +-90 for one on its side."""
    lines = _eye_lines(track) if lines is None else lines
    if not len(lines):
        return 0.0
    return float(tilt_deg(np.median(lines, axis=0)))


def size_spread(track: FaceTrack, lines: np.ndarray | None = None) -> float:
    """The face's size over the usable frames of the clip, 90th / 10th percentile (1.0: one framing)."""
    lines = _eye_lines(track) if lines is None else lines
    if len(lines) < 2:
        return 1.0
    lo, hi = np.percentile(np.linalg.norm(lines, axis=1), [10, 90])
    return float(hi / max(lo, 1e-6))


def warn_framing(track: FaceTrack, path: str | os.PathLike) -> None:
    """A dub's warnings about how the video frames the face: lying on its side, or zoomed (see FRAMING_ZOOM)."""
    import warnings

    from engine.face.reference import MAX_TILT_DEG

    lines = _eye_lines(track)
    tilt = eye_line_deg(track, lines)
    if abs(tilt) > MAX_TILT_DEG:  # the lip and lid seals run across the mouth and eyes of an upright face
        warnings.warn(f"{os.fspath(path)}: the face lies on its side in the picture ({tilt:.0f} degrees; the video's "
                      "rotation tag may be missing): turn the video upright first, or the mouth may not close right",
                      stacklevel=3)
    # (a cut to or from a stretch without the face, a cutaway, changes no face: the gap is said on its own)
    faced = [i for i in track.cut_frames() if track.usable[i - 1] and track.usable[i]]
    if faced:
        shown = ", ".join(f"{i / track.fps:.2f} s" for i in faced[:3]) + (" ..." if len(faced) > 3 else "")
        warnings.warn(f"{os.fspath(path)}: the picture cuts to another shot at {shown}: the dub fits one face to the "
                      "whole clip, so the new mouth may sit crooked or take the wrong shape in another shot; dub each "
                      "shot on its own", stacklevel=3)
    zoom = size_spread(track, lines)
    if zoom > FRAMING_ZOOM:
        warnings.warn(f"{os.fspath(path)}: the face's size changes {zoom:.1f}x over the clip (a zoom or a cut): the "
                      "dub fits one face to the whole clip, so the new mouth may sit crooked or too wide on part of "
                      "it; dub each framing on its own", stacklevel=3)


def track_cache_path(video: str | os.PathLike, face_index: int | None) -> Path:
    """Where a video's track is kept: the user's cache folder, keyed by the file's path, size and time and the
    face chosen (a changed file is tracked again)."""
    st = os.stat(video)
    key = f"{os.path.abspath(video)}|{st.st_size}|{st.st_mtime_ns}|{face_index}|{TRACK_VERSION}|{TRACKER_REVISION}"
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "talkline" / "tracks" / f"{hashlib.sha1(key.encode()).hexdigest()}.npz"


def cached_track(video: str | os.PathLike, *, face_index: int | None = None, progress=None, cancel=None) -> FaceTrack:
    """The video's track from the cache, else tracked now and cached."""
    if not os.path.exists(video):
        raise VideoReadError(f"video file not found: {video}")
    cache = track_cache_path(video, face_index)
    if cache.exists():
        try:
            return FaceTrack.load(cache)
        except VideoReadError:
            pass  # a damaged cache entry is tracked again
    # as stored (float32 landmarks and meshes): the first dub renders exactly as a second run from the cache or
    # as the saved project does (3e-5 px of difference set off H.264 noise of up to 31 levels)
    track = FaceTrack.from_arrays(track_video(video, face_index=face_index, progress=progress,
                                              cancel=cancel).to_arrays())
    track.save(cache)
    return track
