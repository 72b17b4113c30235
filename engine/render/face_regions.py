"""Landmark index sets of the MediaPipe face mesh that the renderers work with.

Contours run corner to corner so that upper and lower halves pair up point by point; the indices are
those of the pose-image edge lists (reference/aniportrait.md section 2.2).
"""
from __future__ import annotations

UPPER_INNER_LIP = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
LOWER_INNER_LIP = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)
UPPER_OUTER_LIP = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)
LOWER_OUTER_LIP = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291)


def inner_lip_polygon() -> tuple[int, ...]:
    """The inner-lip loop: upper contour left to right, then the lower contour back."""
    return UPPER_INNER_LIP + LOWER_INNER_LIP[-2:0:-1]


# The face outline loop (MediaPipe FACEMESH_FACE_OVAL), clockwise in the image from the forehead top.
FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148,
             176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109)

# (upper lid, lower lid, iris centre in the 478-point layout). RIGHT = the subject's right (image left).
RIGHT_EYE = ((33, 246, 161, 160, 159, 158, 157, 173, 133), (33, 7, 163, 144, 145, 153, 154, 155, 133), 468)
LEFT_EYE = ((263, 466, 388, 387, 386, 385, 384, 398, 362), (263, 249, 390, 373, 374, 380, 381, 382, 362), 473)
EYES = (RIGHT_EYE, LEFT_EYE)


def eye_polygon(eye) -> tuple[int, ...]:
    upper, lower, _ = eye
    return upper + lower[-2:0:-1]
