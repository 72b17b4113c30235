"""Live Link Face CSV (Epic's iPhone capture app; read by Unreal's LiveLinkFaceImporter and the Blender and Maya
importers): a header `Timecode,BlendShapeCount,<52 ARKit blendshapes in PascalCase>,HeadYaw,HeadPitch,HeadRoll,
<6 eye rotations>` and one row per frame, the timecode as HH:MM:SS:FF.mmm, BlendShapeCount 61, weights 0..1,
rotations in radians. Plain arrays in and out; the document side is engine.document.interchange."""
from __future__ import annotations

import csv
import math
import os
import warnings
from dataclasses import dataclass

import numpy as np

from engine.limits import MAX_FPS

ARKIT_SHAPES = (
    "eyeBlinkLeft", "eyeLookDownLeft", "eyeLookInLeft", "eyeLookOutLeft", "eyeLookUpLeft", "eyeSquintLeft",
    "eyeWideLeft", "eyeBlinkRight", "eyeLookDownRight", "eyeLookInRight", "eyeLookOutRight", "eyeLookUpRight",
    "eyeSquintRight", "eyeWideRight", "jawForward", "jawRight", "jawLeft", "jawOpen", "mouthClose", "mouthFunnel",
    "mouthPucker", "mouthRight", "mouthLeft", "mouthSmileLeft", "mouthSmileRight", "mouthFrownLeft",
    "mouthFrownRight", "mouthDimpleLeft", "mouthDimpleRight", "mouthStretchLeft", "mouthStretchRight",
    "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper", "mouthPressLeft", "mouthPressRight",
    "mouthLowerDownLeft", "mouthLowerDownRight", "mouthUpperUpLeft", "mouthUpperUpRight", "browDownLeft",
    "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight", "cheekPuff", "cheekSquintLeft",
    "cheekSquintRight", "noseSneerLeft", "noseSneerRight", "tongueOut")
ROTATIONS = ("HeadYaw", "HeadPitch", "HeadRoll", "LeftEyeYaw", "LeftEyePitch", "LeftEyeRoll", "RightEyeYaw",
             "RightEyePitch", "RightEyeRoll")
BLENDSHAPE_COUNT = 61
COMMON_RATES = (24.0, 25.0, 30.0, 48.0, 50.0, 60.0)
# Head rotations (radians) a take may hold: a head turns about 80-90 degrees at most on its neck; a larger value is
# a damaged file or another unit (degrees written as radians turned the head thousands of degrees).
MAX_HEAD_RAD = np.pi / 2
# A take's CSV (about 600 bytes a row) of two hours at 60 fps; the file is read whole, ~8 bytes of memory a byte.
MAX_TAKE_BYTES = 300 * 2**20


def pascal(name: str) -> str:
    return name[:1].upper() + name[1:]


HEADER = ["Timecode", "BlendShapeCount"] + [pascal(n) for n in ARKIT_SHAPES] + list(ROTATIONS)


def timecode(frame: int, fps: float) -> str:
    per_second = int(round(fps))
    seconds, ff = divmod(int(frame), per_second)
    hh, rem = divmod(seconds, 3600)
    mm, ss = divmod(rem, 60)
    return f"{hh:02d}:{mm:02d}:{ss:02d}:{ff:02d}.000"


def parse_timecode(text: str, fps: float) -> float:
    """HH:MM:SS:FF(.fff) -> seconds at `fps` (the fraction is a sub-frame)."""
    parts = text.strip().split(":")
    if len(parts) != 4:
        raise ValueError(f"not a timecode: {text!r}")
    hh, mm, ss = (int(p) for p in parts[:3])
    return hh * 3600 + mm * 60 + ss + float(parts[3]) / fps


@dataclass
class LiveLinkTake:
    fps: float
    times: np.ndarray  # (T,) seconds from the first row
    shapes: dict[str, np.ndarray]  # ARKit camelCase name -> (T,) weights
    head: np.ndarray | None  # (T, 3) yaw, pitch, roll in radians, or None


