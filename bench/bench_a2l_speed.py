"""Speed of the whole embedded Audio2Lmk pipeline (predict_embedded) against the audio's duration,
measured in one run on one core: a long input made by repeating all the speech clips of ../shared/media
(several speakers, clean and noisy, English and other languages) one after the other.

    .venv/bin/python bench/bench_a2l_speed.py [minutes] [--accurate] [--pauses S] [--language CODE]

--accurate: the accurate_phones setting; --pauses S: S seconds of room tone (-50 dBFS) after each clip, as in an
interview or a dub with gaps (recognition skips pauses of a second or more); --language CODE: the same audio
predicted as speech in that language without a transcript (phones recognised as IPA by hama instead of
pocketsphinx's English words).
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from engine.a2l.embedded import EmbeddedConfig, predict_embedded  # noqa: E402
from engine.audio.decode import AudioClip, load_audio  # noqa: E402

SPEECH = sorted((Path(__file__).resolve().parents[1].parent / "shared" / "media" / "speech").glob("*.*"))


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--accurate"]
    pauses, language = 0.0, "en"
    if "--pauses" in args:
        at = args.index("--pauses")
        pauses = float(args[at + 1])
        del args[at:at + 2]
    if "--language" in args:
        at = args.index("--language")
        if at + 1 == len(args):
            sys.exit("--language needs a language code, e.g. --language de")
        language = args[at + 1]
        del args[at:at + 2]
    minutes = float(args[0]) if args else 3.0
    settings = EmbeddedConfig(accurate_phones="--accurate" in sys.argv[1:], language=language)
    room = np.random.default_rng(0).normal(0.0, 10 ** (-50 / 20), int(pauses * 16000)).astype(np.float32)
    speech = np.concatenate([part for path in SPEECH for part in (load_audio(path, analysed=False).mono16k, room)])
    reps = int(np.ceil(minutes * 60 * 16000 / len(speech)))
    mono = np.tile(speech, reps)[: int(minutes * 60 * 16000)]
    clip = AudioClip(samples=mono[:, None], rate=16000, source="tiled")
    t0 = time.perf_counter()
    base = predict_embedded(clip, 30.0, settings)
    elapsed = time.perf_counter() - t0
    print(f"{clip.duration:.0f} s of audio -> {base.frame_count} frames in {elapsed:.1f} s: "
          f"{clip.duration / elapsed:.1f}x real time (target >= 20x)"
          + (" [accurate_phones]" if settings.accurate_phones else "") + (f" [{pauses:g} s pauses]" if pauses else "")
          + (f" [language {language}]" if language != "en" else ""))


if __name__ == "__main__":
    main()
