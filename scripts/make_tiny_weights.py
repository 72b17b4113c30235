"""Writes a complete AniPortrait weights folder (released layout) with tiny random models.

    .venv/bin/python scripts/make_tiny_weights.py DIR [--seed N]

Same file names and key names as the released checkpoints, configs in the folder, every dimension tiny (64 x 64
frames), so the whole neural path runs on a CPU in seconds: `talkline models check DIR` accepts it and
`talkline render PORTRAIT AUDIO --a2l aniportrait --renderer aniportrait --weights DIR` renders (noise: the
weights are random). About 16 MB.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", metavar="DIR")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    from engine.neural.tiny import write_tiny_weights

    print(write_tiny_weights(args.folder, args.seed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
