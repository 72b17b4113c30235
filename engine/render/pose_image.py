"""Pose images: the Lmk2Video condition of the reference implementation, byte for byte.

512x512 black canvas, lines only (cv2.line, thickness 2, LINE_8), no irises, no forehead edges.
Colour tuples are written as-is (channel 0 = tuple[0]), exactly as the network saw them in training.
Pixel = min(floor(x_norm * 512), 511); a landmark outside [0, 1] drops every edge that touches it.
Later edges overwrite earlier ones, so the draw order below is part of the contract.
"""
from __future__ import annotations

import math

import numpy as np

CANVAS = 512
THICKNESS = 2

# (name, colour tuple, edges) in the reference's dict-insertion (draw) order.
POSE_IMAGE_SPEC: tuple[tuple[str, tuple[int, int, int], tuple[tuple[int, int], ...]], ...] = (
    ("face_oval", (10, 200, 10), (
        (176, 149), (150, 136), (356, 454), (58, 132), (152, 148), (361, 288), (251, 389), (132, 93),
        (389, 356), (400, 377), (136, 172), (377, 152), (323, 361), (172, 58), (454, 323), (365, 379),
        (379, 378), (148, 176), (93, 234), (397, 365), (149, 150), (288, 397), (234, 127), (378, 400),
        (127, 162), (162, 21))),
    ("left_eye", (180, 200, 10), (
        (263, 249), (249, 390), (390, 373), (373, 374), (374, 380), (380, 381), (381, 382), (382, 362),
        (263, 466), (466, 388), (388, 387), (387, 386), (386, 385), (385, 384), (384, 398), (398, 362))),
    ("left_eyebrow", (180, 220, 10), (
        (276, 283), (283, 282), (282, 295), (295, 285), (300, 293), (293, 334), (334, 296), (296, 336))),
    ("right_eye", (10, 200, 180), (
        (33, 7), (7, 163), (163, 144), (144, 145), (145, 153), (153, 154), (154, 155), (155, 133),
        (33, 246), (246, 161), (161, 160), (160, 159), (159, 158), (158, 157), (157, 173), (173, 133))),
    ("right_eyebrow", (10, 220, 180), (
        (46, 53), (53, 52), (52, 65), (65, 55), (70, 63), (63, 105), (105, 66), (66, 107))),
    ("lips_outer_bottom_left", (10, 180, 20), ((61, 146), (146, 91), (91, 181), (181, 84), (84, 17))),
    ("lips_outer_bottom_right", (20, 10, 180), ((17, 314), (314, 405), (405, 321), (321, 375), (375, 291))),
    ("lips_inner_bottom_left", (100, 100, 30), ((78, 95), (95, 88), (88, 178), (178, 87), (87, 14))),
    ("lips_inner_bottom_right", (100, 150, 50), ((14, 317), (317, 402), (402, 318), (318, 324), (324, 308))),
    ("lips_outer_top_left", (20, 80, 100), ((61, 185), (185, 40), (40, 39), (39, 37), (37, 0))),
    ("lips_outer_top_right", (80, 100, 20), ((0, 267), (267, 269), (269, 270), (270, 409), (409, 291))),
    ("lips_inner_top_left", (120, 100, 200), ((78, 191), (191, 80), (80, 81), (81, 82), (82, 13))),
    ("lips_inner_top_right", (150, 120, 100), ((13, 312), (312, 311), (311, 310), (310, 415), (415, 308))),
)

LIP_INDICES: tuple[int, ...] = tuple(sorted({i for name, _, edges in POSE_IMAGE_SPEC if name.startswith("lips")
                                             for e in edges for i in e}))


def _inside_unit(v: float) -> bool:
    # MediaPipe's drawing_utils tolerance (math.isclose at the borders).
    return (v > 0 or math.isclose(0, v)) and (v < 1 or math.isclose(1, v))


def draw_pose_image(landmarks_px: np.ndarray, width: int, height: int, canvas: int = CANVAS) -> np.ndarray:
    """(468|478, 2) pixel landmarks of a width x height frame -> (canvas, canvas, 3) uint8 pose image."""
    import cv2

    pts = np.asarray(landmarks_px, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[0] < 468 or pts.shape[1] < 2:
        raise ValueError(f"expected (468|478, 2) landmarks, got {pts.shape}")
    norm = pts[:, :2] / np.array([width, height], dtype=np.float64)
    image = np.zeros((canvas, canvas, 3), dtype=np.uint8)
    coords: dict[int, tuple[int, int]] = {}
    for _, colour, edges in POSE_IMAGE_SPEC:
        for a, b in edges:
            for i in (a, b):
                if i not in coords:
                    x, y = norm[i]
                    if _inside_unit(x) and _inside_unit(y):
                        coords[i] = (min(math.floor(x * canvas), canvas - 1), min(math.floor(y * canvas), canvas - 1))
                    else:
                        coords[i] = None
            if coords[a] is not None and coords[b] is not None:
                cv2.line(image, coords[a], coords[b], colour, THICKNESS)
    return image


def pose_image_rgb(landmarks_px: np.ndarray, width: int, height: int, canvas: int = CANVAS) -> np.ndarray:
    """The pose image for display: the reference treats its array as BGR, so swap to RGB."""
    return np.ascontiguousarray(draw_pose_image(landmarks_px, width, height, canvas)[..., ::-1])
