"""The embedded Audio2Lmk: phones, visemes, coarticulation, loudness, head pose, blinks, mouth cues."""
from __future__ import annotations

import json
import shutil
import warnings

import numpy as np
import pytest
import soundfile

from engine.a2l.base_layer import Segment
from engine.a2l.embedded import EmbeddedConfig, predict_embedded
from engine.a2l.mouth_cues import mouth_cues_json, mouth_cues_tsv
from engine.a2l.visemes import viseme_of, viseme_segments
from engine.audio.decode import AudioClip, load_audio
from engine.config import config_from_json, config_to_json
from engine.errors import Cancelled, ConfigError
from engine.face.canonical import load_canonical_model
from engine.face.contours import lip_gap_ratio as gap_ratio
from engine.plugins import A2L_BACKENDS
from tests.media import espeak_wav, media

SENTENCE = "Bob made a map of the moon"
SPEECH = media("speech/SadTalker__RD_Radio31_000.wav")
SINGING = (media("singing/SadTalker__imagine.wav"), media("singing/MultiTalk__1.wav"))


def lip_gap_ratio(offsets: np.ndarray) -> np.ndarray:
    """Opening of the inner lips (13-14) beyond the neutral face's, over the inter-ocular distance
    (33-263), on the canonical mesh + offsets. (MediaPipe's canonical face has its lips 0.58 cm apart; a
    portrait's own neutral mesh usually has them shut, so "closed" means "not opened beyond neutral".)"""
    v = load_canonical_model().vertices
    return gap_ratio(v[None] + offsets) - gap_ratio(v)


@pytest.fixture(scope="module")
def bob(tmp_path_factory):
    clip = load_audio(espeak_wav(SENTENCE, tmp_path_factory.mktemp("a2l") / "bob.wav"))
    return clip, predict_embedded(clip, 30.0, EmbeddedConfig(transcript=SENTENCE))


@pytest.fixture(scope="module")
def speech():
    return load_audio(SPEECH)


def test_visemes_of_known_phones():
    assert [viseme_of(p) for p in ("B", "M", "P", "F", "V", "AA", "IY", "UW", "OW", "S", "SIL")] == \
        ["PP", "PP", "PP", "FF", "FF", "aa", "I", "U", "O", "SS", "sil"]
    phones = [Segment(0.0, 0.1, "SIL"), Segment(0.1, 0.2, "M"), Segment(0.2, 0.22, "AH"), Segment(0.22, 0.4, "UW"),
              Segment(0.4, 0.45, "B"), Segment(0.45, 0.6, "AA")]
    # the 20 ms schwa is shorter than the 2-frame hold: the following vowel absorbs it; bilabials are kept
    assert [(round(s.start, 2), round(s.end, 2), s.label) for s in viseme_segments(phones, 2 / 30)] == \
        [(0.0, 0.1, "sil"), (0.1, 0.2, "PP"), (0.2, 0.4, "U"), (0.4, 0.45, "PP"), (0.45, 0.6, "aa")]


def test_schwa_is_a_mid_vowel_and_diphthongs_glide_between_two_shapes():
    from engine.a2l.coarticulation import coarticulate
    from engine.a2l.visemes import mouth_controls, visemes_of

    assert viseme_of("AH") == "E" == viseme_of("ə")  # the reduced vowel, as the IPA path has it
    assert [visemes_of(p) for p in ("AY", "AW", "OW", "aɪ", "oʊ", "iː", "AA", "ja", "aj", "ɪ̯a", "ju", "ˈaɪ")] == \
        [("aa", "I"), ("aa", "U"), ("O", "U"), ("aa", "I"), ("O", "U"), ("I",), ("aa",), ("I", "aa"), ("aa", "I"),
         ("I", "aa"), ("I", "U"), ("aa", "I")]
    phones = [Segment(0.0, 0.2, "SIL"), Segment(0.2, 0.3, "N"), Segment(0.3, 0.7, "AW"), Segment(0.7, 0.9, "SIL")]
    assert [(round(s.start, 2), round(s.end, 2), s.label) for s in viseme_segments(phones)] == \
        [(0.0, 0.2, "sil"), (0.2, 0.3, "nn"), (0.3, 0.5, "aa"), (0.5, 0.7, "U"), (0.7, 0.9, "sil")]
    # a diphthong too short for two held shapes keeps its open onset in the lane (and the mouth cues)
    mine = [Segment(0.2, 0.28, "M"), Segment(0.28, 0.4, "AY"), Segment(0.4, 0.5, "N")]
    assert [s.label for s in viseme_segments(mine, 2 / 25)] == ["PP", "aa", "nn"]
    # "now": the jaw opens for the onset and closes as the lips round into the offglide
    controls = mouth_controls()
    times = np.arange(0.0, 0.9, 0.01)
    mouth = coarticulate(phones, times, controls)
    jaw, pucker = mouth[:, controls.index("jawOpen")], mouth[:, controls.index("mouthPucker")]
    onset, offglide = (times >= 0.35) & (times < 0.45), (times >= 0.58) & (times < 0.68)
    assert jaw[onset].mean() > 0.5 and jaw[offglide].mean() < 0.35
    assert pucker[offglide].mean() > 0.5 and pucker[offglide].mean() > 2.5 * pucker[onset].mean()


