"""Reading a project file safely: every member is size-checked before it is read, every array's header
(shape, dtype) before its data is allocated, the PNG's header before it is decoded, and the JSON against the
schema (types and ranges) before anything is built from it. Whatever is wrong becomes one ProjectFileError
naming the member and the field."""
from __future__ import annotations

import io
import json
import math
import struct
import zipfile
import zlib
from typing import Any

import numpy as np

from engine.a2l.base_layer import SEGMENT_KINDS
from engine.errors import ProjectFileError
from engine.limits import MAX_FPS, MAX_FRAMES, MAX_IMAGE_PIXELS, MAX_KEY_VALUE, MIN_FPS

JSON_MEMBER, ARRAYS_MEMBER, IMAGE_MEMBER = "project.json", "arrays.npz", "reference.png"
MAX_JSON_BYTES = 16 * 2**20  # a project with keys on every channel of a two-hour take is ~2 MB of JSON
MAX_SEGMENTS = 2_000_000  # phonemes/visemes/blinks/words: ~50 a second over MAX_FRAMES at 30 fps, with room
MAX_LABEL_CHARS = 64  # phone, viseme and control names are a few characters, words a few more
MAX_PATH_CHARS = 4096  # a stored file path (a video's track source): Linux's PATH_MAX
MAX_KEYS = 100_000  # keys on one channel: one a frame for an hour at 30 fps
MAX_WEIGHT_TRACKS = 256  # rig controls a base layer may carry tracks for (the rig has 28)
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# What reading a damaged member raises (all become a ProjectFileError). zipfile raises NotImplementedError for a
# compression method it lacks (not unfinished code) and RuntimeError for an encrypted member.
_MEMBER_READ_ERRORS = (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError, RuntimeError,
                       ValueError)


def fail(member: str, field: str, problem: str) -> ProjectFileError:
    return ProjectFileError(f"{member}: {field} {problem}")


# --- zip members ---------------------------------------------------------------------------------
def read_member(zf: zipfile.ZipFile, name: str, limit: int) -> bytes:
    """The member's bytes, refusing one whose declared or actual size exceeds `limit` (zip bombs)."""
    try:
        info = zf.getinfo(name)
    except KeyError:
        raise ProjectFileError(f"the project file is missing its {name} member") from None
    if info.file_size > limit:
        raise fail(name, "the member", f"is {info.file_size} bytes, more than the {limit} a project needs")
    try:
        with zf.open(info) as fh:
            data = fh.read(limit + 1)
    except _MEMBER_READ_ERRORS as exc:
        raise fail(name, "the member", f"is corrupt ({exc})") from None
    if len(data) > limit:
        raise fail(name, "the member", f"holds more than {limit} bytes")
    return data


def parse_json(raw: bytes) -> dict:
    try:
        doc = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, json.JSONDecodeError, ValueError) as exc:
        if "integer string conversion" in str(exc):  # (Python's advice to raise its digit limit is not for users)
            raise ProjectFileError(f"{JSON_MEMBER} holds a number of thousands of digits") from None
        raise ProjectFileError(f"{JSON_MEMBER} is not valid JSON: {exc}") from None
    except RecursionError:
        raise ProjectFileError(f"{JSON_MEMBER} is nested too deeply to be a project") from None
    if not isinstance(doc, dict):
        raise ProjectFileError(f"{JSON_MEMBER} is not a Talkline project (not an object)")
    return doc


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a number a project may hold")


# --- arrays ------------------------------------------------------------------------------------------
# name pattern -> (dtype kind(s), shape pattern); "T" is the project's frame count, "*" any length (bounded).
_ARRAY_SPECS: dict[str, tuple[str, tuple]] = {
    "reference/landmarks": ("f", (478, 3)),
    "reference/mesh": ("f", (468, 3)),
    "reference/transform": ("f", (4, 4)),
    "base/fps": ("fi", ()),
    "base/offsets": ("f", ("T", 468, 3)),
    "base/pose": ("f", ("T", 6)),
    "base/weight_names": ("U", ("*",)),
    "base/weight/": ("f", ("T",)),
    "base/phonemes/times": ("f", ("*", 2)),
    "base/visemes/times": ("f", ("*", 2)),
    "base/blinks/times": ("f", ("*", 2)),
    "base/words/times": ("f", ("*", 2)),
    "base/phonemes/labels": ("U", ("*",)),
    "base/visemes/labels": ("U", ("*",)),
    "base/blinks/labels": ("U", ("*",)),
    "base/words/labels": ("U", ("*",)),
    "base/backend": ("U", ()),  # schema 1 only
    "pose_template": ("f", ("*", 6)),
    # a video source's face track ("S": its own frame count) and the output -> source frame map
    "track/version": ("i", ()),
    "track/fps": ("f", ()),
    "track/size": ("i", (2,)),
    "track/landmarks": ("f", ("S", 478, 3)),
    "track/transforms": ("f", ("S", 4, 4)),
    "track/meshes": ("f", ("S", 468, 3)),
    "track/blendshapes": ("f", ("S", "*")),
    "track/blendshape_names": ("U", ("*",)),
    "track/detected": ("b", ("S",)),
    "track/usable": ("b", ("S",)),
    "track/gaps": ("f", ("*", 2)),
    "track/cuts": ("f", ("*",)),
    "track/source": ("U", ()),
    "source/frame_map": ("i", ("T",)),
}

