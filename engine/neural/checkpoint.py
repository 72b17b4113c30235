"""Safe, strict checkpoint loading.

Only `torch.load(weights_only=True)` (plain tensors, no code from the file) and safetensors. A checkpoint is
loaded whole or not at all: missing keys, unexpected keys and wrong shapes raise CheckpointError naming them
(the reference's strict=False loads silently skipped, e.g., the wav2vec2 weight-norm tensors under newer
transformers). Renames for the historical key names that current libraries spell differently:
- wav2vec2's positional-conv weight norm: `weight_g`/`weight_v` (transformers <= 4.30) ->
  `parametrizations.weight.original0`/`original1` (torch's parametrized weight norm), and back if needed;
- the VAE's mid-block attention: `query`/`key`/`value`/`proj_attn` (diffusers < 0.14) -> `to_q`/`to_k`/`to_v`/
  `to_out.0`.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import torch

from engine.errors import BackendError

# Buffers that older library versions saved and newer ones compute (harmless to drop, never weights).
IGNORABLE = (re.compile(r"(^|\.)position_ids$"),)


class CheckpointError(BackendError):
    """A weights file that cannot be read or does not match the model (keys or shapes)."""


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    path = Path(path)
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path), device="cpu")
        else:
            try:
                state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
            except RuntimeError as exc:  # legacy (non-zip) serialization cannot be memory-mapped
                if "mmap" not in str(exc):
                    raise
                state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{path} not found") from None
    except Exception as exc:  # noqa: BLE001  (unpickling errors come in many types)
        reason = (str(exc).splitlines() or [type(exc).__name__])[0][:300]
        if reason.startswith("Weights only load failed"):  # torch's advice to load it unsafely is not ours to give
            reason = "not a PyTorch weights file, or one holding objects other than tensors"
        raise CheckpointError(f"{path} cannot be read as a plain state dict of tensors "
                              f"(only weights are loaded, never code): {reason}") from None
    if not isinstance(state, Mapping) or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                                  for k, v in state.items()):
        raise CheckpointError(f"{path} is not a state dict (a mapping of names to tensors)")
    return dict(state)


def _weight_norm_renames(keys: Iterable[str], model_keys: set[str]) -> dict[str, str]:
    out = {}
    pairs = ((".weight_g", ".parametrizations.weight.original0"), (".weight_v", ".parametrizations.weight.original1"))
    for key in keys:
        for old, new in pairs:
            if key.endswith(old) and key not in model_keys and key[: -len(old)] + new in model_keys:
                out[key] = key[: -len(old)] + new
            elif key.endswith(new) and key not in model_keys and key[: -len(new)] + old in model_keys:
                out[key] = key[: -len(new)] + old
    return out


_VAE_OLD = {".query.": ".to_q.", ".key.": ".to_k.", ".value.": ".to_v.", ".proj_attn.": ".to_out.0."}


def _vae_attention_renames(keys: Iterable[str], model_keys: set[str]) -> dict[str, str]:
    out = {}
    for key in keys:
        if key in model_keys or ".attentions." not in key:
            continue
        for old, new in _VAE_OLD.items():
            if old in key and key.replace(old, new) in model_keys:
                out[key] = key.replace(old, new)
    return out


def canonical_keys(state: dict[str, torch.Tensor], model_keys: set[str]) -> dict[str, torch.Tensor]:
    """`state` with historical key names renamed to the model's."""
    renames = {**_weight_norm_renames(state, model_keys), **_vae_attention_renames(state, model_keys)}
    out = {}
    for key, value in state.items():
        if key in renames:
            if renames[key] in state:
                continue  # both spellings present: the model's own wins
            if key.endswith(".weight") and value.ndim == 4 and value.shape[2:] == (1, 1) and "attentions" in key:
                value = value[:, :, 0, 0]  # legacy VAE attention saved as 1x1 convolutions
        out[renames.get(key, key)] = value
    return out


def _fmt(keys: list[str], limit: int = 8) -> str:
    keys = sorted(keys)
    shown = ", ".join(keys[:limit])
    return shown + (f" (+{len(keys) - limit} more)" if len(keys) > limit else "")


def check_state(expected: Mapping[str, torch.Size], state: Mapping[str, torch.Tensor], what: str,
                *, allow_missing: Callable[[str], bool] | None = None) -> None:
    """CheckpointError naming missing/unexpected keys and wrong shapes of `state` against `expected` shapes."""
    missing = [k for k in expected if k not in state and not (allow_missing and allow_missing(k))]
    unexpected = [k for k in state if k not in expected and not any(p.search(k) for p in IGNORABLE)]
    wrong = [f"{k} {tuple(state[k].shape)} (expected {tuple(expected[k])})"
             for k in state if k in expected and tuple(state[k].shape) != tuple(expected[k])]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing key(s): {_fmt(missing)}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected key(s): {_fmt(unexpected)}")
    if wrong:
        problems.append(f"{len(wrong)} wrong shape(s): {_fmt(wrong, 4)}")
    if problems:
        raise CheckpointError(f"{what} does not match the model: " + "; ".join(problems))


def expected_shapes(module: torch.nn.Module) -> dict[str, torch.Size]:
    return {k: v.shape for k, v in module.state_dict().items()}


def load_into(module: torch.nn.Module, state: dict[str, torch.Tensor], what: str, *,
              device: torch.device | str = "cpu", dtype: torch.dtype | None = None) -> torch.nn.Module:
    """Loads `state` strictly into `module` (built on the meta device or not): floating tensors cast to `dtype`,
    everything moved to `device`; a buffer the file does not hold (computed, non-persistent) is rebuilt."""
    expected = expected_shapes(module)
    state = canonical_keys(state, set(expected))
    check_state(expected, state, what)
    state = {k: v for k, v in state.items() if k in expected}
    converted = {}
    for key, value in state.items():
        if dtype is not None and value.is_floating_point():
            value = value.to(dtype)
        converted[key] = value.to(device)
    on_meta = any(t.is_meta for t in module.state_dict().values())
    module.load_state_dict(converted, strict=True, assign=on_meta)
    _materialize_computed_buffers(module, device)
    return module


def _materialize_computed_buffers(module: torch.nn.Module, device) -> None:
    for name, buffer in list(module.named_buffers()):
        if not buffer.is_meta:
            continue
        owner_name, _, attr = name.rpartition(".")
        owner = module.get_submodule(owner_name) if owner_name else module
        if attr == "position_ids":
            owner.register_buffer(attr, torch.arange(buffer.shape[-1], device=device).expand(buffer.shape),
                                  persistent=False)
        else:
            raise CheckpointError(f"internal: the buffer {name} is computed at construction and was not rebuilt")


def build_on_meta(factory: Callable[[], torch.nn.Module]) -> torch.nn.Module:
    """The module built without allocating or initialising its weights (they come from a checkpoint)."""
    with torch.device("meta"):
        return factory()
