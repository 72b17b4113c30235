"""Phones -> visemes -> mouth control targets.

The viseme set is the 15-viseme set of the Oculus/Meta lip-sync SDK (sil, PP, FF, TH, DD, kk, CH, SS, nn, RR,
aa, E, I, O, U). ARPAbet phone -> viseme table:

    sil  SIL (and noise)        PP  P B M           FF  F V          TH  TH DH
    DD   T D                    kk  K G NG HH       CH  CH JH SH ZH  SS  S Z
    nn   N L                    RR  R ER            aa  AA AE
    E    EH AH                  I   IH IY Y         O   AO           U   UW UH W

Diphthongs show two visemes, their onset's and their offglide's (AY aa+I, AW aa+U, EY E+I, OW O+U, OY O+I).

Each viseme has a target pose of the mouth controls (ARKit names; symmetric pairs are written once
without Left/Right), an openness (the jawOpen target), and a dominance used by coarticulation
(consonants made with the lips dominate their neighbours; vowels and tongue consonants yield).
"""
from __future__ import annotations

import unicodedata

import numpy as np

from engine.a2l.base_layer import Segment

VISEMES = ("sil", "PP", "FF", "TH", "DD", "kk", "CH", "SS", "nn", "RR", "aa", "E", "I", "O", "U")

PHONE_TO_VISEME = {
    "SIL": "sil",
    "P": "PP", "B": "PP", "M": "PP",
    "F": "FF", "V": "FF",
    "TH": "TH", "DH": "TH",
    "T": "DD", "D": "DD",
    "K": "kk", "G": "kk", "NG": "kk", "HH": "kk",
    "CH": "CH", "JH": "CH", "SH": "CH", "ZH": "CH",
    "S": "SS", "Z": "SS",
    "N": "nn", "L": "nn",
    "R": "RR", "ER": "RR",
    # AH: pocketsphinx's phones carry no stress and CMUdict writes the reduced schwa (the most frequent vowel
    # of running speech: "a", "the", "of", unstressed syllables) and the strut vowel alike as AH: a mid
    # central vowel, so the mid viseme, as the IPA path maps "ə" (was "aa": every schwa opened wide).
    "AA": "aa", "AE": "aa", "AH": "E", "AY": "aa", "AW": "aa",
    "EH": "E", "EY": "E",
    "IH": "I", "IY": "I", "Y": "I",
    "AO": "O", "OW": "O", "OY": "O",
    "UW": "U", "UH": "U", "W": "U",
}

# Mouth controls the embedded backend animates from visemes (pairs expand to Left/Right).
PAIRED = ("mouthSmile", "mouthStretch", "mouthPress", "mouthUpperUp", "mouthLowerDown")
SINGLE = ("jawOpen", "mouthClose", "mouthFunnel", "mouthPucker", "mouthRollLower", "mouthRollUpper")

# viseme: (openness = jawOpen, other control targets, dominance)
VISEME_SHAPES: dict[str, tuple[float, dict[str, float], float]] = {
    "sil": (0.0, {}, 0.6),
    "PP": (0.0, {"mouthPress": 0.35, "mouthClose": 0.0}, 6.0),
    "FF": (0.08, {"mouthRollLower": 0.55, "mouthUpperUp": 0.2}, 3.0),
    "TH": (0.16, {"mouthLowerDown": 0.15}, 1.2),
    "DD": (0.18, {"mouthLowerDown": 0.15, "mouthStretch": 0.1}, 0.8),
    "kk": (0.22, {"mouthLowerDown": 0.1}, 0.5),
    "CH": (0.12, {"mouthFunnel": 0.45, "mouthUpperUp": 0.25, "mouthLowerDown": 0.2}, 2.0),
    "SS": (0.08, {"mouthStretch": 0.3, "mouthSmile": 0.15, "mouthUpperUp": 0.15, "mouthLowerDown": 0.15}, 1.5),
    "nn": (0.16, {"mouthLowerDown": 0.1}, 0.6),
    "RR": (0.2, {"mouthFunnel": 0.25, "mouthPucker": 0.2}, 1.2),
    "aa": (0.7, {"mouthLowerDown": 0.3, "mouthUpperUp": 0.1}, 1.0),
    "E": (0.42, {"mouthStretch": 0.3, "mouthSmile": 0.15, "mouthLowerDown": 0.25, "mouthUpperUp": 0.15}, 1.0),
    "I": (0.22, {"mouthStretch": 0.35, "mouthSmile": 0.25, "mouthUpperUp": 0.15}, 1.0),
    "O": (0.5, {"mouthFunnel": 0.55, "mouthPucker": 0.2}, 1.2),
    "U": (0.2, {"mouthPucker": 0.75, "mouthFunnel": 0.3}, 1.5),
}

