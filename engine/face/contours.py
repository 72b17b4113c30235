"""Landmark contours of the MediaPipe face mesh (the same indices as the pose-image edge lists of
reference/aniportrait.md section 2.2). Loops run corner to corner so upper and lower halves pair up point by
point. One place for them: the rig, the renderers and the rest-pose correction all read these, and the
mouth-opening measures below."""
from __future__ import annotations

import numpy as np

# MediaPipe landmark loops; x > 0 is the subject's left. Paired index by index (same position along the loop).
LIPS_OUTER_UPPER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)
LIPS_OUTER_LOWER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291)
LIPS_INNER_UPPER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
LIPS_INNER_LOWER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)
# The mouth corner columns (outer corner -> inner corner) belong to both lips.
MOUTH_CORNER_RIGHT = (61, 76, 62, 78)
MOUTH_CORNER_LEFT = (291, 306, 292, 308)

EYE_RIGHT_UPPER = (33, 246, 161, 160, 159, 158, 157, 173, 133)
EYE_RIGHT_LOWER = (33, 7, 163, 144, 145, 153, 154, 155, 133)
EYE_LEFT_UPPER = (263, 466, 388, 387, 386, 385, 384, 398, 362)
EYE_LEFT_LOWER = (263, 249, 390, 373, 374, 380, 381, 382, 362)

# The eyes' outer corners, right then left: the line between them gives a face's size and tilt in the picture.
EYE_OUTER_CORNERS = (EYE_RIGHT_UPPER[0], EYE_LEFT_UPPER[0])


def eye_line(px: np.ndarray) -> np.ndarray:
    """(..., 2) vector from the right eye's outer corner to the left's, of (..., N, 2) landmarks."""
    px = np.asarray(px, dtype=np.float64)
    return px[..., EYE_OUTER_CORNERS[1], :] - px[..., EYE_OUTER_CORNERS[0], :]


def tilt_deg(line: np.ndarray) -> np.ndarray:
    """The angle (degrees, image axes: y down) of an eye line from the horizontal."""
    return np.degrees(np.arctan2(line[..., 1], line[..., 0]))


# Brow loops from the outer end to the inner end.
BROW_RIGHT_UPPER = (70, 63, 105, 66, 107)
BROW_RIGHT_LOWER = (46, 53, 52, 65, 55)
BROW_LEFT_UPPER = (300, 293, 334, 296, 336)
BROW_LEFT_LOWER = (276, 283, 282, 295, 285)

NOSE_TIP = 1

# Inner-lip (upper, lower) pairs between the corners: the gap between them is the mouth opening.
INNER_LIP_PAIRS = tuple(zip(LIPS_INNER_UPPER[1:-1], LIPS_INNER_LOWER[1:-1]))

# The face outline loop (MediaPipe FACEMESH_FACE_OVAL), clockwise in the image from the forehead top.
FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148,
             176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109)

# (upper lid, lower lid, iris centre in the 478-point layout). RIGHT = the subject's right (image left).
RIGHT_EYE = (EYE_RIGHT_UPPER, EYE_RIGHT_LOWER, 468)
LEFT_EYE = (EYE_LEFT_UPPER, EYE_LEFT_LOWER, 473)
EYES = (RIGHT_EYE, LEFT_EYE)


def inner_lip_polygon() -> tuple[int, ...]:
    """The inner-lip loop: upper contour left to right, then the lower contour back."""
    return LIPS_INNER_UPPER + LIPS_INNER_LOWER[-2:0:-1]


def eye_polygon(eye) -> tuple[int, ...]:
    upper, lower, _ = eye
    return upper + lower[-2:0:-1]


def inner_lip_gaps(points: np.ndarray) -> np.ndarray:
    """(..., pairs, D) upper minus lower inner-lip point, for (..., N >= 468, D) landmarks or meshes."""
    upper, lower = np.array(INNER_LIP_PAIRS).T
    return points[..., upper, :] - points[..., lower, :]


def mouth_opening(points: np.ndarray) -> np.ndarray | float:
    """Mean distance between paired upper and lower inner-lip points (in the points' unit)."""
    opening = np.linalg.norm(inner_lip_gaps(points), axis=-1).mean(axis=-1)
    return float(opening) if np.ndim(opening) == 0 else opening


def lip_gap_ratio(points: np.ndarray) -> np.ndarray | float:
    """Scale-free opening: the centre inner-lip gap (13-14) over the inter-ocular distance (33-263); the
    lip-sync benchmark's measure on landmarks of video frames and on predicted meshes alike."""
    ratio = (np.linalg.norm(points[..., 13, :] - points[..., 14, :], axis=-1)
             / np.linalg.norm(points[..., 33, :] - points[..., 263, :], axis=-1))
    return float(ratio) if np.ndim(ratio) == 0 else ratio
