"""Talkline: a portrait and a speech or music track become a talking-head video.

No arguments open the editor; sub-commands run headless jobs on the same engine.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import warnings
from pathlib import Path

PROG = "talkline"


def _transcript(value: str | None) -> str | None:
    if value is None:
        return None
    path = Path(value)
    if path.is_file():
        return path.read_text(encoding="utf-8").strip()
    return value


def _add_motion_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--fps", type=float, default=30.0, help="frame rate of the animation (default 30; 24 and 25 work)")
    p.add_argument("--seed", type=int, default=0, help="seed of head motion and blinks (default 0)")
    p.add_argument("--transcript", metavar="TEXT|FILE",
                   help="what is said (text or a text file): forced alignment gives much more accurate lip sync")
    p.add_argument("--accurate-phones", action="store_true",
                   help="without a transcript, recognise words over the whole English dictionary and align their "
                        "phones (finer phone timing and rare words, e.g. for mouth cues; ~2.5x slower, same lip sync "
                        "on the benchmark as the default common-words recognition)")
    p.add_argument("--lip-intensity", type=float, default=1.0, help="mouth motion gain (default 1.0)")
    p.add_argument("--head-intensity", type=float, default=1.0, help="head motion gain (default 1.0; 0 = still head)")
    p.add_argument("--pose-template", metavar="NPY",
                   help="drive the head with an AniPortrait pose_temp.npy (N x 6 at 30 fps, looped ping-pong)")


def _add_portrait_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--size", type=int, default=512, help="output size in px: square face crop side (default 512)")
    p.add_argument("--full-frame", action="store_true",
                   help="keep the whole portrait instead of a square face crop (longer side = --size)")
    p.add_argument("--face-index", type=int, help="which face to animate when the portrait has several (0 = leftmost)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Talkline: portrait + speech -> 3D face mesh, head pose and a talking-head video. "
                    "Run without arguments to open the editor.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    r = sub.add_parser("render", help="render a talking-head video from a portrait and an audio file",
                       description="Render PORTRAIT speaking AUDIO to an MP4 (H.264 + AAC, the original audio).")
    r.add_argument("portrait", help="portrait image (PNG, JPEG, ...)")
    r.add_argument("audio", help="speech or music: WAV, FLAC, MP3, M4A, OGG, or the audio of a video file")
    r.add_argument("-o", "--output", required=True, help="output MP4")
    _add_portrait_options(r)
    _add_motion_options(r)
    r.add_argument("--landmarks", metavar="OUT.npz", help="also write the landmark sequence (.npz)")
    r.add_argument("--pose-video", metavar="OUT.mp4", help="also write the pose-image video")
    r.add_argument("--frames", metavar="DIR", help="also write a PNG sequence (+ audio.wav) into DIR")
    r.add_argument("--side-by-side", action="store_true",
                   help="write [reference | pose image | result] panels like the reference implementation")

    p = sub.add_parser("predict", help="predict the motion only (landmarks, mesh, pose), no video",
                       description="Predict per-frame landmarks, mesh and head pose from AUDIO for PORTRAIT.")
    p.add_argument("audio", help="speech or music file")
    p.add_argument("--portrait", required=True, help="portrait image the landmarks are projected into")
    p.add_argument("-o", "--output", required=True, help="output landmark .npz (landmarks_2d, mesh, pose, fps, image_size)")
    _add_portrait_options(p)
    _add_motion_options(p)
    p.add_argument("--mouth-cues", metavar="OUT.json|OUT.tsv", help="also write Rhubarb-style mouth cues")
    p.add_argument("--pose-template-out", metavar="OUT.npy", help="also write the head pose as AniPortrait pose_temp.npy")

    d = sub.add_parser("demo", help="render the demo: scikit-image's astronaut speaking an espeak-ng sentence",
                       description="Headless demo with no downloads: the astronaut portrait bundled with "
                                   "scikit-image speaks a sentence synthesized by espeak-ng.")
    d.add_argument("-o", "--output", default="out/demo.mp4", help="output MP4 (default out/demo.mp4)")
    d.add_argument("--text", help="sentence to speak (default: a built-in sentence)")
    d.add_argument("--audio", help="use this audio file instead of synthesized speech")
    d.add_argument("--side-by-side", action="store_true", help="write [reference | pose image | result] panels")
    d.add_argument("--fps", type=float, default=30.0)
    d.add_argument("--seed", type=int, default=0)
    return parser


def _progress_bar(total: int, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="frame", file=sys.stderr, dynamic_ncols=True, mininterval=0.5)


def _predict(args, portrait, audio_path: str, transcript: str | None):
    """Portrait + audio -> (reference, audio clip, base layer, motion): the same document the editor edits."""
    from engine.a2l.embedded import A2LSettings, predict_embedded
    from engine.audio.decode import load_audio
    from engine.document.project import Project, Sources
    from engine.face.reference import analyze_portrait

    reference = analyze_portrait(portrait, size=args.size, crop=not args.full_frame,
                                 face_index=args.face_index)
    audio = load_audio(audio_path)
    settings = A2LSettings(seed=args.seed, transcript=transcript, accurate_phones=args.accurate_phones,
                           lip_intensity=args.lip_intensity,
                           head_intensity=args.head_intensity)
    base = predict_embedded(audio, fps=args.fps, settings=settings)
    if args.pose_template:
        from engine.export.pose_template import load_pose_template

        base.pose = load_pose_template(args.pose_template, base.frame_count, args.fps)
    portrait_name = portrait if isinstance(portrait, str) else "<built-in portrait>"
    project = Project(Sources(portrait_name, str(audio_path), transcript), args.fps, reference, audio, base,
                      a2l_settings=settings)
    return reference, audio, base, project.evaluate_motion()


def _render(reference, audio, motion, settings) -> list[str]:
    from engine.jobs import RenderJob

    job = RenderJob(reference, motion, audio, settings)
    with _progress_bar(motion.frame_count, "rendering") as bar:
        for progress in job.run():
            bar.update(progress.done - bar.n)
    return job.outputs


def cmd_render(args) -> int:
    from engine.jobs import RenderSettings

    reference, audio, _, motion = _predict(args, args.portrait, args.audio, _transcript(args.transcript))
    settings = RenderSettings(output=args.output, frames_dir=args.frames, landmarks=args.landmarks,
                              pose_video=args.pose_video, side_by_side=args.side_by_side)
    for path in _render(reference, audio, motion, settings):
        print(path)
    return 0


def cmd_predict(args) -> int:
    from engine.export.landmarks import save_landmarks_npz
    from engine.export.pose_template import save_pose_template

    reference, audio, base, motion = _predict(args, args.portrait, args.audio, _transcript(args.transcript))
    landmarks = motion.landmarks_px(reference.transform, reference.width, reference.height)
    save_landmarks_npz(args.output, landmarks, motion.mesh, motion.pose, motion.fps, (reference.width, reference.height))
    print(args.output)
    if args.mouth_cues:
        from engine.a2l.mouth_cues import mouth_cues_json, mouth_cues_tsv

        text = mouth_cues_tsv(base) if args.mouth_cues.lower().endswith(".tsv") else mouth_cues_json(base, args.audio)
        Path(args.mouth_cues).write_text(text, encoding="utf-8")
        print(args.mouth_cues)
    if args.pose_template_out:
        save_pose_template(args.pose_template_out, motion.pose, motion.fps)
        print(args.pose_template_out)
    return 0


def cmd_demo(args) -> int:
    from skimage.data import astronaut

    from engine.jobs import RenderSettings
    from engine.speech_synth import DEMO_SENTENCE, synthesize_speech

    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        text = args.text or DEMO_SENTENCE
        audio_path = args.audio or str(synthesize_speech(text, Path(tmp) / "speech.wav"))
        args.size, args.full_frame, args.face_index = 512, False, None
        args.lip_intensity = args.head_intensity = 1.0
        args.accurate_phones = False
        args.pose_template = None
        reference, audio, _, motion = _predict(args, astronaut(), audio_path, None if args.audio else text)
        settings = RenderSettings(output=str(out), side_by_side=args.side_by_side)
        for path in _render(reference, audio, motion, settings):
            print(path)
    return 0


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

    warnings.showwarning = lambda message, *a, **k: print(f"{PROG}: warning: {message}", file=sys.stderr)
    try:
        return {"render": cmd_render, "predict": cmd_predict, "demo": cmd_demo}[args.command](args)
    except TalklineError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
