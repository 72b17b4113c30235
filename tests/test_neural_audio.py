"""AniPortrait Audio2Mesh / Audio2Pose (engine.neural.audio_models, engine.a2l.aniportrait) on tiny random models."""
from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from engine.neural import audio_models as am  # noqa: E402
from engine.neural.checkpoint import CheckpointError, load_into, read_state_dict  # noqa: E402
from engine.neural.tiny import TINY_WAV2VEC2, tiny_models, write_tiny_weights  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny ops: threads only add overhead (and other test runs share the cores)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return write_tiny_weights(tmp_path_factory.mktemp("tiny_weights"), seed=3)


@pytest.fixture(scope="module")
def models():
    nets = tiny_models(seed=3)
    return nets["audio2mesh"].eval(), nets["audio2pose"].eval()


def _speech(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 16000)) / 16000
    return (0.3 * np.sin(2 * np.pi * 180 * t) * (1 + np.sin(2 * np.pi * 3 * t)) + 0.05 * rng.standard_normal(t.size)
            ).astype(np.float32)


def test_cached_pose_decoding_equals_the_reference_loop(models):
    _, a2p = models
    with torch.no_grad():
        memory = a2p.memory(torch.from_numpy(am.normalize_audio(_speech(0.8)))[None], 24)
        style = torch.tensor([17])
        ref = a2p.decode_reference(memory, style)
        fast = a2p.decode(memory, style)
    assert ref.shape == fast.shape == (1, 24, 6)
    assert float(ref.abs().max()) > 1e-2  # not a degenerate zero output
    torch.testing.assert_close(fast, ref, rtol=1e-4, atol=1e-5)
    # a different style gives different poses: the id embedding is used
    with torch.no_grad():
        other = a2p.decode(memory, torch.tensor([18]))
    assert float((other - fast).abs().max()) > 1e-4


def test_the_mask_is_faceformer_alibi():
    mask = am.biased_mask(8, 5)
    assert mask.shape == (8, 5, 5)
    assert math.isinf(float(mask[0, 1, 2])) and float(mask[0, 2, 1]) == pytest.approx(-0.5)  # slope 1/2, j - i = -1
    assert float(mask[7, 4, 0]) == pytest.approx(-4 * 0.5 ** 8)
    assert am.alignment_mask(3, 4).tolist() == [[False, True, True, True], [True, False, True, True],
                                                [True, True, False, True]]


@pytest.mark.parametrize("seconds", [0.5, 4.99, 5.0, 7.3, 10.0, 9.99994, 10.0001, 61.0])
def test_pose_chunks_cover_any_length(seconds):
    samples = round(seconds * 16000)
    frames = am.frames_for(samples)
    chunks = am.pose_chunks(samples, frames)
    assert chunks[0][0] == 0 and chunks[0][2] == 0 and chunks[-1][1] == samples and chunks[-1][3] == frames
    for (s0, s1, f0, f1), nxt in zip(chunks, chunks[1:] + [None]):
        assert 0 < f1 - f0 <= 300 and s1 > s0  # each chunk is under the 600-frame mask limit and non-empty
        if nxt is not None:
            assert nxt[0] == s1 and nxt[2] == f1 and s0 == f0 * 16000 // 30  # contiguous, frame-aligned
    if seconds <= 5.0:
        assert len(chunks) == 1  # the reference raises IndexError here (issue #137)


def test_a_multiple_of_150_frames_keeps_its_last_chunk():
    """The reference sizes the last chunk seq_len % 150 = 0 frames and loses 5 s of poses (issue #200)."""
    samples = 159_999  # 299.998 -> 300 frames in two 5 s chunks
    chunks = am.pose_chunks(samples, am.frames_for(samples))
    assert sum(f1 - f0 for _, _, f0, f1 in chunks) == 300


def test_predict_pose_any_length_and_the_seeded_style(models):
    _, a2p = models
    for seconds in (1.2, 5.0):
        wav = am.normalize_audio(_speech(seconds))
        frames = am.frames_for(len(wav))
        a = am.predict_pose(a2p, wav, frames, am.style_id(5))
        assert a.shape == (frames, 6) and np.all(np.isfinite(a))
    b = am.predict_pose(a2p, wav, frames, am.style_id(5))
    np.testing.assert_array_equal(a, b)  # seeded: the same seed gives the same head motion
    assert am.style_id(5) == am.style_id(5) and len({am.style_id(s) for s in range(20)}) > 5
    # rotations are halved before smoothing, translations are not
    full = am.predict_pose(a2p, wav, frames, 3, rotation_scale=1.0, smoothing=1)
    half = am.predict_pose(a2p, wav, frames, 3, rotation_scale=0.5, smoothing=1)
    np.testing.assert_allclose(half[:, :3], 0.5 * full[:, :3], atol=1e-9)
    np.testing.assert_allclose(half[:, 3:], full[:, 3:], atol=1e-9)


def test_smoothing_is_a_truncated_centred_mean():
    x = np.arange(10, dtype=float)[:, None].repeat(6, 1)
    y = am.smooth_pose(x, 7)
    assert y[0, 0] == pytest.approx(np.mean([0, 1, 2, 3])) and y[5, 0] == pytest.approx(5.0)
    assert y[9, 0] == pytest.approx(np.mean([6, 7, 8, 9]))


