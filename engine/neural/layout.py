"""The AniPortrait weights folder in its released layout (torch-free: `available()` and `models check` use it).

    pretrained_model/                      (pass this folder, or the folder that contains it, as --weights)
      denoising_unet.pth  reference_unet.pth  pose_guider.pth  motion_module.pth     Lmk2Video
      stable-diffusion-v1-5/unet/config.json                                        (its weights are not needed)
      sd-vae-ft-mse/{config.json, diffusion_pytorch_model.safetensors|.bin}
      image_encoder/{config.json, model.safetensors|pytorch_model.bin}
      audio2mesh.pt  audio2pose.pt                                                   Audio2Lmk
      wav2vec2-base-960h/config.json [+ preprocessor_config.json]                    (its weights are not needed)
      aniportrait.json                                                               optional, Talkline's
      film_net_fp16.pt                                                               optional, never loaded

audio2mesh.pt / audio2pose.pt hold their fine-tuned wav2vec2, and denoising_unet.pth + motion_module.pth /
reference_unet.pth the whole UNets, so the base models' own weight files are not read. film_net_fp16.pt (the
reference's `-acc` frame interpolation) is a TorchScript program: loading it would run code from the file,
so it is never loaded.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Entry:
    component: str
    alternatives: tuple[str, ...]  # relative paths, the first that exists is used
    users: tuple[str, ...]  # "renderer" and/or "a2l"
    optional: bool = False
    note: str = ""


ENTRIES: tuple[Entry, ...] = (
    Entry("denoising_unet", ("denoising_unet.pth",), ("renderer",)),
    Entry("motion_modules", ("motion_module.pth",), ("renderer",)),
    Entry("reference_unet", ("reference_unet.pth",), ("renderer",)),
    Entry("pose_guider", ("pose_guider.pth",), ("renderer",)),
    Entry("unet_config", ("stable-diffusion-v1-5/unet/config.json",), ("renderer",)),
    Entry("vae_config", ("sd-vae-ft-mse/config.json",), ("renderer",)),
    Entry("vae", ("sd-vae-ft-mse/diffusion_pytorch_model.safetensors", "sd-vae-ft-mse/diffusion_pytorch_model.bin"),
          ("renderer",)),
    Entry("image_encoder_config", ("image_encoder/config.json",), ("renderer",)),
    Entry("image_encoder", ("image_encoder/model.safetensors", "image_encoder/pytorch_model.bin"), ("renderer",)),
    Entry("audio2mesh", ("audio2mesh.pt",), ("a2l",)),
    Entry("audio2pose", ("audio2pose.pt",), ("a2l",), optional=True,
          note="head pose from audio (without it: --a2l-set head_pose=none)"),
    Entry("wav2vec2_config", ("wav2vec2-base-960h/config.json",), ("a2l",)),
    Entry("wav2vec2_preprocessor", ("wav2vec2-base-960h/preprocessor_config.json",), ("a2l",), optional=True,
          note="default: zero-mean unit-variance normalisation"),
    Entry("overrides", ("aniportrait.json",), ("renderer", "a2l"), optional=True,
          note="Talkline's architecture overrides (tiny test models)"),
    Entry("film", ("film_net_fp16.pt",), (), optional=True, note="TorchScript; never loaded"),
)
BY_NAME = {e.component: e for e in ENTRIES}

LAYOUT_TEXT = (
    "expected the released AniPortrait layout: denoising_unet.pth, reference_unet.pth, pose_guider.pth, "
    "motion_module.pth, stable-diffusion-v1-5/unet/config.json, sd-vae-ft-mse/{config.json, "
    "diffusion_pytorch_model.safetensors|.bin}, image_encoder/{config.json, model.safetensors|pytorch_model.bin} "
    "(renderer); audio2mesh.pt, audio2pose.pt, wav2vec2-base-960h/config.json (Audio2Lmk)"
)


def resolve_root(folder: str | os.PathLike) -> Path:
    """The weights folder: `folder` itself, or its `pretrained_model/` (the reference repository's root)."""
    root = Path(folder).expanduser()
    inner = root / "pretrained_model"
    if inner.is_dir() and not any((root / e.alternatives[0]).exists() for e in ENTRIES if not e.optional):
        return inner
    return root


def find(root: Path, component: str) -> Path | None:
    for rel in BY_NAME[component].alternatives:
        path = root / rel
        if path.is_file():
            return path
    return None


def folder_in_place(root: Path, component: str) -> str | None:
    """The relative path where a folder stands in place of the component's file (an archive unpacked under the
    file's name: it was called missing), or None."""
    return next((rel for rel in BY_NAME[component].alternatives if (root / rel).is_dir()), None)


def missing(root: Path, user: str, *, optional: tuple[str, ...] = ()) -> list[str]:
    """Relative paths of the required files `user` ("renderer"/"a2l") needs that are not in `root`, each with a
    folder in its place said; `optional` names optional components that are required this time."""
    out = []
    for e in ENTRIES:
        if user in e.users and (not e.optional or e.component in optional) and find(root, e.component) is None:
            folder = folder_in_place(root, e.component)
            out.append(" or ".join(e.alternatives) + (f" ({folder} is a folder, not a file)" if folder else ""))
    return out


WEIGHT_SUFFIXES = (".pth", ".pt", ".bin", ".safetensors")


def no_folder(folder: str | Path) -> str:
    """Why `folder`, which is not a directory, cannot be the weights folder."""
    return f"the weights folder {folder} " + ("is a file, not a folder" if Path(folder).exists() else "does not exist")


def folder_problem(folder: str | None, user: str, *, optional: tuple[str, ...] = ()) -> str | None:
    """Why the weights folder cannot serve `user`, in one line; None when every file it needs is there."""
    if not folder:
        return "no weights folder given (--weights DIR: the AniPortrait pretrained_model folder)"
    root = resolve_root(folder)
    if not root.is_dir():
        return no_folder(folder)
    gone = missing(root, user, optional=optional)
    if gone:
        shown = ", ".join(gone[:4]) + (f" and {len(gone) - 4} more" if len(gone) > 4 else "")
        return f"the weights folder {root} lacks {shown}; {LAYOUT_TEXT}"
    return None


def read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        field = _non_finite(data)
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path} is not readable JSON ({exc})") from None
    except RecursionError:
        raise ValueError(f"{path} is not readable JSON (nested too deeply)") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} must hold a JSON object")
    if field is not None:  # (1e999 reads as inf: the model build failed on it without naming the field)
        raise ValueError(f"{path}: {field} is not a finite number")
    return data