# Rhubarb Lip Sync mouth shapes (A-H, X) for export: A=MBP, B=most consonants, C=EH/AE, D=AA, E=AO/ER,
# F=UW/OW/W, G=F/V, H=L, X=rest.
VISEME_TO_RHUBARB = {
    "sil": "X", "PP": "A", "FF": "G", "TH": "B", "DD": "B", "kk": "B", "CH": "B", "SS": "B", "nn": "B",
    "RR": "E", "aa": "D", "E": "C", "I": "B", "O": "E", "U": "F",
}


def mouth_controls() -> tuple[str, ...]:
    return SINGLE + tuple(f"{name}{side}" for name in PAIRED for side in ("Left", "Right"))


# IPA symbols (espeak-ng's phoneme events for any language, and the acoustic path's neutral labels) ->
# visemes, by the phone's leading symbol (length marks, tones, stress and secondary articulations follow it).
# "C" is the acoustic path's consonant / narrowing label, "ə" its central vowel.
IPA_TO_VISEME = {
    "p": "PP", "b": "PP", "m": "PP", "ɓ": "PP", "ʙ": "PP", "ɗ": "DD", "ɸ": "FF", "β": "FF", "f": "FF", "v": "FF", "ʋ": "FF", "ɱ": "FF",
    "θ": "TH", "ð": "TH", "t": "DD", "d": "DD", "ʈ": "DD", "ɖ": "DD", "ɾ": "DD", "ɽ": "DD",
    "k": "kk", "g": "kk", "ɡ": "kk", "ŋ": "kk", "q": "kk", "ɢ": "kk", "x": "kk", "ɣ": "kk", "χ": "kk", "ʁ": "RR",
    "h": "kk", "ɦ": "kk", "ʔ": "kk", "ħ": "kk", "ʕ": "kk", "ɰ": "kk",
    "ʃ": "CH", "ʒ": "CH", "ɕ": "CH", "ʑ": "CH", "ʂ": "CH", "ʐ": "CH", "c": "CH", "ɟ": "CH", "ç": "CH", "ʝ": "CH",
    "s": "SS", "z": "SS", "n": "nn", "ɲ": "nn", "ɳ": "nn", "l": "nn", "ɫ": "nn", "ʎ": "nn", "ɭ": "nn", "ɬ": "nn",
    "ɮ": "nn", "ɺ": "nn", "ɴ": "nn", "r": "RR", "ɹ": "RR", "ɻ": "RR", "ʀ": "RR", "ɚ": "RR", "ɝ": "RR", "ɜ": "RR",
    "a": "aa", "ɑ": "aa", "ɐ": "aa", "æ": "aa", "ʌ": "aa", "ɒ": "O", "ɶ": "aa",
    "e": "E", "ɛ": "E", "ø": "O", "œ": "O", "ə": "E", "ɘ": "E", "ɵ": "O", "ɤ": "E",
    "i": "I", "ɪ": "I", "ɨ": "I", "y": "U", "ʏ": "U", "j": "I", "ɯ": "I", "ᵻ": "I",
    "o": "O", "ɔ": "O", "u": "U", "ʊ": "U", "ʉ": "U", "w": "U", "ɥ": "U",
    "C": "nn", "SIL": "sil",
}


# Diphthongs glide from one vowel to another ("ride": AA -> IH): the onset's viseme over the first half of
# the phone, the offglide's over the second; coarticulation smooths the step into a glide. (Shown as its
# onset alone, "now" stayed wide open where the lips round.) IPA phones with two vowel symbols ("aɪ", "oʊ")
# or a glide and a vowel ("ja", "aj") split the same way.
DIPHTHONGS = {"AY": ("aa", "I"), "AW": ("aa", "U"), "EY": ("E", "I"), "OW": ("O", "U"), "OY": ("O", "I")}
VOWEL_VISEMES = ("aa", "E", "I", "O", "U")
IPA_GLIDES = ("j", "w", "ɥ")  # semivowels: the lips of "i" / "u" / "y" gliding into or out of a vowel


def _ipa_symbols(phone: str) -> str:
    """The phone's symbols with diacritics apart: espeak-ng writes some vowels precomposed (Japanese "ä")."""
    return unicodedata.normalize("NFD", phone)


