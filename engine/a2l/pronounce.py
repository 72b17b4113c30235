"""Pronunciations (ARPAbet) for words missing from the CMU dictionary: espeak-ng's IPA when espeak-ng
is installed, otherwise simple English letter-to-sound rules (rough, but every word gets phones)."""
from __future__ import annotations

import functools
import shutil
import subprocess

# IPA (as espeak-ng writes it for en-us) -> ARPAbet; longest symbols are matched first.
IPA_TO_ARPABET = {
    "aɪ": "AY", "aʊ": "AW", "eɪ": "EY", "oʊ": "OW", "ɔɪ": "OY", "tʃ": "CH", "dʒ": "JH", "ɜː": "ER", "ɚ": "ER",
    "ɝ": "ER", "iː": "IY", "uː": "UW", "ɑː": "AA", "ɔː": "AO", "ɑ": "AA", "æ": "AE", "ʌ": "AH", "ə": "AH",
    "ɐ": "AH", "ɔ": "AO", "ɛ": "EH", "e": "EH", "ɪ": "IH", "ᵻ": "IH", "i": "IY", "ʊ": "UH", "u": "UW", "o": "OW",
    "a": "AA", "b": "B", "d": "D", "ð": "DH", "f": "F", "ɡ": "G", "g": "G", "h": "HH", "j": "Y", "k": "K",
    "l": "L", "m": "M", "n": "N", "ŋ": "NG", "p": "P", "ɹ": "R", "r": "R", "s": "S", "ʃ": "SH", "t": "T",
    "ɾ": "D", "θ": "TH", "v": "V", "w": "W", "z": "Z", "ʒ": "ZH", "x": "HH", "ʔ": "T",
}
# Letter-to-sound fallback: digraphs first, then single letters.
LETTERS_TO_ARPABET = {
    "tch": ["CH"], "sh": ["SH"], "ch": ["CH"], "th": ["TH"], "ph": ["F"], "ng": ["NG"], "ck": ["K"],
    "qu": ["K", "W"], "wh": ["W"], "ee": ["IY"], "ea": ["IY"], "oo": ["UW"], "ou": ["AW"], "ow": ["OW"],
    "ai": ["EY"], "ay": ["EY"], "oa": ["OW"], "oi": ["OY"], "oy": ["OY"], "au": ["AO"], "aw": ["AO"],
    "a": ["AE"], "b": ["B"], "c": ["K"], "d": ["D"], "e": ["EH"], "f": ["F"], "g": ["G"], "h": ["HH"],
    "i": ["IH"], "j": ["JH"], "k": ["K"], "l": ["L"], "m": ["M"], "n": ["N"], "o": ["AA"], "p": ["P"],
    "q": ["K"], "r": ["R"], "s": ["S"], "t": ["T"], "u": ["AH"], "v": ["V"], "w": ["W"], "x": ["K", "S"],
    "y": ["IY"], "z": ["Z"], "0": ["Z", "IH", "R", "OW"], "1": ["W", "AH", "N"], "2": ["T", "UW"],
    "3": ["TH", "R", "IY"], "4": ["F", "AO", "R"], "5": ["F", "AY", "V"], "6": ["S", "IH", "K", "S"],
    "7": ["S", "EH", "V", "AH", "N"], "8": ["EY", "T"], "9": ["N", "AY", "N"],
}


def _greedy(text: str, table: dict) -> list[str]:
    keys = sorted(table, key=len, reverse=True)
    out, i = [], 0
    while i < len(text):
        for key in keys:
            if text.startswith(key, i):
                value = table[key]
                out += value if isinstance(value, list) else [value]
                i += len(key)
                break
        else:
            i += 1  # stress marks, length marks, syllable dots, unknown symbols
    return out


def letter_to_sound(word: str) -> list[str]:
    word = word.lower()
    if len(word) > 2 and word.endswith("e") and word[-2] not in "aeiou":
        word = word[:-1]  # silent final e
    return _greedy(word, LETTERS_TO_ARPABET) or ["AH"]


@functools.lru_cache(maxsize=4096)
def espeak_phones(word: str) -> tuple[str, ...] | None:
    exe = shutil.which("espeak-ng")
    if exe is None:
        return None
    try:
        done = subprocess.run([exe, "-q", "--ipa", "-v", "en-us", word], capture_output=True, timeout=10,
                              check=True)
    except (subprocess.SubprocessError, OSError):
        return None
    phones = _greedy(done.stdout.decode("utf-8", errors="replace").strip(), IPA_TO_ARPABET)
    return tuple(phones) or None


def pronounce(word: str) -> list[str]:
    """ARPAbet phones of an out-of-dictionary word."""
    return list(espeak_phones(word) or letter_to_sound(word))
