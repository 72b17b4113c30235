"""The limits every entry point checks (CLI, project files, images, the pipeline), in one place, each with the
reason for its value. Inputs beyond them get a clear error naming the limit instead of a crash or a machine
that runs out of memory."""
from __future__ import annotations

import math
import os

MIN_FPS, MAX_FPS = 1.0, 120.0  # below 1 fps nothing reads as speech; above 120 no display or codec profile gains
MIN_SIZE, MAX_SIZE = 64, 4096  # px: below 64 the face mesh is sub-pixel; 4096 is H.264 level 5.1's width
MAX_GAIN = 10.0  # lip/head/blink gain a project file may hold: 10x already folds the mesh through itself
# The gains a user sets (--lip-intensity, --head-intensity, the editor's gain boxes): beyond 3x the mouth
# already opens past any human jaw and the warp tears the chin.
MAX_INTENSITY = 3.0
MAX_SMOOTHING_S = 5.0  # Gaussian sigma of the base-layer smoothing: more flattens everything and costs O(sigma)
# Frames a project may hold: 2 hours at 30 fps. The document keeps the base offsets (5.6 KB a frame, float32)
# and float64 evaluation caches (2 x 11 KB a frame): ~6 GB at this length, a quarter of a 24 GB machine.
MAX_FRAMES = 216_000
# Pixels of an image decoded anywhere (portraits, the project's reference PNG): above a 108 MP phone photo
# (12000 x 9000), ~360 MB as RGB. Checked from the file's header before decoding, so a "decompression bomb"
# costs nothing.
MAX_IMAGE_PIXELS = 12000 * 9000
MAX_KEY_VALUE = 1e6  # |key value| / |key time in s|: far beyond any pose (deg, cm) or control weight
MAX_TRANSCRIPT_CHARS = 1_000_000  # ~10 hours of speech
# Estimated memory of one render or prediction (frames x per-frame bytes) above which it is refused with the
# setting that fits: half of the 24 GB machine the product is specified for. On a machine with less free
# memory, what is free is the limit.
MEMORY_BUDGET_BYTES = 12 * 2**30
# What a render adds to the process beyond the project, per output pixel (frame buffers, warp maps, masks,
# the encoder's frames in flight): measured as peak RSS of `render --size 512/2048/4096` on a 5 s clip,
# (2032 - 418) MB / (4096^2 - 512^2) px = 98 bytes, rounded up.
RENDER_BYTES_PER_PIXEL = 100
# A landmark export holds every frame's landmarks, mesh and pose as float32 until it is written.
LANDMARK_EXPORT_BYTES_PER_FRAME = (468 * 2 + 468 * 3 + 6) * 4
# What the embedded Audio2Lmk's peak grows by per frame of the clip (30 fps): the base layer (468 x 3 float32
# offsets), the 100 Hz analysis tracks and the phone recogniser's lattice; bench/bench_pipeline.py --memory.
PREDICT_BYTES_PER_FRAME = 16_000


def check_number(value: float, name: str, lo: float, hi: float, unit: str = "") -> float:
    """`value` if finite and within [lo, hi]; ValueError naming the option and the range otherwise."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(x) or not lo <= x <= hi:
        raise ValueError(f"{name} must be between {lo:g} and {hi:g}{unit}, got {value!r}")
    return x


def free_memory_bytes() -> int | None:
    """Memory the system can give without swapping (Linux's MemAvailable), None where it cannot tell."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def memory_shortfall(needed: int) -> int | None:
    """The limit `needed` more bytes would exceed (the budget, or the free memory if less), None if it fits."""
    free = free_memory_bytes()
    limit = MEMORY_BUDGET_BYTES if free is None else min(MEMORY_BUDGET_BYTES, free)
    return limit if needed > limit else None


def special_file(path: str | os.PathLike) -> bool:
    """Whether `path` is a pipe, socket or device rather than a file or folder: reading one as an input waits for
    a writer forever (a FIFO) or never ends (/dev/zero), so every input is refused with this said."""
    return os.path.exists(path) and not os.path.isdir(path) and not os.path.isfile(path)
