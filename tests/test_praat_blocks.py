"""Praat analyses long clips in blocks so that memory stays flat in the clip's length; blocks must not change
what the analysis finds."""
import numpy as np
import pytest

from engine.a2l import praat
from engine.audio.decode import load_audio
from tests.media import media


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    return np.asarray(load_audio(media("speech/dreamtalk__noisy_audio_narrative.wav")).mono16k, np.float32)


def test_pitch_in_blocks_equals_pitch_in_one_piece(speech, monkeypatch):
    frames = len(speech) // 160 + 1
    whole = praat.pitch_100hz(speech, frames)
    monkeypatch.setattr(praat, "PRAAT_BLOCK_S", 1.5)  # several blocks, edges inside speech
    blocks = praat.pitch_100hz(speech, frames)
    assert frames > 3 * 150 and (whole.f0 > 0).mean() > 0.3
    np.testing.assert_array_equal(blocks.f0, whole.f0)
    np.testing.assert_array_equal(blocks.strength, whole.strength)


def test_formants_in_blocks_follow_the_formants_in_one_piece(speech, monkeypatch):
    frames = len(speech) // 160 + 1
    pitch = praat.pitch_100hz(speech, frames)
    voiced = pitch.f0 > 0
    whole = praat.formants_100hz(speech, voiced, float(np.median(pitch.f0[voiced])))
    monkeypatch.setattr(praat, "PRAAT_BLOCK_S", 1.0)
    blocks = praat.formants_100hz(speech, voiced, float(np.median(pitch.f0[voiced])))
    for w, b in zip(whole, blocks):
        np.testing.assert_array_equal(np.isfinite(b), voiced)
        # the same tracks sampled on another 20 ms lattice (Burg's frames jump by 10-20 % from one frame to the
        # next): a few % apart frame by frame, the same on average
        assert np.median(np.abs(b - w)[voiced] / w[voiced]) < 0.05
        assert abs(b[voiced].mean() / w[voiced].mean() - 1) < 0.03
