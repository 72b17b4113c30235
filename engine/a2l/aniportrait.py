"""The `aniportrait` Audio2Lmk backend: AniPortrait's Audio2Mesh + Audio2Pose (engine.neural.audio_models).

audio -> 16 kHz mono, normalised -> wav2vec2 at 30 fps -> 468 x 3 mesh offsets (audio2mesh.pt) and a relative
head pose (audio2pose.pt; rotations halved, 7-frame moving average), resampled to the project's frame rate
(the models run at their training rate, 30 fps, so 24/25 fps projects stay in sync: the reference's --fps != 30
drifts). The result is a plain base layer: the editor's keys, gains, rig controls and exports apply on top.
The offsets are added to the source's rest mesh (its parted lips closed) where the reference adds them to the
portrait's own mesh; for a closed-mouth portrait the two coincide. torch is imported inside the methods only.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from engine.a2l.backend import A2LCapabilities, Cancel, Progress, stage_reporter
from engine.a2l.base_layer import BaseLayer
from engine.audio.decode import AudioClip
from engine.errors import BackendError


@dataclass
class AniPortraitA2LConfig:
    VERSION: ClassVar[int] = 1
    weights: str | None = None  # the AniPortrait pretrained_model folder
    seed: int = 0  # draws the head-motion style (the reference's unseeded random.randint(0, 99))
    style_id: int | None = None  # 0..99: this style instead of the seeded draw
    head_pose: str = "audio2pose"  # audio2pose | none (keep the reference pose; e.g. with a pose template)
    rotation_scale: float = 0.5  # the reference halves the predicted rotations
    pose_smoothing: int = 7  # frames of the centred moving average (1: none)
    max_pass_seconds: float = 120.0  # Audio2Mesh runs the whole clip in one pass up to this, then in parts
    device: str = "cpu"  # cpu | auto | cuda (the audio models are small; the reference runs them in fp32)
    threads: int = 0

    def validate(self) -> None:
        if self.style_id is not None and not 0 <= self.style_id <= 99:
            raise ValueError(f"style_id must be 0..99, got {self.style_id}")
        if self.head_pose not in ("audio2pose", "none"):
            raise ValueError(f"head_pose must be audio2pose or none, got {self.head_pose!r}")
        if not 0.0 <= self.rotation_scale <= 4.0:
            raise ValueError(f"rotation_scale must be within 0..4, got {self.rotation_scale}")
        if not 1 <= self.pose_smoothing <= 301:
            raise ValueError(f"pose_smoothing must be 1..301 frames, got {self.pose_smoothing}")
        if self.max_pass_seconds < 10.0:
            raise ValueError(f"max_pass_seconds must be at least 10, got {self.max_pass_seconds}")
        if not (self.device in ("auto", "cpu", "cuda") or self.device.startswith("cuda:")):
            raise ValueError(f"device must be auto, cpu, cuda or cuda:N, got {self.device!r}")
        if self.threads < 0:
            raise ValueError("threads must be >= 0")


class AniPortraitA2L:
    name: ClassVar[str] = "aniportrait"
    title: ClassVar[str] = "AniPortrait Audio2Mesh + Audio2Pose (neural)"
    Config: ClassVar[type] = AniPortraitA2LConfig
    capabilities: ClassVar[A2LCapabilities] = A2LCapabilities(needs_weights=True)

    @classmethod
    def available(cls, config: AniPortraitA2LConfig) -> tuple[bool, str]:
        from engine.neural import layout

        optional = ("audio2pose",) if config.head_pose == "audio2pose" else ()
        problem = layout.packages_problem() or layout.folder_problem(config.weights, "a2l", optional=optional)
        if problem is None and config.device.startswith("cuda"):
            problem = layout.cuda_problem()
        return (False, problem) if problem else (True, "")

    def predict(self, audio: AudioClip, fps: float, config: AniPortraitA2LConfig, *,
                progress: Progress | None = None, cancel: Cancel | None = None) -> BaseLayer:
        ok, reason = self.available(config)
        if not ok:
            raise BackendError(f"the Audio2Lmk backend 'aniportrait' cannot run here: {reason}")
        from engine.neural.a2l_runner import predict_motion
        from engine.neural.configs import AUDIO_FPS

        offsets, pose = predict_motion(audio.mono16k, config, stage_reporter(progress, cancel))
        base = BaseLayer(fps=AUDIO_FPS, offsets=offsets, pose=pose)
        frames = audio.frame_count(fps)
        if fps == AUDIO_FPS and frames == base.frame_count:
            return base
        return base.resampled(float(fps), frames)  # the models' 30 fps -> the project's rate

