"""Audio input: decoding any container, resampling, loudness."""