def write_livelink_csv(path: str | os.PathLike, fps: float, shapes: dict[str, np.ndarray],
                       head: np.ndarray | None = None) -> None:
    """One row per frame; shapes missing from `shapes` (and the eye rotations) are written as 0."""
    lengths = {len(v) for v in shapes.values()} | ({len(head)} if head is not None else set())
    if len(lengths) > 1:
        raise ValueError(f"tracks of different lengths: {sorted(lengths)}")
    frames = lengths.pop() if lengths else 0
    unknown = set(shapes) - set(ARKIT_SHAPES)
    if unknown:
        raise ValueError(f"not ARKit blendshapes: {sorted(unknown)}")
    from engine.export.atomic import replacing

    with replacing(os.fspath(path)) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        for i in range(frames):
            row = [timecode(i, fps), BLENDSHAPE_COUNT]
            row += [f"{float(shapes[n][i]):.6f}" if n in shapes else "0.000000" for n in ARKIT_SHAPES]
            row += [f"{float(v):.6f}" for v in (head[i] if head is not None else (0.0, 0.0, 0.0))]
            row += ["0.000000"] * 6
            writer.writerow(row)


def read_livelink_csv(path: str | os.PathLike, fps: float | None = None) -> LiveLinkTake:
    """Reads a Live Link Face CSV (columns by name, any order; missing ones absent). `fps` of the timecodes; by
    default read from them (take_rate)."""
    size = os.path.getsize(path) if os.path.isfile(path) else 0
    if size > MAX_TAKE_BYTES:  # read whole, a million rows took 5 GB
        raise ValueError(f"{path}: {size / 2**20:.0f} MB is more than a Live Link take of two hours at 60 fps "
                         f"(about {MAX_TAKE_BYTES // 2**20} MB): cut the take to the part you need")
    try:
        with open(os.fspath(path), newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a Live Link Face CSV (not UTF-8 text)") from None
    except csv.Error as exc:
        raise ValueError(f"{path}: not a Live Link Face CSV ({exc})") from None
    if not rows or "Timecode" not in [h.strip() for h in rows[0]]:
        raise ValueError(f"{path}: not a Live Link Face CSV (no Timecode column)")
    header = [h.strip() for h in rows[0]]
    body = [r for r in rows[1:] if len(r) == len(header)]
    if not body:
        raise ValueError(f"{path}: no frames")
    short = sum(1 for r in rows[1:] if r and len(r) != len(header))
    if short:
        warnings.warn(f"{path}: {short} row(s) without the header's {len(header)} fields were skipped", stacklevel=2)
    col = {name: i for i, name in enumerate(header)}
    codes = [r[col["Timecode"]] for r in body]
    lines = [n + 2 for n, r in enumerate(rows[1:]) if len(r) == len(header)]  # the file's own line numbers
    for line, code in zip(lines, codes):
        if not _is_timecode(code):
            raise ValueError(f"{path}: row {line}: {code!r} is not a timecode (HH:MM:SS:FF.fff)")
    notes = []  # said once the take has read: a file that fails says only why
    if fps is None:
        fps, assumed = take_rate(codes)
        if fps > MAX_FPS:
            raise ValueError(f"{path}: the timecodes' frame fields count to {fps - 1:g}, past any take's rate (at "
                             f"most {MAX_FPS:g} fps): damaged timecodes (--take-fps sets the rate)")
        if assumed:
            notes.append(f"a take under a second does not show its frame rate: {fps:g} fps assumed (--take-fps "
                         "sets it)")
    past = sum(_frame_field(c) >= fps for c in codes)
    if past:
        notes.append(f"{past} row(s) have a frame field past the take's {fps:g} fps (damaged timecodes): their frames "
                     "are placed by row")
    t = np.array([parse_timecode(c, fps) for c in codes])
    t -= t[0]
    if np.any(np.diff(t) <= 0):  # timecodes that do not advance (e.g. dropped sub-frames): use the row rate
        t = np.arange(len(body)) / fps

    def column(name: str) -> np.ndarray:
        try:
            values = np.array([float(r[col[name]]) for r in body])
        except ValueError:
            values = None
        if values is None or not np.all(np.isfinite(values)):
            raise ValueError(f"{path}: {name} has values that are not numbers")
        return values

    shapes = {n: column(pascal(n)) for n in ARKIT_SHAPES if pascal(n) in col}
    absent = [pascal(n) for n in ARKIT_SHAPES if pascal(n) not in col]
    unknown = [h for h in header if h not in HEADER]
    for what, names in (("has no", absent), ("ignored the unknown column(s)", unknown)):
        if names:
            notes.append(f"{what} " + ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else ""))
    head = (np.stack([column(n) for n in ROTATIONS[:3]], axis=1) if all(n in col for n in ROTATIONS[:3]) else None)
    if not shapes and head is None:
        raise ValueError(f"{path}: no blendshape or head rotation columns: nothing to import")
    if head is not None and np.any(np.abs(head) > MAX_HEAD_RAD):
        furthest = float(np.abs(head).max())  # (1e308 radians overflowed to "up to inf" degrees)
        said = f"{math.degrees(furthest):.0f}" if furthest < 1e6 else f"{furthest:.3g} radians"
        warnings.warn(f"{path}: head rotations past {np.degrees(MAX_HEAD_RAD):.0f} degrees (no neck turns that far; "
                      f"up to {said} in the file) were clipped", stacklevel=2)
        head = np.clip(head, -MAX_HEAD_RAD, MAX_HEAD_RAD)
    outside = sorted(pascal(n) for n, v in shapes.items() if np.any((v < 0.0) | (v > 1.0)))
    if outside:  # ARKit weights are 0..1; a rig driven past them tears the face
        warnings.warn(f"{path}: values of {', '.join(outside)} outside 0..1 (the blendshape range) were clipped",
                      stacklevel=2)
        shapes = {n: np.clip(v, 0.0, 1.0) for n, v in shapes.items()}
    for note in notes:
        warnings.warn(f"{path}: {note}", stacklevel=2)
    return LiveLinkTake(float(fps), t, shapes, head)