def test_bilabial_closures_follow_the_aligned_phones(bob):
    clip, base = bob
    labels = [p.label for p in base.phonemes if p.label != "SIL"]
    assert labels[:3] == ["B", "AA", "B"] and labels.count("M") == 3 and labels.count("P") == 1
    gap = lip_gap_ratio(base.offsets)
    assert gap.max() > 0.06  # the vowels open the mouth
    for p in base.phonemes:
        if p.label in ("B", "M", "P"):
            lo, hi = int(np.floor(p.start * 30)) - 2, int(np.ceil(p.end * 30)) + 2
            window = gap[max(0, lo):hi + 1]
            assert window.min() < 0.01, f"{p.label} at {p.start:.2f}s does not close the lips"


def test_fast_speech_seals_its_lips_for_two_frames_at_least(tmp_path):
    """Fast speech with its transcript: each P/B/M sealed the lips on one frame between open ones, a visible pop
    (7 in this sentence at 30 fps); a seal now lasts min_hold_frames (2), and every bilabial still seals."""
    text = "Bob made a big map, and Pam put maple butter upon the bumpy boat. Maybe mom will bring more bread."
    clip = load_audio(espeak_wav(text, tmp_path / "fast.wav", "-s", "220"))
    base = predict_embedded(clip, 30.0, EmbeddedConfig(transcript=text))
    gap = lip_gap_ratio(base.offsets)
    sealed = gap < 0.01
    edges = np.flatnonzero(np.diff(np.concatenate([[0], sealed.astype(int), [0]]))).reshape(-1, 2)
    seen = 0
    for p in base.phonemes:
        if p.label in ("B", "M", "P"):
            lo, hi = max(0, int(np.floor(p.start * 30)) - 2), int(np.ceil(p.end * 30)) + 2
            runs = [(a, b) for a, b in edges if a <= hi and b > lo]  # the seals around it
            assert runs, f"{p.label} at {p.start:.2f}s does not close the lips"
            inner = [b - a for a, b in runs if a > 0]  # (a seal cut by the clip's first frame is shorter)
            assert not inner or max(inner) >= 2, f"{p.label} at {p.start:.2f}s seals for one frame: {runs}"
            seen += bool(inner)
    assert seen >= 15


def test_frame_count_matches_the_audio(speech):
    for fps in (24.0, 25.0, 30.0):
        base = predict_embedded(speech, fps)
        assert base.frame_count == speech.frame_count(fps)
        assert base.offsets.dtype == np.float32 and base.pose.shape == (base.frame_count, 6)
        assert all(track.shape == (base.frame_count,) for track in base.weights.values())
        assert abs(base.duration - speech.duration) < 1.0 / fps


def test_the_head_moves_the_same_at_any_frame_rate(speech):
    """The nods were found and drawn at the frame rate's own frames: the same clip and seed moved the head up to 2
    degrees apart at 30 and 60 fps (and with them the slow drift drawn after them)."""
    t = np.arange(0.0, speech.duration - 0.05, 0.01)

    def at_times(fps):
        pose = predict_embedded(speech, fps).pose
        return np.stack([np.interp(t, np.arange(len(pose)) / fps, c) for c in pose.T], axis=1)

    ref = at_times(30.0)
    assert np.abs(ref[:, :3]).max() > 1.0
    for fps in (24.0, 60.0):
        assert np.abs(at_times(fps)[:, :3] - ref[:, :3]).max() < 0.3  # sampling a nod's peak elsewhere, at most


def test_speech_moves_mouth_head_and_eyes(speech):
    base = predict_embedded(speech, 25.0)
    assert np.percentile(base.weights["jawOpen"], 90) > 0.3
    assert np.abs(base.pose[:, :3]).max() > 0.5
    assert 1 <= len(base.blinks) <= 6  # 8 s at ~17 per minute
    assert base.weights["eyeBlinkLeft"].max() > 0.9
    assert {s.label for s in base.visemes} >= {"PP", "aa", "sil"}


def test_silence_gives_a_closed_still_mouth(tmp_path):
    wav = tmp_path / "silence.wav"
    soundfile.write(wav, np.zeros(32000, np.float32), 16000)
    with pytest.warns(UserWarning, match="silent"):
        clip = load_audio(wav)
    base = predict_embedded(clip, 30.0)
    assert base.frame_count == 60
    assert np.abs(base.weights["jawOpen"]).max() < 0.01
    assert np.abs(lip_gap_ratio(base.offsets)).max() < 0.005
    assert np.abs(base.pose).max() < 1e-6


