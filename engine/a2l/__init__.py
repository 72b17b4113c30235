"""Audio2Lmk: audio -> per-frame canonical mesh offsets, head pose, phoneme/viseme/blink tracks."""
