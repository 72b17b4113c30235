"""The timeline dock: waveform, ruler, playhead, in/out range, phoneme/viseme/blink lanes, keyframe lanes."""
from editor.timeline.widget import TimelineWidget

__all__ = ["TimelineWidget"]
