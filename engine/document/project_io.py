"""One project file: a zip of project.json (structure, schema_version), arrays.npz (reference and base
layer arrays, loaded with allow_pickle=False) and reference.png (the framed portrait). Written atomically.

Schema 2 stores a typed sources list, the Audio2Lmk backend and the default renderer with their configs, and
the pose template; files of schema 1 are migrated on load (MIGRATIONS) with identical evaluated motion.

The framed reference and the base layer live in the file, so a project whose portrait moved still opens;
a missing audio file leaves project.audio None until the user relinks it. Autosaves are full project files
(plus the path of the project they recover) beside the project, or in the state folder when unsaved.
"""
from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import numpy as np

from engine.a2l.base_layer import BaseLayer
from engine.config import config_from_json, config_to_json
from engine.document.curves import Curve
from engine.document.project import Gains, Project
from engine.errors import ProjectFileError, TalklineError
from engine.export.atomic import remove_quietly, replacing
from engine.face.reference import ReferenceFace
from engine.plugins import A2L_BACKENDS, RENDERERS, choice_from_json
from engine.sources.portrait import AudioSource, Framing, PortraitSource

SCHEMA_VERSION = 2
FORMAT = "talkline-project"
EXTENSION = ".talkline"
JSON_MEMBER, ARRAYS_MEMBER, IMAGE_MEMBER = "project.json", "arrays.npz", "reference.png"
AUTOSAVE_SUFFIX = ".autosave"
_REFERENCE_SHAPES = {"reference/landmarks": (478, 3), "reference/mesh": (468, 3), "reference/transform": (4, 4)}


# --- save ----------------------------------------------------------------------------------------
def _relative(path: str, folder: Path) -> str | None:
    try:
        return os.path.relpath(os.path.abspath(path), folder)
    except ValueError:  # another drive (Windows)
        return None


def _source_entry(kind: str, path: str, folder: Path, **extra) -> dict:
    # The relative path beside the absolute one, so a project moved together with its media still finds them.
    return {"kind": kind, "path": os.path.abspath(path), "relative": _relative(path, folder), **extra}