def test_seed_determinism(speech):
    a = predict_embedded(speech, 30.0, EmbeddedConfig(seed=1))
    b = predict_embedded(speech, 30.0, EmbeddedConfig(seed=1))
    c = predict_embedded(speech, 30.0, EmbeddedConfig(seed=2))
    np.testing.assert_array_equal(a.offsets, b.offsets)
    np.testing.assert_array_equal(a.pose, b.pose)
    assert a.blinks == b.blinks
    assert np.abs(a.pose - c.pose).max() > 0.3
    assert [s.start for s in a.blinks] != [s.start for s in c.blinks]
    np.testing.assert_array_equal(a.weights["jawOpen"], c.weights["jawOpen"])  # the seed is not the lips


def test_blink_rate_zero_means_no_blinks(speech):
    calm = predict_embedded(speech, 30.0, EmbeddedConfig(blink_rate=0.0))
    assert calm.blinks == [] and np.abs(calm.weights["eyeBlinkLeft"]).max() == 0.0


@pytest.mark.parametrize("path", SINGING)
def test_singing_moves_the_mouth(path):
    base = predict_embedded(load_audio(path), 30.0)
    gap = lip_gap_ratio(base.offsets)
    assert np.percentile(gap, 75) > 0.04  # lips part by > 0.35 cm for most of the song
    assert base.weights["jawOpen"].std() > 0.08  # and they move, not just hang open


@pytest.mark.parametrize("sentence", [
    "Hello! I am a talking portrait made with Talkline. Bob bought a big map, and we will visit the moon in June.",
    "It is raining in June.", "My mother makes marvelous mango jam every summer in Maine."])
def test_synthesized_sentences_align_to_their_last_word(tmp_path, sentence):
    """Forced alignment of espeak-ng speech keeps every word, the last one included (these lost it with a
    quieter noise floor under the digital silences)."""
    from engine.a2l.phonemes import align_transcript, transcript_words
    from engine.speech_synth import synthesize_speech

    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    x = load_audio(synthesize_speech(sentence, tmp_path / "s.wav")).mono16k
    aligned = align_transcript(x, sentence)
    assert aligned is not None
    phones, words = aligned
    last = {"june": ["JH", "UW", "N"], "maine": ["M", "EY", "N"]}[transcript_words(sentence)[-1]]
    spoken = [p for p in phones if p.label != "SIL"]
    assert [p.label for p in spoken[-3:]] == last
    # the words are the transcript's, timed by the alignment: the last word spans its last three phones
    assert [w.label for w in words] == transcript_words(sentence)
    assert words[-1].start == pytest.approx(spoken[-3].start, abs=0.011)
    assert words[-1].end == pytest.approx(spoken[-1].end, abs=0.011)
    assert all(a.end <= b.start + 1e-9 for a, b in zip(words, words[1:]))


def test_a_real_interview_aligns_with_its_transcript():
    """A real interview (PC-AVS 796100172) with its words as a recogniser heard them: pocketsphinx's default
    beams pruned the one path through the text (0 of 29 words); the retry with wide beams aligns every word, in
    order, inside the clip."""
    from engine.a2l.phonemes import align_transcript, transcript_words

    text = ("in Denmark first. I did this song with a couple of guys over there, enrolled the song, and then just "
            "basically sent it to the dean. You know, send")
    clip = load_audio(media("talking_videos/Talking-Face_PC-AVS__796100172.mp4"))
    aligned = align_transcript(clip.mono16k, text)
    assert aligned is not None
    phones, words = aligned
    assert [w.label for w in words] == transcript_words(text)
    assert all(a.end <= b.start + 1e-9 for a, b in zip(words, words[1:]))
    assert words[-1].end <= clip.duration + 1e-9
    assert sum(p.end - p.start for p in phones if p.label != "SIL") > 0.5 * clip.duration


def test_a_take_cut_inside_its_transcript_aligns_the_words_it_holds(tmp_path):
    """A take that ends before its script's last word, or starts after its first: the words it holds are
    aligned where they are in the whole take (before: the whole transcript was dropped for recognition), and the
    warning names the word it did not find."""
    from engine.a2l.phonemes import align_transcript

    text = "We will meet at the old station near the river before the evening train leaves for Boston"
    x = load_audio(espeak_wav(text, tmp_path / "s.wav")).mono16k
    whole = align_transcript(x, text)
    assert whole is not None
    timed = whole[1]
    with pytest.warns(UserWarning, match=r'last 1 word \("boston"\) was not found in the audio'):
        aligned = align_transcript(x[: int(timed[-1].start * 16000)], text)  # up to where "boston" begins
    assert aligned is not None
    assert [w.label for w in aligned[1]] == [w.label for w in timed[:-1]]
    for a, b in zip(aligned[1], timed):
        assert a.start == pytest.approx(b.start, abs=0.05)
    start = timed[1].start + 0.7 * (timed[1].end - timed[1].start)  # inside "will"
    with pytest.warns(UserWarning, match=r'first 1 word \("we"\) was not found in the audio'):
        aligned = align_transcript(x[int(start * 16000):], text)
    assert aligned is not None
    assert [w.label for w in aligned[1]] == [w.label for w in timed[1:]]
    for a, b in zip(aligned[1][1:], timed[2:]):
        assert a.start + start == pytest.approx(b.start, abs=0.05)
    # a take that lacks half its script is not aligned at all (the text and the take differ)
    assert align_transcript(x[: int(timed[8].start * 16000)], text) is None