def test_features_are_interpolated_to_the_frame_rate(models):
    a2m, _ = models
    wav = torch.from_numpy(am.normalize_audio(_speech(1.0)))[None]
    with torch.no_grad():
        assert a2m(wav, 30).shape == (1, 30, 1404)
        assert a2m(wav, 17).shape == (1, 17, 1404)


def test_mesh_passes_cross_fade_long_audio(models):
    a2m, _ = models
    wav = am.normalize_audio(_speech(3.0))
    frames = am.frames_for(len(wav))
    whole = am.predict_offsets(a2m, wav, frames)
    parts = am.predict_offsets(a2m, wav, frames, max_frames=40, overlap=10)
    assert whole.shape == parts.shape == (frames, 468, 3)
    assert am.mesh_passes(90, 40, 10) == [(0, 40), (30, 70), (50, 90)]
    # away from the seams (and with a 1-layer tiny encoder) the passes agree roughly with the single pass
    assert np.abs(parts - whole).mean() < np.abs(whole).mean()


def test_checkpoints_round_trip_with_legacy_weight_norm_names(weights, models):
    """The tiny audio2mesh.pt is written with transformers 4.30's weight_g/weight_v names (as released): they
    load into current transformers and reproduce the saved model's output exactly."""
    a2m, a2p = models
    state = read_state_dict(weights / "audio2mesh.pt")
    assert any(k.endswith("pos_conv_embed.conv.weight_g") for k in state)
    loaded = am.load_audio_model(weights, "audio2mesh")
    wav = torch.from_numpy(am.normalize_audio(_speech(0.7)))[None]
    with torch.no_grad():
        torch.testing.assert_close(loaded(wav, 21), a2m(wav, 21), rtol=0, atol=0)
    loaded_pose = am.load_audio_model(weights, "audio2pose")
    with torch.no_grad():
        mem = a2p.memory(wav, 21)
        torch.testing.assert_close(loaded_pose.decode(loaded_pose.memory(wav, 21), torch.tensor([4])),
                                   a2p.decode(mem, torch.tensor([4])), rtol=0, atol=0)


def test_a_mismatching_checkpoint_is_an_error_naming_the_keys(weights):
    state = read_state_dict(weights / "audio2mesh.pt")
    model = am.audio2mesh_from_state(state, TINY_WAV2VEC2)
    broken = dict(state)
    broken.pop("in_fn.bias")
    broken["surprise.weight"] = torch.zeros(2)
    broken["out_fn.bias"] = torch.zeros(7)
    with pytest.raises(CheckpointError) as info:
        load_into(model, broken, "audio2mesh.pt")
    text = str(info.value)
    assert "in_fn.bias" in text and "surprise.weight" in text and "out_fn.bias (7,)" in text


def test_only_plain_tensors_are_loaded(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"weights": torch.zeros(1), "payload": _Payload()}, path)
    with pytest.raises(CheckpointError, match="plain state dict"):
        read_state_dict(path)


class _Payload:
    pass


def test_a_broken_wav2vec2_config_is_a_clear_error(weights, tmp_path):
    """A config.json that is not JSON (a truncated download) is a CheckpointError naming the file (it was a
    ValueError, a traceback from the command line)."""
    import shutil

    copy = tmp_path / "weights"
    shutil.copytree(weights, copy)
    config = next(copy.rglob("wav2vec2-base-960h/config.json"))
    config.write_text("{bad json", encoding="utf-8")
    with pytest.raises(CheckpointError, match="config.json is not readable JSON"):
        am.load_audio_model(copy, "audio2mesh")


def test_the_backend_gives_a_base_layer_at_the_project_rate(weights):
    from engine.a2l.aniportrait import AniPortraitA2L, AniPortraitA2LConfig
    from engine.audio.decode import AudioClip
    from engine.errors import Cancelled

    clip = AudioClip(_speech(2.3)[:, None], 16000)
    config = AniPortraitA2LConfig(weights=str(weights), seed=1)
    assert AniPortraitA2L.available(config) == (True, "")
    seen = []
    base = AniPortraitA2L().predict(clip, 25.0, config, progress=seen.append)
    assert base.fps == 25.0 and base.frame_count == math.ceil(2.3 * 25) == clip.frame_count(25.0)
    assert base.offsets.shape == (58, 468, 3) and base.pose.shape == (58, 6)
    assert np.abs(base.offsets).max() > 0 and np.abs(base.pose).max() > 0
    assert seen[-1] == 1.0 and seen == sorted(seen)
    still = AniPortraitA2L().predict(clip, 30.0, AniPortraitA2LConfig(weights=str(weights), head_pose="none"))
    assert np.all(still.pose == 0)
    with pytest.raises(Cancelled):
        AniPortraitA2L().predict(clip, 30.0, config, cancel=lambda: True)
    ok, reason = AniPortraitA2L.available(AniPortraitA2LConfig(weights=str(weights.parent / "nowhere")))
    assert not ok and "does not exist" in reason
