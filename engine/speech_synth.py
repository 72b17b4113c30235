"""Speech synthesis with espeak-ng (the demo's default voice track)."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from engine.errors import TalklineError

DEMO_SENTENCE = ("Hello! I am a talking portrait made with Talkline. "
                 "Bob bought a big map, and we will visit the moon in June.")


def synthesize_speech(text: str, out_wav: str | Path, *, voice: str = "en-us", words_per_minute: int = 150) -> Path:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise TalklineError("espeak-ng is not installed: run scripts/setup.sh, or pass your own audio file")
    out_wav = Path(out_wav)
    try:
        subprocess.run([exe, "-v", voice, "-s", str(words_per_minute), "-w", str(out_wav), text],
                       check=True, capture_output=True, timeout=120)
    except subprocess.CalledProcessError as exc:
        raise TalklineError(f"espeak-ng failed: {exc.stderr.decode(errors='replace').strip()}") from None
    return out_wav
