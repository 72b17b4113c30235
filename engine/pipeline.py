"""The one project pipeline: analyse the face source -> decode the audio -> predict the base layer ->
Project. The CLI, the editor's New Project / Open Demo / Regenerate and the demo all go through here, so
the same inputs give the same motion everywhere."""
from __future__ import annotations

import os
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from engine.a2l.base_layer import BaseLayer
from engine.audio.decode import AudioClip
from engine.document.project import Gains, Project
from engine.limits import MAX_FPS, MAX_FRAMES, MIN_FPS, check_number
from engine.plugins import A2L_BACKENDS, RENDERERS, Choice, default_choice
from engine.sources.audio import AudioSource
from engine.sources.base import FaceSource
from engine.sources.portrait import Framing, PortraitSource

Progress = Callable[[float], None]
Cancel = Callable[[], bool]


@dataclass
class ProjectRequest:
    """Everything a new project is made from (the CLI's options and the New Project dialog's fields)."""

    portrait: str | os.PathLike | np.ndarray
    audio: str | os.PathLike
    fps: float = 30.0
    framing: Framing = field(default_factory=Framing)
    a2l: Choice = field(default_factory=lambda: default_choice(A2L_BACKENDS))
    renderer: Choice = field(default_factory=lambda: default_choice(RENDERERS))
    pose_template: str | os.PathLike | None = None  # AniPortrait pose_temp.npy: drives the head
    video: str | os.PathLike | None = None  # dubbing: this video is the face source (`portrait` is not used)
    fit: str = "pingpong"  # dubbing: how the video covers audio of another length (engine.video.lengths)
    gains: Gains = field(default_factory=Gains)
    portrait_name: str | None = None  # label of an in-memory portrait


def load_template(path: str | os.PathLike | None) -> np.ndarray | None:
    from engine.export.pose_template import read_pose_template

    return None if path is None else read_pose_template(path)


def predict_base(audio: AudioClip, fps: float, a2l: Choice, pose_template: np.ndarray | None = None, *,
                 source: FaceSource | None = None, progress: Progress | None = None,
                 cancel: Cancel | None = None) -> BaseLayer:
    """The chosen backend's prediction, as much of it as the face source takes (a dub: the lower face, and no
    more frames than the video gives: `--fit trim` ends with the video); a pose template (N, 6 at 30 fps)
    replaces its head pose."""
    frames = getattr(source, "frame_count", None)
    if frames is not None and frames < audio.frame_count(fps):
        audio = audio.head(frames / fps)
    backend = A2L_BACKENDS.require(a2l.name, a2l.config)()
    base = backend.predict(audio, fps, a2l.config, progress=progress, cancel=cancel)
    if source is not None:
        base = source.animate(base)
    if pose_template is not None:
        from engine.export.pose_template import fit_pose_template

        base.pose = fit_pose_template(pose_template, base.frame_count, fps)
    return base


def create_project(request: ProjectRequest, *, progress: Progress | None = None,
                   cancel: Cancel | None = None) -> Project:
    from engine.errors import AudioReadError, UsageError

    A2L_BACKENDS.require(request.a2l.name, request.a2l.config)  # before the slow steps
    try:
        fps = check_number(request.fps, "the frame rate", MIN_FPS, MAX_FPS, " fps")
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if request.video is not None:  # a dub runs at the video's own frame rate: one output frame per source frame
        from engine.errors import VideoReadError
        from engine.media.video_read import probe_video

        info = probe_video(request.video)
        if info.still:
            raise VideoReadError(f"{request.video} is a still image, not a video: animate a portrait with "
                                 "`render PORTRAIT AUDIO` (or New Project's portrait field)")
        fps = info.fps
    # the driver's sound is noted after the portrait is analysed: a photo without a face is then refused in one line
    # (its error came after a note about the driver's sound: two lines for one mistake). A list, not
    # warnings.catch_warnings: that swaps the process's warning state, and projects are made on worker threads.
    notes: list[str] = []
    clip = _sound(request, notes)
    frames = clip.frame_count(fps)
    if frames > MAX_FRAMES:  # the memory guard: a project keeps per-frame arrays of every frame
        raise AudioReadError(
            f"the audio is {clip.duration / 3600:.1f} h long: {frames} frames at {fps:g} fps, more than the {MAX_FRAMES} "
            f"a project holds ({MAX_FRAMES / fps / 3600:.1f} h at {fps:g} fps); split the audio or lower the frame rate")
    _check_prediction_memory(frames, fps)
    if request.video is not None:
        from engine.sources.video import VideoSource

        source = VideoSource.open(request.video, frames, request.fit, face_index=request.framing.face_index,
                                  cancel=cancel)
    else:
        source = PortraitSource.analyze(request.portrait, request.framing, request.portrait_name)
    for note in notes:
        warnings.warn(note, stacklevel=2)
    template = load_template(request.pose_template)
    base = predict_base(clip, fps, request.a2l, template, source=source, progress=progress, cancel=cancel)
    return Project(source, AudioSource(os.path.abspath(os.fspath(request.audio)), clip), fps, base,
                   a2l=request.a2l, renderer=request.renderer, pose_template=template, gains=request.gains)


