"""One project file: a zip of project.json (structure, schema_version), arrays.npz (reference and base
layer arrays, loaded with allow_pickle=False) and reference.png (the framed portrait). Written atomically.

Schema 2 stores a typed sources list, the Audio2Lmk backend and the default renderer with their configs, and
the pose template; files of schema 1 are migrated on load (MIGRATIONS) with identical evaluated motion.

The framed reference and the base layer live in the file, so a project whose portrait moved still opens;
a missing audio file leaves project.audio None until the user relinks it. Autosaves are full project files
(plus the path of the project they recover) beside the project, or in the state folder when unsaved.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np

from engine.a2l.base_layer import SEGMENT_KINDS, BaseLayer
from engine.config import config_from_json, config_to_json
from engine.document import project_reader as reader
from engine.document.curves import Curve
from engine.document.project_reader import ARRAYS_MEMBER, IMAGE_MEMBER, JSON_MEMBER
from engine.document.project import Gains, Project
from engine.errors import ProjectFileError, TalklineError
from engine.export.atomic import remove_quietly, replacing
from engine.face.reference import ReferenceFace
from engine.plugins import A2L_BACKENDS, RENDERERS, choice_from_json
from engine.sources.audio import AudioPrint, AudioSource
from engine.face.track import FaceTrack
from engine.sources.base import FaceSource
from engine.sources.portrait import Framing, PortraitSource
from engine.sources.video import VideoSource
from engine.video.lengths import FIT_MODES

SCHEMA_VERSION = 2
FORMAT = "talkline-project"
EXTENSION = ".talkline"
AUTOSAVE_SUFFIX = ".autosave"
DAMAGED_SUFFIX = ".damaged"
DECLINED_SUFFIX = ".declined"
_REFERENCE_ARRAYS = ("reference/landmarks", "reference/mesh", "reference/transform")


# --- save ----------------------------------------------------------------------------------------
def _relative(path: str, folder: Path) -> str | None:
    try:
        return os.path.relpath(os.path.abspath(path), folder)
    except ValueError:  # another drive (Windows)
        return None


def _source_entry(kind: str, path: str, folder: Path, **extra) -> dict:
    # The relative path beside the absolute one, so a project moved together with its media still finds them.
    return {"kind": kind, "path": os.path.abspath(path), "relative": _relative(path, folder), **extra}


def _face_source_entry(source, folder: Path) -> dict:
    if source.kind == "video":
        return _source_entry("video", source.path, folder, fit=source.fit, face_index=source.face_index)
    return _source_entry("portrait", source.path, folder, framing=source.framing.to_json())


def _audio_entry(source: AudioSource, folder: Path) -> dict:
    recording = source.print()  # how a later read tells another file put at the path (AudioSource.changed)
    return _source_entry("audio", source.path, folder, **({"print": recording.to_json()} if recording else {}))


def _document(project: Project, folder: Path, autosave_of: str | None) -> dict:
    return {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "sources": [
            _face_source_entry(project.source, folder),
            _audio_entry(project.audio_source, folder),
        ],
        "fps": project.fps,
        "frame_count": project.frame_count,
        "gains": config_to_json(project.gains),
        "in_out": list(project.in_out) if project.in_out is not None else None,
        "a2l": project.a2l.to_json(),
        "renderer": project.renderer.to_json(),
        "channels": {name: c.to_json() for name, c in project.channels.items() if len(c)},
        "reference": {
            "width": project.reference.width,
            "height": project.reference.height,
            "blendshapes": {k: float(v) for k, v in project.reference.blendshapes.items()},
        },
        "autosave_of": autosave_of,
    }


def _arrays(project: Project) -> dict[str, np.ndarray]:
    ref = project.reference
    arrays = {
        "reference/landmarks": np.asarray(ref.landmarks, dtype=np.float64),
        "reference/mesh": np.asarray(ref.mesh, dtype=np.float64),
        "reference/transform": np.asarray(ref.transform, dtype=np.float64),
    }
    arrays.update(project.base.to_arrays("base/"))
    if project.source.kind == "video":  # the track travels with the project: the editor never tracks twice
        arrays.update(project.source.track.to_arrays("track/"))
        arrays["source/frame_map"] = project.source.frame_map
    if project.pose_template is not None:
        arrays["pose_template"] = np.asarray(project.pose_template, dtype=np.float64)
    return arrays


def _png(rgb: np.ndarray) -> bytes:
    import cv2

    ok, buf = cv2.imencode(".png", np.ascontiguousarray(rgb[:, :, ::-1]), [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise ProjectFileError("cannot encode the reference image as PNG")
    return buf.tobytes()


def _write(project: Project, path: str | os.PathLike, autosave_of: str | None = None, compress: bool = True) -> None:
    """`compress` False: the arrays are stored as they are (an autosave runs on the editor's thread while the user
    works: deflating a 5-minute clip's 52 MB of arrays froze the window for ~1.2 s, storing them takes ~0.15 s)."""
    path = os.path.abspath(os.fspath(path))
    doc = _document(project, Path(path).parent, autosave_of)
    npz = io.BytesIO()
    np.savez(npz, **_arrays(project))
    with replacing(path) as tmp:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
            zf.writestr(JSON_MEMBER, json.dumps(doc, indent=1))
            zf.writestr(ARRAYS_MEMBER, npz.getvalue(),
                        compress_type=zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED)
            zf.writestr(IMAGE_MEMBER, _png(project.reference.image), compress_type=zipfile.ZIP_STORED)
        with open(tmp, "rb+") as f:  # the bytes reach the disk before the rename makes them the project
            os.fsync(f.fileno())


def save_project(project: Project, path: str | os.PathLike) -> None:
    """Writes the project atomically (a failure leaves any previous file intact); discards autosaves
    that this save supersedes and remembers `path` as project.path."""
    path = os.path.abspath(os.fspath(path))
    previous = project.path
    _write(project, path)
    project.path = path
    for stale in {autosave_path(previous), autosave_path(path)}:
        discard_autosave(stale)


# --- migrations ----------------------------------------------------------------------------------
def _migrate_1_to_2(doc: dict) -> dict:
    """Schema 1 -> 2: the sources dict becomes a typed list, a2l_settings the embedded backend's config (its
    transcript kept; lip/head intensity were baked into the stored base layer, so dropping them keeps the
    evaluated motion identical), the renderer the default warp, gains versioned."""
    src, ref = doc["sources"], doc["reference"]
    settings = dict(doc["a2l_settings"])
    for baked in ("lip_intensity", "head_intensity"):
        settings.pop(baked, None)
    settings["transcript"] = settings.get("transcript", src.get("transcript"))
    framing = {"size": max(int(ref["width"]), int(ref["height"])), "full_frame": ref["width"] != ref["height"],
               "face_index": None}
    out = {k: v for k, v in doc.items() if k not in ("sources", "a2l_settings")}
    out.update(
        schema_version=2,
        sources=[{"kind": "portrait", "path": src["portrait"], "relative": src.get("portrait_relative"),
                  "framing": framing},
                 {"kind": "audio", "path": src["audio"], "relative": src.get("audio_relative")}],
        a2l={"name": "embedded", "config": settings},
        renderer={"name": "warp", "config": {}},
        gains={"version": 1, **doc["gains"]},
    )
    return out


MIGRATIONS = {1: _migrate_1_to_2}  # schema N -> N + 1, applied in turn on load


# --- load ----------------------------------------------------------------------------------------
def _read_members(path: str) -> tuple[dict, bytes, bytes]:
    """project.json (migrated to the current schema and validated), and the raw npz and PNG members."""
    if not os.path.exists(path):
        raise ProjectFileError(f"project file not found: {path}")
    if os.path.isdir(path):
        raise ProjectFileError(f"{path} is a folder, not a Talkline project file")
    if os.path.getsize(path) == 0:
        raise ProjectFileError(f"project file {path} is empty")
    if not zipfile.is_zipfile(path):
        with open(path, "rb") as f:
            starts_as_zip = f.read(4) == b"PK\x03\x04"
        if starts_as_zip:  # the members are there but the archive's index, written last, is not
            raise ProjectFileError(f"{path} is damaged: the file was cut short (a copy or save that did not finish)")
        raise ProjectFileError(f"{path} is not a Talkline project (not a zip archive)")
    try:
        with zipfile.ZipFile(path) as zf:
            raw_json = reader.read_member(zf, JSON_MEMBER, reader.MAX_JSON_BYTES)
            doc = reader.parse_json(raw_json)
            if doc.get("format") != FORMAT:
                raise ProjectFileError(f"not a Talkline project ({JSON_MEMBER} lacks format {FORMAT!r})")
            version = doc.get("schema_version")
            if not isinstance(version, int) or isinstance(version, bool) or version < 1:
                raise ProjectFileError(f"{JSON_MEMBER}: invalid schema_version {version!r:.40}")
            if version > SCHEMA_VERSION:
                raise ProjectFileError(
                    f"saved by a newer Talkline (project schema {version}; this Talkline reads schemas 1 "
                    f"to {SCHEMA_VERSION}): update Talkline")
            try:
                while doc["schema_version"] < SCHEMA_VERSION:
                    doc = MIGRATIONS[doc["schema_version"]](doc)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise ProjectFileError(f"{JSON_MEMBER} (schema {version}) cannot be migrated: {_said(exc)}") from None
            reader.validate_document(doc)
            frames = doc["frame_count"]
            # Everything a project stores per frame, with room for segments and the reference arrays.
            npz_limit = 64 * 2**20 + frames * (468 * 3 * 4 + 6 * 8 + reader.MAX_WEIGHT_TRACKS * 4 + 64)
            raw_npz = reader.read_member(zf, ARRAYS_MEMBER, npz_limit)
            png_limit = 64 * 2**20 + 4 * doc["reference"]["width"] * doc["reference"]["height"]
            raw_png = reader.read_member(zf, IMAGE_MEMBER, png_limit)
    except ProjectFileError as exc:
        raise ProjectFileError(f"{path}: {exc}") from None
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError) as exc:
        raise ProjectFileError(f"project file {path} is corrupt: {exc}") from None
    return doc, raw_npz, raw_png


