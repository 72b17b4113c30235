"""Voice activity that survives noise: Silero VAD (its ONNX model, run with onnxruntime) + a noise-floor gate.

The VAD says *which* sound is speech (room tone, breaths, hum, clicks and music are not); the level above
the clip's noise floor says *when* exactly it starts and stops (the VAD decides on 32 ms frames with some
smear, the 10 ms level is sharper). Speech presence at 100 Hz is therefore

    presence = (VAD region, dilated by VAD_PAD_S) x clip((level - floor - FLOOR_MARGIN_DB) / FLOOR_RAMP_DB)

The model is the one shipped inside the `silero-vad` PyPI package (installed without its torch dependency:
only the file is used, never the package's Python code). Without it (or without onnxruntime) the gate
falls back to the noise floor alone plus voicing, and `vad_status()` says why.
"""
from __future__ import annotations

import functools
import importlib.util
import os
import threading

import numpy as np

from engine.audio.decode import ANALYSIS_RATE

VAD_FRAME = 512  # samples per Silero decision at 16 kHz (32 ms): the model's fixed frame
VAD_CONTEXT = 64  # samples of the previous frame the model sees (its own streaming convention)
VAD_BLOCK = 512  # frames per ONNX call (16 s): few Python round trips, bounded memory on long files
MODEL_FILE = "silero_vad_16k_sequence.onnx"  # the batched export: bit-exact with the streaming model
# Silero's own defaults for speech on/off (hysteresis): enter at 0.5, leave below 0.35.
VAD_ON, VAD_OFF = 0.5, 0.35
# Gaps shorter than this inside speech stay speech (stop closures, short hesitations are part of the
# utterance: the mouth must not snap shut and reopen within a syllable or two).
VAD_FILL_S = 0.12
# Regions shorter than this are dropped (clicks, lip smacks): Silero's default min speech is 250 ms; we keep
# shorter ones (a single short word such as "no" is ~150 ms) since the level gate below rejects clicks too.
VAD_MIN_S = 0.08
# The region is widened by this on each side: Silero's 32 ms decisions lag and lead the true edges by about
# a frame, and the soft consonant onsets (h, f, s) it misses are still speech. The level gate gives the edge.
VAD_PAD_S = 0.1
# The level must exceed the noise floor by this (dB) to count as sound at all; full presence FLOOR_RAMP_DB
# above that. 6 dB: twice the floor's power (a sound adds at least as much energy as the room has);
# the 6 dB ramp keeps the gate soft, so the mouth eases open rather than snapping. In a noisy clip (speech
# less than 4 x 6 dB above the floor) both shrink to a quarter of the speech-to-floor range, so speech in
# loud noise is not gated away.
FLOOR_MARGIN_DB = 6.0
FLOOR_RAMP_DB = 6.0
MARGIN_SHARE = 0.25
# The noise floor is this percentile of the level over the non-speech frames (10th: the quiet part of the
# room tone, not the occasional breath); with under NOISE_MIN_S of non-speech, or where the VAD missed a
# voice (its "non-speech" is then loud), the FLOOR_PERCENTILE of all frames is the floor when lower: the
# deepest gaps between syllables (stop closures) sit near the floor of any recording.
NOISE_PERCENTILE = 10.0
NOISE_MIN_S = 0.5
FLOOR_PERCENTILE = 2.0
SPEECH_PERCENTILE = 90.0  # the loud parts of the clip (the vowels), for the speech-to-floor range
ABSOLUTE_FLOOR_DB = -70.0  # digital silence: below this nothing is sound

_lock = threading.Lock()


def _model_path() -> str | None:
    """The Silero ONNX file inside the installed silero-vad package, found without importing the package
    (its __init__ imports torch)."""
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = os.path.join(list(spec.submodule_search_locations)[0], "data", MODEL_FILE)
    return path if os.path.isfile(path) else None


def vad_status() -> tuple[bool, str]:
    """(usable, why not)."""
    if importlib.util.find_spec("onnxruntime") is None:
        return False, "onnxruntime is not installed (pauses are found from the noise floor alone)"
    if _model_path() is None:
        return False, f"the silero-vad package (its {MODEL_FILE}) is not installed (noise floor alone)"
    return True, ""


@functools.lru_cache(maxsize=1)
def _session():
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.inter_op_num_threads = 1
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(_model_path(), sess_options=options, providers=["CPUExecutionProvider"])


