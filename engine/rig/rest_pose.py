"""The mouth at rest for a portrait whose lips are parted (a smile showing teeth, a mouth left open).

Motion offsets are added to the reference mesh, so a parted-lip portrait would never close its mouth: its
bilabials would not meet and silence would not look like rest. The rest correction moves the reference
mesh's lips together with the rig's own mouth controls (a least-squares fit of the inner-lip gaps to a
closed mouth), leaving the expression (smile, brows) alone. Portraits with closed lips get no correction.
"""
from __future__ import annotations

import numpy as np

from engine.face.contours import inner_lip_gaps

CLOSED_GAP_CM = 0.03  # what the landmarker's mesh shows for closed lips
PARTED_GAP_CM = 0.15  # below this mean gap the lips count as closed already
CLOSING_CONTROLS = ("jawOpen", "mouthClose", "mouthUpperUpLeft", "mouthUpperUpRight",
                    "mouthLowerDownLeft", "mouthLowerDownRight")


def _gaps(mesh: np.ndarray) -> np.ndarray:
    return inner_lip_gaps(mesh)[..., 1]  # signed: canonical +y is up, so crossed lips are negative


def mouth_rest_offsets(mesh: np.ndarray, rig) -> np.ndarray:
    """(468, 3) offsets that bring a parted-lip reference mesh to closed lips (zeros if already closed)."""
    from scipy.optimize import lsq_linear

    gaps = _gaps(mesh)
    if gaps.mean() < PARTED_GAP_CM:
        return np.zeros((468, 3))
    basis = np.stack([rig.basis[rig.index(name)] for name in CLOSING_CONTROLS]).astype(np.float64)
    a = _gaps(basis).T  # (pairs, controls): gap change per unit weight
    target = CLOSED_GAP_CM - gaps
    reg = 0.05 * np.eye(len(CLOSING_CONTROLS))  # prefer small weights among equivalent closings
    fit = lsq_linear(np.vstack([a, reg]), np.concatenate([target, np.zeros(len(CLOSING_CONTROLS))]),
                     bounds=(-1.0, 1.0))
    return np.tensordot(fit.x, basis, axes=1)