def visemes_of(phone: str) -> tuple[str, ...]:
    """The visemes a phone shows, in order: two for a diphthong or a glide with its vowel, else its one viseme."""
    if phone in DIPHTHONGS:
        return DIPHTHONGS[phone]
    if phone not in PHONE_TO_VISEME and len(phone) > 1:
        symbols = [ch for ch in _ipa_symbols(phone)
                   if ch in IPA_GLIDES or IPA_TO_VISEME.get(ch) in VOWEL_VISEMES]
        if len(symbols) >= 2 and not set(symbols[:2]) <= set(IPA_GLIDES):
            first, second = IPA_TO_VISEME[symbols[0]], IPA_TO_VISEME[symbols[1]]
            if first != second:
                return first, second
    return (viseme_of(phone),)


def diphthong_middle(start: float, end: float) -> float:
    """Where a diphthong's offglide takes over from its onset."""
    return 0.5 * (start + end)


def viseme_spans(phones: list[Segment], min_part_s: float = 0.0) -> list[Segment]:
    """The phone track as viseme-labelled spans, each diphthong split at its middle; one whose halves would be
    shorter than `min_part_s` shows its onset throughout (a lane or a mouth cue shorter than the hold would be
    absorbed by its neighbour, and a short "mine" would lose its open vowel)."""
    out: list[Segment] = []
    for p in phones:
        parts = visemes_of(p.label)
        middle = diphthong_middle(p.start, p.end)
        if len(parts) == 1 or middle - p.start < min_part_s:
            out.append(Segment(p.start, p.end, parts[0]))
        else:
            out += [Segment(p.start, middle, parts[0]), Segment(middle, p.end, parts[1])]
    return out


def viseme_of(phone: str) -> str:
    """The viseme of an ARPAbet phone, else of an IPA phone (by its leading symbol), else silence."""
    if phone in PHONE_TO_VISEME:
        return PHONE_TO_VISEME[phone]
    if phone in IPA_TO_VISEME:
        return IPA_TO_VISEME[phone]
    for ch in _ipa_symbols(phone):
        if ch in IPA_TO_VISEME:
            return IPA_TO_VISEME[ch]
    return "sil"


def target_matrix(controls: tuple[str, ...]) -> np.ndarray:
    """(len(VISEMES), len(controls)) control targets of every viseme."""
    out = np.zeros((len(VISEMES), len(controls)), np.float32)
    for v, name in enumerate(VISEMES):
        jaw, shape, _ = VISEME_SHAPES[name]
        values = {"jawOpen": jaw}
        for key, value in shape.items():
            if key in PAIRED:
                values[key + "Left"] = values[key + "Right"] = value
            else:
                values[key] = value
        for c, control in enumerate(controls):
            out[v, c] = values.get(control, 0.0)
    return out


def dominance() -> np.ndarray:
    return np.array([VISEME_SHAPES[name][2] for name in VISEMES], np.float32)


def openness_table() -> np.ndarray:
    """The jawOpen target of each viseme (the bare phone-to-openness lookup)."""
    return np.array([VISEME_SHAPES[name][0] for name in VISEMES], np.float32)


def viseme_segments(phones: list[Segment], min_hold_s: float = 0.0) -> list[Segment]:
    """Viseme track: phones mapped and merged. A span shorter than `min_hold_s` is absorbed by a
    neighbour so the track does not flicker: preferably the next one (the mouth anticipates), never a
    bilabial closure (closures are kept as they are: they matter most)."""
    spans: list[Segment] = []
    for p in viseme_spans(phones, min_hold_s):
        if spans and spans[-1].label == p.label:
            spans[-1] = Segment(spans[-1].start, p.end, p.label)
        else:
            spans.append(p)
    out: list[Segment] = []
    pending_start = None  # start of short spans waiting to be absorbed by the next span
    for i, seg in enumerate(spans):
        start = seg.start if pending_start is None else pending_start
        short = seg.end - start < min_hold_s and seg.label != "PP"
        nxt = spans[i + 1] if i + 1 < len(spans) else None
        if short and nxt is not None and nxt.label != "PP":
            pending_start = start
            continue
        pending_start = None
        if short and out and out[-1].label != "PP":
            out[-1] = Segment(out[-1].start, seg.end, out[-1].label)
        elif out and out[-1].label == seg.label:
            out[-1] = Segment(out[-1].start, seg.end, seg.label)
        else:
            out.append(Segment(start, seg.end, seg.label))
    return out