def _document(project: Project, folder: Path, autosave_of: str | None) -> dict:
    return {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "sources": [
            _source_entry("portrait", project.source.path, folder, framing=project.source.framing.to_json()),
            _source_entry("audio", project.audio_source.path, folder),
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
    if project.pose_template is not None:
        arrays["pose_template"] = np.asarray(project.pose_template, dtype=np.float64)
    return arrays


def _png(rgb: np.ndarray) -> bytes:
    import cv2

    ok, buf = cv2.imencode(".png", np.ascontiguousarray(rgb[:, :, ::-1]), [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise ProjectFileError("cannot encode the reference image as PNG")
    return buf.tobytes()


def _write(project: Project, path: str | os.PathLike, autosave_of: str | None = None) -> None:
    path = os.path.abspath(os.fspath(path))
    doc = _document(project, Path(path).parent, autosave_of)
    npz = io.BytesIO()
    np.savez(npz, **_arrays(project))
    with replacing(path) as tmp:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
            zf.writestr(JSON_MEMBER, json.dumps(doc, indent=1))
            zf.writestr(ARRAYS_MEMBER, npz.getvalue())
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
def _read_members(path: str) -> tuple[dict, dict[str, np.ndarray], bytes]:
    if not os.path.exists(path):
        raise ProjectFileError(f"project file not found: {path}")
    if os.path.getsize(path) == 0:
        raise ProjectFileError(f"project file {path} is empty")
    if not zipfile.is_zipfile(path):
        raise ProjectFileError(f"{path} is not a Talkline project (not a zip archive)")
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            for member in (JSON_MEMBER, ARRAYS_MEMBER, IMAGE_MEMBER):
                if member not in names:
                    raise ProjectFileError(f"project file {path} is missing its {member} member")
            raw_json, raw_npz, raw_png = (zf.read(m) for m in (JSON_MEMBER, ARRAYS_MEMBER, IMAGE_MEMBER))
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ProjectFileError(f"project file {path} is corrupt: {exc}") from None
    try:
        doc = json.loads(raw_json.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProjectFileError(f"{JSON_MEMBER} in {path} is not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ProjectFileError(f"{path} is not a Talkline project ({JSON_MEMBER} lacks format {FORMAT!r})")
    version = doc.get("schema_version")
    if not isinstance(version, int) or version < 1:
        raise ProjectFileError(f"{path} has an invalid schema_version {version!r}")
    if version > SCHEMA_VERSION:
        raise ProjectFileError(
            f"{path} was saved by a newer Talkline (project schema {version}; this Talkline reads schemas 1 to "
            f"{SCHEMA_VERSION}): update Talkline"
        )
    try:
        while doc["schema_version"] < SCHEMA_VERSION:
            doc = MIGRATIONS[doc["schema_version"]](doc)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ProjectFileError(f"{path} (schema {version}) cannot be read: its {JSON_MEMBER} is malformed ({exc!r})") \
            from None
    try:
        with np.load(io.BytesIO(raw_npz), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError):
        raise ProjectFileError(
            f"{ARRAYS_MEMBER} in {path} is corrupt or holds Python objects (which Talkline never loads)"
        ) from None
    return doc, arrays, raw_png


def _reference(doc: dict, arrays: dict[str, np.ndarray], raw_png: bytes) -> ReferenceFace:
    import cv2

    for name, shape in _REFERENCE_SHAPES.items():
        if name not in arrays:
            raise ProjectFileError(f"{ARRAYS_MEMBER} lacks the array {name}")
        if arrays[name].shape != shape or not np.all(np.isfinite(arrays[name])):
            raise ProjectFileError(f"array {name} has shape {arrays[name].shape}, expected {shape} of finite numbers")
    bgr = cv2.imdecode(np.frombuffer(raw_png, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ProjectFileError(f"{IMAGE_MEMBER} is not a readable PNG image")
    meta = doc["reference"]
    if bgr.shape[:2] != (meta["height"], meta["width"]):
        raise ProjectFileError(
            f"{IMAGE_MEMBER} is {bgr.shape[1]}x{bgr.shape[0]}, expected {meta['width']}x{meta['height']}"
        )
    return ReferenceFace(
        image=np.ascontiguousarray(bgr[:, :, ::-1]),
        landmarks=arrays["reference/landmarks"],
        mesh=arrays["reference/mesh"],
        transform=arrays["reference/transform"],
        blendshapes={str(k): float(v) for k, v in meta.get("blendshapes", {}).items()},
    )


def _base(doc: dict, arrays: dict[str, np.ndarray]) -> BaseLayer:
    try:
        base = BaseLayer.from_arrays(arrays, "base/")
    except KeyError as exc:
        raise ProjectFileError(f"{ARRAYS_MEMBER} lacks the base layer array {exc}") from None
    except ValueError as exc:
        raise ProjectFileError(f"the base layer is malformed: {exc}") from None
    if base.frame_count != doc["frame_count"] or not np.all(np.isfinite(base.offsets)):
        raise ProjectFileError(
            f"the base layer has {base.frame_count} frames, the project {doc['frame_count']} (or non-finite values)"
        )
    return base


def _existing_source(entry: dict, folder: Path) -> str:
    """The stored absolute path if it exists, else the stored relative one if that exists, else the former."""
    absolute, relative = entry["path"], entry.get("relative")
    if not isinstance(absolute, str) or not (relative is None or isinstance(relative, str)):
        raise ProjectFileError(f"a source entry has an invalid path: {entry!r}")
    if not os.path.exists(absolute) and relative and (folder / relative).exists():
        return str((folder / relative).resolve())
    return absolute


def _sources(doc: dict, reference: ReferenceFace, folder: Path) -> tuple[PortraitSource, AudioSource]:
    from engine.audio.decode import load_audio
    from engine.errors import AudioReadError

    entries = doc["sources"]
    kinds = [e.get("kind") if isinstance(e, dict) else None for e in entries] if isinstance(entries, list) else None
    if kinds is None or sorted(map(str, kinds)) != ["audio", "portrait"]:
        raise ProjectFileError(f"{JSON_MEMBER}: sources must be one portrait and one audio entry, got kinds {kinds}")
    by_kind = dict(zip(kinds, entries))
    portrait = PortraitSource(_existing_source(by_kind["portrait"], folder), reference,
                              Framing.from_json(by_kind["portrait"].get("framing", {})))
    audio_path = _existing_source(by_kind["audio"], folder)
    try:
        clip = load_audio(audio_path) if os.path.exists(audio_path) else None
    except AudioReadError:
        clip = None  # unreadable now: the user relinks it, as for a missing file
    return portrait, AudioSource(audio_path, clip)


def load_project(path: str | os.PathLike) -> Project:
    """Reads, migrates and validates a project file; raises ProjectFileError with what is wrong."""
    path = os.path.abspath(os.fspath(path))
    doc, arrays, raw_png = _read_members(path)
    try:
        reference = _reference(doc, arrays, raw_png)
        base = _base(doc, arrays)
        source, audio = _sources(doc, reference, Path(path).parent)
        channels = {}
        for name, d in doc["channels"].items():
            try:
                channels[name] = Curve.from_json(d)
            except KeyError as exc:
                raise ProjectFileError(f"channel {name!r} is malformed: a key lacks {exc}") from None
            except (ValueError, TypeError) as exc:
                raise ProjectFileError(f"channel {name!r} is malformed: {exc}") from None
        in_out = tuple(float(x) for x in doc["in_out"]) if doc["in_out"] is not None else None
        fps = float(doc["fps"])
        if abs(base.fps - fps) > 1e-9:
            raise ProjectFileError(f"the base layer is at {base.fps} fps, the project at {fps} fps")
        template = arrays.get("pose_template")
        if template is not None and (template.ndim != 2 or template.shape[1] != 6 or not np.isfinite(template).all()):
            raise ProjectFileError(f"the pose template has shape {template.shape}, expected (N, 6) finite numbers")
        return Project(
            source, audio, fps, base,
            a2l=choice_from_json(A2L_BACKENDS, doc["a2l"]), renderer=choice_from_json(RENDERERS, doc["renderer"]),
            pose_template=template, channels=channels, gains=config_from_json(Gains, doc["gains"], "gains"),
            in_out=in_out, path=path,
        )
    except ProjectFileError:
        raise
    except TalklineError as exc:  # a config or backend entry that does not validate
        raise ProjectFileError(f"{path}: {exc}") from None
    except KeyError as exc:
        raise ProjectFileError(f"{JSON_MEMBER} in {path} lacks the field {exc}") from None
    except (ValueError, TypeError, AttributeError) as exc:
        raise ProjectFileError(f"{JSON_MEMBER} in {path} is invalid: {exc}") from None


# --- moved sources -------------------------------------------------------------------------------
def missing_sources(project: Project) -> list[str]:
    """Kinds ("portrait", "audio") whose file is gone or unusable; pass one to relink_source."""
    missing = []
    if not os.path.exists(project.source.path):
        missing.append("portrait")
    if project.audio is None or not os.path.exists(project.audio_source.path):
        missing.append("audio")
    return missing


def relink_source(project: Project, kind: str, new_path: str | os.PathLike) -> None:
    """Points a source at a new file. The portrait's framed reference stays the one in the project;
    the audio is decoded (AudioReadError if unreadable) and becomes playable again."""
    from engine.audio.decode import load_audio
    from engine.document.changes import Change, ChangeKind
    from engine.face.images import load_image

    new_path = os.path.abspath(os.fspath(new_path))
    if kind == "audio":
        project.audio_source = AudioSource(new_path, load_audio(new_path))
    elif kind == "portrait":
        load_image(new_path)  # raises ImageReadError if it is not a readable image
        project.source.path = new_path
    else:
        raise ValueError(f"unknown source kind {kind!r} (audio or portrait)")
    project.notify(Change(ChangeKind.SOURCES))


# --- autosave and recovery -----------------------------------------------------------------------
def _state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "talkline" / "autosave"


def _registry() -> Path:
    return _state_dir() / "index.json"


def _registered() -> list[str]:
    try:
        entries = json.loads(_registry().read_text())
        return [str(e) for e in entries] if isinstance(entries, list) else []
    except (OSError, ValueError):
        return []


def _register(path: Path, add: bool) -> None:
    entries = [e for e in _registered() if e != str(path)] + ([str(path)] if add else [])
    _registry().parent.mkdir(parents=True, exist_ok=True)
    with replacing(_registry()) as tmp:
        Path(tmp).write_text(json.dumps(entries))


def autosave_path(project_path: str | os.PathLike | None) -> Path:
    """The recovery file of a project: beside it, or in the state folder (one per process) when unsaved."""
    if project_path is None:
        return _state_dir() / f"untitled-{os.getpid()}{EXTENSION}{AUTOSAVE_SUFFIX}"
    p = Path(os.path.abspath(os.fspath(project_path)))
    return p.with_name(p.name + AUTOSAVE_SUFFIX)


def write_autosave(project: Project) -> Path:
    """Saves a recovery copy (project.path is unchanged) and registers it for find_recoverable."""
    path = autosave_path(project.path)
    _write(project, path, autosave_of=project.path)
    _register(path, add=True)
    return path


def autosave_origin(autosave: str | os.PathLike) -> str | None:
    """The project file an autosave recovers (None for a project never saved)."""
    doc, _, _ = _read_members(os.path.abspath(os.fspath(autosave)))
    return doc.get("autosave_of")


def find_recoverable() -> list[Path]:
    """Autosaves left behind (by a crash) that are newer than their project, newest first."""
    candidates = {Path(p) for p in _registered()} | set(_state_dir().glob(f"*{EXTENSION}{AUTOSAVE_SUFFIX}"))
    found = []
    for auto in candidates:
        if not auto.is_file():
            continue
        try:
            origin = autosave_origin(auto)
        except ProjectFileError:
            continue  # a torn or foreign file is nothing to offer
        if origin is None or not os.path.exists(origin) or os.path.getmtime(origin) < auto.stat().st_mtime:
            found.append(auto)
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


def recover_autosave(autosave: str | os.PathLike) -> Project:
    """Loads an autosave as the project it recovers: saving it then writes over the original project."""
    project = load_project(autosave)
    project.path = autosave_origin(autosave)
    return project


def discard_autosave(path: str | os.PathLike) -> None:
    path = Path(os.path.abspath(os.fspath(path)))
    remove_quietly(str(path))
    if str(path) in _registered():
        _register(path, add=False)
