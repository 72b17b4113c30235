"""Face analysis: MediaPipe landmarks, the canonical face model, reference faces."""
