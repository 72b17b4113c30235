"""Audio -> mesh offsets and head pose at 30 fps with AniPortrait's audio models (the torch side of
engine.a2l.aniportrait, which makes the base layer)."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from engine.neural import layout, runtime
from engine.neural.audio_models import frames_for, load_audio_model, normalize_audio, predict_offsets, predict_pose, \
    style_id, wav2vec2_settings
from engine.neural.configs import AUDIO_FPS


def _model(root, which: str, device):
    path = layout.find(root, which)
    return runtime.cached(("audio", which, str(path), path.stat().st_mtime_ns, str(device)),
                          lambda: load_audio_model(root, which, device))


def predict_motion(mono16k: np.ndarray, config, report: Callable[[float], None]) -> tuple[np.ndarray, np.ndarray]:
    """(offsets (T, 468, 3) float32, pose (T, 6) float64) at 30 fps, T = ceil(seconds * 30), for 16 kHz mono
    audio (config: engine.a2l.aniportrait.AniPortraitA2LConfig)."""
    root = layout.resolve_root(config.weights)
    device = runtime.resolve_device(config.device)
    runtime.configure_threads(root, "a2l", config.threads, device)
    _, do_normalize = wav2vec2_settings(root)
    wav = normalize_audio(mono16k, do_normalize)
    n30 = frames_for(len(wav))
    report(0.02)
    a2m = _model(root, "audio2mesh", device)
    report(0.1)
    offsets = predict_offsets(a2m, wav, n30, max_frames=max(300, int(config.max_pass_seconds * AUDIO_FPS)),
                              report=lambda f: report(0.1 + 0.4 * f))
    if config.head_pose == "audio2pose":
        a2p = _model(root, "audio2pose", device)
        style = config.style_id if config.style_id is not None else style_id(config.seed,
                                                                             a2p.id_embed.num_embeddings)
        pose = predict_pose(a2p, wav, n30, style, rotation_scale=config.rotation_scale,
                            smoothing=config.pose_smoothing, report=lambda f: report(0.5 + 0.5 * f))
    else:
        pose = np.zeros((n30, 6))
    report(1.0)
    return offsets.astype(np.float32), pose.astype(np.float64)