def _reference(doc: dict, arrays: dict[str, np.ndarray], raw_png: bytes) -> ReferenceFace:
    for name in _REFERENCE_ARRAYS:
        if name not in arrays:
            raise ProjectFileError(f"{ARRAYS_MEMBER} lacks the array {name}")
    transform = arrays["reference/transform"]
    if not np.allclose(transform[3], (0.0, 0.0, 0.0, 1.0)) or abs(np.linalg.det(transform[:3, :3])) < 1e-9:
        # (an all-zero matrix rendered NaN landmarks: a traceback from the warp)
        raise ProjectFileError(f"{ARRAYS_MEMBER}: array 'reference/transform' is not a face pose (a rotation, scale "
                               "and shift)")
    meta = doc["reference"]
    return ReferenceFace(
        image=reader.decode_png(raw_png, meta["width"], meta["height"]),
        landmarks=arrays["reference/landmarks"],
        mesh=arrays["reference/mesh"],
        transform=arrays["reference/transform"],
        blendshapes={str(k): float(v) for k, v in meta["blendshapes"].items()},
    )


def _base(doc: dict, arrays: dict[str, np.ndarray]) -> BaseLayer:
    try:
        base = BaseLayer.from_arrays(arrays, "base/")
    except KeyError as exc:
        raise ProjectFileError(f"{ARRAYS_MEMBER} lacks the base layer array {exc}") from None
    except (ValueError, TypeError, IndexError) as exc:
        raise ProjectFileError(f"{ARRAYS_MEMBER}: the base layer is malformed: {exc}") from None
    if abs(base.fps - doc["fps"]) > 1e-9:
        raise ProjectFileError(f"{ARRAYS_MEMBER}: the base layer is at {base.fps} fps, the project at {doc['fps']} fps")
    # values no backend writes, which rendered with overflow warnings or drew nothing sensible
    if np.abs(base.offsets).max(initial=0.0) > MAX_OFFSET_CM or np.abs(base.pose).max(initial=0.0) > MAX_POSE_VALUE:
        raise ProjectFileError(f"{ARRAYS_MEMBER}: the base layer's mesh offsets or pose are far outside a face's "
                               f"(over {MAX_OFFSET_CM:g} cm or {MAX_POSE_VALUE:g})")
    end = base.frame_count / base.fps + 1.0
    for kind in SEGMENT_KINDS:
        bad = [x for x in getattr(base, kind) if not 0.0 <= x.start <= x.end <= end]
        if bad:
            raise ProjectFileError(f"{ARRAYS_MEMBER}: the base layer's {kind} hold a span that is not within the "
                                   f"project's {end - 1.0:.2f} s ({bad[0].start:g} to {bad[0].end:g} s)")
    return base


