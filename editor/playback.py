"""Playback: the playhead follows a clock — the audio device's (sounddevice: samples actually consumed) when
there is one, else a monotonic timer — and frames are dropped rather than letting the picture drift.
J/K/L shuttle, looping over the in/out range, and short audio grains while scrubbing."""
from __future__ import annotations

import threading
import time

import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer, Signal

from editor.session import EditorSession

SHUTTLE_SPEEDS = (1.0, 2.0, 4.0)
GRAIN_SECONDS = 0.06
TICK_MS = 8  # finer than a 60 Hz refresh so the frame shown is never more than ~8 ms late


def output_device_available() -> bool:
    try:
        import sounddevice as sd

        sd.query_devices(kind="output")
        return True
    except Exception:  # noqa: BLE001  (PortAudio missing or no device: both mean "play on a timer")
        return False


class TimerClock:
    """Media time from a monotonic timer (no audio device, or shuttle speeds other than 1x)."""

    def __init__(self, start: float, rate: float):
        self.start, self.rate, self.t0 = start, rate, time.perf_counter()

    def position(self) -> float:
        return self.start + (time.perf_counter() - self.t0) * self.rate

    def close(self) -> None:
        pass


class AudioClock:
    """Plays the project's audio from `start`; media time = samples the device has consumed."""

    def __init__(self, samples: np.ndarray, rate: int, start: float):
        import sounddevice as sd

        self.samples, self.rate, self.start = samples, rate, start
        self._pos = int(start * rate)
        self._played = 0
        self._lock = threading.Lock()
        self.stream = sd.OutputStream(samplerate=rate, channels=samples.shape[1], dtype="float32",
                                      callback=self._callback)
        self.stream.start()

    def _callback(self, outdata, frames, _time, _status):
        chunk = self.samples[self._pos:self._pos + frames]
        outdata[:len(chunk)] = chunk
        outdata[len(chunk):] = 0.0
        self._pos += frames
        with self._lock:
            self._played += frames

    def position(self) -> float:
        with self._lock:
            return self.start + self._played / self.rate

    def close(self) -> None:
        self.stream.stop()
        self.stream.close()


class PlaybackController(QObject):
    notice = Signal(str)  # one-time user-facing messages (e.g. "no audio device")

    def __init__(self, session: EditorSession, parent: QObject | None = None, use_audio: bool | None = None):
        super().__init__(parent)
        self.session = session
        self.has_audio_device = output_device_available() if use_audio is None else use_audio
        self._noticed = False
        self.clock: TimerClock | AudioClock | None = None
        self.rate = 0.0
        self.loop = True
        self.timer = QTimer(self)
        self.timer.setTimerType(Qt.PreciseTimer)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)

    @property
    def playing(self) -> bool:
        return self.clock is not None

    def _bounds(self) -> tuple[float, float]:
        project = self.session.project
        if project.in_out is not None:
            return project.in_out
        return 0.0, project.duration

    def play(self, rate: float = 1.0) -> None:
        project = self.session.project
        if project is None:
            return
        self._close_clock()
        start, end = self._bounds()
        t = self.session.time
        if rate > 0 and t >= end - 1.0 / project.fps:
            t = start  # at the end: play from the start of the range
        self.session.set_time(t)
        self.rate = rate
        use_audio = self.has_audio_device and rate == 1.0 and project.audio is not None
        if not self.has_audio_device and not self._noticed:
            self._noticed = True
            self.notice.emit("No audio output device: playback runs on a timer, without sound")
        self.clock = (AudioClock(project.audio.samples, project.audio.rate, t) if use_audio
                      else TimerClock(t, rate))
        self._last_frame = self.session.frame
        self.timer.start()
        self.session.set_playing(True)

    def stop(self) -> None:
        if self.clock is None:
            return
        self.timer.stop()
        self._close_clock()
        self.rate = 0.0
        self.session.set_playing(False)

    def _close_clock(self) -> None:
        if self.clock is not None:
            self.clock.close()
            self.clock = None

    def toggle(self) -> None:
        self.stop() if self.playing else self.play(1.0)

    def shuttle(self, direction: int) -> None:
        """J (-1) / L (+1): start, or speed up in the same direction (1x, 2x, 4x); the other way restarts at 1x."""
        speed = abs(self.rate)
        if self.playing and np.sign(self.rate) == direction:
            speed = next((s for s in SHUTTLE_SPEEDS if s > speed), SHUTTLE_SPEEDS[-1])
        else:
            speed = SHUTTLE_SPEEDS[0]
        self.play(direction * speed)

    def _tick(self) -> None:
        project = self.session.project
        if project is None or self.clock is None:
            self.stop()
            return
        start, end = self._bounds()
        t = self.clock.position()
        if t >= end or t < start:
            if self.loop and self.rate > 0:
                self.session.set_time(start)
                self.play(self.rate)  # a fresh clock from the range start: no accumulated drift
            else:  # stop on the last frame of the range (the out point's frame), or the first going backwards
                self.session.set_time(start if t < start else end - 0.5 / project.fps)
                self.stop()
            return
        frame = project.frame_of(t)
        if frame != self._last_frame:
            self._last_frame = frame
            self.session.set_frame(frame)

    def play_grain(self, seconds: float) -> None:
        """A short snippet of audio at `seconds` while scrubbing (silent without a device)."""
        project = self.session.project
        if self.playing or not self.has_audio_device or project is None or project.audio is None:
            return
        import sounddevice as sd

        a = project.audio
        i = int(seconds * a.rate)
        grain = a.samples[i:i + int(GRAIN_SECONDS * a.rate)]
        if len(grain):
            fade = np.minimum(1.0, np.minimum(np.arange(len(grain)), np.arange(len(grain))[::-1]) / 64.0)
            sd.play(grain * fade[:, None].astype(np.float32), a.rate, blocking=False)