# A driver's sound and picture this far apart in length are said (the output follows the picture either way):
# an AAC encoder's padding and a last frame's duration leave up to ~50 ms that nobody chose ("lasts 4.0 s and its
# picture 4.0 s ... its sound cut" on an ordinary 59.94 fps clip).
SOUND_PICTURE_NOTE_S = 0.1


def _sound(request: ProjectRequest, notes: list[str] | None = None) -> AudioClip:
    """The project's sound. A performance with the driving video's own sound (reenactment: the face drives, not a
    voice) lasts as long as its picture: a sound track that is shorter is padded with silence (none at all:
    silence as long as the video) and a longer one is cut, so the output keeps every frame of the performance.
    What is said of that goes to `notes` when given, else is warned at once."""
    from engine.audio.decode import load_audio
    from engine.errors import AudioReadError
    from engine.export.atomic import same_file_as_any

    driver = getattr(request.a2l.config, "video", None) if request.a2l.name == "performance" else None
    if not same_file_as_any(request.audio, [driver]):  # a voice of its own: the sound decides the length
        return load_audio(os.fspath(request.audio))
    from engine.media.video_read import probe_video, sound_lead

    info = probe_video(request.audio)
    try:
        clip = load_audio(os.fspath(request.audio), analysed=False)
    except AudioReadError:
        if info.has_audio or info.still or info.duration <= 0:
            raise
        rate = 48000
        return AudioClip(samples=np.zeros((int(info.duration * rate), 1), np.float32), rate=rate,
                         source=os.fspath(request.audio))
    # the sound from the first picture on: where the streams start apart, it was muxed from its own first sample
    # (a picture starting 0.48 s after its sound came out with the sound 0.48 s early)
    clip = _from_first_picture(clip, sound_lead(request.audio))
    picture = info.frame_count / info.fps if info.frame_count else info.duration
    # shorter by under a frame: the last frame covers it; longer by any amount (an AAC encoder's padding) is cut
    if picture <= 0 or (picture - 1.0 / info.fps < clip.duration <= picture):
        return clip
    if abs(clip.duration - picture) >= SOUND_PICTURE_NOTE_S:
        note = (f"the sound of {request.audio} lasts {clip.duration:.2f} s and its picture {picture:.2f} s: the "
                f"reenactment follows the picture, its sound {'cut' if clip.duration > picture else 'padded with silence'}")
        if notes is None:
            warnings.warn(note, stacklevel=3)
        else:
            notes.append(note)
    from engine.audio.decode import ANALYSIS_RATE

    # whole samples within the picture (rounding up made a 29.97 fps driver's 180 frames need a 181st)
    return AudioClip(samples=_fitted(clip.samples, int(picture * clip.rate)), rate=clip.rate,
                     source=clip.source, mono16k=_fitted(clip.mono16k, int(picture * ANALYSIS_RATE)))


def _from_first_picture(clip: AudioClip, lead: float) -> AudioClip:
    """The clip without its first `lead` seconds (sound before the picture), or after -`lead` seconds of silence
    (a picture that starts first)."""
    from engine.audio.decode import ANALYSIS_RATE

    def shifted(samples: np.ndarray, rate: float) -> np.ndarray:
        n = int(round(abs(lead) * rate))
        if lead > 0:
            return samples[n:]
        return np.concatenate([np.zeros((n, *samples.shape[1:]), np.float32), samples])

    if abs(lead) * clip.rate < 1.0:
        return clip
    return AudioClip(samples=shifted(clip.samples, clip.rate), rate=clip.rate, source=clip.source,
                     mono16k=shifted(clip.mono16k, ANALYSIS_RATE))


