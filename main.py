"""Talkline: a portrait and a speech or music track become a talking-head video.

No arguments open the editor; sub-commands run headless jobs on the same engine (engine.pipeline builds the
project exactly as the editor does; engine.jobs renders it).
"""
from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import tempfile
import warnings
from pathlib import Path

from engine.errors import UsageError
from engine.limits import MAX_FPS, MAX_INTENSITY, MAX_SIZE, MAX_TRANSCRIPT_CHARS, MIN_FPS, MIN_SIZE, check_number
from engine.video.lengths import DEFAULT_FIT, FIT_MODES

PROG = "talkline"
DEFAULT_FPS = 30.0  # the reference implementation's rate
DEFAULT_SIZE = 512  # the reference implementation's frame size
# Options that make a new prediction: a saved project keeps its own (open it in the editor to change them).
PREDICTION_OPTIONS = ("seed", "transcript", "accurate_phones", "lip_intensity", "head_intensity", "pose_template",
                      "a2l", "a2l_set", "full_frame", "face_index", "style", "language", "head_style",
                      "denoise")


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line (`talkline: error: ...`, exit 2), like every other bad input."""

    def error(self, message: str):
        self.exit(2, f"{PROG}: error: {message}\n")


def _language(text: str) -> str:
    """An argparse type: a language code espeak-ng has a voice for (said at once, not as a backend that "cannot
    run here" after the models have loaded); accepted as it is when espeak-ng is not installed."""
    from engine.a2l.espeak_align import unknown_language

    why = unknown_language(text)
    if why:
        raise argparse.ArgumentTypeError(why)
    return text


def _ranged(kind: type, lo: float, hi: float, unit: str = ""):
    """An argparse type: a finite number of `kind` within [lo, hi] (engine.limits), else a one-line reason."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {'a whole number' if kind is int else 'a number'}, "
                                             f"got {text!r}") from None
        try:
            check_number(value, "it", lo, hi, unit)
        except ValueError:
            bounds = f"{lo:d} and {hi:d}" if kind is int else f"{lo:g} and {hi:g}"
            raise argparse.ArgumentTypeError(f"must be between {bounds}{unit}, got {text!r}") from None
        return value

    return parse


TRANSCRIPT_SUFFIXES = (".txt", ".text", ".srt", ".vtt", ".lab", ".md")  # a --transcript ending so names a file


def _looks_like_a_path(text: str) -> bool:
    """A one-line --transcript that names a file rather than saying words: a transcript file's suffix, a path
    from the root, home, the current folder or a drive, or several folder separators in a few words."""
    if not text or "\n" in text:
        return False
    separators = text.count("/") + text.count("\\")
    return (Path(text).suffix.lower() in TRANSCRIPT_SUFFIXES
            or text.startswith(("/", "./", "../", "~/", "\\")) or re.match(r"[A-Za-z]:[\\/]", text) is not None
            or (separators >= 2 and len(text.split()) <= 3))


def _transcript(value: str | None) -> str | None:
    """The transcript text: the option's text, or the contents of the text file it names."""
    if value is None:
        return None
    path = Path(value)
    try:
        is_file = path.is_file()
    except OSError:  # a long typed transcript is no file name (ENAMETOOLONG)
        is_file = False
    if not is_file and os.path.isdir(value):
        raise UsageError(f"the transcript {value} is a folder: give a text file, or the words themselves")
    if not is_file and _looks_like_a_path(value.strip()):
        raise UsageError(f"transcript file not found: {value} (a transcript given as text must be quoted words, "
                         "not a path)")
    if is_file:
        if path.stat().st_size > 4 * MAX_TRANSCRIPT_CHARS:
            raise UsageError(f"the transcript file {value} is too large for a transcript")
        data = path.read_bytes()
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise UsageError(f"the transcript file {value} is not UTF-8 text") from None
        if "\x00" in text:  # (the message named the file's text, NUL and all, for its path)
            raise UsageError(f"the transcript file {value} is not a text file")
        value = text
    if len(value) > MAX_TRANSCRIPT_CHARS:
        raise UsageError(f"the transcript is longer than {MAX_TRANSCRIPT_CHARS} characters")
    return value.strip() or None


def _add_backend_options(p: argparse.ArgumentParser, a2l: bool = True, renderer: bool = True) -> None:
    if a2l:
        p.add_argument("--a2l", metavar="NAME", default="embedded",
                       help="Audio2Lmk backend (default embedded; `talkline backends` lists them)")
        p.add_argument("--a2l-set", metavar="KEY=VALUE", action="append", default=[],
                       help="a setting of the Audio2Lmk backend's config (repeatable), e.g. --a2l-set lead_ms=40")
    if renderer:
        p.add_argument("--renderer", metavar="NAME", default=None,
                       help="renderer (default warp, or the project's; `talkline backends` lists them)")
        p.add_argument("--renderer-set", metavar="KEY=VALUE", action="append", default=[],
                       help="a setting of the renderer's config (repeatable), e.g. --renderer-set grid_step=8")
    p.add_argument("--weights", metavar="DIR", help="weights folder, for backends that need one")


def _add_motion_options(p: argparse.ArgumentParser, video: bool = False, project: bool = False) -> None:
    """The animation options; `video`: a dub's, which keeps the video's frame rate and head motion; `project`:
    the command also renders saved projects."""
    if not video:
        p.add_argument("--fps", type=_ranged(float, MIN_FPS, MAX_FPS),
                       help="frame rate of the animation (default 30; 24 and 25 work"
                            + ("; a project render resamples the project's motion to it)" if project else ")"))
    if not video:  # a dub keeps the video's head motion and blinks
        p.add_argument("--seed", type=_ranged(int, 0, 2**32 - 1), default=0,
                       help="seed of head motion and blinks (default 0)")
    p.add_argument("--transcript", metavar="TEXT|FILE",
                   help="what is said (text or a text file): forced alignment gives much more accurate lip sync")
    p.add_argument("--accurate-phones", action="store_true",
                   help="without a transcript, recognise words over the whole English dictionary and align their "
                        "phones (finer phone timing and rare words, e.g. for mouth cues; ~2.5x slower, same lip sync "
                        "on the benchmark as the default common-words recognition)")
    p.add_argument("--style", choices=("speech", "singing", "auto"), default="speech",
                   help="speech (default); singing: sustained notes hold their vowel and open with the note's "
                        "loudness, vibrato smoothed away; auto: sung stretches found from held notes")
    p.add_argument("--language", type=_language, default="en", metavar="CODE",
                   help="language of the speech as an espeak-ng code (en, de, fr, es, ja, cmn, ko, ...; default en). "
                        "Other than English: a transcript is aligned through espeak-ng phones, and without one the "
                        "phones are recognised as IPA (hama's phoneme recogniser; no words)")
    p.add_argument("--denoise", action="store_true",
                   help="suppress background noise (RNNoise) before the lip-sync analysis: for speech under hiss or "
                        "steady background noise, where the mouth otherwise follows the noise; leave it off for "
                        "clean or reverberant recordings (it costs accuracy there)")
    p.add_argument("--lip-intensity", type=_ranged(float, 0, MAX_INTENSITY), default=1.0,
                   help="mouth motion gain (default 1.0)")
    if video:
        return
    p.add_argument("--head-style", choices=("calm", "natural", "lively"), default="natural",
                   help="head motion: amplitude, nods on stressed syllables and slow drift (default natural)")
    p.add_argument("--head-intensity", type=_ranged(float, 0, MAX_INTENSITY), default=1.0,
                   help="head motion gain (default 1.0; 0 = still head)")
    p.add_argument("--pose-template", metavar="NPY",
                   help="drive the head with an AniPortrait pose_temp.npy (N x 6 at 30 fps, looped ping-pong)")


def _add_portrait_options(p: argparse.ArgumentParser, project: bool = False) -> None:
    p.add_argument("--size", type=_ranged(int, MIN_SIZE, MAX_SIZE, " px"),
                   help="output size in px: square face crop side (default 512"
                        + ("; a project render rescales the project's frame to it)" if project else ")"))
    p.add_argument("--full-frame", action="store_true",
                   help="keep the whole portrait instead of a square face crop (longer side = --size)")
    p.add_argument("--face-index", type=_ranged(int, 0, 63), help="which face to animate when the portrait has several (0 = leftmost)")


def _add_output_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--landmarks", metavar="OUT.npz", help="also write the landmark sequence (.npz)")
    p.add_argument("--pose-video", metavar="OUT.mp4", help="also write the pose-image video")
    p.add_argument("--frames", metavar="DIR", help="also write a PNG sequence (+ audio.wav) into DIR: frame_000001.png is the clip's "
                   "first frame (a --range render writes the whole render's names, its audio as "
                   "audio_from_frame_NNNNNN.wav)")
    p.add_argument("--side-by-side", action="store_true",
                   help="write [reference | pose image | result] panels like the reference implementation")


def _add_save_project(p: argparse.ArgumentParser) -> None:
    p.add_argument("--save-project", metavar="OUT.talkline",
                   help="also save the project (open it in the editor, render it again with `render OUT.talkline`, "
                        "import a Live Link take into it)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Talkline: portrait + speech -> 3D face mesh, head pose and a talking-head video. "
                    "Run without arguments to open the editor.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    r = sub.add_parser(
        "render", help="render a talking-head video from a portrait and an audio file, or from a saved project",
        description="Render PORTRAIT speaking AUDIO to an MP4 (H.264 + AAC, the original audio), or render a saved "
                    "PROJECT.talkline headless with all its edits (frames START..END-1 with --range).",
        usage="%(prog)s (PORTRAIT AUDIO | PROJECT.talkline) -o OUT.mp4 [options]")
    r.add_argument("inputs", nargs="+", metavar="INPUT", help="PORTRAIT AUDIO, or PROJECT.talkline")
    r.add_argument("-o", "--output", help="output video, H.264 + AAC in an MP4 container (.mp4, .m4v or .mov; "
                                          "optional for a project when another output is given)")
    r.add_argument("--range", nargs=2, type=_ranged(int, 0, 10**9), metavar=("START", "END"),
                   help="project renders: the project's frames START to END-1 (0-based, counted at the project's "
                        "frame rate even with --fps; the audio follows)")
    _add_portrait_options(r, project=True)
    _add_motion_options(r, project=True)
    _add_backend_options(r)
    _add_output_options(r)
    _add_save_project(r)

    p = sub.add_parser("predict", help="predict the motion only (landmarks, mesh, pose), no video",
                       description="Predict per-frame landmarks, mesh and head pose from AUDIO for PORTRAIT.")
    p.add_argument("audio", help="speech or music file")
    p.add_argument("--portrait", required=True, help="portrait image the landmarks are projected into")
    p.add_argument("-o", "--output", required=True, help="output landmark .npz (landmarks_2d, mesh, pose, fps, image_size)")
    _add_portrait_options(p)
    _add_motion_options(p)
    _add_backend_options(p, renderer=False)
    p.add_argument("--mouth-cues", metavar="OUT.json|OUT.tsv", help="also write Rhubarb-style mouth cues")
    p.add_argument("--pose-template-out", metavar="OUT.npy", help="also write the head pose as AniPortrait pose_temp.npy")

    d = sub.add_parser("demo", help="render the demo: scikit-image's astronaut speaking an espeak-ng sentence",
                       description="Headless demo with no downloads: the astronaut portrait bundled with "
                                   "scikit-image speaks a sentence synthesized by espeak-ng (its text is the "
                                   "transcript, as in the editor's File > Open Demo).")
    d.add_argument("-o", "--output", default="out/demo.mp4", help="output MP4 (default out/demo.mp4)")
    d.add_argument("--text", help="sentence to speak (default: a built-in sentence)")
    d.add_argument("--audio", help="use this audio file instead of synthesized speech")
    d.add_argument("--side-by-side", action="store_true", help="write [reference | pose image | result] panels")
    d.add_argument("--fps", type=_ranged(float, MIN_FPS, MAX_FPS), default=30.0, help="frames per second (default 30)")
    d.add_argument("--seed", type=_ranged(int, 0, 2**32 - 1), default=0,
                   help="seed of the blinks and head motion (default 0)")

    du = sub.add_parser(
        "dub", help="lip-sync an existing video to new audio (only the lower face changes)",
        description="Re-dub VIDEO with AUDIO: the mouth, jaw and chin follow the new audio; the head motion, upper "
                    "face, identity and background stay the source's. Output at the video's resolution and frame "
                    "rate with the new audio.")
    du.add_argument("video", help="the source video (any container FFmpeg reads; rotation metadata is applied)")
    du.add_argument("audio", help="the new speech")
    du.add_argument("-o", "--output", required=True, help="output video (.mp4, .m4v or .mov)")
    du.add_argument("--fit", choices=FIT_MODES, default=DEFAULT_FIT,
                    help="when the audio is longer than the video: play the video forwards and backwards (pingpong, "
                         "the default: the shot stays alive), hold its last frame, or trim the output to the video; "
                         "a longer video is always cut to the audio")
    du.add_argument("--keep-source-audio", type=_ranged(float, 0.0, 1.0), metavar="MIX", default=0.0,
                    help="mix the source's own sound under the new audio at this gain (0-1; default 0: new audio only), "
                         "laid under the picture as it plays (backwards in a ping-pong loop, silent on a held frame)")
    du.add_argument("--face-index", type=_ranged(int, 0, 63),
                    help="which face to dub when the video shows several (0 = leftmost; default the largest)")
    _add_motion_options(du, video=True)
    _add_backend_options(du)
    du.add_argument("--landmarks", metavar="OUT.npz", help="also write the landmark sequence (.npz)")
    _add_save_project(du)

    re_ = sub.add_parser(
        "reenact", help="drive a portrait with the expressions and head motion of a video",
        description="Re-enact PORTRAIT from DRIVING_VIDEO: expression (the driver's mesh relative to its most "
                    "neutral frame) and head pose (relative to its first frame) move the portrait; the driving "
                    "video's audio is muxed (a driving video without sound gives a silent video).")
    re_.add_argument("portrait", help="portrait image")
    re_.add_argument("driving_video", help="the performance: a video of a face")
    re_.add_argument("-o", "--output", required=True, help="output video (.mp4, .m4v or .mov)")
    re_.add_argument("--driver-face-index", type=_ranged(int, 0, 63),
                     help="which face of the video drives (0 = leftmost; default the largest)")
    _add_portrait_options(re_)
    re_.add_argument("--lip-intensity", type=_ranged(float, 0, MAX_INTENSITY), default=1.0,
                     help="expression gain (default 1.0)")
    re_.add_argument("--head-intensity", type=_ranged(float, 0, MAX_INTENSITY), default=1.0,
                     help="head motion gain (default 1.0)")
    _add_backend_options(re_, a2l=False)
    re_.add_argument("--landmarks", metavar="OUT.npz", help="also write the landmark sequence (.npz)")

    ll = sub.add_parser(
        "livelink", help="Live Link Face CSV: export a project's animation, or import a take as editable keys",
        description="export: a saved project's evaluated blendshapes (ARKit names) and head rotation, one row per "
                    "frame, timecode at the project's frame rate. import: a take (e.g. captured on a phone) becomes "
                    "ordinary keys of the project from --at seconds on, relative to its predicted motion; keys "
                    "inside the take's span are replaced, others kept.")
    llsub = ll.add_subparsers(dest="livelink_command", required=True, metavar="{export,import}")
    le = llsub.add_parser("export", help="write a project's animation as a Live Link Face CSV",
                          description="Writes the evaluated blendshapes (ARKit names, 0..1) and head rotation (radians) "
                                      "of a saved project, one row per frame, timecode at the project's frame rate.")
    le.add_argument("project", metavar="PROJECT.talkline", help="a saved project (the editor's File > Save, or render/dub --save-project)")
    le.add_argument("-o", "--output", required=True, metavar="OUT.csv", help="the CSV to write")
    li = llsub.add_parser("import", help="a Live Link Face CSV becomes keys of a project",
                          description="A take (e.g. recorded with the Live Link Face app) becomes ordinary keys from "
                                      "--at on: each driven channel's result follows the take, keys inside its span "
                                      "are replaced, the rest of the clip keeps its motion. Blendshape values "
                                      "outside 0..1 are clipped (with a warning).")
    li.add_argument("project", metavar="PROJECT.talkline", help="a saved project (the editor's File > Save, or render/dub --save-project)")
    li.add_argument("take", metavar="TAKE.csv", help="the Live Link Face CSV")
    li.add_argument("--at", type=_ranged(float, 0.0, 10**6), default=0.0, metavar="SECONDS",
                    help="where the take starts on the project's timeline (default 0)")
    li.add_argument("--take-fps", type=_ranged(float, MIN_FPS, MAX_FPS), metavar="FPS",
                    help="the take's frame rate (default: read from its timecodes; give it for takes under a second)")
    li.add_argument("--no-head", action="store_true", help="import the blendshapes only, not the head rotation")
    li.add_argument("--blend", type=_ranged(float, 0.0, 10.0), metavar="SECONDS",
                    help="ease from the clip's motion into the take and back out over this long at the take's ends "
                         "where the clip goes on (default 0.2; 0: cut straight to the take)")
    li.add_argument("-o", "--output", metavar="OUT.talkline",
                    help="save the result here (default: the project itself, written atomically)")

    b = sub.add_parser("backends", help="list the Audio2Lmk backends and renderers, and whether each can run here",
                       description="Every registered Audio2Lmk backend and renderer: whether it can run on this "
                                   "machine and, if not, why (missing weights folder, no CUDA, missing package).")
    b.add_argument("--weights", metavar="DIR", help="check the backends that need weights against this folder")

    m = sub.add_parser("models", help="check a neural weights folder (AniPortrait's released layout)",
                       description="models check DIR: every expected file found or missing, each checkpoint's keys "
                                   "and shapes against its model, parameters per component. --describe builds the "
                                   "full-size architectures on the meta device and compares their parameter counts "
                                   "with the reference's.")
    msub = m.add_subparsers(dest="models_command", required=True, metavar="check")
    mc = msub.add_parser("check", help="check a weights folder")
    mc.add_argument("folder", nargs="?", metavar="DIR", help="the weights folder (optional with --describe)")
    mc.add_argument("--describe", action="store_true", help="also the full-size architectures' parameter counts")
    mc.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser


def _show_warning(message, *_args, **_kwargs) -> None:
    """One line on stderr; tqdm.write clears a progress bar drawn there first, which would else run into it."""
    from tqdm import tqdm

    tqdm.write(f"{PROG}: warning: {message}", file=sys.stderr)


def _progress_bar(total: int, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="frame", file=sys.stderr, dynamic_ncols=True, mininterval=0.5)


def _choice(registry, name: str, settings: list[str], weights: str | None, /, **fields):
    """A backend choice from its name, options named like its config's fields, --*-set KEY=VALUE pairs (they win)
    and --weights."""
    import dataclasses

    from engine.config import check_config, parse_setting
    from engine.errors import ConfigError
    from engine.plugins import Choice

    cls = registry.get(name)
    known = {f.name for f in dataclasses.fields(cls.Config)}
    values = {k: v for k, v in fields.items() if k in known}
    if weights is not None and "weights" in known:
        values["weights"] = weights
    for item in settings:
        key, sep, text = item.partition("=")
        if not sep:
            raise ConfigError(f"expected KEY=VALUE, got {item!r}")
        values[key.strip()] = parse_setting(cls.Config, key.strip(), text.strip())
    config = cls.Config(**values)
    check_config(config, f"{registry.kind} {name!r}")
    return Choice(name, config)


def _request(args, portrait, audio_path: str, transcript: str | None):
    """The CLI's options as a project request: the same pipeline the editor's New Project runs."""
    from engine.document.project import Gains
    from engine.pipeline import ProjectRequest
    from engine.plugins import A2L_BACKENDS, RENDERERS
    from engine.sources.portrait import Framing

    # Every motion option named like a field of the backend's config sets it (--seed, --accurate-phones, ...).
    a2l = _choice(A2L_BACKENDS, args.a2l, args.a2l_set, args.weights, **{**vars(args), "transcript": transcript})
    fps = getattr(args, "fps", None) or DEFAULT_FPS  # a dub has no --fps: the video's rate is used
    size = DEFAULT_SIZE if getattr(args, "size", None) is None else args.size
    framing = Framing(size, getattr(args, "full_frame", False), getattr(args, "face_index", None))
    request = ProjectRequest(portrait=portrait, audio=audio_path, fps=fps, framing=framing, a2l=a2l,
                             pose_template=getattr(args, "pose_template", None),
                             gains=Gains(lip=args.lip_intensity, head=getattr(args, "head_intensity", 1.0)))
    if hasattr(args, "renderer"):  # predict has no renderer options
        request.renderer = _choice(RENDERERS, args.renderer or "warp", args.renderer_set, args.weights)
    _check_weights_used(args.weights, request.a2l, request.renderer)
    return request


def _check_weights_used(weights: str | None, *choices) -> None:
    from engine.errors import ConfigError

    if weights is not None and not any(hasattr(c.config, "weights") for c in choices):
        raise ConfigError(f"--weights: none of the chosen backends ({', '.join(c.name for c in choices)}) "
                          "takes a weights folder")


def _run_job(job) -> list[str]:
    """Runs a render with a progress bar; the files it wrote, a PNG sequence as one line (its folder and count)."""
    with _progress_bar(job.motion.frame_count, "rendering") as bar:
        for progress in job.run():
            bar.update(progress.done - bar.n)
    pngs = [p for p in job.outputs if p.endswith(".png")]
    if not pngs:
        return job.outputs
    return [p for p in job.outputs if not p.endswith(".png")] + [f"{Path(pngs[0]).parent}: {len(pngs)} PNG frames"]


VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov")  # what the writer's MP4 container is valid under


def _check_outputs(args, output_kind: tuple[tuple[str, ...], str] = (VIDEO_SUFFIXES, "video")) -> None:
    """Every output checked before any work (extension, name length, a folder that takes a file), so a typo
    costs nothing and a render never fails at its last step."""
    from engine.errors import UsageError
    from engine.export.atomic import check_writable, same_file_as_any

    checks = {"output": output_kind, "pose_video": (VIDEO_SUFFIXES, "pose video"),
              "landmarks": ((".npz",), "landmark file"), "mouth_cues": ((".json", ".tsv"), "mouth-cue file"),
              "pose_template_out": ((".npy",), "pose template"), "save_project": ((".talkline",), "project file")}
    inputs = list(getattr(args, "inputs", None) or [])
    inputs += [getattr(args, dest) for dest in ("audio", "video", "portrait", "driving_video", "pose_template")
               if getattr(args, dest, None)]
    written: dict[str, str] = {}  # real path -> the option that writes it
    for dest, (suffixes, what) in checks.items():
        if getattr(args, dest, None):
            check_writable(getattr(args, dest), suffixes, what)
            if same_file_as_any(getattr(args, dest), inputs):
                raise UsageError(f"{getattr(args, dest)} is also an input: write the result to another file")
            _check_distinct(written, getattr(args, dest), dest)
    frames = getattr(args, "frames", None)
    if frames:
        if os.path.exists(frames) and not os.path.isdir(frames):
            raise UsageError(f"--frames {frames} is a file: the frames need a folder")
        _check_distinct(written, frames, "frames")


def _check_distinct(written: dict[str, str], path: str, dest: str) -> None:
    """Two outputs on one path: the later would silently replace the earlier."""
    flag = "-o" if dest == "output" else "--" + dest.replace("_", "-")
    real = os.path.realpath(path)
    if real in written:
        raise UsageError(f"{written[real]} and {flag} are the same file {path}: give each output its own name")
    written[real] = flag


def _render_settings(args, output: str | None):
    from engine.jobs import RenderSettings

    return RenderSettings(output=output, frames_dir=getattr(args, "frames", None), landmarks=args.landmarks,
                          pose_video=getattr(args, "pose_video", None),
                          side_by_side=getattr(args, "side_by_side", False))


def cmd_render(args) -> int:
    from engine.errors import TalklineError
    from engine.jobs import RenderJob
    from engine.pipeline import create_project

    if len(args.inputs) == 1:
        return _render_project(args)
    if len(args.inputs) != 2:
        raise TalklineError("render takes PORTRAIT AUDIO, or one PROJECT.talkline")
    if not args.output:
        raise TalklineError("render needs -o OUT.mp4")
    if args.range:
        raise TalklineError("--range applies to project renders (render PROJECT.talkline --range START END)")
    portrait, audio = args.inputs
    from engine.document.project_io import EXTENSION
    from engine.face.images import IMAGE_SUFFIXES

    if portrait.lower().endswith(EXTENSION):
        raise UsageError(f"{portrait} is a project: it renders alone (render {portrait} -o OUT.mp4); its audio is "
                         "part of it (relink it in the editor)")
    if audio.lower().endswith(IMAGE_SUFFIXES):
        raise UsageError(f"{audio} is an image: render takes the portrait first, then the audio "
                         "(render PORTRAIT AUDIO)")
    _check_outputs(args)
    project = create_project(_request(args, portrait, audio, _transcript(args.transcript)))
    for path in _run_job(RenderJob.for_project(project, _render_settings(args, args.output))):
        print(path)
    _save_project(project, args.save_project)  # after the render: a failed or cancelled one leaves the old file
    return 0


def _save_project(project, path: str | None) -> None:
    """--save-project: the project the render is made from, to refine in the editor or script (livelink)."""
    if path:
        from engine.document.project_io import save_project

        save_project(project, path)
        print(path)


def _render_project(args) -> int:
    from engine.document.project_io import load_project
    from engine.errors import TalklineError
    from engine.jobs import RenderJob
    from engine.plugins import RENDERERS

    if args.save_project:
        raise TalklineError("--save-project applies to PORTRAIT AUDIO renders: this is a saved project already")
    defaults = build_parser().parse_args(["render", "x"])
    given = [name for name in PREDICTION_OPTIONS if getattr(args, name) != getattr(defaults, name)]
    if given:
        raise TalklineError(f"--{given[0].replace('_', '-')} applies to PORTRAIT AUDIO renders: a project keeps its "
                            "own settings (change them in the editor)")
    _check_outputs(args)
    settings = _render_settings(args, args.output)
    settings.size, settings.fps = args.size, args.fps
    if not (settings.output or settings.frames_dir or settings.landmarks or settings.pose_video):
        raise TalklineError("render needs an output: -o OUT.mp4, --landmarks, --frames or --pose-video")
    project = load_project(args.inputs[0])
    if args.renderer or args.renderer_set or args.weights:
        name = args.renderer or project.renderer.name
        base = project.renderer.config if name == project.renderer.name else RENDERERS.get(name).Config()
        settings.renderer = _choice(RENDERERS, name, args.renderer_set, args.weights, **vars(base))
        _check_weights_used(args.weights, settings.renderer)
    start, stop = 0, project.frame_count
    if args.range:
        start, stop = args.range
        if not 0 <= start < stop <= project.frame_count:
            raise TalklineError(f"--range {start} {stop} must satisfy 0 <= START < END <= {project.frame_count} "
                                f"(the project's frames)")
    for path in _run_job(RenderJob.for_project(project, settings, start, stop)):
        print(path)
    return 0


def cmd_predict(args) -> int:
    from engine.export.landmarks import save_landmarks_npz
    from engine.export.pose_template import save_pose_template
    from engine.export.atomic import replacing
    from engine.jobs import landmark_arrays
    from engine.pipeline import create_project

    _check_outputs(args, ((".npz",), "landmark file"))
    project = create_project(_request(args, args.portrait, args.audio, _transcript(args.transcript)))
    ref = project.reference
    landmarks, mesh, pose = landmark_arrays(project)
    save_landmarks_npz(args.output, landmarks, mesh, pose, project.fps, (ref.width, ref.height))
    print(args.output)
    if args.mouth_cues:
        from engine.a2l.mouth_cues import mouth_cues_json, mouth_cues_tsv

        base = project.base
        duration = project.audio.duration
        lead = getattr(project.a2l.config, "lead_ms", 0.0) / 1000.0  # the cues show the mouth as animated
        text = (mouth_cues_tsv(base, duration, lead) if args.mouth_cues.lower().endswith(".tsv")
                else mouth_cues_json(base, args.audio, duration, lead))
        with replacing(args.mouth_cues) as tmp:
            Path(tmp).write_text(text, encoding="utf-8")
        print(args.mouth_cues)
    if args.pose_template_out:
        save_pose_template(args.pose_template_out, pose, project.fps)
        print(args.pose_template_out)
    return 0


def cmd_demo(args) -> int:
    from engine.demo import create_demo_project, demo_request
    from engine.jobs import RenderJob, RenderSettings

    _check_outputs(args)
    out = Path(args.output)
    with tempfile.TemporaryDirectory() as tmp:
        request = demo_request(tmp, args.text, audio=args.audio, fps=args.fps, seed=args.seed)
        project = create_demo_project(request)
        settings = RenderSettings(output=str(out), side_by_side=args.side_by_side)
        for path in _run_job(RenderJob.for_project(project, settings)):
            print(path)
    return 0


def cmd_dub(args) -> int:
    from engine.jobs import RenderJob
    from engine.pipeline import create_project
    from engine.sources.portrait import Framing

    _check_outputs(args)
    request = _request(args, None, args.audio, _transcript(args.transcript))
    request.video, request.fit = args.video, args.fit
    request.framing = Framing(face_index=args.face_index)
    project = create_project(request)
    job = RenderJob.for_project(project, _render_settings(args, args.output))
    if args.keep_source_audio > 0:
        bed = project.source.kept_sound()
        if bed is None:
            warnings.warn(f"{args.video} has no usable sound to keep: the new audio alone is used")
        job.audio = _mixed(project.audio, bed, args.keep_source_audio)
    for path in _run_job(job):
        print(path)
    _save_project(project, args.save_project)  # after the render: a failed or cancelled one leaves the old file
    return 0


def _mixed(speech, bed, gain: float):
    """The new speech with `bed` (an AudioClip, or None: the speech alone) under it at `gain`, at the higher of
    the two sample rates (a 16 kHz voice-over kept a 48 kHz bed at 16 kHz)."""
    import numpy as np

    from engine.audio.decode import AudioClip, resample

    if bed is None:
        return speech
    rate = max(speech.rate, bed.rate)

    def at_rate(clip):
        return np.stack([resample(clip.samples[:, c], clip.rate, rate) for c in range(clip.channels)], axis=1)

    mix, samples = at_rate(speech), at_rate(bed)
    channels = mix.shape[1]
    samples = samples.mean(axis=1, keepdims=True).repeat(channels, 1) if samples.shape[1] != channels else samples
    n = min(len(mix), len(samples))
    mix[:n] += gain * samples[:n]
    peak = float(np.abs(mix).max(initial=0.0))
    return AudioClip(samples=(mix / peak if peak > 1.0 else mix).astype(np.float32), rate=rate,
                     source=speech.source)


def cmd_reenact(args) -> int:
    from engine.a2l.performance import PerformanceConfig
    from engine.document.project import Gains
    from engine.jobs import RenderJob
    from engine.media.video_read import probe_video
    from engine.pipeline import ProjectRequest, create_project
    from engine.plugins import RENDERERS, Choice
    from engine.sources.portrait import Framing

    _check_outputs(args)
    info = probe_video(args.driving_video)
    if info.still:
        raise UsageError(f"{args.driving_video} is a still image, not a video: reenact needs a filmed performance "
                         "(to animate a portrait from speech, use `render PORTRAIT AUDIO`)")
    if not info.has_audio:
        warnings.warn(f"{args.driving_video} has no sound track: the video is silent")
    request = ProjectRequest(
        portrait=args.portrait, audio=args.driving_video, fps=info.fps,
        framing=Framing(DEFAULT_SIZE if args.size is None else args.size, args.full_frame, args.face_index),
        a2l=Choice("performance", PerformanceConfig(video=args.driving_video, face_index=args.driver_face_index)),
        renderer=_choice(RENDERERS, args.renderer or "warp", args.renderer_set, args.weights),
        gains=Gains(lip=args.lip_intensity, head=args.head_intensity))
    project = create_project(request)
    for path in _run_job(RenderJob.for_project(project, _render_settings(args, args.output))):
        print(path)
    return 0


def cmd_models(args) -> int:
    from engine.neural.models import models_check

    text, ok = models_check(args.folder, describe=args.describe, as_json=args.json)
    print(text)
    return 0 if ok else 1


def cmd_livelink(args) -> int:
    import numpy as np

    from engine.document.interchange import export_livelink, import_livelink
    from engine.document.project_io import load_project, save_project
    from engine.errors import ConfigError
    from engine.export.livelink import read_livelink_csv

    from engine.export.atomic import check_writable

    check_writable(args.output or args.project, (".csv",) if args.livelink_command == "export" else (".talkline",),
                   "Live Link CSV" if args.livelink_command == "export" else "project file")
    project = load_project(args.project)
    if args.livelink_command == "export":
        frames = export_livelink(project, args.output)
        print(f"{args.output}: {frames} frames at {project.fps:g} fps")
        return 0
    try:
        take = read_livelink_csv(args.take, args.take_fps)  # by default the rate its timecodes show
    except OSError as exc:
        raise ConfigError(f"{args.take}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if args.at >= project.duration:
        raise ConfigError(f"--at {args.at:g} s is past the project's end ({project.duration:.2f} s)")
    blend = {} if args.blend is None else {"blend": args.blend}
    curves = import_livelink(project, take, start=args.at, head=not args.no_head, **blend)
    fits = int(np.count_nonzero(args.at + take.times <= project.duration + 1e-9))
    if fits < len(take.times):
        warnings.warn(f"the take runs past the project's end: {fits} of its {len(take.times)} frames imported")
    project.set_channels(curves)
    output = args.output or args.project
    save_project(project, output)
    print(f"{output}: {fits} frames of {Path(args.take).name} ({take.fps:g} fps) from {args.at:g} s "
          f"into {len(curves)} channels")
    return 0


def cmd_backends(args) -> int:
    from engine.plugins import A2L_BACKENDS, RENDERERS

    for registry in (A2L_BACKENDS, RENDERERS):
        print(f"{registry.kind}s:")
        for name in registry.names():
            try:
                cls = registry.get(name)
                config = cls.Config(weights=args.weights) if args.weights and "weights" in vars(cls.Config()) \
                    else cls.Config()
                title = cls.title
            except Exception as exc:  # noqa: BLE001  (a broken plug-in is listed with its reason)
                print(f"  {name:<12} not available: {exc}")
                continue
            ok, reason = registry.availability(name, config)
            # availability looks at the weights folder's files; their contents are what `models check` reads
            checked = " (its weights' files are there: `models check DIR` reads their contents)" \
                if ok and cls.capabilities.needs_weights else ""
            print(f"  {name:<12} {'available' + checked if ok else 'not available: ' + reason}  ({title})")
    return 0


def _interrupt(signum, _frame):
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or (len(argv) == 1 and argv[0].endswith(".talkline")):
        from editor.app import run_editor

        return run_editor(argv)
    args = build_parser().parse_args(argv)
    if args.command is None:
        build_parser().print_help()
        return 0
    from engine.errors import TalklineError

    warnings.showwarning = _show_warning
    if getattr(args, "size", None) and args.size % 2:  # (a 333 px render came out 332 px without a word)
        warnings.warn(f"--size {args.size}: rendered {args.size - 1} px (H.264 needs even sides)")
    # Termination and hang-up unwind like Ctrl+C: writers abort, so no partial output is left behind.
    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    commands = {"render": cmd_render, "predict": cmd_predict, "demo": cmd_demo, "dub": cmd_dub, "reenact": cmd_reenact,
                "backends": cmd_backends, "models": cmd_models, "livelink": cmd_livelink}
    try:
        return commands[args.command](args)
    except TalklineError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        print(f"{PROG}: {'interrupted' if not exc.args else 'stopped by ' + exc.args[0]}", file=sys.stderr)
        # the shell's code for a process ended by that signal: 128 + its number (SIGTERM 143; Ctrl+C 130)
        return 128 + (signal.Signals[exc.args[0]].value if exc.args else signal.SIGINT.value)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


if __name__ == "__main__":
    sys.exit(main())