def test_a_transcript_far_too_long_for_the_audio_is_not_aligned(bob):
    """A 20000-character transcript with a 1.6 s clip took 9 s to fail (960000 characters never ended); it is now
    put aside at once, with a warning that says why."""
    clip, _ = bob
    text = "Bob bought a big map and we will visit the moon in June. " * 350
    with pytest.warns(UserWarning, match=r"the transcript has 19950 characters for \d\.\d s of audio, far more than can "
                                         "be spoken in it"):
        base = predict_embedded(clip, 30.0, EmbeddedConfig(transcript=text))
    assert base.frame_count == clip.frame_count(30.0) and len(base.phonemes) > 3


def test_unalignable_transcript_falls_back_to_recognition(bob):
    clip, _ = bob
    with pytest.warns(UserWarning, match="could not be aligned") as caught:
        base = predict_embedded(clip, 30.0, EmbeddedConfig(transcript="completely different words entirely here"))
    assert base.frame_count == clip.frame_count(30.0) and len(base.phonemes) > 3
    assert not [w for w in caught if "language" in str(w.message)]
    # a transcript in another language, typed without its language code, says what to do about it
    with pytest.warns(UserWarning, match=r"does not look English: set its language code, e\.g\. fr"):
        predict_embedded(clip, 30.0, EmbeddedConfig(transcript="Ça va très bien, je suis allée à l'école."))
    assert not [w for w in caught if "noisy" in str(w.message)]  # a clean recording is not called noisy


def test_a_transcript_lost_in_noise_suggests_denoising(tmp_path):
    """Speech 5 dB over white noise: forced alignment loses the last word, at 0 dB all of them (RNNoise lets
    them align); the warnings name the noise (they said nothing of it once)."""
    text = "Peter Piper picked a peck of pickled peppers"
    x, rate = soundfile.read(espeak_wav(text, tmp_path / "clean.wav"), dtype="float32")
    level = np.sqrt(np.mean(x[np.abs(x) > 0.01] ** 2))
    for snr, warning in ((5, r'last 1 word \("peppers"\) was not found in the audio \(cut from the take, or lost in '
                              r'noise\): the other words are aligned'), (0, "could not be aligned .*")):
        noise = np.random.default_rng(0).normal(0.0, level / 10 ** (snr / 20), x.shape).astype(np.float32)
        soundfile.write(tmp_path / "noisy.wav", x + noise, rate)
        clip = load_audio(tmp_path / "noisy.wav")
        with pytest.warns(UserWarning, match=warning + r" \(the recording is noisy: the denoise setting, --denoise, "
                                                       r"may let it align\)"):
            predict_embedded(clip, 30.0, EmbeddedConfig(transcript=text))


def test_out_of_dictionary_words_without_espeak(monkeypatch):
    from engine.a2l import pronounce

    pronounce.espeak_phones.cache_clear()
    monkeypatch.setattr(pronounce.shutil, "which", lambda _name: None)
    assert pronounce.pronounce("zorblax") == ["Z", "AA", "R", "B", "L", "AE", "K", "S"]
    pronounce.espeak_phones.cache_clear()


def test_config_json_round_trip_and_strictness():
    s = EmbeddedConfig(seed=7, transcript="hello", min_hold_frames=3, lead_ms=40)
    assert config_from_json(EmbeddedConfig, config_to_json(s)) == s
    assert config_to_json(s)["version"] == 1
    with pytest.raises(ConfigError, match="unknown setting.*unknown_future_key"):
        config_from_json(EmbeddedConfig, {"seed": 3, "unknown_future_key": 1})
    with pytest.raises(ConfigError, match="'seed' must be int"):
        config_from_json(EmbeddedConfig, {"seed": "3"})
    with pytest.raises(ConfigError, match="min_hold_frames must be at least 1"):
        config_from_json(EmbeddedConfig, {"min_hold_frames": 0})
    with pytest.raises(ConfigError, match="and at most 30"):
        config_from_json(EmbeddedConfig, {"min_hold_frames": 1_000_000})
    with pytest.raises(ConfigError, match="version 2, this Talkline reads up to version 1"):
        config_from_json(EmbeddedConfig, {"version": 2})


