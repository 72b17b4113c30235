"""The AniPortrait weights folder, `talkline models check`, the full-size architectures (meta device), and the
neural plug-ins in the render job: audio -> mesh/pose -> pose images -> video on tiny random models."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from tests.neural_support import one_thread  # noqa: E402,F401  (an autouse fixture)
pytest.importorskip("diffusers")

from engine.neural.tiny import write_tiny_weights  # noqa: E402


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return write_tiny_weights(tmp_path_factory.mktemp("tiny_weights") / "pretrained_model", seed=2)


def test_full_size_architectures_match_the_reference():
    """Built on the meta device from the built-in configs: parameter counts within 1 % of the reference's
    (PoseGuider 167.5 M, SD1.5 UNet 859.5 M, motion modules 453 M, ...) and the documented key patterns of every
    released checkpoint (in the released spelling)."""
    from engine.neural.check import describe

    report = describe()
    rows = {r["component"]: r for r in report["components"]}
    assert report["ok"], [r for r in report["components"] if not r["patterns_ok"] or r["within_1pct"] is False]
    for name, expected in (("pose_guider", 167.5), ("reference_unet", 859.5), ("denoising_unet", 859.5),
                           ("motion_modules", 453.2), ("vae", 83.7), ("audio2mesh", 95.5)):
        assert abs(rows[name]["params_m"] - expected) <= 0.01 * expected, (name, rows[name]["params_m"])
    assert rows["motion_modules"]["keys"] == 21 * 28  # 21 motion modules (down 8, mid 1, up 12), 28 tensors each
    assert rows["reference_unet"]["keys"] == rows["denoising_unet"]["keys"] - 4  # no conv_norm_out / conv_out


def test_models_check_accepts_the_tiny_folder_and_names_what_is_wrong(weights, capsys):
    import main

    # the folder that holds pretrained_model/ is accepted too (the reference repository's root)
    assert main.main(["models", "check", str(weights.parent), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and {c["component"] for c in report["components"]} >= {
        "denoising_unet", "motion_modules", "reference_unet", "pose_guider", "vae", "image_encoder", "audio2mesh",
        "audio2pose"}
    assert all(c["status"] == "ok" for c in report["components"])

    broken = weights.parent / "broken"
    import shutil

    shutil.copytree(weights, broken)
    (broken / "reference_unet.pth").unlink()
    state = torch.load(broken / "pose_guider.pth", weights_only=True)
    state["extra.weight"] = torch.zeros(1)
    state["scale"] = torch.ones(3)
    torch.save(state, broken / "pose_guider.pth")
    assert main.main(["models", "check", str(broken)]) == 1
    out = capsys.readouterr().out
    assert "reference_unet.pth" in out and "MISSING" in out and "expected the released AniPortrait layout" in out
    assert "extra.weight" in out and "scale (3,)" in out

    assert main.main(["models", "check", str(weights.parent / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not exist" in err and "denoising_unet.pth" in err
    assert main.main(["models", "check", str(broken / "pose_guider.pth")]) == 2  # a file given for the folder
    assert "is a file, not a folder" in capsys.readouterr().err

    # A corrupt download is named at once, even while the configs the other checks need are still missing.
    partial = weights.parent / "partial"
    partial.mkdir()
    (partial / "denoising_unet.pth").write_bytes(bytes(range(256)) * 20)
    shutil.copy(weights / "reference_unet.pth", partial / "reference_unet.pth")
    (partial / "film_net_fp16.pt").write_bytes(b"TorchScript, never loaded")
    assert main.main(["models", "check", str(partial)]) == 1
    out = capsys.readouterr().out
    assert "denoising_unet.pth" in out and "UNREADABLE" in out and "not a PyTorch weights file" in out
    assert out.count("UNREADABLE") == 1  # the good checkpoint reads
    # a folder where a file belongs (an archive unpacked under the file's name) is said as such, not "missing"
    (partial / "pose_guider.pth").mkdir()
    assert main.main(["models", "check", str(partial)]) == 1
    out = capsys.readouterr().out
    assert "pose_guider.pth (pose_guider.pth is a folder, not a file)" in out
    assert re.search(r"pose_guider\.pth +a folder, not a file", out)


@pytest.mark.parametrize("name, overrides, problem", [
    ("aniportrait.json", "[" * 100_000 + "]" * 100_000, "not readable JSON (nested too deeply)"),  # a RecursionError
    ("aniportrait.json", '{"motion_module": {"norm_num_groups": 0}}', "the configs cannot build the models"),
    ("aniportrait.json", '{"pose_guider": "x"}', "section 'pose_guider' must be an object of settings, got str"),
    # 1e999 reads as inf: the build failed without naming the field
    ("stable-diffusion-v1-5/unet/config.json", '{"in_channels": 4, "block_out_channels": [32, 1e999]}',
     "block_out_channels[1] is not a finite number"),
    ("stable-diffusion-v1-5/unet/config.json", '{"in_channels": 4}',  # a KeyError traceback
     "a config lacks the field 'block_out_channels'"),
])
def test_models_check_names_a_broken_json_file(weights, tmp_path, capsys, name, overrides, problem):
    import shutil

    import main

    folder = tmp_path / "w"
    shutil.copytree(weights, folder)
    (folder / name).write_text(overrides)
    assert main.main(["models", "check", str(folder)]) == 1
    out = capsys.readouterr().out
    assert "NOT OK" in out and problem in out, out


def test_renderer_availability_reasons(weights, tmp_path):
    from engine.render.aniportrait import AniPortraitRenderer, AniPortraitRendererConfig

    ok, reason = AniPortraitRenderer.available(AniPortraitRendererConfig())
    assert not ok and "--weights" in reason
    assert AniPortraitRenderer.available(AniPortraitRendererConfig(weights=str(weights))) == (True, "")
    # a full-size folder (sparse files stand in for the 3.4 GB checkpoints) on this CPU-only torch
    big = tmp_path / "big"
    import shutil

    shutil.copytree(weights, big)
    with open(big / "denoising_unet.pth", "r+b") as f:
        f.truncate(400 << 20)
    ok, reason = AniPortraitRenderer.available(AniPortraitRendererConfig(weights=str(big)))
    from engine.neural.layout import cuda_problem

    if cuda_problem() is not None:
        assert not ok and "no CUDA device" in reason and "device=cpu" in reason
    assert AniPortraitRenderer.available(AniPortraitRendererConfig(weights=str(big), device="cpu")) == (True, "")


def test_audio_to_video_through_the_render_job(weights, tmp_path):
    """The whole neural path on a synthetic face: Audio2Mesh/Audio2Pose -> motion -> pose images -> diffusion
    frames -> MP4, driven by the same RenderJob as the CLI and the editor."""
    from engine.a2l.aniportrait import AniPortraitA2L, AniPortraitA2LConfig
    from engine.audio.decode import AudioClip
    from engine.jobs import RenderJob, RenderSettings
    from engine.motion import Motion
    from engine.plugins import Choice
    from engine.render.aniportrait import AniPortraitRendererConfig
    from tests.seams import synthetic_source

    rng = np.random.default_rng(1)
    clip = AudioClip((0.2 * rng.standard_normal((16000, 1))).astype(np.float32), 16000)
    base = AniPortraitA2L().predict(clip, 24.0, AniPortraitA2LConfig(weights=str(weights)))
    source = synthetic_source(128)
    motion = Motion(24.0, source.fitted.mesh[None] + base.offsets, base.pose)
    config = AniPortraitRendererConfig(weights=str(weights), steps=2)
    out = tmp_path / "neural.mp4"
    job = RenderJob(source, motion, clip, RenderSettings(output=str(out), renderer=Choice("aniportrait", config)))
    progress = list(job.run())
    assert progress[-1].done == progress[-1].total == 24 and out.stat().st_size > 0

    from engine.render.aniportrait import AniPortraitRenderer

    renderer = AniPortraitRenderer(source, config)
    landmarks = motion.landmarks_px(source.reference.transform, 128, 128)
    seen = []
    frames = list(renderer.frames(landmarks[:5], progress=seen.append))
    assert len(frames) == 5 and frames[0].shape == (128, 128, 3) and frames[0].dtype == np.uint8
    assert seen[-1] == pytest.approx(1.0)
    assert renderer.preview(landmarks[0]).shape == (128, 128, 3)
    poses = renderer.pose_images(landmarks[:1], 64)
    assert poses.shape == (1, 64, 64, 3) and poses.max() > 0

    from engine.errors import RenderCancelled

    with pytest.raises(RenderCancelled):
        list(renderer.frames(landmarks[:5], cancel=lambda: True))


def test_out_of_memory_names_settings_that_fit(weights, monkeypatch):
    from engine.errors import BackendError
    from engine.neural import lmk2video
    from engine.render.aniportrait import AniPortraitRenderer, AniPortraitRendererConfig
    from tests.seams import synthetic_source

    def boom(self, *a, **k):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr(lmk2video.Sampler, "latents", boom)
    renderer = AniPortraitRenderer(synthetic_source(64), AniPortraitRendererConfig(weights=str(weights)))
    with pytest.raises(BackendError) as info:
        list(renderer.frames(np.zeros((3, 478, 2)) + 30))
    text = str(info.value)
    assert "out of memory" in text and "context_frames=8" in text and "dtype=fp16" in text


def test_renderer_config_round_trips_and_validates():
    from engine.config import config_from_json, config_to_json
    from engine.errors import ConfigError
    from engine.render.aniportrait import AniPortraitRendererConfig

    c = AniPortraitRendererConfig(weights="/w", preset="fast", steps=6, size=384)
    assert config_from_json(AniPortraitRendererConfig, config_to_json(c)) == c
    assert c.resolved("scheduler") == "dpm++" and c.resolved("steps") == 6
    with pytest.raises(ConfigError, match="size"):
        config_from_json(AniPortraitRendererConfig, {"size": 500})
    with pytest.raises(ConfigError, match="context_overlap"):
        config_from_json(AniPortraitRendererConfig, {"context_frames": 4, "context_overlap": 4})