# text arrays that are not short labels, with their own length limit
_MAX_CHARS = {"track/source": MAX_PATH_CHARS}


def _spec(name: str) -> tuple[str, tuple] | None:
    if name in _ARRAY_SPECS:
        return _ARRAY_SPECS[name]
    if name.startswith("base/weight/") and name[len("base/weight/"):].isdigit():
        return _ARRAY_SPECS["base/weight/"]
    return None


def _check_header(name: str, shape: tuple, dtype: np.dtype, frames: int) -> None:
    spec = _spec(name)
    if spec is None:
        return
    kinds, pattern = spec
    if dtype.hasobject:
        raise fail(ARRAYS_MEMBER, f"array {name!r}", "holds Python objects (which Talkline never loads)")
    if dtype.kind not in kinds:
        raise fail(ARRAYS_MEMBER, f"array {name!r}", f"has dtype {dtype}, expected kind {kinds!r}")
    if dtype.kind in "fi" and dtype.itemsize > 8:  # float128 holds nothing a project writes, at twice the memory
        raise fail(ARRAYS_MEMBER, f"array {name!r}", f"has dtype {dtype}, wider than 64 bits")
    max_chars = _MAX_CHARS.get(name, MAX_LABEL_CHARS)
    if dtype.kind == "U" and dtype.itemsize > 4 * max_chars:  # numpy stores 4 bytes a character
        raise fail(ARRAYS_MEMBER, f"array {name!r}", f"holds strings of {dtype.itemsize // 4} characters, "
                                                      f"more than the {max_chars} it may hold")
    # "T": the project's frames; "S": a video track's frames; "*": a count bounded by what the array holds.
    count_limit = {"pose_template": MAX_FRAMES, "base/weight_names": MAX_WEIGHT_TRACKS,
                   "track/blendshapes": MAX_WEIGHT_TRACKS}.get(name, MAX_SEGMENTS)
    limits = {"T": (frames, frames), "S": (1, MAX_FRAMES), "*": (0, count_limit)}
    ok = len(shape) == len(pattern) and all(
        n == p if isinstance(p, int) else limits[p][0] <= n <= limits[p][1] for n, p in zip(shape, pattern))
    if not ok:
        dims = {"T": str(frames), "S": "N", "*": "N"}
        expected = "(" + ", ".join(dims[p] if isinstance(p, str) else str(p) for p in pattern) + ")"
        raise fail(ARRAYS_MEMBER, f"array {name!r}", f"has shape {shape}, expected {expected}")


def _check_pairs(shapes: dict[str, tuple]) -> None:
    """Each segment track's labels are as many as its times (before either is loaded)."""
    for kind in SEGMENT_KINDS:
        times, labels = shapes.get(f"base/{kind}/times"), shapes.get(f"base/{kind}/labels")
        if times is not None and labels is not None and times[0] != labels[0]:
            raise fail(ARRAYS_MEMBER, f"array 'base/{kind}/labels'", f"has {labels[0]} labels for {times[0]} times")


def read_arrays(raw_npz: bytes, frames: int, video: bool = True) -> dict[str, np.ndarray]:
    """The arrays of arrays.npz whose headers fit the schema (others, and a video's face track in a project of a
    still portrait, are left unread), loaded without pickle once every header has been checked."""
    out = {}
    try:
        with zipfile.ZipFile(io.BytesIO(raw_npz)) as zf:
            wanted, shapes = [], {}
            for info in zf.infolist():
                name = info.filename.removesuffix(".npy")
                if _spec(name) is None or (not video and name.startswith(("track/", "source/"))):
                    continue
                with zf.open(info) as fh:
                    version = np.lib.format.read_magic(fh)
                    read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                                   else np.lib.format.read_array_header_2_0)
                    shape, _fortran, dtype = read_header(fh)
                    _check_header(name, shape, dtype, frames)
                    need = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
                    if info.file_size < need:
                        raise fail(ARRAYS_MEMBER, f"array {name!r}", "is truncated")
                wanted.append((name, info))
                shapes[name] = shape
            _check_pairs(shapes)
            for name, info in wanted:
                with zf.open(info) as fh:
                    out[name] = np.lib.format.read_array(fh, allow_pickle=False)
    except ProjectFileError:
        raise
    except _MEMBER_READ_ERRORS + (struct.error, SyntaxError, TypeError):  # and np.load's for a damaged array
        raise ProjectFileError(
            f"{ARRAYS_MEMBER} is corrupt or holds Python objects (which Talkline never loads)") from None
    for name, array in out.items():
        if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
            raise fail(ARRAYS_MEMBER, f"array {name!r}", "holds NaN or infinite numbers")
    return out


