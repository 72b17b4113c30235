"""Talkline's engine: everything that computes. Headless, Qt-free; torch only inside neural backends."""