def _existing_source(entry: dict, folder: Path) -> str:
    """The stored absolute path if it exists, else the stored relative one if that exists, else the former."""
    absolute, relative = entry["path"], entry.get("relative")
    if not isinstance(absolute, str) or not (relative is None or isinstance(relative, str)):
        raise ProjectFileError(f"a source entry has an invalid path: {entry!r}")
    if not os.path.exists(absolute) and relative and (folder / relative).exists():
        return str((folder / relative).resolve())
    return absolute


def _sources(doc: dict, arrays: dict, reference: ReferenceFace, folder: Path) -> tuple[FaceSource, AudioSource]:
    from engine.audio.decode import load_audio
    from engine.errors import AudioReadError

    entries = doc["sources"]
    kinds = [e.get("kind") for e in entries]
    if len(kinds) != 2 or "audio" not in kinds or not ({"portrait", "video"} & set(kinds)):
        raise ProjectFileError(f"{JSON_MEMBER}: sources must be one portrait or video and one audio entry, "
                               f"got kinds {kinds}")
    by_kind = dict(zip(kinds, entries))
    if "video" in by_kind:
        entry = by_kind["video"]
        fit, face_index = entry.get("fit"), entry.get("face_index")
        if fit not in FIT_MODES or not (face_index is None or (isinstance(face_index, int) and face_index >= 0)):
            raise ProjectFileError(f"{JSON_MEMBER}: the video source's fit/face_index are invalid: {entry!r:.120}")
        try:
            track = FaceTrack.from_arrays(arrays, "track/")
            frame_map = np.asarray(arrays["source/frame_map"], np.int64)
        except (KeyError, ValueError, TypeError, IndexError) as exc:
            raise ProjectFileError(f"{ARRAYS_MEMBER}: the video source's face track is malformed: {exc}") from None
        if frame_map.shape != (doc["frame_count"],) or frame_map.min() < 0 or frame_map.max() >= track.frame_count:
            raise ProjectFileError(f"{ARRAYS_MEMBER}: array 'source/frame_map' does not fit the track")
        face: FaceSource = VideoSource(_existing_source(entry, folder), track, frame_map, fit=fit,
                                       face_index=face_index, reference=reference)
    else:
        face = PortraitSource(_existing_source(by_kind["portrait"], folder), reference,
                              Framing.from_json(by_kind["portrait"].get("framing", {})))
    try:
        animated = AudioPrint.from_json(by_kind["audio"]["print"]) if "print" in by_kind["audio"] else None
    except ValueError as exc:
        raise ProjectFileError(f"{JSON_MEMBER}: {exc}") from None
    audio_path = _existing_source(by_kind["audio"], folder)
    try:
        clip = load_audio(audio_path) if os.path.exists(audio_path) else None
    except AudioReadError:
        clip = None  # unreadable now: the user relinks it, as for a missing file
    return face, AudioSource(audio_path, clip, animated)