def decode_png(raw: bytes, width: int, height: int) -> np.ndarray:
    """RGB pixels of the reference PNG, its header checked against the project (and the pixel limit) first."""
    import cv2

    if raw[:8] != _PNG_SIGNATURE or len(raw) < 24 or raw[12:16] != b"IHDR":
        raise fail(IMAGE_MEMBER, "the image", "is not a readable PNG image")
    w, h = struct.unpack(">II", raw[16:24])
    if (w, h) != (width, height) or w * h > MAX_IMAGE_PIXELS:
        raise fail(IMAGE_MEMBER, "the image", f"is {w}x{h}, expected {width}x{height}")
    bgr = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None or bgr.shape[:2] != (height, width):
        raise fail(IMAGE_MEMBER, "the image", "is not a readable PNG image")
    return np.ascontiguousarray(bgr[:, :, ::-1])


# --- the JSON schema (after migration to the current schema) -------------------------------------
def _where(path: str) -> str:
    return f"field {path!r}"


def need(doc: dict, key: str, kinds, path: str | None = None) -> Any:
    path = path or key
    if not isinstance(doc, dict) or key not in doc:
        raise fail(JSON_MEMBER, _where(path), "is missing")
    value = doc[key]
    kinds = kinds if isinstance(kinds, tuple) else (kinds,)
    ok = any(value is None if k is None else (isinstance(value, k) and not (k is int and isinstance(value, bool)))
             for k in kinds)
    if not ok:
        names = " or ".join("null" if k is None else {int: "an integer", float: "a number", str: "text",
                                                        list: "a list", dict: "an object", bool: "true/false"}[k]
                            for k in kinds)
        raise fail(JSON_MEMBER, _where(path), f"must be {names}, got {value!r:.80}")
    return value


def number(doc: dict, key: str, lo: float, hi: float, path: str | None = None) -> float:
    value = float(need(doc, key, (int, float), path))
    if not math.isfinite(value) or not lo <= value <= hi:
        raise fail(JSON_MEMBER, _where(path or key), f"must be between {lo:g} and {hi:g}, got {value!r}")
    return value


def validate_document(doc: dict) -> None:
    """Types and ranges of a current-schema project.json (the configs are validated by their own classes)."""
    fps = number(doc, "fps", MIN_FPS, MAX_FPS)
    frames = need(doc, "frame_count", int)
    if not 1 <= frames <= MAX_FRAMES:
        raise fail(JSON_MEMBER, _where("frame_count"), f"must be between 1 and {MAX_FRAMES}, got {frames}")
    in_out = need(doc, "in_out", (list, None))
    if in_out is not None:
        if len(in_out) != 2:
            raise fail(JSON_MEMBER, _where("in_out"), f"must be [in, out], got {in_out!r:.80}")
        a = number({"v": in_out[0]}, "v", 0.0, frames / fps, "in_out[0]")
        b = number({"v": in_out[1]}, "v", 0.0, frames / fps + 1.0 / fps, "in_out[1]")
        if not a < b:
            raise fail(JSON_MEMBER, _where("in_out"), f"must have in < out, got {in_out!r}")
    need(doc, "gains", dict)
    need(doc, "a2l", dict)
    need(doc, "renderer", dict)
    need(doc, "autosave_of", (str, None))
    ref = need(doc, "reference", dict)
    for side in ("width", "height"):
        size = need(ref, side, int, f"reference.{side}")
        if not 2 <= size <= 2 * 4096:
            raise fail(JSON_MEMBER, _where(f"reference.{side}"), f"must be between 2 and 8192 px, got {size}")
    for name, value in need(ref, "blendshapes", dict, "reference.blendshapes").items():
        number({"v": value}, "v", -1e3, 1e3, f"reference.blendshapes.{name}")
    for i, entry in enumerate(need(doc, "sources", list)):
        where = f"sources[{i}]"
        need({"e": entry}, "e", dict, where)
        need(entry, "kind", str, f"{where}.kind")
        need(entry, "path", str, f"{where}.path")
        need(entry, "relative", (str, None), f"{where}.relative")
    channels = need(doc, "channels", dict)
    for name, curve in channels.items():
        keys = need({"c": curve}, "c", dict, f"channels.{name}")
        keys = need(curve, "keys", list, f"channels.{name}.keys")
        if len(keys) > MAX_KEYS:
            raise fail(JSON_MEMBER, _where(f"channels.{name}.keys"), f"holds more than {MAX_KEYS} keys")
        for j, key in enumerate(keys):
            where = f"channels.{name}.keys[{j}]"
            need({"k": key}, "k", dict, where)
            number(key, "time", -MAX_KEY_VALUE, MAX_KEY_VALUE, f"{where}.time")
            number(key, "value", -MAX_KEY_VALUE, MAX_KEY_VALUE, f"{where}.value")
            for side in ("handle_left", "handle_right"):
                handle = key.get(side)
                if handle is not None:
                    need(key, side, list, f"{where}.{side}")
                    if len(handle) != 2:
                        raise fail(JSON_MEMBER, _where(f"{where}.{side}"), "must be [dt, dv]")
                    for c, v in enumerate(handle):
                        number({"v": v}, "v", -MAX_KEY_VALUE, MAX_KEY_VALUE, f"{where}.{side}[{c}]")
