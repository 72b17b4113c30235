"""The reference implementation's comparison layout: [reference | pose image | result] side by side, as
torchvision's make_grid(padding=2, pad_value=0) draws it (three 512 panels -> 1544x516)."""
from __future__ import annotations

import numpy as np

from engine.errors import ExportError

PADDING = 2


def side_by_side(reference_rgb: np.ndarray, pose_image_rgb: np.ndarray, frame_rgb: np.ndarray) -> np.ndarray:
    """RGB uint8 grid. Panels whose height differs from the frame's are resized to it (aspect kept, width
    rounded to even so that the grid stays encodable as H.264)."""
    import cv2

    height = frame_rgb.shape[0]
    pose = np.asarray(pose_image_rgb)
    if pose.ndim == 3 and pose.shape[0] * frame_rgb.shape[1] != pose.shape[1] * height:
        # A pose image's square canvas holds the frame's normalised coordinates (the reference implementation's
        # format): stretched back to the frame's shape, it lines up with a non-square frame.
        pose = cv2.resize(pose, (frame_rgb.shape[1], height), interpolation=cv2.INTER_AREA)
    panels = [_fit_height(p, height, name) for p, name in
              ((reference_rgb, "reference"), (pose, "pose image"), (frame_rgb, "frame"))]
    width = PADDING + sum(p.shape[1] + PADDING for p in panels)
    grid = np.zeros((height + 2 * PADDING, width, 3), dtype=np.uint8)
    x = PADDING
    for panel in panels:
        grid[PADDING:PADDING + height, x:x + panel.shape[1]] = panel
        x += panel.shape[1] + PADDING
    return grid


def _fit_height(panel: np.ndarray, height: int, name: str) -> np.ndarray:
    import cv2

    panel = np.asarray(panel)
    if panel.ndim != 3 or panel.shape[2] != 3 or panel.dtype != np.uint8:
        raise ExportError(f"{name} must be an RGB uint8 image (H, W, 3), got {panel.dtype} {panel.shape}")
    h, w = panel.shape[:2]
    if h == height:
        return panel
    new_w = max(2, 2 * round(w * height / h / 2))
    interpolation = cv2.INTER_AREA if h > height else cv2.INTER_LINEAR
    return cv2.resize(panel, (new_w, height), interpolation=interpolation)
