"""Devices, threads and a small cache of loaded models (the editor's preview and its render reuse one load)."""
from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

import torch

from engine.errors import BackendError
from engine.neural import layout

TINY_WEIGHTS_BYTES = 256 << 20  # below this the models are test-sized: one CPU thread is fastest
_cache: OrderedDict = OrderedDict()
_lock = threading.Lock()
CACHE_SIZE = 2
# One sampling at a time per process: the reference-attention processors live on the shared cached models
# (the editor's preview and its render thread may both ask).
sampling_lock = threading.Lock()


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise BackendError("no CUDA device: torch sees no GPU (use device=cpu, or a machine with an NVIDIA GPU)")
    return device


def resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    from engine.neural.lmk2video import DTYPES

    if name not in DTYPES:
        raise BackendError(f"dtype must be one of {', '.join(DTYPES)}, got {name!r}")
    return torch.float32 if device.type == "cpu" else DTYPES[name]


def configure_threads(root: Path, user: str, threads: int, device: torch.device) -> None:
    """CPU threads: `threads` if given; for tiny test models one (their ops are too small to split)."""
    if device.type != "cpu":
        return
    if threads > 0:
        torch.set_num_threads(threads)
    elif layout.weights_bytes(root, user) < TINY_WEIGHTS_BYTES:
        torch.set_num_threads(1)


def cached(key: tuple, load):
    """load() once per key (the last CACHE_SIZE keys kept)."""
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    value = load()
    with _lock:
        _cache[key] = value
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return value


def clear_cache() -> None:
    with _lock:
        _cache.clear()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def is_oom(exc: BaseException) -> bool:
    return isinstance(exc, torch.OutOfMemoryError) or "out of memory" in str(exc).lower()
