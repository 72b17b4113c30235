"""Where the person is in a portrait: a GrabCut segmentation (OpenCV's graph cut over colour models, no model
weights) seeded by the face landmarks. The warp uses it to keep the background beyond the person's silhouette
still: a wall, a door frame or a cornice behind the head no longer bends as the head moves.

Seeds, in face radii r (mean distance of the face outline from its centre) around the outline's centre:
the face itself is sure foreground; an ellipse over the head (hair: up to ~1.6 r above the centre, ~1.45 r to
the sides, which covers the hair of most portraits) and a neck column down to the frame's bottom edge are
probable foreground; everything else is probable background, and far from the head (beyond the ellipse
BACKGROUND_RADII, above the chin, where shoulders and long hair cannot be) sure background. GrabCut then
moves the boundary to where the colours change.
"""
from __future__ import annotations

import numpy as np

from engine.face.contours import FACE_OVAL

# GrabCut runs on the image scaled so its longer side is this: the silhouette is needed to a few percent of
# the face's size only (the warp's ring points are 40 directions around it), and the cut's cost grows with the
# pixel count (0.8-3.7 s at 512 px on the development machine, a quarter of that here).
SEGMENT_SIDE_PX = 256
HEAD_RADII = (1.45, 1.6)  # probable foreground: half axes (x, y) of the head-and-hair ellipse, in face radii
HEAD_RAISE = 0.25  # its centre sits this many face radii above the face's centre (hair grows up, not down)
NECK_HALF_WIDTH = 0.7  # probable foreground: a column this wide (face radii) from the face centre downwards
BACKGROUND_RADII = (2.4, 2.6)  # sure background beyond this ellipse, above the chin (1 face radius below centre)
GRABCUT_ITERATIONS = 5
GRABCUT_SEED = 7  # any fixed seed: the same portrait is segmented the same way in every render


def person_mask(image: np.ndarray, landmarks_px: np.ndarray) -> np.ndarray:
    """(H, W) bool: True on the person (face, hair, neck, body), False on the background."""
    import cv2

    h, w = image.shape[:2]
    scale = min(1.0, SEGMENT_SIDE_PX / max(h, w))
    small = cv2.resize(np.ascontiguousarray(image[..., :3]), (max(1, round(w * scale)), max(1, round(h * scale))),
                       interpolation=cv2.INTER_AREA)
    sh, sw = small.shape[:2]
    oval = np.asarray(landmarks_px, np.float64)[list(FACE_OVAL)] * scale
    centre = oval.mean(axis=0)
    r = float(np.linalg.norm(oval - centre, axis=1).mean())
    seeds = np.full((sh, sw), cv2.GC_PR_BGD, np.uint8)
    ys, xs = np.mgrid[0:sh, 0:sw]
    far = ((xs - centre[0]) / (BACKGROUND_RADII[0] * r)) ** 2 + ((ys - centre[1]) / (BACKGROUND_RADII[1] * r)) ** 2 > 1
    seeds[far & (ys < centre[1] + r)] = cv2.GC_BGD
    axes = (max(1, round(HEAD_RADII[0] * r)), max(1, round(HEAD_RADII[1] * r)))
    cv2.ellipse(seeds, (round(centre[0]), round(centre[1] - HEAD_RAISE * r)), axes, 0, 0, 360, cv2.GC_PR_FGD, -1)
    cv2.rectangle(seeds, (round(centre[0] - NECK_HALF_WIDTH * r), round(centre[1])),
                  (round(centre[0] + NECK_HALF_WIDTH * r), sh), cv2.GC_PR_FGD, -1)
    cv2.fillPoly(seeds, [cv2.convexHull(oval.astype(np.float32)).astype(np.int32)], cv2.GC_FGD)
    if not (seeds == cv2.GC_BGD).any() and not (seeds == cv2.GC_PR_BGD).any():
        return np.ones((h, w), bool)  # the face fills the frame: no background to keep
    models = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    # GrabCut's colour models start from k-means on OpenCV's random generator, which carries on per thread: a
    # second render in the editor segmented the portrait differently (up to 10 grey levels by the hair's edge)
    cv2.setRNGSeed(GRABCUT_SEED)
    try:
        cv2.grabCut(np.ascontiguousarray(small), seeds, None, *models, GRABCUT_ITERATIONS, cv2.GC_INIT_WITH_MASK)
    except cv2.error:  # a degenerate colour model (a flat image): no silhouette, the whole field moves as before
        return np.ones((h, w), bool)
    cut = np.isin(seeds, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.uint8)
    # The person is one piece joined to the face: a logo, a lamp or a picture on the wall whose colours match the
    # hair's, cut out as foreground apart from it, stays background (an SBS logo beside the hair moved with it).
    count, labels = cv2.connectedComponents(cut, connectivity=8)
    if count > 2:
        joined = np.unique(labels[seeds == cv2.GC_FGD])
        cut = np.isin(labels, joined[joined > 0]).astype(np.uint8)
    person = cv2.resize(cut, (w, h), interpolation=cv2.INTER_NEAREST)
    face = np.round(cv2.convexHull((oval / scale).astype(np.float32))).astype(np.int32)
    cv2.fillPoly(person, [face], 1)  # the face at full resolution (the cut's pixels are coarser)
    return person.astype(bool)