def _fitted(samples: np.ndarray, n: int) -> np.ndarray:
    """The first n samples, silence after the end."""
    out = np.zeros((n, *samples.shape[1:]), np.float32)
    out[:min(n, len(samples))] = samples[:n]
    return out


def _check_prediction_memory(frames: int, fps: float) -> None:
    from engine.errors import MemoryLimitError
    from engine.limits import PREDICT_BYTES_PER_FRAME, memory_shortfall

    needed = frames * PREDICT_BYTES_PER_FRAME
    limit = memory_shortfall(needed)
    if limit is not None:
        def span(seconds: float) -> str:
            return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"

        raise MemoryLimitError(
            f"animating {span(frames / fps)} of audio needs about {needed / 2**30:.1f} GB of memory, more than "
            f"the {limit / 2**30:.1f} GB free: split the audio into parts of at most "
            f"{span(limit / PREDICT_BYTES_PER_FRAME / fps)}")


def regenerate_base(project: Project, a2l: Choice | None = None, *, progress: Progress | None = None,
                    cancel: Cancel | None = None) -> BaseLayer:
    """A new base layer for the project's audio (its pose template kept); the caller swaps it in (undoably)."""
    from engine.errors import AudioReadError

    if project.audio is None:
        raise AudioReadError(f"the audio source {project.audio_source.path} is missing: relink it before regenerating")
    return predict_base(project.audio, project.fps, a2l or project.a2l, project.pose_template,
                        source=project.source, progress=progress, cancel=cancel)


# A typed transcript for a stretch can hold at most this many words a second, plus one (fast speech runs at
# 4-5 words a second, the fastest speakers measured near 10); more means the stretch selected is not where they
# are said (14 words forced into 0.04 s were packed there without a word).
MAX_WORDS_PER_S = 10.0
# Scripts written without spaces: each character is about a syllable (a Han character, a kana mora), counted as a
# word here (Mandarin runs at ~5-6 syllables a second, Japanese at ~7-8 morae).
_UNSPACED = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def spoken_units(text: str) -> int:
    """Words of a transcript, each character of an unspaced script (Chinese, Japanese) counting as one."""
    return sum(max(len(_UNSPACED.findall(token)), 1) for token in text.split())


def repredict_range(project: Project, start: float, end: float, transcript: str | None = None, *,
                    progress: Progress | None = None, cancel: Cancel | None = None) -> BaseLayer:
    """A new base layer that differs from the project's only over [start, end] seconds: that stretch of the audio
    (with a little context) is predicted again, with `transcript` as its text when the backend takes one (forced
    alignment of just that stretch), and spliced in (engine.document.lipsync.splice: mouth cross-faded at the
    edges, head pose and blinks kept). The caller swaps it in undoably; the edit layers are untouched."""
    import dataclasses

    from engine.document import lipsync
    from engine.errors import AudioReadError, UsageError

    clip = project.audio
    if clip is None:
        raise AudioReadError(f"the audio source {project.audio_source.path} is missing: relink it first")
    start, end = max(0.0, float(start)), min(float(end), project.duration)
    if not end > start:
        raise UsageError("select a stretch of the clip first")
    words = spoken_units(transcript or "")
    if words > 1 + MAX_WORDS_PER_S * (end - start):
        raise UsageError(f"{words} words in {end - start:.2f} s is faster than anyone speaks: select the stretch they "
                         "are said in (set in/out around it)")
    fps = project.fps
    context = 0.25
    a = max(int(np.floor((start - context) * fps)), 0) / fps  # on a frame boundary: frames line up
    b = min(end + context, clip.duration)
    samples = clip.samples[int(round(a * clip.rate)):int(round(b * clip.rate))]
    from engine.audio.decode import ANALYSIS_RATE

    mono = clip.mono16k[int(round(a * ANALYSIS_RATE)):int(round(b * ANALYSIS_RATE))]
    part_clip = AudioClip(samples=samples, rate=clip.rate, source=clip.source, mono16k=mono)
    a2l = project.a2l
    takes_text = any(f.name == "transcript" for f in dataclasses.fields(a2l.config))
    if takes_text:
        a2l = a2l.replace(transcript=transcript.strip() if transcript and transcript.strip() else None)
    part = predict_base(part_clip, fps, a2l, None, progress=progress, cancel=cancel)
    part_words = lipsync.typed_words(part, transcript)
    return lipsync.splice(project.base, part, a, start, end, words=lipsync.word_segments(project),
                          part_words=part_words)