def test_embedded_backend_predicts_through_the_protocol_and_honours_cancel(speech):
    backend = A2L_BACKENDS.get("embedded")()
    seen = []
    base = backend.predict(speech, 30.0, EmbeddedConfig(), progress=seen.append)
    np.testing.assert_array_equal(base.offsets, predict_embedded(speech, 30.0).offsets)
    assert seen[-1] == 1.0 and seen == sorted(seen)
    with pytest.raises(Cancelled):
        backend.predict(speech, 30.0, EmbeddedConfig(), cancel=lambda: True)


def test_mouth_cues_export(bob):
    _, base = bob
    data = json.loads(mouth_cues_json(base, "bob.wav"))
    assert data["metadata"] == {"soundFile": "bob.wav", "duration": round(base.duration, 2)}
    cues = data["mouthCues"]
    assert cues[0]["start"] == 0.0 and cues[-1]["end"] == round(base.duration, 2)
    assert all(a["end"] == b["start"] for a, b in zip(cues, cues[1:]))
    assert {c["value"] for c in cues} <= set("ABCDEFGHX") and "A" in {c["value"] for c in cues}
    lines = mouth_cues_tsv(base).splitlines()
    assert lines[0].startswith("0.00\t") and lines[-1] == f"{base.duration:.2f}\tX"
    assert len(lines) == len(cues) + 1
    # with the sound's duration (inside the last frame), the cues end with the sound, as Rhubarb's do
    sound = base.duration - 0.6 / base.fps
    data = json.loads(mouth_cues_json(base, "bob.wav", sound))
    assert data["metadata"]["duration"] == round(sound, 2) == data["mouthCues"][-1]["end"]
    assert mouth_cues_tsv(base, sound).splitlines()[-1] == f"{sound:.2f}\tX"
    # a sound ending just inside the last frame adds no cue of 0.00 s
    cues = mouth_cues_json(base, "bob.wav", base.duration - 1.0 / base.fps + 0.002)
    assert all(c["end"] > c["start"] for c in json.loads(cues)["mouthCues"])


def test_written_mouth_cues_show_each_frames_shape_at_its_time(bob):
    """A player looks the written cue up at every frame's time (30 fps: 0.6667 s ...) and finds that frame's
    shape: the hundredths a cue is written in never put its start after its frame (0.67 did)."""
    from engine.a2l.mouth_cues import mouth_cues

    _, base = bob
    exact = mouth_cues(base)
    rows = [line.split("\t") for line in mouth_cues_tsv(base).splitlines()]
    starts, shapes = np.array([float(t) for t, _ in rows]), [v for _, v in rows]
    assert len(exact) >= 10
    for frame in range(base.frame_count):
        t = frame / base.fps
        want = next(v for a, b, v in exact if a <= t + 1e-9 < b)
        assert shapes[int(np.searchsorted(starts, t + 1e-9, side="right")) - 1] == want, frame


def test_mouth_cues_describe_the_animated_mouth_where_the_phones_do_not():
    """The recogniser missed words (its phones say silence) while the voice goes on and the jaw moves: the cues
    follow the jaw there; phones heard in music, under a mouth the speech gate keeps shut, give the rest X."""
    from engine.a2l.base_layer import BaseLayer
    from engine.a2l.mouth_cues import mouth_cues

    fps, n = 30.0, 60
    jaw = np.zeros(n, np.float32)
    jaw[10:20], jaw[20:30] = 0.45, 0.7  # open, then wide, under "sil"
    base = BaseLayer(fps=fps, offsets=np.zeros((n, 468, 3), np.float32), pose=np.zeros((n, 6)),
                     weights={"jawOpen": jaw},
                     visemes=[Segment(0.0, 1.2, "sil"), Segment(1.2, 1.6, "aa"), Segment(1.6, 2.0, "PP")])
    cues = [(round(a, 2), round(b, 2), v) for a, b, v in mouth_cues(base)]
    # before: one X cue over the first 1.2 s, and D over the closed "aa"
    assert cues == [(0.0, 0.33, "X"), (0.33, 0.67, "C"), (0.67, 1.0, "D"), (1.0, 1.6, "X"), (1.6, 2.0, "A")]