def take_rate(codes: list[str]) -> tuple[float, bool]:
    """The frame rate of a take's timecodes, and whether it is only assumed. Every second the take goes on past
    counts its frame fields up to rate - 1, wherever the take started within it: the most common top over those
    seconds, the lower one on a tie (a damaged row does not change it; 15 fps reads as 15). Within one second the
    fields say little: the smallest common rate they fit."""
    tops: dict[str, int] = {}
    for code in codes:
        second = code.rsplit(":", 1)[0]
        tops[second] = max(tops.get(second, 0), _frame_field(code))
    whole = list(tops.values())[:-1]  # the last second may end anywhere
    if whole:
        values, counts = np.unique(whole, return_counts=True)
        return float(values[np.argmax(counts)] + 1), False
    top = max(tops.values()) + 1
    return next((r for r in COMMON_RATES if r >= top), float(top)), True


def _frame_field(text: str) -> int:
    """The FF of HH:MM:SS:FF(.fff)."""
    return int(text.split(":")[-1].split(".")[0])


def _is_timecode(text: str) -> bool:
    try:
        parse_timecode(text, 60.0)
        _frame_field(text)
    except ValueError:
        return False
    return True


def degrees_to_radians(x):
    return np.asarray(x, float) * (math.pi / 180.0)


# A filmed performer's blendshape scores sit above 0 at rest by an amount of their own (MediaPipe reads 0.4
# eyeBlink on narrow eyes, 0.9 browInnerUp on high brows), which a phone app removes with a neutral-pose
# calibration. Each shape's rest level is taken as this percentile of its scores over the take: every take holds
# the rest of each shape some of the time (the mouth closed between words, the eyes open between blinks), and a
# low percentile ignores a few mistracked frames.
REST_PERCENTILE = 5.0


def take_of_track(track) -> LiveLinkTake:
    """A face track of a video (engine.face.track.FaceTrack) as a Live Link Face take: MediaPipe's blendshape
    scores carry ARKit's names, calibrated to the performer's rest (0 at REST_PERCENTILE, 1 stays 1), and the
    head's rotation is taken relative to the video's first frame (as reenactment does), so a performance filmed
    with any camera imports like a phone capture."""
    from engine.geometry import relative_pose

    shapes = {}
    for i, name in enumerate(track.blendshape_names):
        if name in ARKIT_SHAPES:
            scores = track.blendshapes[:, i].astype(np.float64)
            rest = min(float(np.percentile(scores, REST_PERCENTILE)), 0.99)
            shapes[name] = np.clip((scores - rest) / (1.0 - rest), 0.0, 1.0)
    pose, _ = relative_pose(track.transforms[0], track.transforms)  # rx, ry, rz in degrees
    head = degrees_to_radians(pose[:, [1, 0, 2]])  # yaw, pitch, roll
    return LiveLinkTake(float(track.fps), np.arange(track.frame_count) / track.fps, shapes, head)
