"""Edits over key selections and time ranges, Qt-free (the editor's dope sheet, graph editor and intensity tool
call these; the CLI and tests can too).

A key selection is a set of (channel, index) pairs into the project's curves. Functions return new curves
(never mutate their inputs) and, where keys move, the selection of the moved keys in the new curves.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import numpy as np

from engine.document.curves import KEY_TIME_TOLERANCE, Curve, Interpolation, Key

Selection = frozenset[tuple[str, int]]

# Channel groups for range tools ("scale the mouth by 70 % over the in/out range"); names a rig lacks are skipped.
_PAIRS = ("Left", "Right")
CHANNEL_GROUPS: dict[str, tuple[str, ...]] = {
    "mouth": ("jawOpen", "mouthClose", "mouthFunnel", "mouthPucker", "mouthRollLower", "mouthRollUpper")
    + tuple(f"mouth{n}{s}" for n in ("Smile", "Frown", "Stretch", "UpperUp", "LowerDown", "Press") for s in _PAIRS),
    "jaw": ("jawOpen",),
    "lip shape": ("mouthFunnel", "mouthPucker", "mouthRollLower", "mouthRollUpper")
    + tuple(f"mouth{n}{s}" for n in ("Smile", "Frown", "Stretch", "UpperUp", "LowerDown", "Press") for s in _PAIRS),
    "smile": ("mouthSmileLeft", "mouthSmileRight"),
    "brows": ("browInnerUp", "browDownLeft", "browDownRight", "browOuterUpLeft", "browOuterUpRight"),
    "eyes": ("eyeBlinkLeft", "eyeBlinkRight", "eyeWideLeft", "eyeWideRight"),
    "head rotation": ("rx", "ry", "rz"),
    "head position": ("tx", "ty", "tz"),
}


def by_channel(selection: Iterable[tuple[str, int]]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for name, index in sorted(selection):
        out.setdefault(name, []).append(index)
    return out


def snap(time: float, fps: float | None) -> float:
    return time if not fps else round(time * fps) / fps


def retime_keys(curves: Mapping[str, Curve], selection: Iterable[tuple[str, int]],
                new_time: Callable[[float], float], fps: float | None = None,
                end: float | None = None) -> tuple[dict[str, Curve], Selection]:
    """Moves the selected keys to new_time(old time) (snapped to frames with `fps`, never before 0 nor past `end`,
    the clip's last frame: a key out there is invisible and does nothing). A moved key replaces an unselected key
    it lands on; of selected keys landing on one time, the last in time order wins. Returns the new curves of the
    touched channels and the moved keys' (channel, index) in them."""
    out, moved_sel = {}, set()
    last = np.inf if end is None else end
    for name, indices in by_channel(selection).items():
        curve = curves[name]
        chosen = set(indices)
        moved = [Key(min(max(snap(new_time(k.time), fps), 0.0), last), k.value, k.interpolation, k.handle_left,
                     k.handle_right) for i, k in enumerate(curve.keys) if i in chosen]
        landing = {}
        for key in moved:  # later keys win a collision among the moved ones
            landing[round(key.time / KEY_TIME_TOLERANCE)] = key
        moved = sorted(landing.values(), key=lambda k: k.time)
        kept = [Key(k.time, k.value, k.interpolation, k.handle_left, k.handle_right)
                for i, k in enumerate(curve.keys)
                if i not in chosen and all(abs(k.time - m.time) > KEY_TIME_TOLERANCE for m in moved)]
        new = Curve(kept + moved)
        out[name] = new
        moved_ids = {id(k) for k in moved}
        moved_sel |= {(name, i) for i, k in enumerate(new.keys) if id(k) in moved_ids}
    return out, frozenset(moved_sel)


def _selected_times(curves: Mapping[str, Curve], selection) -> np.ndarray:
    return np.array([curves[name].keys[i].time for name, i in selection if i < len(curves[name].keys)])


def move_keys(curves: Mapping[str, Curve], selection, dt: float, fps: float | None = None,
              end: float | None = None):
    """Shifts the selected keys by dt seconds (a dope-sheet drag): retime_keys with t + dt. The group stops
    where its first key reaches 0 or its last `end`, so the keys keep their spacing (clamped one by one, the keys
    past the end all landed on it and merged into one)."""
    dt = _group_shift(_selected_times(curves, selection), dt, end)
    if fps:
        dt = snap(dt, fps)
    return retime_keys(curves, selection, lambda t: t + dt, fps, end)


def _group_shift(times: np.ndarray, dt: float, end: float | None) -> float:
    """dt, limited so that keys at `times` moved by it stay within [0, `end`] as a group (their spacing kept)."""
    if not len(times):
        return dt
    return float(np.clip(dt, -times.min(), np.inf if end is None else max(end - times.max(), 0.0)))


def scale_keys(curves: Mapping[str, Curve], selection, pivot: float, factor: float, fps: float | None = None,
               end: float | None = None):
    """Scales the selected keys' times around `pivot` (the playhead): t -> pivot + (t - pivot) * factor. A factor
    that would take keys before 0 or past `end` is reduced to the largest that keeps them all inside."""
    if not np.isfinite(factor):
        raise ValueError(f"scale factor must be finite, got {factor}")
    times = _selected_times(curves, selection)
    if factor > 0 and len(times):
        offsets = times - pivot
        limits = [pivot / -o for o in offsets if o < 0] + ([(end - pivot) / o for o in offsets if o > 0]
                                                           if end is not None else [])
        factor = min([factor] + [max(limit, 0.0) for limit in limits])
    return retime_keys(curves, selection, lambda t: pivot + (t - pivot) * factor, fps, end)


def delete_keys(curves: Mapping[str, Curve], selection) -> dict[str, Curve]:
    out = {}
    for name, indices in by_channel(selection).items():
        chosen = set(indices)
        out[name] = Curve([Key(k.time, k.value, k.interpolation, k.handle_left, k.handle_right)
                           for i, k in enumerate(curves[name].keys) if i not in chosen])
    return out


def copy_keys(curves: Mapping[str, Curve], selection) -> list[tuple[str, Key]]:
    return [(name, _clone(curves[name].keys[i])) for name, i in sorted(selection)]


def paste_keys(curves: Mapping[str, Curve], clipboard: list[tuple[str, Key]], at: float,
               fps: float | None = None, end: float | None = None) -> tuple[dict[str, Curve], Selection]:
    """Pastes copied keys so that the earliest lands on `at` (keys already there are replaced). Near `end` the
    group lands earlier, as a drag stops there, so that its last key is on `end` and the spacing is kept (pasted
    past the end, keys were invisible and did nothing)."""
    if not clipboard:
        return {}, frozenset()
    times = np.array([k.time for _, k in clipboard])
    shift = _group_shift(times, at - times.min(), end)
    out: dict[str, Curve] = {}
    pasted: dict[str, list[float]] = {}
    for name, key in clipboard:
        curve = out.setdefault(name, curves[name].copy())
        t = max(snap(key.time + shift, fps), 0.0)
        if end is not None:
            t = min(t, end)
        i = curve.set_key(t, key.value, key.interpolation)
        curve.set_handles(i, key.handle_left, key.handle_right)
        pasted.setdefault(name, []).append(t)
    sel = {(n, i) for n, times in pasted.items() for t in times for i in [out[n].find(t)] if i is not None}
    return out, frozenset(sel)


def set_interpolation(curves: Mapping[str, Curve], selection, interp: Interpolation) -> dict[str, Curve]:
    out = {}
    for name, indices in by_channel(selection).items():
        curve = curves[name].copy()
        for i in indices:
            curve.set_interpolation(i, interp)
        out[name] = curve
    return out


def common_interpolation(curves: Mapping[str, Curve], selection) -> Interpolation | None:
    """The interpolation all selected keys share, or None (mixed or empty)."""
    modes = {curves[n].keys[i].interpolation for n, i in selection if i < len(curves[n])}
    return modes.pop() if len(modes) == 1 else None


def _clone(k: Key) -> Key:
    return Key(k.time, k.value, k.interpolation, k.handle_left, k.handle_right)


# --- intensity over a range ----------------------------------------------------------------------------
def ease_window(times: np.ndarray, start: float, end: float, ramp: float) -> np.ndarray:
    """0 outside [start, end], 1 inside it past a smoothstep ramp of `ramp` seconds at each edge."""
    ramp = max(min(ramp, 0.5 * (end - start)), 1e-9)
    up = np.clip((times - start) / ramp, 0.0, 1.0)
    down = np.clip((end - times) / ramp, 0.0, 1.0)
    w = np.minimum(up, down)
    return w * w * (3.0 - 2.0 * w)


def simplify(times: np.ndarray, values: np.ndarray, tolerance: float) -> np.ndarray:
    """Indices of the points that keep a polyline within `tolerance` of the samples (Ramer-Douglas-Peucker on
    the value axis), the first and last always included."""
    keep = np.zeros(len(times), bool)
    keep[[0, -1]] = True
    stack = [(0, len(times) - 1)]
    while stack:
        a, b = stack.pop()
        if b <= a + 1:
            continue
        t, v = times[a:b + 1], values[a:b + 1]
        line = v[0] + (v[-1] - v[0]) * (t - t[0]) / (t[-1] - t[0])
        err = np.abs(v - line)
        i = int(err.argmax())
        if err[i] > tolerance:
            keep[a + i] = True
            stack += [(a, a + i), (a + i, b)]
    return np.flatnonzero(keep)


def scale_over_range(curve: Curve, base: np.ndarray | None, fps: float, start: float, end: float, factor: float,
                     ramp: float = 0.1, tolerance: float = 0.005) -> Curve:
    """Keys that scale a channel's result (base + edit) by `factor` over [start, end] with eased edges of `ramp`
    seconds: the new edit at each frame is w * ((factor - 1) * base + factor * edit) + (1 - w) * edit, baked
    into linear keys (simplified to within `tolerance`) over the range; keys outside it stay as they are.

    `base` is the channel's base-layer track at every frame (after gains), or None where the backend gives no
    track (the edit alone is scaled)."""
    n = len(base) if base is not None else None
    # Bake from the key before the range to the key after it, so that the curve outside stays as it was.
    before = [i for i, k in enumerate(curve.keys) if k.time < start - KEY_TIME_TOLERANCE]
    after = [i for i, k in enumerate(curve.keys) if k.time > end + KEY_TIME_TOLERANCE]
    lo = curve.keys[before[-1]].time if before else start
    hi = curve.keys[after[0]].time if after else end
    frames = np.arange(int(np.floor(lo * fps + 1e-6)), int(np.ceil(hi * fps - 1e-6)) + 1)
    if n is not None:
        frames = frames[(frames >= 0) & (frames < n)]
    if frames.size < 2:
        return curve.copy()
    t = frames / fps
    t[0], t[-1] = max(lo, t[0]), min(hi, t[-1]) if after else t[-1]
    edit = curve.evaluate(t) if len(curve) else np.zeros_like(t)
    b = base[frames].astype(np.float64) if base is not None else 0.0
    w = ease_window(t, start, end, ramp)
    new = edit + w * ((factor - 1.0) * (b + edit))
    idx = simplify(t, new, tolerance)
    keys = [_clone(k) for k in curve.keys if k.time < t[0] - KEY_TIME_TOLERANCE or k.time > t[-1] + KEY_TIME_TOLERANCE]
    for i in idx:
        keys.append(Key(float(t[i]), float(new[i]), Interpolation.LINEAR))
    if before:  # the key that starts the bake keeps its incoming handle (the segment before it is unchanged)
        first = next(k for k in keys if abs(k.time - t[0]) <= KEY_TIME_TOLERANCE)
        first.handle_left = curve.resolved_handles(before[-1])[0]
    return Curve(keys)


def scale_channels(project, names, start: float, end: float, factor: float, ramp: float = 0.1,
                   tolerance: float = 0.005) -> dict[str, Curve]:
    """New curves that scale the result of each named channel by `factor` over [start, end] (scale_over_range
    with the channel's base track after gains); channels the project lacks are skipped."""
    from engine.document.readout import base_tracks

    if not end > start:
        raise ValueError(f"the range must have a positive length, got {start:.3f}-{end:.3f} s")
    tracks = base_tracks(project)
    return {name: scale_over_range(project.channels[name], tracks.get(name), project.fps, start, end, factor, ramp,
                                   tolerance)
            for name in names if name in project.channels}