# Bounds of a base layer's values: a mouth or brow moves a vertex a few cm, a head turns within +-180 degrees
# and shifts within tens of cm.
MAX_OFFSET_CM = 100.0
MAX_POSE_VALUE = 1000.0


def _said(exc: Exception) -> str:
    """An error of a malformed document in words (a KeyError's repr was "KeyError('a2l_settings')")."""
    if isinstance(exc, KeyError):
        return f"the field {exc.args[0]!r} is missing" if exc.args else "a field is missing"
    return f"{str(exc) or type(exc).__name__:.200}"


def _has_video(doc: dict) -> bool:
    """The project's face comes from a video (its arrays then hold the video's face track)."""
    return any(isinstance(e, dict) and e.get("kind") == "video" for e in doc.get("sources", []))


def load_project(path: str | os.PathLike) -> Project:
    """Reads, migrates and validates a project file; raises ProjectFileError with what is wrong."""
    path = os.path.abspath(os.fspath(path))
    doc, raw_npz, raw_png = _read_members(path)
    try:
        arrays = reader.read_arrays(raw_npz, doc["frame_count"], _has_video(doc))
        reference = _reference(doc, arrays, raw_png)
        base = _base(doc, arrays)
        source, audio = _sources(doc, arrays, reference, Path(path).parent)
        channels = {}
        for name, d in doc["channels"].items():
            try:
                channels[name] = Curve.from_json(d)
            except (KeyError, ValueError, TypeError) as exc:
                raise ProjectFileError(f"{JSON_MEMBER}: channel {name!r} is malformed: {exc}") from None
        in_out = tuple(doc["in_out"]) if doc["in_out"] is not None else None
        return Project(
            source, audio, doc["fps"], base,
            a2l=choice_from_json(A2L_BACKENDS, doc["a2l"]), renderer=choice_from_json(RENDERERS, doc["renderer"]),
            pose_template=arrays.get("pose_template"), channels=channels,
            gains=config_from_json(Gains, doc["gains"], "gains"), in_out=in_out, path=path,
        )
    except ProjectFileError as exc:
        raise ProjectFileError(f"{path}: {exc}") from None
    except TalklineError as exc:  # a config or backend entry that does not validate
        raise ProjectFileError(f"{path}: {JSON_MEMBER}: {exc}") from None
    except (ValueError, TypeError, KeyError, IndexError, OverflowError, AttributeError) as exc:
        raise ProjectFileError(f"{path}: {JSON_MEMBER} is invalid: {_said(exc)}") from None


