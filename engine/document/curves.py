"""Keyframed animation curves (Blender F-Curve conventions, see reference/field.md section 4.4).

A key's interpolation governs the segment from that key to the next one. Bezier handles are (dt, dv)
offsets relative to their key; None means automatic, auto-clamped as Blender's AUTO_CLAMPED: the slope
is the mean of the neighbouring secant slopes, each handle spans 1/3 of its neighbouring interval, and
the handle is flat at local extrema, at equal neighbours and at the first and last keys. The slope is
also limited so that no handle passes a neighbour's value: every control point of a segment then lies
between the segment's key values, and a Bezier curve stays inside the hull of its control points, so
auto-clamped curves never overshoot.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np

KEY_TIME_TOLERANCE = 0.0005  # seconds: set_key at a time this close to a key replaces that key
_SOLVE_TOLERANCE = 1e-10  # of the normalised segment time, when solving the Bezier x(u) = t
_SOLVE_ITERATIONS = 60  # safeguarded Newton: a bisection step is taken whenever Newton leaves the bracket


class Interpolation(str, Enum):
    CONSTANT = "constant"
    LINEAR = "linear"
    BEZIER = "bezier"
    EASE_IN = "ease_in"
    EASE_OUT = "ease_out"
    EASE_IN_OUT = "ease_in_out"


_ORDER = tuple(Interpolation)
Handle = tuple[float, float]


@dataclass
class Key:
    time: float  # seconds
    value: float
    interpolation: Interpolation = Interpolation.BEZIER
    handle_left: Handle | None = None  # (dt <= 0, dv) relative to the key; None = auto-clamped
    handle_right: Handle | None = None  # (dt >= 0, dv) relative to the key; None = auto-clamped

    def to_json(self) -> dict:
        d = {"time": self.time, "value": self.value, "interpolation": self.interpolation.value}
        if self.handle_left is not None:
            d["handle_left"] = list(self.handle_left)
        if self.handle_right is not None:
            d["handle_right"] = list(self.handle_right)
        return d

    @classmethod
    def from_json(cls, d: dict) -> "Key":
        return cls(
            time=_finite(d["time"], "key time"),
            value=_finite(d["value"], "key value"),
            interpolation=Interpolation(d.get("interpolation", Interpolation.BEZIER.value)),
            handle_left=_handle(d.get("handle_left")),
            handle_right=_handle(d.get("handle_right")),
        )


def _finite(x, what: str) -> float:
    x = float(x)
    if not np.isfinite(x):
        raise ValueError(f"{what} must be finite, got {x}")
    return x


def _handle(h) -> Handle | None:
    if h is None:
        return None
    if len(h) != 2:
        raise ValueError(f"a handle is (dt, dv), got {h!r}")
    return (_finite(h[0], "handle dt"), _finite(h[1], "handle dv"))


def _ease(interp: Interpolation, s: np.ndarray) -> np.ndarray:
    """Cubic easing (Penner's, Blender's CUBIC) of the normalised segment time s in [0, 1]."""
    if interp is Interpolation.EASE_IN:
        return s**3
    if interp is Interpolation.EASE_OUT:
        return 1.0 - (1.0 - s) ** 3
    return np.where(s < 0.5, 4.0 * s**3, 1.0 - 0.5 * (2.0 - 2.0 * s) ** 3)


@dataclass(frozen=True)
class _Compiled:
    """Arrays for vectorised evaluation, rebuilt after each change."""

    times: np.ndarray  # (n,)
    values: np.ndarray  # (n,)
    codes: np.ndarray  # (n,) index of each key's interpolation in _ORDER
    left: np.ndarray  # (n, 2) effective left handles (auto resolved, corrected to keep x monotonic)
    right: np.ndarray  # (n, 2) effective right handles


class Curve:
    """A sorted list of keys and its evaluation. Read `keys`; change it only through the methods, which
    keep it sorted and bump `revision` (caches of evaluated samples compare revisions)."""

    def __init__(self, keys: list[Key] | None = None):
        self.keys: list[Key] = sorted(keys or [], key=lambda k: k.time)
        self.revision = 0
        self._compiled: _Compiled | None = None

    def __len__(self) -> int:
        return len(self.keys)

    def __repr__(self) -> str:
        return f"Curve({self.keys!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, Curve) and self.keys == other.keys

    def _changed(self) -> None:
        self.revision += 1
        self._compiled = None

    # --- editing ---------------------------------------------------------------------------------
    def find(self, time: float) -> int | None:
        """Index of the key within KEY_TIME_TOLERANCE of `time`, or None."""
        for i, k in enumerate(self.keys):
            if abs(k.time - time) <= KEY_TIME_TOLERANCE:
                return i
        return None

    def set_key(self, time: float, value: float, interpolation: Interpolation | None = None) -> int:
        """Replaces the value (and interpolation, if given) of the key at `time`, else inserts a key."""
        time, value = _finite(time, "key time"), _finite(value, "key value")
        i = self.find(time)
        if i is not None:
            self.keys[i].value = value
            if interpolation is not None:
                self.keys[i].interpolation = Interpolation(interpolation)
        else:
            self.keys.append(Key(time, value, Interpolation(interpolation or Interpolation.BEZIER)))
            self.keys.sort(key=lambda k: k.time)
            i = self.find(time)
        self._changed()
        return i

    def remove_key(self, index: int) -> Key:
        key = self.keys.pop(index)
        self._changed()
        return key

    def move_key(self, index: int, time: float, value: float) -> int:
        """Moves a key; a different key already at the new time is replaced (as Blender merges keys)."""
        key = self.keys[index]
        key.time, key.value = _finite(time, "key time"), _finite(value, "key value")
        self.keys = [k for k in self.keys if k is key or abs(k.time - key.time) > KEY_TIME_TOLERANCE]
        self.keys.sort(key=lambda k: k.time)
        self._changed()
        return next(i for i, k in enumerate(self.keys) if k is key)

    def set_interpolation(self, index: int, interp: Interpolation) -> None:
        self.keys[index].interpolation = Interpolation(interp)
        self._changed()

    def set_handles(self, index: int, left: Handle | None, right: Handle | None) -> None:
        """User handles (dt, dv) relative to the key; None returns that side to auto-clamped."""
        self.keys[index].handle_left = _handle(left)
        self.keys[index].handle_right = _handle(right)
        self._changed()

    def copy(self) -> "Curve":
        return Curve([Key(k.time, k.value, k.interpolation, k.handle_left, k.handle_right) for k in self.keys])

    # --- serialisation ---------------------------------------------------------------------------
    def to_json(self) -> dict:
        return {"keys": [k.to_json() for k in self.keys]}

    @classmethod
    def from_json(cls, d: dict) -> "Curve":
        """Raises ValueError/KeyError/TypeError on malformed input (the project loader reports them)."""
        keys = [Key.from_json(k) for k in d["keys"]]
        times = sorted(k.time for k in keys)
        if any(b - a <= KEY_TIME_TOLERANCE for a, b in zip(times, times[1:])):
            raise ValueError("two keys share a time")
        return cls(keys)

    # --- evaluation ------------------------------------------------------------------------------
    def resolved_handles(self, index: int) -> tuple[Handle, Handle]:
        """The handles evaluation uses at key `index` (auto ones resolved), e.g. for a graph editor."""
        c = self._compile()
        return (tuple(c.left[index].tolist()), tuple(c.right[index].tolist()))

    def _compile(self) -> _Compiled:
        if self._compiled is None:
            self._compiled = _compile(self.keys)
        return self._compiled

    def evaluate(self, t: float | np.ndarray) -> float | np.ndarray:
        """Value at time(s) t: constant before the first and after the last key; 0.0 without keys."""
        ts = np.asarray(t, dtype=np.float64)
        out = self._evaluate(np.atleast_1d(ts).ravel()).reshape(ts.shape)
        return float(out) if ts.ndim == 0 else out

    def _evaluate(self, t: np.ndarray) -> np.ndarray:
        n = len(self.keys)
        if n == 0:
            return np.zeros_like(t)
        c = self._compile()
        if n == 1:
            return np.full_like(t, c.values[0])
        i = np.clip(np.searchsorted(c.times, t, side="right") - 1, 0, n - 2)
        t0, t1 = c.times[i], c.times[i + 1]
        v0, v1 = c.values[i], c.values[i + 1]
        dt = t1 - t0
        s = np.clip((t - t0) / dt, 0.0, 1.0)
        out = v0 + (v1 - v0) * s  # LINEAR
        codes = c.codes[i]
        for code in np.unique(codes):
            interp, m = _ORDER[code], codes == code
            if interp is Interpolation.LINEAR:
                continue
            if interp is Interpolation.CONSTANT:
                out[m] = v0[m]
            elif interp is Interpolation.BEZIER:
                j = i[m]
                out[m] = _bezier(s[m], dt[m], v0[m], v1[m], c.right[j], c.left[j + 1])
            else:
                out[m] = v0[m] + (v1[m] - v0[m]) * _ease(interp, s[m])
        out[t <= c.times[0]] = c.values[0]
        out[t >= c.times[-1]] = c.values[-1]
        return out


def _bezier(s, dt, v0, v1, right, left) -> np.ndarray:
    """Cubic Bezier segment value at normalised time s: solve x(u) = s for u, return y(u).

    Control points (x normalised by dt): (0, v0), (a, v0 + right dv), (1 + left dt / dt, v1 + left dv),
    (1, v1); handle x extents are corrected beforehand so x(u) is monotonic and the solve unique."""
    a = right[:, 0] / dt
    b = 1.0 + left[:, 0] / dt
    y1 = v0 + right[:, 1]
    y2 = v1 + left[:, 1]

    def x_of(u):
        w = 1.0 - u
        return 3.0 * w * w * u * a + 3.0 * w * u * u * b + u**3

    def dx_of(u):
        w = 1.0 - u
        return 3.0 * w * w * a + 6.0 * w * u * (b - a) + 3.0 * u * u * (1.0 - b)

    u = s.copy()  # exact when both handles span 1/3 (x(u) is then linear)
    lo, hi = np.zeros_like(s), np.ones_like(s)
    for _ in range(_SOLVE_ITERATIONS):
        err = x_of(u) - s
        active = np.abs(err) >= _SOLVE_TOLERANCE  # converged samples stay put: results do not depend
        if not active.any():  # on what else is evaluated in the same call
            break
        lo = np.where(err < 0, u, lo)
        hi = np.where(err > 0, u, hi)
        with np.errstate(divide="ignore", invalid="ignore"):
            nxt = u - err / dx_of(u)
        nxt = np.where((nxt > lo) & (nxt < hi), nxt, 0.5 * (lo + hi))
        u = np.where(active, nxt, u)
    w = 1.0 - u
    return w**3 * v0 + 3.0 * w * w * u * y1 + 3.0 * w * u * u * y2 + u**3 * v1


def _compile(keys: list[Key]) -> _Compiled:
    n = len(keys)
    times = np.array([k.time for k in keys], dtype=np.float64)
    values = np.array([k.value for k in keys], dtype=np.float64)
    left = np.zeros((n, 2))
    right = np.zeros((n, 2))
    for i, k in enumerate(keys):
        dt_a = times[i] - times[i - 1] if i > 0 else None
        dt_b = times[i + 1] - times[i] if i < n - 1 else None
        slope = 0.0
        if dt_a and dt_b:
            dv_a, dv_b = values[i] - values[i - 1], values[i + 1] - values[i]
            if dv_a * dv_b > 0:  # monotonic through the key; else an extremum or a plateau: flat
                slope = 0.5 * (dv_a / dt_a + dv_b / dt_b)
                limit = min(3.0 * abs(dv_a) / dt_a, 3.0 * abs(dv_b) / dt_b)  # no handle past a neighbour
                slope = float(np.sign(slope) * min(abs(slope), limit))
        span_a = (dt_a if dt_a else dt_b or 0.0) / 3.0  # end keys mirror their only interval
        span_b = (dt_b if dt_b else dt_a or 0.0) / 3.0
        left[i] = k.handle_left if k.handle_left is not None else (-span_a, -slope * span_a)
        right[i] = k.handle_right if k.handle_right is not None else (span_b, slope * span_b)
    # Keep each segment's x(u) monotonic (Blender's correct_bezpart): handles point inwards and their
    # x extents together do not exceed the interval; too long handles shrink along their direction.
    for i in range(n - 1):
        dt = times[i + 1] - times[i]
        h1, h2 = right[i], left[i + 1]
        if h1[0] < 0:
            h1[:] = (0.0, 0.0)
        if h2[0] > 0:
            h2[:] = (0.0, 0.0)
        total = h1[0] - h2[0]
        if total > dt:
            h1 *= dt / total
            h2 *= dt / total
    codes = np.array([_ORDER.index(k.interpolation) for k in keys], dtype=np.int64)
    return _Compiled(times, values, codes, left, right)