def speech_probability(mono16k: np.ndarray) -> np.ndarray | None:
    """Silero's speech probability per 32 ms frame (None when the model is not available)."""
    if not vad_status()[0]:
        return None
    x = np.asarray(mono16k, np.float32)
    n = int(np.ceil(len(x) / VAD_FRAME))
    if n == 0:
        return np.zeros(0, np.float32)
    frames = np.zeros((n, VAD_FRAME), np.float32)
    frames.reshape(-1)[: len(x)] = x
    context = np.zeros((n, VAD_CONTEXT), np.float32)
    context[1:] = frames[:-1, -VAD_CONTEXT:]
    inputs = np.concatenate([context, frames], axis=1)
    h = np.zeros((1, 1, 128), np.float32)
    c = np.zeros((1, 1, 128), np.float32)
    out = []
    with _lock:  # one session, used from worker threads one at a time
        session = _session()
        for a in range(0, n, VAD_BLOCK):
            p, h, c = session.run(["speech_probs", "hn", "cn"], {"input": inputs[a:a + VAD_BLOCK], "h": h, "c": c})
            out.append(np.asarray(p, np.float32).reshape(-1))
    return np.concatenate(out)


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Starts and ends (exclusive) of the True runs of a boolean array."""
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return np.flatnonzero(d == 1), np.flatnonzero(d == -1)


def hysteresis(p: np.ndarray, on: float, off: float) -> np.ndarray:
    """True from where p rises above `on` until it falls below `off` (linear: one pass over the runs)."""
    above_off = p >= off
    out = np.zeros(len(p), bool)
    starts, ends = _runs(above_off)
    for a, b in zip(starts, ends):
        if (p[a:b] >= on).any():
            out[a:b] = True
    return out


def clean_regions(mask: np.ndarray, rate: float, fill_s: float, min_s: float) -> np.ndarray:
    """Fills gaps shorter than fill_s, then drops runs shorter than min_s."""
    out = mask.copy()
    starts, ends = _runs(~out)
    for a, b in zip(starts, ends):
        if a > 0 and b < len(out) and (b - a) < fill_s * rate:
            out[a:b] = True
    starts, ends = _runs(out)
    for a, b in zip(starts, ends):
        if (b - a) < min_s * rate:
            out[a:b] = False
    return out


def dilate(mask: np.ndarray, frames: int) -> np.ndarray:
    if frames <= 0 or not mask.any():
        return mask.copy()
    from scipy.ndimage import binary_dilation

    return binary_dilation(mask, np.ones(2 * frames + 1, bool))


def vad_region_100hz(prob: np.ndarray, frames: int) -> np.ndarray:
    """(frames,) bool at 100 Hz: Silero's speech regions (hysteresis, gaps filled, clicks dropped, padded)."""
    rate = ANALYSIS_RATE / VAD_FRAME
    region = clean_regions(hysteresis(prob, VAD_ON, VAD_OFF), rate, VAD_FILL_S, VAD_MIN_S)
    # the 32 ms decision k covers samples [k*512, (k+1)*512): each 10 ms frame takes the decision it lies in
    idx = np.minimum((np.arange(frames) * (ANALYSIS_RATE // 100) / VAD_FRAME).astype(np.int64), len(region) - 1)
    at100 = region[idx] if len(region) else np.zeros(frames, bool)
    return dilate(at100, int(round(VAD_PAD_S * 100)))


def noise_floor_db(level_db: np.ndarray, speech: np.ndarray | None) -> float:
    """The clip's noise floor (dB): a low percentile of the level where there is no speech."""
    if len(level_db) == 0:
        return ABSOLUTE_FLOOR_DB
    floor = float(np.percentile(level_db, FLOOR_PERCENTILE))
    if speech is not None and (~speech).sum() >= NOISE_MIN_S * 100:
        floor = min(floor, float(np.percentile(level_db[~speech], NOISE_PERCENTILE)))
    return max(floor, ABSOLUTE_FLOOR_DB)


def speech_span_db(level_db: np.ndarray, floor_db: float) -> float:
    """How far the loud parts of the clip stand above its noise floor (dB; 0 for an empty clip)."""
    if len(level_db) == 0:
        return 0.0
    return max(float(np.percentile(level_db, SPEECH_PERCENTILE)) - floor_db, 0.0)


def level_gate(level_db: np.ndarray, floor_db: float) -> np.ndarray:
    """0..1: how clearly each frame's level stands above the noise floor (margins shrink in noisy clips)."""
    if len(level_db) == 0:
        return np.zeros(0)
    span = speech_span_db(level_db, floor_db)
    margin = min(FLOOR_MARGIN_DB, MARGIN_SHARE * span)
    ramp = max(min(FLOOR_RAMP_DB, MARGIN_SHARE * span), 1.0)
    return np.clip((level_db - floor_db - margin) / ramp, 0.0, 1.0)