def test_a_closed_lips_cue_only_where_the_animated_lips_close():
    """Recognised bilabials only narrow the mouth (their closure is trusted by half), yet the cues said A (lips
    pressed) over an open mouth; an aligned bilabial, which seals the lips, keeps A."""
    from engine.a2l.base_layer import BaseLayer
    from engine.a2l.mouth_cues import mouth_cues

    fps, n = 30.0, 30
    jaw, close = np.full(n, 0.5, np.float32), np.zeros(n, np.float32)
    close[:15] = 0.25  # a recognised "M": half closed, the lips 0.25 apart
    close[15:] = 0.5  # an aligned "M": sealed
    base = BaseLayer(fps=fps, offsets=np.zeros((n, 468, 3), np.float32), pose=np.zeros((n, 6)),
                     weights={"jawOpen": jaw, "mouthClose": close}, visemes=[Segment(0.0, 1.0, "PP")])
    cues = [(round(a, 2), round(b, 2), v) for a, b, v in mouth_cues(base)]
    assert cues == [(0.0, 0.5, "B"), (0.5, 1.0, "A")]


def test_no_mouth_shape_flickers_for_a_single_frame_but_a_closure():
    """The jaw crossing a shape's boundary for one frame gave a one-frame cue (at 60 fps a 17 ms B): it joins the
    cue before it; a one-frame closure (A) stays."""
    from engine.a2l.base_layer import BaseLayer
    from engine.a2l.mouth_cues import mouth_cues

    fps, n = 60.0, 60
    jaw = np.full(n, 0.45, np.float32)  # C
    jaw[20] = 0.2  # one frame of B
    jaw[40] = 0.0  # one frame of lips pressed (A under a bilabial)
    close = np.zeros(n, np.float32)
    base = BaseLayer(fps=fps, offsets=np.zeros((n, 468, 3), np.float32), pose=np.zeros((n, 6)),
                     weights={"jawOpen": jaw, "mouthClose": close},
                     visemes=[Segment(0.0, 40 / fps, "sil"), Segment(40 / fps, 41 / fps, "PP"), Segment(41 / fps, 1.0, "sil")])
    cues = [(round(a, 3), round(b, 3), v) for a, b, v in mouth_cues(base)]
    assert cues == [(0.0, 0.667, "C"), (0.667, 0.683, "A"), (0.683, 1.0, "C")]


@pytest.mark.slow
def test_ten_minutes_of_speech(speech):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fallback warnings on long input
        reps = int(np.ceil(600 / speech.duration))
        long = AudioClip(samples=np.tile(speech.mono16k, reps)[: 600 * 16000, None], rate=16000)
        base = predict_embedded(long, 25.0)
    assert base.frame_count == 15000
    jaw = base.weights["jawOpen"]
    # every minute is animated like the first (chunked recognition keeps working to the end)
    per_minute = jaw.reshape(10, -1).mean(axis=1)
    assert per_minute.min() > 0.5 * per_minute.max()


def _sustained_vowels(tmp_path, phonemes: str) -> tuple[np.ndarray, np.ndarray]:
    """espeak-ng speaking `phonemes` slowly: the 16 kHz signal and its loud (voiced) 10 ms frames."""
    from engine.a2l.openness import band_tracks

    x = load_audio(espeak_wav(phonemes, tmp_path / "vowels.wav", "-s", "80")).mono16k
    _, _, level = band_tracks(x)
    return x, np.flatnonzero(level > level.max() - 15)


def test_acoustic_openness_open_vowel_opens_more(tmp_path):
    """F1 (Praat and the centroid proxy) + 1-3 kHz share: espeak-ng 'ah' (high F1) then 'ee' (low F1): 'ah'
    opens the mouth more."""
    from engine.a2l.analysis import analyse
    from engine.a2l.openness import band_tracks, jaw_measures, speech_gate

    x, voiced = _sustained_vowels(tmp_path, "[[A:::::: i::::::]]")
    f1, _, _ = band_tracks(x)
    an = analyse(x)
    opening = jaw_measures(an, x) * speech_gate(an)
    q = len(voiced) // 4  # first quarter: inside "ah"; last quarter: inside "ee"
    ah, ee = voiced[2:q], voiced[-q:-2]
    assert np.median(f1[ah]) > np.median(f1[ee]) + 150
    assert np.nanmedian(an.f1[ah]) > np.nanmedian(an.f1[ee]) + 250  # Praat's F1: ~700 vs ~300 Hz
    assert np.median(opening[ah]) > np.median(opening[ee]) + 0.2
    assert speech_gate(analyse(np.zeros(16000, np.float32))).max() == 0.0  # silence stays shut