# --- moved sources -------------------------------------------------------------------------------
def missing_sources(project: Project) -> list[str]:
    """Kinds ("portrait", "audio") whose file is gone or unusable; pass one to relink_source."""
    missing = []
    if not os.path.exists(project.source.path):
        missing.append(project.source.kind)
    if project.audio is None or not os.path.exists(project.audio_source.path):
        missing.append("audio")
    return missing


def audio_source_at(path: str | os.PathLike) -> AudioSource:
    """The audio source of a file, decoded (AudioReadError if unreadable)."""
    from engine.audio.decode import load_audio

    path = os.path.abspath(os.fspath(path))
    return AudioSource(path, load_audio(path))


def set_audio_source(project: Project, source: AudioSource) -> None:
    from engine.document.changes import Change, ChangeKind

    project.audio_source = source
    project.notify(Change(ChangeKind.SOURCES))


def relink_source(project: Project, kind: str, new_path: str | os.PathLike) -> None:
    """Points a source at a new file. The portrait's framed reference stays the one in the project;
    the audio is decoded (AudioReadError if unreadable) and becomes playable again."""
    from engine.document.changes import Change, ChangeKind
    from engine.face.images import load_image

    new_path = os.path.abspath(os.fspath(new_path))
    if kind == "audio":
        project.audio_source = audio_source_at(new_path)
    elif kind == "portrait" == project.source.kind:
        load_image(new_path)  # raises ImageReadError if it is not a readable image
        project.source.path = new_path
    elif kind == "video" == project.source.kind:
        project.source.relink(new_path)  # VideoReadError if unreadable or another video
    else:
        raise ValueError(f"cannot relink a {kind!r} source of a project whose face source is a {project.source.kind}")
    project.notify(Change(ChangeKind.SOURCES))


# --- autosave and recovery -----------------------------------------------------------------------
def _state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "talkline" / "autosave"


def _registry() -> Path:
    return _state_dir() / "index.json"


class DamagedAutosaveWarning(UserWarning):
    """An autosave or the autosave registry could not be read and was set aside (renamed *.damaged)."""


def _set_aside(path: Path, why: str) -> None:
    target = path.with_name(path.name + DAMAGED_SUFFIX)
    try:
        os.replace(path, target)
    except OSError:
        return  # not ours to move (read-only folder): it stays ignored
    warnings.warn(f"the damaged file {path} was set aside as {target.name} ({why})", DamagedAutosaveWarning,
                  stacklevel=3)


def _registered() -> list[str]:
    registry = _registry()
    try:
        entries = json.loads(registry.read_text(encoding="utf-8"))
        if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
            raise ValueError("not a list of paths")
        return entries
    except FileNotFoundError:
        return []
    except (OSError, ValueError, RecursionError) as exc:
        if registry.is_file():
            _set_aside(registry, f"unreadable autosave registry: {exc}")
        return []


