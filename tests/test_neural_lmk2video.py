"""AniPortrait Lmk2Video (engine.neural.lmk2video / unet / pose_guider) on tiny random models: the optimized
schedule equals the reference's, each component matters, the windows and the PoseGuider behave as the reference."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from tests.neural_support import one_thread  # noqa: E402,F401  (an autouse fixture)
pytest.importorskip("diffusers")

from engine.errors import Cancelled  # noqa: E402
from engine.neural.lmk2video import Lmk2VideoModels, Sampler, SamplerSettings, context_windows, \
    load_models  # noqa: E402
from engine.neural.tiny import tiny_models, write_tiny_weights  # noqa: E402

FRAMES = 20  # two windows of 16 with the reference's overlap (the second wraps around)


@pytest.fixture(scope="module")
def models():
    """Tiny models in float64, so that schedules that compute the same thing give the same numbers to ~1e-12
    (in float32 the random tiny networks amplify rounding differences to ~1e-3)."""
    nets = tiny_models(seed=1)
    return Lmk2VideoModels(device=torch.device("cpu"), dtype=torch.float64,
                           **{k: v.double() for k, v in nets.items() if not k.startswith("audio")}).eval()


@pytest.fixture(scope="module")
def inputs():
    rng = np.random.default_rng(0)
    reference = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    poses = np.zeros((FRAMES, 64, 64, 3), dtype=np.uint8)
    for i in range(FRAMES):  # a moving bar, so frames differ
        poses[i, 20:30, 5 + 2 * i: 12 + 2 * i] = (10, 200, 10)
        poses[i, 40:44, 10:50] = (100, 150, 50)
    return reference, poses


def _latents(models, inputs, **kw):
    return Sampler(models, SamplerSettings(**{"steps": 2, **kw})).latents(*inputs)


@pytest.fixture(scope="module")
def reference_latents(models, inputs):
    return _latents(models, inputs, schedule="reference")


def test_the_optimized_schedule_equals_the_reference_schedule(models, inputs, reference_latents):
    fast = _latents(models, inputs, schedule="optimized")
    assert fast.shape == (FRAMES, 4, 8, 8)
    scale = float(reference_latents.abs().max())
    assert scale > 0.5
    torch.testing.assert_close(fast, reference_latents, rtol=0, atol=1e-5 * scale)
    # several windows per UNet call: the same result
    batched = _latents(models, inputs, schedule="optimized", context_batch=2)
    torch.testing.assert_close(batched, reference_latents, rtol=0, atol=1e-5 * scale)


def test_every_conditioning_changes_the_result(models, inputs):
    """Guards against a silently dead path: reference attention, motion modules, poses and guidance all act."""
    def _latents(models, inputs, **kw):
        return Sampler(models, SamplerSettings(**{"steps": 1, **kw})).latents(*inputs)

    base = _latents(models, inputs)
    s = Sampler(models, SamplerSettings(steps=1))
    s.state.enabled = False  # no reference attention
    assert float((s.latents(*inputs) - base).abs().max()) > 1e-2
    ref, poses = inputs
    assert float((_latents(models, (ref, poses[::-1].copy())) - base).abs().max()) > 1e-2
    assert float((_latents(models, inputs, guidance=1.0) - base).abs().max()) > 1e-2
    assert float((_latents(models, inputs, seed=7) - base).abs().max()) > 1e-2
    mm = models.denoising_unet.down_blocks[0].motion_modules[0].temporal_transformer.proj_out
    saved = mm.weight.detach().clone()
    with torch.no_grad():
        mm.weight.zero_()
    try:
        assert float((_latents(models, inputs) - base).abs().max()) > 1e-4
    finally:
        with torch.no_grad():
            mm.weight.copy_(saved)


def test_the_reference_pass_records_every_self_attention_layer(models, inputs):
    s = Sampler(models, SamplerSettings(steps=1))
    s.state.clear = lambda: None  # keep the banks for inspection (normally freed after the clip)
    s.latents(*inputs)
    blocks = [n for n, m in models.reference_unet.named_modules() if type(m).__name__ == "BasicTransformerBlock"]
    assert len(blocks) == 10  # tiny: down 3 + mid 1 + up 6 (the full-size UNet has 16)
    assert set(s.state.bank) == set(blocks)  # the early stop comes after the last one (in execution order)
    assert all(b.shape[0] == 1 for b in s.state.bank.values())  # cached mode: the conditional pass only


def test_context_windows_are_the_references():
    assert context_windows(10) == [list(range(10))]
    w78 = context_windows(78)
    assert len(w78) == 7 and w78[-1] == list(range(72, 78)) + list(range(0, 10))
    w233 = context_windows(233)
    assert len(w233) == 20 and w233[-1] == list(range(228, 233)) + list(range(0, 11))
    open_ = context_windows(78, wrap=False)
    assert open_[-1] == list(range(62, 78)) and all(len(w) == 16 for w in open_)
    assert set().union(*map(set, open_)) == set(range(78))


def test_pose_guider_statistics(models, inputs):
    """Batch statistics: features depend on the window (as the reference ran it); running statistics: per frame."""
    from engine.neural.pose_guider import pose_tensor

    pg = models.pose_guider
    x = pose_tensor(inputs[1]).double()
    assert float(x.max()) == 2 * 200 - 1  # the reference's uint8 2x-1 range
    with torch.no_grad():
        window = pg(x[:16], True)[0]
        doubled = pg(x[:16].repeat(2, 1, 1, 1), True)[0][:16]  # the CFG duplicate leaves the statistics alone
        other = pg(x[4:20], True)[0]
        torch.testing.assert_close(doubled, window, rtol=1e-4, atol=1e-4)
        assert float((other[:12] - window[4:]).abs().max()) > 1e-3
        alone = pg(x[5:6], False)[0]
        inside = pg(x[:16], False)[0][5:6]
        torch.testing.assert_close(alone, inside, rtol=1e-5, atol=1e-5)
    per_frame = _latents(models, inputs, pose_batch_statistics=False)
    torch.testing.assert_close(per_frame, _latents(models, inputs, pose_batch_statistics=False, schedule="reference"),
                               rtol=0, atol=1e-5 * float(per_frame.abs().max()))


def test_batched_decode_equals_frame_by_frame(models, reference_latents):
    one = list(Sampler(models, SamplerSettings(vae_batch=1)).decode(reference_latents))
    many = list(Sampler(models, SamplerSettings(vae_batch=8)).decode(reference_latents))
    assert len(one) == FRAMES and one[0].shape == (64, 64, 3) and one[0].dtype == np.uint8
    assert max(int(np.abs(a.astype(int) - b).max()) for a, b in zip(one, many)) <= 1
    draft = list(Sampler(models, SamplerSettings(draft_decode=True)).decode(reference_latents))
    assert draft[0].shape == (64, 64, 3)


def test_fast_preset_solver_and_guidance_cutoff(models, inputs):
    fast = _latents(models, inputs, scheduler="dpm++", steps=3, guidance_cutoff=0.34, wrap_windows=False,
                    context_overlap=2)
    assert fast.shape == (FRAMES, 4, 8, 8) and bool(torch.isfinite(fast).all())


def test_progress_and_cancel(models, inputs):
    seen = []
    frames = list(Sampler(models, SamplerSettings(steps=2)).frames(*inputs, progress=seen.append))
    assert len(frames) == FRAMES and seen == sorted(seen) and seen[-1] == pytest.approx(1.0)
    assert len(seen) >= 1 + 2 * 2  # the reference pass, then every window of every step
    calls = []

    def cancel():
        calls.append(1)
        return len(calls) > 2

    with pytest.raises(Cancelled):
        Sampler(models, SamplerSettings(steps=5)).latents(*inputs, cancel=cancel)
    assert len(calls) == 3  # stopped between windows, long before 1 + 5 x 2 checks


def test_save_and_load_reproduce_the_models(tmp_path, models, inputs, reference_latents):
    """The folder written by make_tiny_weights (released names, legacy VAE spelling) loads strictly into fresh
    models that give the same video as the models it was written from."""
    root = write_tiny_weights(tmp_path / "w", seed=1)
    loaded = load_models(root, dtype=torch.float64)
    again = Sampler(loaded, SamplerSettings(steps=2, schedule="reference")).latents(*inputs)
    torch.testing.assert_close(again, reference_latents, rtol=0, atol=0)
    a = next(iter(Sampler(loaded, SamplerSettings()).decode(reference_latents[:1])))
    b = next(iter(Sampler(models, SamplerSettings()).decode(reference_latents[:1])))
    np.testing.assert_array_equal(a, b)
