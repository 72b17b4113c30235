"""Lmk2Video: reference image + pose images -> video frames (AniPortrait's Pose2VideoPipeline, re-implemented).

The sampler, per ../shared/reference/aniportrait.md section 3.5: CLIP image embedding of the reference (zeros
for the unconditional branch), VAE latents of the reference (latent_dist.mean x 0.18215), the reference UNet
once at timestep 0 (reference attention banks), seeded Gaussian latents for every frame, DDIM (v-prediction,
zero-SNR rescaled linear betas, trailing timesteps, steps_offset 1, eta 0), at each step the denoising UNet on
context windows of 16 frames with overlap 4 (windows start every 12 frames and wrap around the end to the
start, as the reference's closed loop), predictions averaged over the windows that cover a frame, then
classifier-free guidance uncond + g (cond - uncond), and the VAE decode (x / 0.18215, (x/2 + 0.5) clamped).

Two schedules give the same result (tests/test_neural_lmk2video.py asserts it on tiny models):
- "reference": what the reference computes: the PoseGuider on every window at every step with the CFG-doubled
  batch, the reference UNet at batch 2, the bank repeated per frame with K/V projected at every call, the
  unconditional half's self-attention computed twice, the VAE one frame at a time;
- "optimized": the PoseGuider once per window (batch statistics, the faithful setting: its BatchNorm statistics
  are those of the window's frames) or once per frame (running statistics), cached across steps; the reference
  UNet at batch 1 and reference K/V projected once; the single-token CLIP cross-attention as to_out(to_v(c));
  the VAE decoding `vae_batch` frames per call; optionally several windows per UNet call (`context_batch`).
On top, at a different (faster) output: a multistep solver (DPM-Solver++ 2M, same betas/v-prediction/zero-SNR/
trailing) at fewer steps, guidance only for the first `guidance_cutoff` of the steps, windows that do not wrap,
and a draft decode (a linear latent -> RGB map, no VAE).

Deliberate differences from the reference, each harmless or a fix: latents are kept in float32 between steps
(the reference keeps fp16 latents and sums window predictions in fp16); the initial noise is drawn in float32 from
a CPU generator seeded with `seed` (the reference draws fp16 noise from torch.manual_seed(seed), so the same seed
does not give the reference's exact noise); the averaged prediction is divided by the window count also without
guidance (the reference forgets it when cfg <= 1).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from engine.errors import Cancelled
from engine.neural import configs, layout
from engine.neural.checkpoint import CheckpointError, build_on_meta, check_state, expected_shapes, load_into, \
    read_state_dict
from engine.neural.pose_guider import PoseGuider, pose_tensor
from engine.neural.unet import DenoisingUNet, ReferenceState, ReferenceUNet, install_reference_attention, motion_key

DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}
# SD1.5 latents -> approximate RGB in [-1, 1] (a linear fit used for previews; no weights needed).
DRAFT_RGB = ((0.3512, 0.2297, 0.3227), (0.3250, 0.4974, 0.2350), (-0.2829, 0.1762, 0.2721), (-0.2120, -0.2616, -0.7177))


@dataclass
class SamplerSettings:
    steps: int = configs.STEPS
    guidance: float = configs.GUIDANCE
    guidance_cutoff: float = 1.0  # guidance for the first fraction of the steps (1: all, the reference)
    scheduler: str = "ddim"  # "ddim" (the reference) | "dpm++" (DPM-Solver++ 2M)
    context_frames: int = configs.CONTEXT_FRAMES
    context_overlap: int = configs.CONTEXT_OVERLAP
    wrap_windows: bool = True  # the reference's closed loop: the last window wraps to the clip's start
    context_batch: int = 1  # windows per UNet call
    seed: int = configs.SEED
    schedule: str = "optimized"  # "optimized" | "reference"
    pose_batch_statistics: bool = True  # the PoseGuider's BatchNorm as the reference ran it (train mode)
    pose_raw_range: bool = True  # pose images as 2x-1 of uint8 ([-1, 509]), as the reference fed them
    vae_batch: int = 8
    draft_decode: bool = False
    pose_cache_bytes: int = 4 << 30  # PoseGuider features kept on the device up to this size, then on the CPU

    def validate(self) -> None:
        if self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")
        if self.scheduler not in ("ddim", "dpm++"):
            raise ValueError(f"scheduler must be ddim or dpm++, got {self.scheduler!r}")
        if self.schedule not in ("optimized", "reference"):
            raise ValueError(f"schedule must be optimized or reference, got {self.schedule!r}")
        if self.context_frames < 1 or not 0 <= self.context_overlap < self.context_frames:
            raise ValueError("context_frames must be >= 1 and 0 <= context_overlap < context_frames, got "
                             f"{self.context_frames}/{self.context_overlap}")
        if self.context_batch < 1 or self.vae_batch < 1:
            raise ValueError("context_batch and vae_batch must be >= 1")
        if not 0.0 <= self.guidance_cutoff <= 1.0:
            raise ValueError(f"guidance_cutoff must be within 0..1, got {self.guidance_cutoff}")


def context_windows(frames: int, size: int = 16, overlap: int = 4, wrap: bool = True) -> list[list[int]]:
    """The reference's `uniform` context schedule (step 0, stride 1): windows of `size` frames starting every
    size - overlap frames; with `wrap` the last ones wrap around to the start (closed loop), else the last
    window is moved back to end at the last frame."""
    if frames <= size:
        return [list(range(frames))]
    stride = size - overlap
    if wrap:
        return [[(j + k) % frames for k in range(size)] for j in range(0, frames, stride)]
    starts = list(range(0, frames - size + 1, stride))
    if starts[-1] + size < frames:
        starts.append(frames - size)
    return [list(range(s, s + size)) for s in starts]


def make_scheduler(name: str):
    from diffusers import DDIMScheduler, DPMSolverMultistepScheduler

    if name == "ddim":
        return DDIMScheduler(**configs.SCHEDULER)
    kwargs = {k: v for k, v in configs.SCHEDULER.items() if k != "clip_sample"}
    return DPMSolverMultistepScheduler(**kwargs, algorithm_type="dpmsolver++", solver_order=2,
                                       final_sigmas_type="zero")


# --- the models -----------------------------------------------------------------------------------------------

@dataclass
class Lmk2VideoModels:
    vae: torch.nn.Module
    image_encoder: torch.nn.Module
    reference_unet: ReferenceUNet
    denoising_unet: DenoisingUNet
    pose_guider: PoseGuider
    device: torch.device
    dtype: torch.dtype
    frame_size: int | None = None  # processing size; None: the UNet's own (sample_size x the VAE factor)

    @property
    def vae_scale(self) -> int:
        return 2 ** (len(self.vae.config.block_out_channels) - 1)

    @property
    def native_size(self) -> int:
        """The frame size the UNet was trained at (sample_size x the VAE's factor): 512 for SD1.5."""
        return int(self.denoising_unet.config.sample_size) * self.vae_scale

    @property
    def size(self) -> int:
        return self.frame_size or self.native_size

    @property
    def clip_size(self) -> int:
        return int(self.image_encoder.config.image_size)

    def eval(self) -> "Lmk2VideoModels":
        for m in (self.vae, self.image_encoder, self.reference_unet, self.denoising_unet, self.pose_guider):
            m.eval().requires_grad_(False)
        return self


def build_models(unet_config: dict, vae_config: dict, clip_config: dict, extra: dict | None = None, *,
                 meta: bool = False) -> dict[str, torch.nn.Module]:
    """The five Lmk2Video networks from their configs (on the meta device: shapes only, no memory)."""
    from diffusers import AutoencoderKL
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    o = configs.overrides(extra)
    fields = {k: v for k, v in clip_config.items() if not k.startswith("_")}
    factories = {
        "vae": lambda: AutoencoderKL.from_config({k: v for k, v in vae_config.items() if not k.startswith("_")}),
        "image_encoder": lambda: CLIPVisionModelWithProjection(CLIPVisionConfig.from_dict(fields)),
        "reference_unet": lambda: ReferenceUNet(unet_config),
        "denoising_unet": lambda: DenoisingUNet(unet_config, o["motion_module"]),
        "pose_guider": lambda: PoseGuider(unet_config["block_out_channels"][0], **o["pose_guider"]),
    }
    if meta:
        return {k: build_on_meta(f) for k, f in factories.items()}
    return {k: f() for k, f in factories.items()}


def clip_vision_config(raw: dict) -> dict:
    """The vision part of an image_encoder/config.json (a CLIPVisionConfig, or a full CLIPConfig's vision_config)."""
    return raw.get("vision_config", raw) if raw.get("model_type") == "clip" else raw


def read_configs(root: Path) -> tuple[dict, dict, dict, dict]:
    unet = layout.read_json(layout.find(root, "unet_config"))
    vae = layout.read_json(layout.find(root, "vae_config"))
    clip = clip_vision_config(layout.read_json(layout.find(root, "image_encoder_config")))
    return unet, vae, clip, layout.read_overrides(root)


def load_denoising_state(root: Path, model: DenoisingUNet) -> dict[str, torch.Tensor]:
    """denoising_unet.pth (every non-motion key) + motion_module.pth (every motion key), each checked alone."""
    expected = expected_shapes(model)
    den_path, mm_path = layout.find(root, "denoising_unet"), layout.find(root, "motion_modules")
    den, mm = read_state_dict(den_path), read_state_dict(mm_path)
    from engine.neural.checkpoint import canonical_keys

    den, mm = canonical_keys(den, set(expected)), canonical_keys(mm, set(expected))
    check_state({k: s for k, s in expected.items() if not motion_key(k)},
                {k: v for k, v in den.items() if not motion_key(k)}, den_path.name)
    check_state({k: s for k, s in expected.items() if motion_key(k)}, mm, mm_path.name)
    return {**{k: v for k, v in den.items() if not motion_key(k)}, **mm}


def load_models(folder: str | Path, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32,
                report: Callable[[float], None] | None = None, compile_unet: bool = False) -> Lmk2VideoModels:
    """The Lmk2Video networks of a weights folder in the released layout, strictly loaded."""
    root = layout.resolve_root(folder)
    problem = layout.folder_problem(str(folder), "renderer")
    if problem:
        raise CheckpointError(problem)
    try:
        unet_cfg, vae_cfg, clip_cfg, extra = read_configs(root)
        nets = build_models(unet_cfg, vae_cfg, clip_cfg, extra, meta=True)
    except (ValueError, TypeError, ZeroDivisionError) as exc:
        raise CheckpointError(f"the configs in {root} cannot build the models: {exc}") from None
    device = torch.device(device)
    steps = [
        ("reference_unet", lambda: read_state_dict(layout.find(root, "reference_unet")), "reference_unet.pth"),
        ("denoising_unet", lambda: load_denoising_state(root, nets["denoising_unet"]),
         "denoising_unet.pth + motion_module.pth"),
        ("pose_guider", lambda: read_state_dict(layout.find(root, "pose_guider")), "pose_guider.pth"),
        ("vae", lambda: read_state_dict(layout.find(root, "vae")), str(layout.find(root, "vae").relative_to(root))),
        ("image_encoder", lambda: read_state_dict(layout.find(root, "image_encoder")),
         str(layout.find(root, "image_encoder").relative_to(root))),
    ]
    for k, (name, read, what) in enumerate(steps):
        load_into(nets[name], read(), what, device=device, dtype=dtype)
        if report:
            report((k + 1) / len(steps))
    models = Lmk2VideoModels(device=device, dtype=dtype, **nets).eval()
    if compile_unet:  # one static shape per window size: compiled once, reused by every window and step
        models.denoising_unet.forward = torch.compile(models.denoising_unet.forward, dynamic=False)
    return models


# --- sampling -------------------------------------------------------------------------------------------------

class _Progress:
    def __init__(self, total: float, progress, cancel):
        self.total, self.done, self.progress, self.cancel = max(total, 1e-9), 0.0, progress, cancel

    def step(self, amount: float = 1.0) -> None:
        if self.cancel is not None and self.cancel():
            raise Cancelled("render cancelled")
        self.done += amount
        if self.progress is not None:
            self.progress(min(1.0, self.done / self.total))


def clip_pixels(image: np.ndarray, size: int) -> torch.Tensor:
    """The reference's CLIP input: PIL resize to size x size (bicubic), then CLIPImageProcessor's scaling."""
    from PIL import Image

    x = np.asarray(Image.fromarray(image).resize((size, size), Image.BICUBIC), dtype=np.float32) / 255.0
    x = (x - np.array(configs.CLIP_MEAN, np.float32)) / np.array(configs.CLIP_STD, np.float32)
    return torch.from_numpy(x).permute(2, 0, 1)[None]


def vae_pixels(image: np.ndarray, size: int) -> torch.Tensor:
    """The reference's VaeImageProcessor on the reference image: PIL Lanczos resize, 2x - 1."""
    from PIL import Image

    if image.shape[:2] != (size, size):
        image = np.asarray(Image.fromarray(image).resize((size, size), Image.LANCZOS))
    return torch.from_numpy(np.asarray(image, dtype=np.float32) / 127.5 - 1.0).permute(2, 0, 1)[None]


def _to_uint8(x: torch.Tensor) -> np.ndarray:
    """(N, 3, H, W) in [-1, 1] -> (N, H, W, 3) uint8, as the reference saves (x/2 + 0.5, x255, truncated)."""
    x = (x.float() / 2 + 0.5).clamp(0, 1)
    return (x * 255).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


@torch.no_grad()
def draft_decode(latents: torch.Tensor, scale: int) -> np.ndarray:
    """Approximate frames from latents (N, 4, h, w) without the VAE: a linear colour map, upsampled."""
    m = torch.tensor(DRAFT_RGB, device=latents.device, dtype=torch.float32)
    rgb = torch.einsum("nchw,cr->nrhw", latents.float(), m)
    rgb = torch.nn.functional.interpolate(rgb, scale_factor=scale, mode="bilinear", align_corners=False)
    return _to_uint8(rgb.clamp(-1, 1))


class Sampler:
    """One clip: the reference image's conditioning computed once, then `frames(...)` for pose sequences."""

    def __init__(self, models: Lmk2VideoModels, settings: SamplerSettings):
        settings.validate()
        self.m, self.s = models, settings
        if settings.context_frames > models.denoising_unet.max_frames:
            raise ValueError(f"context_frames {settings.context_frames} exceeds the motion modules' "
                             f"{models.denoising_unet.max_frames}")
        self.state = ReferenceState()
        install_reference_attention(models.reference_unet, models.denoising_unet, self.state,
                                    cached=settings.schedule == "optimized")
        self._pose_cache: dict[tuple[int, ...], list[torch.Tensor]] = {}
        self._pose_cache_bytes = 0

    # -- conditioning --
    def _encode_reference(self, image: np.ndarray, cfg: bool) -> torch.Tensor:
        m = self.m
        emb = m.image_encoder(clip_pixels(image, m.clip_size).to(m.device, m.dtype)).image_embeds[:, None]
        latents = m.vae.encode(vae_pixels(image, m.size).to(m.device, m.dtype)).latent_dist.mean * configs.LATENT_SCALE
        self.state.clear()
        if self.s.schedule == "reference" and cfg:
            m.reference_unet(latents.repeat(2, 1, 1, 1), torch.cat([torch.zeros_like(emb), emb]))
        else:  # the unconditional bank is never read: one pass with the conditional embedding
            m.reference_unet(latents, emb)
        return emb

    def _pose_features(self, poses: torch.Tensor, window: list[int], copies: int) -> list[torch.Tensor]:
        m, s = self.m, self.s
        if s.schedule == "reference":  # per window per step, on the CFG-doubled batch, like the reference
            x = poses[window].to(m.device, m.dtype).repeat(copies, 1, 1, 1)
            return [f[: len(window)] for f in m.pose_guider(x, s.pose_batch_statistics)]
        if s.pose_batch_statistics:
            key = tuple(window)
            if key not in self._pose_cache:
                self._store(key, m.pose_guider(poses[window].to(m.device, m.dtype), True))
            feats = self._pose_cache[key]
        else:  # per frame, window-independent
            missing = [i for i in window if (i,) not in self._pose_cache]
            for a in range(0, len(missing), max(1, s.context_frames)):
                chunk = missing[a: a + s.context_frames]
                out = m.pose_guider(poses[chunk].to(m.device, m.dtype), False)
                for j, i in enumerate(chunk):
                    self._store((i,), [f[j: j + 1] for f in out])
            parts = [self._pose_cache[(i,)] for i in window]
            feats = [torch.cat([p[k] for p in parts]) for k in range(5)]
        return [f.to(m.device, non_blocking=True) for f in feats]

    def _store(self, key, feats: list[torch.Tensor]) -> None:
        size = sum(f.numel() * f.element_size() for f in feats)
        if self._pose_cache_bytes + size > self.s.pose_cache_bytes and feats[0].device.type != "cpu":
            feats = [f.to("cpu") for f in feats]
        else:
            self._pose_cache_bytes += size
        self._pose_cache[key] = feats

    # -- the loop --
    def latents(self, reference_image: np.ndarray, pose_images: np.ndarray, *,
                progress: Callable[[float], None] | None = None, cancel: Callable[[], bool] | None = None
                ) -> torch.Tensor:
        """Denoised latents (F, 4, h, w) float32 for (F, S, S, 3) uint8 pose images at the model size."""
        try:
            return self._denoise(reference_image, pose_images, progress, cancel)
        finally:  # the banks and cached features are per clip: free their memory
            self.state.clear()
            self._pose_cache.clear()
            self._pose_cache_bytes = 0

    @torch.no_grad()
    def _denoise(self, reference_image, pose_images, progress, cancel) -> torch.Tensor:
        m, s = self.m, self.s
        frames = len(pose_images)
        if frames < 1:
            raise ValueError("no pose images")
        if pose_images.shape[1:3] != (m.size, m.size):
            raise ValueError(f"pose images must be {m.size}x{m.size}, got {pose_images.shape[1:3]}")
        cfg = s.guidance > 1.0
        windows = context_windows(frames, s.context_frames, s.context_overlap, s.wrap_windows)
        batch = 1 if s.schedule == "reference" else s.context_batch
        groups = [windows[i: i + batch] for i in range(0, len(windows), batch)]
        ticker = _Progress(1 + s.steps * len(groups), progress, cancel)
        emb = self._encode_reference(reference_image, cfg)
        ticker.step()
        poses = pose_tensor(pose_images, s.pose_raw_range)
        h = w = m.size // m.vae_scale
        generator = torch.Generator("cpu").manual_seed(int(s.seed))
        noise = torch.randn((1, 4, frames, h, w), generator=generator, dtype=torch.float32)
        scheduler = make_scheduler(s.scheduler)
        scheduler.set_timesteps(s.steps, device=m.device)
        latents = (noise[0].permute(1, 0, 2, 3) * scheduler.init_noise_sigma).to(m.device)
        cfg_steps = math.ceil(s.guidance_cutoff * s.steps) if cfg else 0
        zeros = torch.zeros_like(emb)
        for i, t in enumerate(scheduler.timesteps):
            guided = i < cfg_steps
            halves = 2 if guided else 1
            total = torch.zeros((halves, frames, *latents.shape[1:]), device=m.device, dtype=torch.float32)
            counter = torch.zeros(frames, device=m.device, dtype=torch.float32)
            model_in = scheduler.scale_model_input(latents, t)
            for group in groups:
                idx = [f for win in group for f in win]
                f = len(group[0])
                rows = len(idx)
                x = model_in[idx].to(m.dtype).repeat(halves, 1, 1, 1)
                context = (torch.cat([zeros, emb]) if guided else emb).repeat_interleave(rows, dim=0)
                if s.schedule == "reference":
                    feats = self._pose_features(poses, idx, 2 if cfg else 1)
                else:
                    per = [self._pose_features(poses, win, halves) for win in group]
                    feats = [torch.cat([p[k] for p in per]) for k in range(5)] if len(per) > 1 else per[0]
                self.state.uncond_rows = rows if guided else 0
                self.state.repeat = rows
                pred = m.denoising_unet(x, t, context, f, feats).float().reshape(halves, rows, *latents.shape[1:])
                index = torch.tensor(idx, device=m.device)
                total.index_add_(1, index, pred)
                counter.index_add_(0, index, torch.ones(rows, device=m.device, dtype=torch.float32))
                ticker.step()
            mean = total / counter[None, :, None, None, None]
            v = mean[0] + s.guidance * (mean[1] - mean[0]) if guided else mean[0]
            latents = scheduler.step(v, t, latents).prev_sample
        return latents

    @torch.no_grad()
    def decode(self, latents: torch.Tensor, *, draft: bool | None = None,
               progress: Callable[[float], None] | None = None, cancel: Callable[[], bool] | None = None
               ) -> Iterator[np.ndarray]:
        m, s = self.m, self.s
        draft = s.draft_decode if draft is None else draft
        batch = 1 if s.schedule == "reference" else s.vae_batch
        n = len(latents)
        ticker = _Progress(math.ceil(n / batch), progress, cancel)
        for a in range(0, n, batch):
            z = latents[a: a + batch]
            if draft:
                images = draft_decode(z, m.vae_scale)
            else:
                images = _to_uint8(m.vae.decode((z / configs.LATENT_SCALE).to(m.dtype)).sample)
            yield from images
            ticker.step()

    def frames(self, reference_image: np.ndarray, pose_images: np.ndarray, *,
               progress: Callable[[float], None] | None = None, cancel: Callable[[], bool] | None = None
               ) -> Iterator[np.ndarray]:
        """(F, H, W, 3) uint8 RGB frames at the model size; progress 0..0.9 denoising, 0.9..1 decoding."""
        def part(lo, hi):
            return None if progress is None else (lambda f: progress(lo + (hi - lo) * f))

        latents = self.latents(reference_image, pose_images, progress=part(0.0, 0.9), cancel=cancel)
        yield from self.decode(latents, progress=part(0.9, 1.0), cancel=cancel)
