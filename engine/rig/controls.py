"""Displacement fields (cm, canonical space, weight 1) of the rig's expression controls.

Every field is built from a few hand-placed handles (lip columns, lid margins, brow loops) with a
smooth extension over the rest of the mesh: either a Gaussian of the geodesic distance (openings cut)
or a harmonic fill between the handles and a zero ring, which never overshoots its constraints. Both
keep neighbouring vertices moving alike (no tearing). Subject-left controls are built here; the rig
derives the right ones by mirroring, so the two sides are exact mirror images.
"""
from __future__ import annotations

from collections.abc import Callable
from functools import cached_property

import numpy as np
from scipy.spatial.transform import Rotation

from engine.rig.mesh import (
    FaceGraph,
    LipRegions,
    lip_regions,
)
from engine.face.contours import (
    BROW_LEFT_LOWER,
    BROW_LEFT_UPPER,
    BROW_RIGHT_LOWER,
    BROW_RIGHT_UPPER,
    EYE_LEFT_LOWER,
    EYE_LEFT_UPPER,
    EYE_RIGHT_LOWER,
    EYE_RIGHT_UPPER,
    LIPS_INNER_LOWER,
    LIPS_INNER_UPPER,
    LIPS_OUTER_LOWER,
    LIPS_OUTER_UPPER,
    MOUTH_CORNER_LEFT,
)
from engine.easing import smoothstep as unit_smoothstep

# Jaw hinge: behind and below the ear line (the effective centre of the condyle's rotation + glide).
JAW_PIVOT = np.array([0.0, -3.5, -5.5])
# jawOpen = 1 opens the inner lips (13 vs 14) to this gap: ~0.33 of the 8.9 cm inter-ocular distance.
JAW_OPEN_GAP_CM = 2.9
# Lids meet at this fraction of the way from the lower to the upper lid margin (the upper lid does the work).
BLINK_MEET = 0.2


def smoothstep(e0: float, e1: float, x: np.ndarray) -> np.ndarray:
    """Smoothstep from edge e0 (0) to edge e1 (1), in float64."""
    return unit_smoothstep((np.asarray(x, dtype=np.float64) - e0) / (e1 - e0))


def gaussian(d: np.ndarray, sigma: float) -> np.ndarray:
    return np.exp(-0.5 * (d / sigma) ** 2)


