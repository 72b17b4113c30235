"""Writes resources/a2l/common_words.dict: the most frequent English words (by the unigram probability of
pocketsphinx's shipped en-us language model) with their CMUdict pronunciations (the file pocketsphinx ships,
BSD-licensed). The embedded Audio2Lmk recognises words from this vocabulary (engine.a2l.phonemes).

    .venv/bin/python scripts/make_common_words.py [--size N] [--out PATH]
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.a2l.phonemes import COMMON_WORDS, VOCABULARY_SIZE  # noqa: E402


def common_words(size: int) -> str:
    import pocketsphinx as ps

    root = os.path.join(ps.get_model_path(), "en-us")
    lm = ps.NGramModel.readfile(os.path.join(root, "en-us.lm.bin"))
    variants: dict[str, list[str]] = {}
    with open(os.path.join(root, "cmudict-en-us.dict"), encoding="utf-8") as f:
        for line in f:
            if line.strip():
                variants.setdefault(line.split()[0].split("(")[0], []).append(line)
    ranked = sorted(variants, key=lambda w: (-lm.prob([w]), w))[:size]
    return "".join(line for w in sorted(ranked) for line in variants[w])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=VOCABULARY_SIZE, help="number of words (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=COMMON_WORDS, help="output file (default: %(default)s)")
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(common_words(args.size), encoding="utf-8")
    print(f"wrote {args.size} words to {args.out}")


if __name__ == "__main__":
    main()
