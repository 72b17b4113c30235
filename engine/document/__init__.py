"""The animation document: keyframed curves, the project model and its file format (Qt-free)."""