class ControlBuilder:
    """Builds the left/central control fields on one canonical mesh."""

    def __init__(self, vertices: np.ndarray, triangles: np.ndarray):
        self.g = FaceGraph(np.asarray(vertices, dtype=np.float64), np.asarray(triangles))
        self.v = self.g.vertices

    # The lip labelling, lip profile and jaw solve are built on first use: the lid and brow controls
    # (e.g. the per-face blinks of engine.rig.rig.fit_to_face) need none of them.
    @cached_property
    def lips(self) -> LipRegions:
        return lip_regions(self.g)

    @cached_property
    def lip(self) -> np.ndarray:
        """(468,) bool: both lips and the corner columns."""
        return self.lips.upper | self.lips.lower | self.lips.corners

    @cached_property
    def lip_profile(self) -> np.ndarray:
        return self._profile_along_lips()

    @cached_property
    def _jaw(self) -> tuple[np.ndarray, float]:
        return self._solve_jaw()

    @property
    def _jaw_weights(self) -> np.ndarray:
        return self._jaw[0]

    @property
    def _jaw_rotation(self) -> float:
        return self._jaw[1]

    # ---- helpers -------------------------------------------------------------------------------------
    def local_fill(self, handles: np.ndarray, disp: np.ndarray, radius: float, still: np.ndarray | None = None) -> np.ndarray:
        """Harmonic extension of disp (given on the handle mask) to zero beyond `radius` cm (geodesic)."""
        far = self.g.geodesic(np.flatnonzero(handles)) > radius
        zero = far & ~handles if still is None else (far | still) & ~handles
        fixed = np.flatnonzero(handles | zero)
        vals = np.where(handles[fixed, None], disp[fixed], 0.0)
        return self.g.harmonic_fill(fixed, vals)

    def _lip_coherent(self, f: np.ndarray) -> np.ndarray:
        """f with the lips made to move as one: inner and outer contour vertices at the same loop index get
        their mean, and the lip interior is filled harmonically from the contours (elsewhere f is kept)."""
        out = np.asarray(f, dtype=np.float64).copy()
        for inner, outer in ((LIPS_INNER_UPPER, LIPS_OUTER_UPPER), (LIPS_INNER_LOWER, LIPS_OUTER_LOWER)):
            for i, o in zip(inner[1:-1], outer[1:-1]):
                out[[i, o]] = 0.5 * (out[i] + out[o])
        contour = self.mask(LIPS_INNER_UPPER + LIPS_OUTER_UPPER + LIPS_INNER_LOWER + LIPS_OUTER_LOWER)
        pinned = np.flatnonzero(~self.lip | self.lips.corners | contour)
        return self.g.harmonic_fill(pinned, out[pinned])

    def _profile_along_lips(self) -> np.ndarray:
        """(468,) 1 at the lip centre line falling to 0 at the mouth corners (rounded, like an open mouth).

        The position along the lips, u = |x| / |x of the loop's corner|, is made lip-coherent so that the
        inner and outer contours bend as one.
        """
        u = np.ones(len(self.v))
        for loop in (LIPS_INNER_UPPER, LIPS_OUTER_UPPER, LIPS_INNER_LOWER, LIPS_OUTER_LOWER):
            u[list(loop)] = np.abs(self.v[list(loop), 0]) / abs(self.v[loop[0], 0])
        u = self._lip_coherent(u)
        return np.where(self.lip & ~self.lips.corners, np.clip(1.0 - u**2, 0.0, 1.0) ** 0.8, 0.0)

    def loop_curve(self, loop: tuple[int, ...], x: np.ndarray) -> np.ndarray:
        """(len(x), 3) points of a landmark polyline at the given x (linear interpolation along x)."""
        p = self.v[list(loop)]
        o = np.argsort(p[:, 0])
        return np.stack([x, np.interp(x, p[o, 0], p[o, 1]), np.interp(x, p[o, 0], p[o, 2])], axis=1)

    def mask(self, idx) -> np.ndarray:
        m = np.zeros(len(self.v), bool)
        m[list(idx)] = True
        return m

    # ---- jaw -----------------------------------------------------------------------------------------
    def _rotation_disp(self, angle_deg: float) -> np.ndarray:
        rot = Rotation.from_euler("x", angle_deg, degrees=True).as_matrix()
        return (self.v - JAW_PIVOT) @ rot.T + JAW_PIVOT - self.v

    def _solve_jaw(self) -> tuple[np.ndarray, float]:
        """Per-vertex share of the jaw rotation, and the angle that opens the lips to JAW_OPEN_GAP_CM."""
        v, lips = self.v, self.lips
        s = self.lip_profile
        fixed_vals = np.full(len(v), np.nan)
        fixed_vals[lips.upper] = 0.5 - 0.5 * s[lips.upper]
        fixed_vals[lips.lower] = 0.5 + 0.5 * s[lips.lower]
        fixed_vals[lips.corners] = 0.5
        fixed_vals[(v[:, 1] > -2.0) & ~self.lip] = 0.0  # nose base and above: the skull
        fixed_vals[(v[:, 1] < -6.0) & ~self.lip] = 1.0  # below the lower lip: the mandible
        fixed = np.flatnonzero(~np.isnan(fixed_vals))
        weights = self.g.harmonic_fill(fixed, fixed_vals[fixed])
        lo, hi = 0.0, 40.0  # bisection on the angle: the gap grows monotonically with it
        for _ in range(50):
            mid = 0.5 * (lo + hi)
            d = weights[:, None] * self._rotation_disp(mid)
            gap = np.linalg.norm((v[13] + d[13]) - (v[14] + d[14]))
            lo, hi = (mid, hi) if gap < JAW_OPEN_GAP_CM else (lo, mid)
        return weights, 0.5 * (lo + hi)

    def jaw_open(self) -> np.ndarray:
        return self._jaw_weights[:, None] * self._rotation_disp(self._jaw_rotation)

    def mouth_close(self) -> np.ndarray:
        """Closes the lips against an open jaw (ARKit semantics: used with mouthClose <= jawOpen).

        With jawOpen = 1 each lip ends at the jaw share `meet` instead of its own: the corners (0.5) stay,
        the lower lip comes most of the way up, the upper lip a little down, and they meet as at rest.
        """
        v = self.v
        meet = 0.5 - 0.25 * self.lip_profile
        fixed = self.lip | (v[:, 1] > -2.0) | (v[:, 1] < -6.2)
        vals = np.where(self.lip, meet - self._jaw_weights, 0.0)
        c = self.g.harmonic_fill(np.flatnonzero(fixed), vals[fixed])
        return c[:, None] * self._rotation_disp(self._jaw_rotation)

    # ---- lips ----------------------------------------------------------------------------------------
    def mouth_funnel(self) -> np.ndarray:
        """Lips flare forward into a rounded open 'oo': corners in, lips out and slightly apart."""
        v, lips, s = self.v, self.lips, self.lip_profile
        d = np.zeros_like(v)
        d[:, 0] = -0.22 * v[:, 0]
        d[:, 1] = np.where(lips.upper, 0.22 * s, 0.0) - np.where(lips.lower, 0.3 * s, 0.0)
        d[:, 2] = 0.45 + 0.25 * s
        return self.local_fill(self.lip, d, radius=3.0)

    def mouth_pucker(self) -> np.ndarray:
        """Kiss: lips pushed forward and gathered towards the centre, closed."""
        v, s = self.v, self.lip_profile
        d = np.zeros_like(v)
        d[:, 0] = -0.32 * v[:, 0]
        d[:, 2] = 0.55 + 0.3 * s
        return self.local_fill(self.lip, d, radius=3.0)

    def _corner_field(self, corner_disp: tuple[float, float, float], sigma: float) -> np.ndarray:
        """The left mouth corner moves by corner_disp, the surroundings follow with a geodesic Gaussian
        (lip-coherent, so a lip does not thin), fading out before the right half of the face."""
        w = gaussian(self._lip_coherent(self.g.geodesic(MOUTH_CORNER_LEFT)), sigma) * smoothstep(-1.2, 0.3, self.v[:, 0])
        return w[:, None] * np.asarray(corner_disp)[None, :]

    def mouth_smile_left(self) -> np.ndarray:
        corner = self._corner_field((0.5, 0.65, -0.35), sigma=1.4)
        # The cheek rides up with the smile (zygomaticus), under the eye but not into the lid.
        cheek = self.g.geodesic([np.argmin(np.linalg.norm(self.v - [3.6, -1.2, 3.6], axis=1))])
        return corner + gaussian(cheek, 1.2)[:, None] * np.array([0.05, 0.25, 0.1])

    def mouth_frown_left(self) -> np.ndarray:
        return self._corner_field((0.1, -0.55, -0.05), sigma=1.3)

    def mouth_stretch_left(self) -> np.ndarray:
        return self._corner_field((0.65, -0.15, -0.25), sigma=1.5)

    def _left_side(self) -> np.ndarray:
        """(468,) weight of the subject's left half of the mouth: 0 right of the midline, 1 towards the corner."""
        return smoothstep(-0.2, 1.0, self.v[:, 0])

    def mouth_upper_up_left(self) -> np.ndarray:
        side = self._left_side()
        handles = self.lip.copy()
        d = np.zeros_like(self.v)
        d[:, 1] = np.where(self.lips.upper, 0.45 * side, 0.0) + np.where(self.lips.corners, 0.1 * side, 0.0)
        d[:, 2] = np.where(self.lips.upper, 0.08 * side, 0.0)
        return self.local_fill(handles, d, radius=2.5)

    def mouth_lower_down_left(self) -> np.ndarray:
        side = self._left_side()
        d = np.zeros_like(self.v)
        d[:, 1] = -np.where(self.lips.lower, 0.45 * side, 0.0) - np.where(self.lips.corners, 0.1 * side, 0.0)
        d[:, 2] = np.where(self.lips.lower, 0.05 * side, 0.0)
        return self.local_fill(self.lip, d, radius=2.5)

    def _thin_lips(self, upper_k: float, lower_k: float, back: tuple[float, float], side: np.ndarray) -> np.ndarray:
        """Each lip's red moves towards its inner contour by the fraction k (and back by `back` cm): the
        inner contour itself stays, so the lips thin without crossing."""
        v, lips = self.v, self.lips
        iu = self.loop_curve(LIPS_INNER_UPPER, v[:, 0])[:, 1]
        il = self.loop_curve(LIPS_INNER_LOWER, v[:, 0])[:, 1]
        d = np.zeros_like(v)
        d[:, 1] = np.where(lips.upper, -upper_k * np.maximum(v[:, 1] - iu, 0.0), 0.0)
        d[:, 1] += np.where(lips.lower, lower_k * np.maximum(il - v[:, 1], 0.0), 0.0)
        d[:, 2] = np.where(lips.upper, -back[0], 0.0) + np.where(lips.lower, -back[1], 0.0)
        return self.local_fill(self.lip, d * side[:, None], radius=2.0)

    def mouth_press_left(self) -> np.ndarray:
        return self._thin_lips(0.25, 0.25, (0.05, 0.05), self._left_side())

    def mouth_roll_lower(self) -> np.ndarray:
        return self._thin_lips(0.0, 0.5, (0.0, 0.35), np.ones(len(self.v)))

    def mouth_roll_upper(self) -> np.ndarray:
        return self._thin_lips(0.5, 0.0, (0.35, 0.0), np.ones(len(self.v)))

    def cheek_puff(self) -> np.ndarray:
        """Both cheeks bulge out along the surface normal."""
        centres = [np.argmin(np.linalg.norm(self.v - [sx * 3.9, -3.6, 2.9], axis=1)) for sx in (-1, 1)]
        w = gaussian(self.g.geodesic(centres), 1.6)
        w = np.where(self.lip, w * 0.3, w)  # the lips stay put while the cheeks fill
        return 0.7 * w[:, None] * self.g.normals

    # ---- eyes ----------------------------------------------------------------------------------------
    def _lid_fill(self, upper: tuple[int, ...], lower: tuple[int, ...], d_margin: np.ndarray) -> np.ndarray:
        margin = self.mask(upper + lower)
        return self.local_fill(margin, d_margin, radius=1.6)

    def eye_blink_left(self) -> np.ndarray:
        """Upper lid down onto the (slightly raised) lower lid: both margins meet on one curve at 1.0."""
        up, lo = EYE_LEFT_UPPER, EYE_LEFT_LOWER
        d = np.zeros_like(self.v)
        for loop in (up, lo):
            idx = list(loop[1:-1])
            x = self.v[idx, 0]
            meet = (1 - BLINK_MEET) * self.loop_curve(lo, x) + BLINK_MEET * self.loop_curve(up, x)
            d[idx] = meet - self.v[idx]
        return self._lid_fill(up, lo, d)

    def eye_wide_left(self) -> np.ndarray:
        up, lo = EYE_LEFT_UPPER, EYE_LEFT_LOWER
        x = self.v[:, 0]
        centre, half = 0.5 * (self.v[263, 0] + self.v[362, 0]), 0.5 * abs(self.v[263, 0] - self.v[362, 0])
        bump = np.clip(1.0 - ((x - centre) / half) ** 2, 0.0, 1.0)
        d = np.zeros_like(self.v)
        d[list(up), 1] = 0.2 * bump[list(up)]
        d[list(up), 2] = 0.03 * bump[list(up)]
        d[list(lo), 1] = -0.06 * bump[list(lo)]
        return self._lid_fill(up, lo, d)

    # ---- brows ---------------------------------------------------------------------------------------
    def _brow_field(self, loops: list[tuple[tuple[int, ...], tuple[int, ...]]], disp: Callable[[float], np.ndarray]) -> np.ndarray:
        """Brow loops move by disp(t), t = 0 at the outer end .. 1 at the inner end; the eye margins stay."""
        d = np.zeros_like(self.v)
        handles = np.zeros(len(self.v), bool)
        for upper, lower in loops:
            for loop in (upper, lower):
                for k, i in enumerate(loop):
                    d[i] = disp(k / (len(loop) - 1))
                    handles[i] = True
        still = self.mask(EYE_LEFT_UPPER + EYE_LEFT_LOWER + EYE_RIGHT_UPPER + EYE_RIGHT_LOWER)
        if len(loops) == 1:  # a one-sided control leaves the other brow alone
            still |= self.v[:, 0] < -0.8
        return self.local_fill(handles, d, radius=3.0, still=still)

    def brow_inner_up(self) -> np.ndarray:
        def disp(t: float) -> np.ndarray:
            return np.array([0.0, 0.15 + 0.45 * t**1.5, 0.0])

        left = [(BROW_LEFT_UPPER, BROW_LEFT_LOWER)]
        right = [(BROW_RIGHT_UPPER, BROW_RIGHT_LOWER)]
        return self._brow_field(left + right, disp)

    def brow_down_left(self) -> np.ndarray:
        def disp(t: float) -> np.ndarray:
            # Corrugator: the inner brow comes down and in (towards the midline, -x) more than the outer.
            return np.array([-0.2 * t, -(0.2 + 0.2 * t), 0.03])

        return self._brow_field([(BROW_LEFT_UPPER, BROW_LEFT_LOWER)], disp)

    def brow_outer_up_left(self) -> np.ndarray:
        def disp(t: float) -> np.ndarray:
            return np.array([0.0, 0.5 * (1.0 - t) + 0.05, 0.0])

        return self._brow_field([(BROW_LEFT_UPPER, BROW_LEFT_LOWER)], disp)


