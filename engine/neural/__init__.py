"""The neural backends' models (AniPortrait: Audio2Mesh/Audio2Pose and the Lmk2Video diffusion renderer).

Modules here import torch, diffusers and transformers at their top, except `layout`, `configs` and `models` (the
weights folder layout, the architecture constants and the `models check` entry: torch-free, so `available()`
and `talkline backends` stay cheap).
Nothing outside this package imports it at import time: the plug-ins (engine.a2l.aniportrait,
engine.render.aniportrait) import it inside their methods.
"""
