"""Easing shared by the rig, the blink track and the painted layers."""
from __future__ import annotations

import numpy as np


def smoothstep(x):
    """3x^2 - 2x^3 of x clipped to 0..1 (dtype kept)."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)
