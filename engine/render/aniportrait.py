"""The `aniportrait` renderer: AniPortrait's Lmk2Video diffusion (engine.neural.lmk2video) as a Talkline plug-in.

Landmarks -> the reference's pose images (engine.render.pose_image, byte-exact, drawn at 512 and resized to the
model size like the reference) -> windowed video diffusion conditioned on the source's reference image -> frames
resized to the source frame. Any face source works: a still's framed portrait is the reference image; a video
source gives its face window (engine.render.compose blends the lower face back into each source frame), with
the first frame's window as the reference image. torch is imported inside the methods only.

Presets: "faithful" = the reference's settings (DDIM 25 steps, guidance 3.5 on every step, windows of 16 frames
overlapping by 4 that wrap around, the PoseGuider as the released weights were run); "fast" = DPM-Solver++ 2M at
8 steps, guidance on the first quarter of the steps, windows overlapping by 2 that do not wrap. Any field left
at None takes the preset's value.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from engine.errors import BackendError, RenderCancelled
from engine.render.pose_image import CANVAS, draw_pose_image
from engine.render.renderer import Cancel, Progress, RendererCapabilities
from engine.sources.base import FaceSource

PRESETS = {
    "faithful": {"steps": 25, "guidance": 3.5, "guidance_cutoff": 1.0, "scheduler": "ddim", "context_overlap": 4,
                 "wrap_windows": True},
    "fast": {"steps": 8, "guidance": 3.5, "guidance_cutoff": 0.25, "scheduler": "dpm++", "context_overlap": 2,
             "wrap_windows": False},
}


@dataclass
class AniPortraitRendererConfig:
    VERSION: ClassVar[int] = 1
    weights: str | None = None  # the AniPortrait pretrained_model folder
    preset: str = "faithful"  # faithful | fast
    steps: int | None = None
    guidance: float | None = None  # classifier-free guidance scale (<= 1: off)
    guidance_cutoff: float | None = None  # guidance on this fraction of the steps
    scheduler: str | None = None  # ddim | dpm++
    context_overlap: int | None = None
    wrap_windows: bool | None = None  # the reference's closed loop (the clip's end blends into its start)
    context_frames: int = 16  # frames per window (fewer need less GPU memory)
    context_batch: int = 1  # windows per UNet call (more: faster on big GPUs, more memory)
    seed: int = 42
    size: int | None = None  # processing size; None: the model's (512)
    device: str = "auto"  # auto | cuda | cuda:N | cpu
    dtype: str = "fp16"  # fp16 | bf16 | fp32 (the CPU always runs fp32)
    pose_batch_statistics: bool = True  # the PoseGuider's BatchNorm as the reference ran it (per window)
    pose_raw_range: bool = True  # pose images as the reference fed them ([-1, 509]); False: [-1, 1]
    vae_batch: int = 8  # frames per VAE decode call
    draft_decode: bool = False  # approximate colours straight from the latents, no VAE (a quick look)
    schedule: str = "optimized"  # optimized | reference (the reference's own, slower computation)
    compile: bool = False  # torch.compile the denoising UNet (minutes of compilation, faster steps)
    threads: int = 0  # CPU threads (0: automatic)

    def validate(self) -> None:
        if self.preset not in PRESETS:
            raise ValueError(f"preset must be one of {', '.join(PRESETS)}, got {self.preset!r}")
        if self.steps is not None and not 1 <= self.steps <= 1000:
            raise ValueError(f"steps must be 1..1000, got {self.steps}")
        if self.scheduler not in (None, "ddim", "dpm++"):
            raise ValueError(f"scheduler must be ddim or dpm++, got {self.scheduler!r}")
        if self.guidance_cutoff is not None and not 0.0 <= self.guidance_cutoff <= 1.0:
            raise ValueError(f"guidance_cutoff must be within 0..1, got {self.guidance_cutoff}")
        if not 1 <= self.context_frames <= 32:
            raise ValueError(f"context_frames must be 1..32 (the motion modules' range), got {self.context_frames}")
        overlap = self.resolved("context_overlap")
        if not 0 <= overlap < self.context_frames:
            raise ValueError(f"context_overlap must be 0..context_frames-1, got {overlap}")
        if self.context_batch < 1 or self.vae_batch < 1:
            raise ValueError("context_batch and vae_batch must be at least 1")
        if self.size is not None and (self.size < 64 or self.size % 64):
            raise ValueError(f"size must be a multiple of 64 (at least 64), got {self.size}")
        if self.dtype not in ("fp16", "bf16", "fp32"):
            raise ValueError(f"dtype must be fp16, bf16 or fp32, got {self.dtype!r}")
        if self.schedule not in ("optimized", "reference"):
            raise ValueError(f"schedule must be optimized or reference, got {self.schedule!r}")
        if not (self.device in ("auto", "cpu", "cuda") or self.device.startswith("cuda:")):
            raise ValueError(f"device must be auto, cpu, cuda or cuda:N, got {self.device!r}")
        if self.threads < 0:
            raise ValueError("threads must be >= 0")

    def resolved(self, name: str):
        value = getattr(self, name)
        return PRESETS[self.preset][name] if value is None else value


def _device_problem(config: AniPortraitRendererConfig) -> str | None:
    from engine.neural import layout

    if config.device == "cpu":
        return None
    problem = layout.cuda_problem()
    if problem is None:
        return None
    if config.device == "auto" and config.weights:
        root = layout.resolve_root(config.weights)
        if layout.weights_bytes(root, "renderer") < (256 << 20):
            return None  # tiny test models run on the CPU
    return (f"{problem}; the full-size diffusion renderer needs an NVIDIA GPU (--renderer-set device=cpu "
            "forces the CPU: hours per second of video)")


class AniPortraitRenderer:
    name: ClassVar[str] = "aniportrait"
    title: ClassVar[str] = "AniPortrait Lmk2Video (neural diffusion, GPU)"
    Config: ClassVar[type] = AniPortraitRendererConfig
    capabilities: ClassVar[RendererCapabilities] = RendererCapabilities(needs_weights=True, needs_gpu=True)

    @classmethod
    def available(cls, config: AniPortraitRendererConfig) -> tuple[bool, str]:
        from engine.neural import layout

        problem = (layout.packages_problem() or layout.folder_problem(config.weights, "renderer")
                   or _device_problem(config))
        return (False, problem) if problem else (True, "")

    def __init__(self, source: FaceSource, config: AniPortraitRendererConfig | None = None):
        self.source = source
        self.config = config or AniPortraitRendererConfig()

    # -- torch side --
    def _sampler(self, preset_override: str | None = None):
        import dataclasses

        from engine.neural import layout, runtime
        from engine.neural.lmk2video import Sampler, SamplerSettings, load_models

        c = self.config
        ok, reason = self.available(c)
        if not ok:
            raise BackendError(f"the renderer 'aniportrait' cannot run here: {reason}")
        root = layout.resolve_root(c.weights)
        device = runtime.resolve_device(c.device)
        dtype = runtime.resolve_dtype(c.dtype, device)
        runtime.configure_threads(root, "renderer", c.threads, device)
        stamp = tuple(p.stat().st_mtime_ns for p in (layout.find(root, "denoising_unet"),
                                                      layout.find(root, "reference_unet")))
        models = runtime.cached(("lmk2video", str(root), str(device), str(dtype), stamp, c.compile),
                                lambda: load_models(root, device, dtype, compile_unet=c.compile))
        if c.size is not None:
            models = dataclasses.replace(models, frame_size=c.size)
        preset = PRESETS[preset_override] if preset_override else {}

        def pick(name):
            return preset[name] if name in preset else c.resolved(name)

        settings = SamplerSettings(
            steps=pick("steps"), guidance=pick("guidance"), guidance_cutoff=pick("guidance_cutoff"),
            scheduler=pick("scheduler"), context_frames=c.context_frames, context_overlap=pick("context_overlap"),
            wrap_windows=pick("wrap_windows"), context_batch=c.context_batch, seed=c.seed, schedule=c.schedule,
            pose_batch_statistics=c.pose_batch_statistics, pose_raw_range=c.pose_raw_range, vae_batch=c.vae_batch,
            draft_decode=c.draft_decode)
        return Sampler(models, settings)

    def pose_images(self, landmarks: np.ndarray, size: int) -> np.ndarray:
        """(T, N, 2) pixel landmarks -> (T, size, size, 3) uint8 pose images as the network sees them."""
        import cv2

        _, width, height = self._geometry()
        out = np.empty((len(landmarks), size, size, 3), dtype=np.uint8)
        for i, lm in enumerate(landmarks):
            image = draw_pose_image(lm, width, height)
            out[i] = image if size == CANVAS else cv2.resize(image, (size, size))
        return out

    def _geometry(self) -> tuple[np.ndarray, int, int]:
        """(reference image, frame width, height) of the frames the landmarks are given in: a still's framed
        portrait; for a video source its face window (landmarks come in window pixels), with the window of the
        first frame as the network's reference image."""
        if self.source.frame_count is None:
            ref = self.source.reference
            return ref.image, ref.width, ref.height
        image, _ = self.source.frame(0)
        return image, int(image.shape[1]), int(image.shape[0])

    def _to_source_frame(self, frame: np.ndarray, width: int, height: int) -> np.ndarray:
        import cv2

        if frame.shape[:2] == (height, width):
            return frame
        shrink = frame.shape[0] > height
        return cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)

    def _run(self, landmarks: np.ndarray, progress, cancel, preset_override=None) -> Iterator[np.ndarray]:
        from engine.errors import Cancelled
        from engine.neural import runtime

        landmarks = np.asarray(landmarks, dtype=np.float64)
        if landmarks.ndim != 3 or landmarks.shape[1] not in (468, 478) or landmarks.shape[2] != 2:
            raise ValueError(f"landmarks must have shape (T, 468|478, 2), got {landmarks.shape}")
        c = self.config
        try:
            sampler = self._sampler(preset_override)
            size = sampler.m.size
            poses = self.pose_images(landmarks, size)
            image, width, height = self._geometry()
            reference = np.ascontiguousarray(image[..., :3])
            with runtime.sampling_lock:
                latents = sampler.latents(reference, poses, cancel=cancel,
                                          progress=None if progress is None else (lambda f: progress(0.9 * f)))
            decode = None if progress is None else (lambda f: progress(0.9 + 0.1 * f))
            for frame in sampler.decode(latents, progress=decode, cancel=cancel):
                yield self._to_source_frame(frame, width, height)
        except Cancelled as exc:
            raise RenderCancelled(str(exc)) from None
        except Exception as exc:  # noqa: BLE001  (GPU out-of-memory comes as several types)
            if not runtime.is_oom(exc):
                raise
            runtime.clear_cache()
            raise BackendError(
                f"the GPU ran out of memory rendering {c.size or 'the model size'} px frames with {c.context_frames} frames "
                f"per window, {c.context_batch} window(s) per step, {c.dtype}: try --renderer-set context_batch=1, "
                "context_frames=8, vae_batch=1, dtype=fp16 or size=384 (or close other GPU programs)") from None

    def frames(self, landmarks: np.ndarray, *, progress: Progress | None = None,
               cancel: Cancel | None = None) -> Iterator[np.ndarray]:
        """All frames of the clip (the diffusion runs over every window, then frames come out as decoded)."""
        yield from self._run(landmarks, progress, cancel)

    def preview(self, landmarks: np.ndarray, index: int = 0) -> np.ndarray:
        """One frame with the fast preset (seconds on a GPU; not for scrubbing)."""
        return next(iter(self._run(np.asarray(landmarks)[None], None, None, preset_override="fast")))