def _non_finite(value, where: str = "") -> str | None:
    """The key path of the first infinite or NaN number in parsed JSON, None when there is none."""
    if isinstance(value, float) and not math.isfinite(value):
        return where or "a value"
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found = _non_finite(item, f"{where}.{key}" if where and isinstance(key, str) else
                            f"{where}[{key}]" if where or not isinstance(key, str) else key)
        if found is not None:
            return found
    return None


def read_overrides(root: Path) -> dict:
    path = find(root, "overrides")
    return read_json(path) if path is not None else {}


def weights_bytes(root: Path, user: str) -> int:
    """Total size of the weight files `user` loads (to tell tiny test models from full-size ones)."""
    total = 0
    for e in ENTRIES:
        if user in e.users:
            path = find(root, e.component)
            if path is not None and path.suffix in WEIGHT_SUFFIXES:
                total += path.stat().st_size
    return total


def cuda_problem() -> str | None:
    """Why no CUDA device can be used, judged without importing torch (cheap enough for `backends`)."""
    from importlib import metadata, util

    if util.find_spec("torch") is None:
        return "the torch package is not installed"
    try:
        version = metadata.version("torch")
    except metadata.PackageNotFoundError:
        version = ""
    if "+cpu" in version:
        return f"no CUDA device: torch {version} is the CPU-only build"
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return "no CUDA device: CUDA_VISIBLE_DEVICES hides every GPU"
    if not (Path("/dev/nvidiactl").exists() or Path("/proc/driver/nvidia/version").exists()):
        return "no CUDA device (no NVIDIA driver found)"
    return None


def packages_problem() -> str | None:
    from importlib import util

    for name in ("torch", "diffusers", "transformers", "safetensors"):
        if util.find_spec(name) is None:
            return f"the {name} package is not installed (pip install -r requirements.txt)"
    return None
