import warnings

import numpy as np
import pytest
import soundfile as sf

from engine.audio.decode import ANALYSIS_RATE, load_audio, resample
from engine.errors import AudioReadError
from tests.media import espeak_wav, media


def test_wav_44k_stereo_matches_reference_frame_count():
    clip = load_audio(media("speech/AniPortrait__lyl.wav"))
    assert clip.rate == 44100 and clip.channels == 2
    assert clip.samples.shape[0] == 341_511
    assert abs(clip.duration - 7.744) < 1e-3
    assert clip.frame_count(30) == 233  # the reference implementation's demo has exactly 233 frames
    assert clip.frame_count(25) == 194 and clip.frame_count(24) == 186
    assert abs(clip.mono16k.shape[0] - 123_904) <= 1


@pytest.mark.parametrize("rel, rate, seconds", [
    ("speech/AniTalker__speech4.wav", 24000, 31.44),  # MP3 data behind a .wav extension
    ("speech/dreamtalk__acknowledgement_chinese.m4a", 48000, 17.4),
    ("talking_videos/SadTalker__WDA_KatieHill_000.mp4", 16000, 8.0),  # audio track of a video
])
def test_containers_and_codecs(rel, rate, seconds):
    clip = load_audio(media(rel))
    assert clip.rate == rate
    assert abs(clip.duration - seconds) < 0.1
    assert clip.mono16k.dtype == np.float32 and abs(clip.mono16k.shape[0] / ANALYSIS_RATE - clip.duration) < 0.01
    assert np.abs(clip.mono16k).max() > 0.05


def test_flac_and_ogg_round_trip(tmp_path):
    source = load_audio(media("speech/dreamtalk__German1.wav"))
    for fmt, ext in (("FLAC", "flac"), ("OGG", "ogg")):
        path = tmp_path / f"speech.{ext}"
        sf.write(path, source.samples, source.rate, format=fmt)
        clip = load_audio(path)
        assert clip.rate == source.rate and abs(clip.duration - source.duration) < 0.05
        n = min(len(clip.mono16k), len(source.mono16k))
        r = np.corrcoef(clip.mono16k[:n], source.mono16k[:n])[0, 1]
        assert r > (0.999 if fmt == "FLAC" else 0.9)


def test_resampling_keeps_the_pitch():
    rate = 44100
    t = np.arange(rate) / rate
    tone = np.sin(2 * np.pi * 1000 * t).astype(np.float32)
    out = resample(tone, rate, ANALYSIS_RATE)
    assert out.shape[0] == ANALYSIS_RATE
    spectrum = np.abs(np.fft.rfft(out))
    assert abs(np.argmax(spectrum) * ANALYSIS_RATE / len(out) - 1000) < 2


def test_espeak_speech_decodes(tmp_path):
    clip = load_audio(espeak_wav("Hello world", tmp_path / "s.wav"))
    assert 0.5 < clip.duration < 3 and clip.peak_dbfs() > -20


def test_bad_audio_errors(tmp_path):
    with pytest.raises(AudioReadError, match="not found"):
        load_audio(tmp_path / "missing.wav")
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(AudioReadError, match="empty"):
        load_audio(empty)
    garbage = tmp_path / "garbage.mp3"
    garbage.write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(AudioReadError, match="cannot"):
        load_audio(garbage)
    text = tmp_path / "text.wav"  # a .wav name on text
    text.write_bytes(b"this is not audio" * 100)
    with pytest.raises(AudioReadError) as caught:
        load_audio(text)
    assert str(caught.value).count(str(text)) == 1 and "Errno" not in str(caught.value)  # FFmpeg's errno left out
    with pytest.raises(AudioReadError, match="no audio stream"):
        load_audio(media("talking_videos/EDTalk__mouth_source.mp4"))
    zero = tmp_path / "zero.wav"
    sf.write(zero, np.zeros((0, 1), np.float32), 16000)
    with pytest.raises(AudioReadError, match="zero length|no audio samples"):
        load_audio(zero)


def test_silence_warns(tmp_path):
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(16000, np.float32), 16000)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clip = load_audio(silent)
    assert clip.duration == 1.0
    assert any("silent" in str(w.message) for w in caught)


def test_the_head_of_a_clip_covers_exactly_the_frames_asked_for():
    """A dub trimmed to its video predicts exactly the video's frames at any common rate (rounding the cut to the
    nearest sample gave one frame more at 29.97 fps)."""
    import numpy as np

    from engine.audio.decode import AudioClip

    for rate in (48000, 44100, 16000):
        clip = AudioClip(samples=np.zeros((rate * 30, 1), np.float32), rate=rate)
        for fps in (23.976, 25, 29.97, 30, 59.94):
            for frames in (1, 211, 599):
                assert clip.head(frames / fps).frame_count(fps) == frames, (rate, fps, frames)


def test_phase_inverted_channels_are_not_mixed_into_silence(tmp_path):
    """Left = speech, right = -speech (a miswired balanced microphone): the mix for analysis was silence and the
    mouth stayed shut over audible speech, with no warning. Ordinary stereo is still mixed, silently."""
    from engine.audio.decode import AudioClip

    x = load_audio(media("speech/SadTalker__RD_Radio31_000.wav")).mono16k
    sf.write(tmp_path / "inverted.wav", np.stack([x, -x], axis=1), 16000, subtype="FLOAT")
    with pytest.warns(UserWarning, match="cancel each other .* follows channel 1 alone"):
        clip = load_audio(tmp_path / "inverted.wav")
    np.testing.assert_array_equal(clip.mono16k, x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_audio(tmp_path / "inverted.wav", analysed=False)  # a sound nothing follows (a kept bed): no word
        wide = AudioClip(samples=np.stack([x, np.random.default_rng(0).permutation(x)], axis=1), rate=16000)
    np.testing.assert_allclose(wide.mono16k, (x + wide.samples[:, 1]) / 2, atol=1e-7)  # unrelated channels


def test_a_wav_cut_short_says_so(tmp_path):
    """A WAV whose header promises 4 s but whose file was cut after 1.3 s (an interrupted copy): FFmpeg shortens
    it quietly, and the render was 1.3 s long without a word."""
    whole = tmp_path / "whole.wav"
    sf.write(whole, 0.1 * np.sin(np.arange(4 * 16000) * 0.05), 16000, subtype="PCM_16")
    cut = tmp_path / "cut.wav"
    cut.write_bytes(whole.read_bytes()[:44 + 2 * int(1.3 * 16000)])
    with pytest.warns(UserWarning, match=r"cut short: its header says 4.0 s of audio, the file holds 1.3 s"):
        assert abs(load_audio(cut).duration - 1.3) < 0.01
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_audio(whole)