# name -> (builder method, side): "L" fields are mirrored into their "Right" twin, "C" are central.
CONTROL_SPECS: tuple[tuple[str, str, str], ...] = (
    ("jawOpen", "jaw_open", "C"),
    ("mouthClose", "mouth_close", "C"),
    ("mouthFunnel", "mouth_funnel", "C"),
    ("mouthPucker", "mouth_pucker", "C"),
    ("mouthSmileLeft", "mouth_smile_left", "L"),
    ("mouthFrownLeft", "mouth_frown_left", "L"),
    ("mouthStretchLeft", "mouth_stretch_left", "L"),
    ("mouthUpperUpLeft", "mouth_upper_up_left", "L"),
    ("mouthLowerDownLeft", "mouth_lower_down_left", "L"),
    ("mouthPressLeft", "mouth_press_left", "L"),
    ("mouthRollLower", "mouth_roll_lower", "C"),
    ("mouthRollUpper", "mouth_roll_upper", "C"),
    ("cheekPuff", "cheek_puff", "C"),
    ("eyeBlinkLeft", "eye_blink_left", "L"),
    ("eyeWideLeft", "eye_wide_left", "L"),
    ("browInnerUp", "brow_inner_up", "C"),
    ("browDownLeft", "brow_down_left", "L"),
    ("browOuterUpLeft", "brow_outer_up_left", "L"),
)


def mirror_field(field: np.ndarray, mirror: np.ndarray) -> np.ndarray:
    """The mirror image (x -> -x) of a displacement field."""
    return field[mirror] * np.array([-1.0, 1.0, 1.0])


def build_fields(vertices: np.ndarray, triangles: np.ndarray) -> dict[str, np.ndarray]:
    """All control fields, name -> (468, 3) float64, Right twins mirrored from the Left ones."""
    builder = ControlBuilder(vertices, triangles)
    fields: dict[str, np.ndarray] = {}
    for name, method, side in CONTROL_SPECS:
        field = getattr(builder, method)()
        if side == "L":
            fields[name] = field
            fields[name.replace("Left", "Right")] = mirror_field(field, builder.g.mirror)
        else:
            fields[name] = field
    return fields