@contextlib.contextmanager
def _registry_lock():
    """Serialises the registry's read-modify-write between processes (an advisory lock on a side file)."""
    import fcntl

    _state_dir().mkdir(parents=True, exist_ok=True)
    with open(_state_dir() / "index.lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _register(path: Path, add: bool) -> None:
    with _registry_lock():
        entries = [e for e in _registered() if e != str(path)] + ([str(path)] if add else [])
        with replacing(_registry()) as tmp:
            Path(tmp).write_text(json.dumps(entries), encoding="utf-8")


def autosave_path(project_path: str | os.PathLike | None) -> Path:
    """The recovery file of a project: beside it, or in the state folder (one per process) when unsaved."""
    if project_path is None:
        return _state_dir() / f"untitled-{os.getpid()}{EXTENSION}{AUTOSAVE_SUFFIX}"
    p = Path(os.path.abspath(os.fspath(project_path)))
    return p.with_name(p.name + AUTOSAVE_SUFFIX)


def write_autosave(project: Project) -> Path:
    """Saves a recovery copy (project.path is unchanged) and registers it for find_recoverable."""
    path = autosave_path(project.path)
    _write(project, path, autosave_of=project.path, compress=False)
    _register(path, add=True)
    return path


def autosave_origin(autosave: str | os.PathLike) -> str | None:
    """The project file an autosave recovers (None for a project never saved)."""
    doc, _, _ = _read_members(os.path.abspath(os.fspath(autosave)))
    return doc.get("autosave_of")


def _recoverable(auto: Path) -> bool:
    """`auto` is a whole autosave newer than the project it recovers (one that cannot be read whole is set aside,
    renamed *.damaged with a DamagedAutosaveWarning: never offered, never fatal)."""
    if not auto.is_file():
        return False
    try:
        doc, raw_npz, _ = _read_members(str(auto))
        reader.read_arrays(raw_npz, doc["frame_count"], _has_video(doc))
    except ProjectFileError as exc:
        _set_aside(auto, str(exc))
        return False
    origin = doc["autosave_of"]
    return origin is None or not os.path.exists(origin) or os.path.getmtime(origin) < auto.stat().st_mtime


def find_recoverable() -> list[Path]:
    """Autosaves left behind (by a crash) that are newer than their project, newest first (see _recoverable)."""
    candidates = {Path(p) for p in _registered()} | set(_state_dir().glob(f"*{EXTENSION}{AUTOSAVE_SUFFIX}"))
    return sorted((auto for auto in candidates if _recoverable(auto)), key=lambda p: p.stat().st_mtime, reverse=True)


def recoverable_for(project_path: str | os.PathLike) -> Path | None:
    """The autosave a crash left beside this project, if it is whole and newer than the project file."""
    auto = autosave_path(project_path)
    return auto if _recoverable(auto) else None


def keep_declined(autosave: str | os.PathLike) -> Path:
    """An autosave the user chose not to recover, moved out of the way of the next autosave (which would write
    over it) to <name>.declined beside it: still there to rename back by hand."""
    autosave = Path(os.path.abspath(os.fspath(autosave)))
    target = autosave.with_name(autosave.name + DECLINED_SUFFIX)
    os.replace(autosave, target)
    if str(autosave) in _registered():
        _register(autosave, add=False)
    return target


def recover_autosave(autosave: str | os.PathLike) -> Project:
    """Loads an autosave as the project it recovers: saving it then writes over the original project. The
    path stored inside is trusted only when the autosave lies beside that project under its own name (a crafted
    file cannot aim Ctrl+S at another file); otherwise the recovered project is untitled (Save As asks)."""
    autosave = Path(os.path.abspath(os.fspath(autosave)))
    project = load_project(autosave)
    origin = autosave_origin(autosave)
    project.path = origin if origin is not None and autosave_path(origin) == autosave else None
    return project


def discard_autosave(path: str | os.PathLike) -> None:
    path = Path(os.path.abspath(os.fspath(path)))
    remove_quietly(str(path))
    if str(path) in _registered():
        _register(path, add=False)