def test_acoustic_openness_ignores_voiceless_hiss(tmp_path):
    """Formant measures are read in voiced frames only: 100 ms of /s/-like hiss (high-passed noise at the
    vowel's level) spliced into a sustained 'ah' leaves the opening where the vowel had it (measured on the
    hiss itself, the 1-3 kHz share and the F1 centroid would jump)."""
    from scipy.signal import butter, sosfilt

    from engine.a2l.analysis import analyse
    from engine.a2l.openness import jaw_measures

    def acoustic_openness_100hz(y):
        return jaw_measures(analyse(y), y)

    x, voiced = _sustained_vowels(tmp_path, "[[A:::::::::::]]")
    mid = voiced[len(voiced) // 2]
    a, b = mid * 160, mid * 160 + 1600
    hiss = sosfilt(butter(4, 3000.0, "hp", fs=16000, output="sos"), np.random.default_rng(0).normal(0, 1, b - a))
    spliced = x.copy()
    spliced[a:b] = hiss * np.sqrt(np.mean(x[voiced[0] * 160:voiced[-1] * 160] ** 2)) / hiss.std()
    clean = acoustic_openness_100hz(x)[mid:mid + 10]
    with_hiss = acoustic_openness_100hz(spliced.astype(np.float32))[mid:mid + 10]
    assert np.abs(with_hiss - clean).max() < 0.1


def _assert_covers_both_chunks(phones, x):
    from engine.a2l.phonemes import CHUNK_S

    spoken = [p for p in phones if p.label != "SIL"]
    assert spoken[-1].end > len(x) / 16000 - 2.0 and any(p.start > CHUNK_S + 2 for p in spoken)
    assert all(b.start >= a.end - 1e-6 for a, b in zip(phones, phones[1:]))  # contiguous, in time order


def test_recognised_words_give_the_phones_across_chunks():
    """Default recognition (common-words vocabulary) on real speech, "In a mosaic of life, each moment we sit
    ... the journey through life": the phones of the common words come out in order, and the clip (31 s: two
    recognition chunks) is phoned to its end."""
    from engine.a2l.phonemes import recognize

    x = load_audio(media("speech/AniTalker__speech4.wav")).mono16k
    phones, words = recognize(x)
    labels = " ".join(p.label for p in phones)
    assert "M OW M AH N T" in labels and "JH ER N IY TH R UW L AY F" in labels
    _assert_covers_both_chunks(phones, x)
    # the recognised words are kept, on the clip's clock across the chunk cut, each over its own phones
    text = " ".join(w.label for w in words)
    assert "moment" in text and "journey through life" in text
    assert words[-1].end > 0.85 * len(x) / 16000 and all(a.end <= b.start + 1e-9 for a, b in zip(words, words[1:]))
    moment = next(w for w in words if w.label == "moment")
    inside = [p.label for p in phones if moment.start - 1e-6 <= p.start and p.end <= moment.end + 1e-6]
    assert inside == ["M", "OW", "M", "AH", "N", "T"]


def test_speech_spans_join_short_gaps_and_skip_long_silences():
    """Decoded spans: runs of speech joined across gaps under SKIP_SILENCE_S, padded by SPAN_PAD_S, clipped to
    the clip; no mask decodes the whole clip, an all-silent mask nothing."""
    from engine.a2l.phonemes import SKIP_SILENCE_S, SPAN_PAD_S, _speech_spans

    assert (SKIP_SILENCE_S, SPAN_PAD_S) == (1.0, 0.3)  # the frame counts below are for these values
    speech = np.zeros(1000, bool)
    speech[10:200] = speech[290:400] = True  # a 0.9 s gap: one span
    speech[600:990] = True  # a 2 s silence before it: a span of its own, padded past the end -> clipped
    assert _speech_spans(speech, 1000 * 160) == [(0, 430 * 160), (570 * 160, 1000 * 160)]
    assert _speech_spans(None, 5000) == [(0, 5000)]
    assert _speech_spans(np.zeros(100, bool), 16000) == []


def test_recognition_decodes_only_where_a_voice_sounds(monkeypatch):
    """Two sentences with 8 s of room tone (-50 dBFS) between them: with the speech mask the recogniser decodes
    the speech and its padding, not the room tone, and the phones stay contiguous, silent over the gap, with the
    words of both sentences on the clip's clock."""
    import engine.a2l.phonemes as phonemes
    from engine.a2l.analysis import analyse

    speech = load_audio(media("speech/AniTalker__speech4.wav")).mono16k
    room = np.random.default_rng(3).normal(0.0, 10 ** (-50.0 / 20.0), 8 * 16000).astype(np.float32)
    x = np.concatenate([speech[: 6 * 16000], room, speech[6 * 16000: 12 * 16000]])
    decoded = []
    pcm = phonemes._pcm
    monkeypatch.setattr(phonemes, "_pcm", lambda y, *a: decoded.append(len(y)) or pcm(y, *a))
    phones, words = phonemes.recognize(x, speech=analyse(x).presence > 0.5)
    assert sum(decoded) < 13.5 * 16000  # 12 s of speech, its pauses and pads; not the 8 s of room tone
    assert phones[0].start == 0.0 and phones[-1].end == pytest.approx(len(x) / 16000)
    assert all(b.start == pytest.approx(a.end) for a, b in zip(phones, phones[1:]))
    gap = [p for p in phones if p.end > 7.0 and p.start < 13.0]
    assert [p.label for p in gap] == ["SIL"]
    assert any(w.end < 6.0 for w in words) and any(w.start > 14.0 for w in words)
    # room tone alone: no words, one silence over the clip (decoded, it comes out as the word "thank")
    phones, words = phonemes.recognize(room, speech=analyse(room).presence > 0.5)
    assert words == [] and [(p.start, p.end, p.label) for p in phones] == [(0.0, 8.0, "SIL")]


def test_phones_share_their_word_by_length():
    """A recognised word's frames are shared among its dictionary phones, a vowel counting VOWEL_LENGTH
    consonants; fillers are silence."""
    from types import SimpleNamespace

    from engine.a2l.phonemes import VOWEL_LENGTH, _phones_in_words

    segs = [SimpleNamespace(word="<sil>", start_frame=0, end_frame=9),
            SimpleNamespace(word="moment", start_frame=10, end_frame=10 + 8 * 6 - 1),
            SimpleNamespace(word="[NOISE]", start_frame=58, end_frame=60)]
    decoder = SimpleNamespace(seg=lambda: segs, lookup_word={"moment": "M OW M AH N T"}.get)
    assert VOWEL_LENGTH == 2.0  # the frame counts below are for this value
    assert _phones_in_words(decoder) == [("SIL", 0, 9), ("M", 10, 15), ("OW", 16, 27), ("M", 28, 33),
                                         ("AH", 34, 45), ("N", 46, 51), ("T", 52, 57), ("SIL", 58, 60)]


def test_common_words_vocabulary_is_reproducible():
    """resources/a2l/common_words.dict is what scripts/make_common_words.py derives from the installed
    pocketsphinx (so a pocketsphinx upgrade that changes it is caught)."""
    import importlib.util

    from engine.a2l.phonemes import COMMON_WORDS, VOCABULARY_SIZE

    spec = importlib.util.spec_from_file_location("make_common_words", "scripts/make_common_words.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = COMMON_WORDS.read_text(encoding="utf-8")
    assert module.common_words(VOCABULARY_SIZE) == text
    words = {line.split()[0].split("(")[0] for line in text.splitlines()}
    assert len(words) == VOCABULARY_SIZE and {"the", "moment", "journey"} <= words and "mosaic" not in words


def test_missing_vocabulary_is_a_clear_error(monkeypatch, tmp_path):
    import engine.a2l.phonemes as phonemes
    from engine.errors import SpeechModelMissingError

    monkeypatch.setattr(phonemes, "COMMON_WORDS", tmp_path / "gone.dict")
    with pytest.raises(SpeechModelMissingError, match="gone.dict.*make_common_words"):
        phonemes.recognize(np.zeros(16000, np.float32))


def test_accurate_phones_recognise_the_words_across_chunks():
    """Accurate mode (whole dictionary + phone alignment): a word outside the common-words vocabulary,
    "mosaic", is recognised and its phones come out in order; the 31 s clip is phoned to its end."""
    from engine.a2l.phonemes import recognize

    x = load_audio(media("speech/AniTalker__speech4.wav")).mono16k
    phones, words = recognize(x, accurate=True)
    assert "M OW Z EY IH K" in " ".join(p.label for p in phones)
    assert "mosaic" in [w.label for w in words]
    _assert_covers_both_chunks(phones, x)


def test_the_recording_level_does_not_set_how_wide_the_mouth_opens():
    """The same take recorded 25 and 49 dB apart (a quiet microphone vs a normalised file): the same opening,
    frame by frame. Before, the loud parts' absolute level scaled the jaw (10 ** (dB / 80)): 2x between the
    first two; and the quietest take's speech fell under the absolute floors (digital silence, the recogniser's
    dither): its motion correlated 0.81 with the loud take's."""
    x = load_audio(media("speech/Real3DPortrait__Obama_5s.wav")).mono16k
    x = x / np.abs(x).max()
    gaps = [gap_ratio(load_canonical_model().vertices[None]
                      + predict_embedded(AudioClip((x * 10 ** (peak / 20)).astype(np.float32)[:, None], 16000),
                                         25.0).offsets)
            for peak in (-1.0, -26.0, -50.0)]
    loud = gaps[0]
    for quiet in gaps[1:]:
        assert np.corrcoef(loud, quiet)[0, 1] > 0.99
        for q in (50, 90):
            assert abs(np.percentile(loud, q) - np.percentile(quiet, q)) < 0.05 * np.percentile(loud, q), q


def test_a_transcript_missing_most_words_falls_back_to_recognition(speech):
    """"Hello." for 8 s of speech: forced alignment stretched one word and left the rest of the speech without
    phones (no closures, half the jaw); now a warning, and the recognised phones."""
    with pytest.warns(UserWarning, match="words are missing"):
        base = predict_embedded(speech, 25.0, EmbeddedConfig(transcript="Hello."))
    assert base.phonemes == predict_embedded(speech, 25.0).phonemes
