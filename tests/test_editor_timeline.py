"""Pure parts of the editor's timeline (waveform pyramid, ruler) and the PySide6 refcount workaround."""
from __future__ import annotations

import sys

import numpy as np
import pytest

from editor.timeline.ruler import format_time
from editor.timeline.waveform import WaveformPyramid
from tests.media import media


@pytest.fixture(scope="module")
def speech():
    from engine.audio.decode import ANALYSIS_RATE, load_audio

    return load_audio(media("speech/Real3DPortrait__Obama_5s.wav")).mono16k, ANALYSIS_RATE


def test_envelope_matches_brute_force_min_max(speech):
    x, rate = speech
    pyramid = WaveformPyramid(x, rate)
    for t0, t1, columns in ((0.0, 5.0, 800), (1.234, 1.9, 300), (2.0, 2.01, 1000)):
        env = pyramid.envelope(t0, t1, columns)
        assert np.all(np.diff(env.times) > 0)
        if env.raw:  # zoomed past one sample per column: the samples themselves
            idx = np.round(env.times * rate).astype(int)
            assert np.array_equal(env.mins, x[idx])
            continue
        assert env.times.size >= columns * 0.5
        step = env.times[1] - env.times[0]
        for k in (0, env.times.size // 2, env.times.size - 2):
            a, b = int(round(env.times[k] * rate)), int(round((env.times[k] + step) * rate))
            assert env.mins[k] == pytest.approx(x[a:b].min()) and env.maxs[k] == pytest.approx(x[a:b].max())
        inside = (env.times >= t0) & (env.times + step <= t1)
        a, b = int(np.ceil(t0 * rate)), int(t1 * rate)
        assert env.maxs[inside].max() <= x[a:b].max() + 1e-7


def test_envelope_cost_is_bounded_by_columns_for_a_long_file():
    rate = 16000
    x = np.sin(np.arange(600 * rate, dtype=np.float32) * 0.01)  # 10 minutes
    pyramid = WaveformPyramid(x, rate)
    env = pyramid.envelope(0.0, 600.0, 1500)
    assert 1000 <= env.times.size <= 3100
    assert env.maxs.max() == pytest.approx(1.0, abs=1e-3) and env.mins.min() == pytest.approx(-1.0, abs=1e-3)


def test_time_formats():
    assert format_time(2.5, "frames", 30) == "75"
    assert format_time(61.5, "timecode", 24) == "00:01:01:12"
    assert format_time(3725.0, "timecode", 25) == "01:02:05:00"
    assert format_time(1.25, "seconds", 30) == "1.25s"


def test_qt_binding_keeps_singleton_refcounts():
    """PySide6 6.12.0 drops a reference to True/None on every emit() / QSignalBlocker exit, which aborts
    the interpreter after a few thousand signals on Python < 3.12; requirements.txt pins a good version."""
    from PySide6.QtCore import QObject, QSignalBlocker, Signal

    class Emitter(QObject):
        sig = Signal(object)

    e = Emitter()
    true_before, none_before = sys.getrefcount(True), sys.getrefcount(None)
    for _ in range(2000):
        e.sig.emit(1)
        with QSignalBlocker(e):
            pass
    assert abs(sys.getrefcount(True) - true_before) < 50
    assert abs(sys.getrefcount(None) - none_before) < 50
