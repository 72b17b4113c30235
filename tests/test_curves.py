import json

import numpy as np
import pytest

from engine.document.curves import Curve, Interpolation, Key


def curve_of(points, interp=Interpolation.BEZIER) -> Curve:
    c = Curve()
    for t, v in points:
        c.set_key(t, v, interp)
    return c


def test_empty_and_single_key():
    assert Curve().evaluate(1.0) == 0.0
    assert np.array_equal(Curve().evaluate(np.array([0.0, 5.0])), [0.0, 0.0])
    c = curve_of([(1.0, 3.5)])
    assert c.evaluate(np.array([-1.0, 1.0, 9.0])).tolist() == [3.5, 3.5, 3.5]


def test_holds_before_first_and_after_last_key():
    c = curve_of([(1.0, 2.0), (2.0, -1.0)])
    assert c.evaluate(0.0) == 2.0 and c.evaluate(1.0) == 2.0
    assert c.evaluate(2.0) == -1.0 and c.evaluate(7.0) == -1.0


def test_constant_holds_until_next_key():
    c = curve_of([(0.0, 1.0), (1.0, 5.0), (2.0, 2.0)], Interpolation.CONSTANT)
    assert c.evaluate(np.array([0.0, 0.5, 0.999, 1.0, 1.5, 2.0])).tolist() == [1, 1, 1, 5, 5, 2]


def test_linear_midpoint_exact():
    c = curve_of([(0.0, 1.0), (2.0, 5.0)], Interpolation.LINEAR)
    assert c.evaluate(1.0) == 3.0
    assert c.evaluate(0.5) == 2.0


def test_interpolation_of_a_key_governs_the_segment_after_it():
    c = curve_of([(0.0, 0.0), (1.0, 1.0), (2.0, 0.0)], Interpolation.LINEAR)
    c.set_interpolation(1, Interpolation.CONSTANT)
    assert c.evaluate(0.5) == 0.5  # segment of key 0: linear
    assert c.evaluate(1.5) == 1.0  # segment of key 1: constant


def test_ease_in_out_symmetric_and_shapes():
    inout = curve_of([(0.0, 0.0), (1.0, 1.0)], Interpolation.EASE_IN_OUT)
    s = np.linspace(0, 1, 41)
    y = inout.evaluate(s)
    assert np.allclose(y + y[::-1], 1.0)  # point symmetric about the middle
    assert inout.evaluate(0.5) == pytest.approx(0.5)
    ein = curve_of([(0.0, 0.0), (1.0, 1.0)], Interpolation.EASE_IN)
    eout = curve_of([(0.0, 0.0), (1.0, 1.0)], Interpolation.EASE_OUT)
    assert np.allclose(ein.evaluate(s), 1.0 - eout.evaluate(1.0 - s))  # mirror images
    assert ein.evaluate(0.25) < 0.25 < eout.evaluate(0.25)  # slow start / slow end
    assert np.all(np.diff(y) >= 0) and np.all(np.diff(ein.evaluate(s)) >= 0)


def test_auto_clamped_never_overshoots_keys():
    rng = np.random.default_rng(3)
    times = np.cumsum(rng.uniform(0.05, 1.0, 40))
    values = rng.uniform(-1, 1, 40)
    values[10:13] = 0.7  # plateau
    c = curve_of(zip(times, values))
    t = np.linspace(times[0], times[-1], 20001)
    y = c.evaluate(t)
    seg = np.clip(np.searchsorted(times, t, side="right") - 1, 0, len(times) - 2)
    lo = np.minimum(values[seg], values[seg + 1])
    hi = np.maximum(values[seg], values[seg + 1])
    assert np.all(y >= lo - 1e-9) and np.all(y <= hi + 1e-9)
    assert np.allclose(c.evaluate(times), values)  # passes through its keys


def test_auto_clamped_flat_at_extrema_and_smooth_through_monotonic_keys():
    c = curve_of([(0.0, 0.0), (1.0, 1.0), (2.0, 0.0), (3.0, 2.0), (4.0, 4.0)])
    left, right = c.resolved_handles(1)  # a maximum: flat
    assert left == pytest.approx((-1 / 3, 0.0)) and right == pytest.approx((1 / 3, 0.0))
    left, right = c.resolved_handles(3)  # monotonic: slope = mean of the secants (2 and 2)
    assert right == pytest.approx((1 / 3, 2 / 3)) and left == pytest.approx((-1 / 3, -2 / 3))
    assert c.resolved_handles(0)[1] == pytest.approx((1 / 3, 0.0))  # end keys flat
    eps = 1e-5  # C1 at the monotonic key
    slope_l = (c.evaluate(3.0) - c.evaluate(3.0 - eps)) / eps
    slope_r = (c.evaluate(3.0 + eps) - c.evaluate(3.0)) / eps
    assert slope_l == pytest.approx(2.0, rel=1e-3) and slope_r == pytest.approx(2.0, rel=1e-3)


def test_user_handles_are_honoured():
    c = curve_of([(0.0, 0.0), (2.0, 1.0)])
    c.set_handles(0, None, (0.5, 2.0))
    c.set_handles(1, (-1.0, -0.5), None)
    p0, p1, p2, p3 = np.array([[0, 0], [0.5, 2.0], [1.0, 0.5], [2.0, 1.0]])
    for u in (0.1, 0.37, 0.5, 0.8):
        x, y = (1 - u) ** 3 * p0 + 3 * (1 - u) ** 2 * u * p1 + 3 * (1 - u) * u**2 * p2 + u**3 * p3
        assert c.evaluate(x) == pytest.approx(y, abs=1e-9)
    assert c.evaluate(0.6) > 1.0  # the user asked for an overshoot: it is not clamped
    assert c.resolved_handles(0)[1] == (0.5, 2.0)


def test_too_long_handles_keep_the_curve_a_function_of_time():
    c = curve_of([(0.0, 0.0), (1.0, 1.0)])
    c.set_handles(0, None, (3.0, 0.0))
    c.set_handles(1, (-3.0, 0.0), None)
    t = np.linspace(0, 1, 1001)
    y = c.evaluate(t)
    assert np.all(np.isfinite(y)) and np.all(np.diff(y) >= -1e-12)


def test_vectorised_equals_scalar():
    c = curve_of([(0.0, 0.0), (0.4, 1.0), (1.0, -0.5), (1.3, 0.2), (2.0, 0.2)])
    c.set_interpolation(1, Interpolation.LINEAR)
    c.set_interpolation(2, Interpolation.EASE_OUT)
    c.set_handles(3, (-0.1, 0.3), (0.2, -0.4))
    t = np.linspace(-0.5, 2.5, 303)
    assert np.array_equal(c.evaluate(t), [c.evaluate(float(x)) for x in t])
    assert c.evaluate(t.reshape(3, 101)).shape == (3, 101)


def test_set_key_replaces_within_half_a_millisecond():
    c = curve_of([(1.0, 1.0)])
    assert c.set_key(1.0004, 2.0) == 0
    assert len(c) == 1 and c.keys[0].value == 2.0
    assert c.set_key(1.001, 3.0) == 1 and len(c) == 2
    assert c.set_key(0.5, 0.0, Interpolation.LINEAR) == 0
    assert [k.time for k in c.keys] == [0.5, 1.0, 1.001]
    with pytest.raises(ValueError):
        c.set_key(float("nan"), 1.0)


def test_move_and_remove_keep_order_and_bump_revision():
    c = curve_of([(0.0, 0.0), (1.0, 1.0), (2.0, 2.0)])
    rev = c.revision
    assert c.move_key(0, 1.5, 9.0) == 1
    assert [k.time for k in c.keys] == [1.0, 1.5, 2.0] and c.revision > rev
    assert c.move_key(1, 2.0, 4.0) == 1  # onto another key: that key is replaced
    assert [(k.time, k.value) for k in c.keys] == [(1.0, 1.0), (2.0, 4.0)]
    assert c.remove_key(0).value == 1.0 and len(c) == 1
    assert c.evaluate(0.0) == 4.0  # the evaluation cache followed the edits


def test_json_round_trip_and_copy_independent():
    c = curve_of([(0.0, 0.0), (0.5, 1.0), (1.0, 0.25)])
    c.set_interpolation(1, Interpolation.EASE_IN_OUT)
    c.set_handles(2, (-0.1, 0.2), None)
    back = Curve.from_json(json.loads(json.dumps(c.to_json())))
    assert back == c and back.keys[1].interpolation is Interpolation.EASE_IN_OUT
    assert back.keys[2].handle_left == (-0.1, 0.2) and back.keys[2].handle_right is None
    t = np.linspace(0, 1, 50)
    assert np.array_equal(back.evaluate(t), c.evaluate(t))
    dup = c.copy()
    dup.set_key(0.5, 7.0)
    assert c.keys[1].value == 1.0


@pytest.mark.parametrize(
    "bad",
    [
        {},
        {"keys": [{"time": 0.0}]},
        {"keys": [{"time": 0.0, "value": 1.0, "interpolation": "cubic-ish"}]},
        {"keys": [{"time": 0.0, "value": 1.0}, {"time": 0.0, "value": 2.0}]},
        {"keys": [{"time": "nan", "value": 1.0}]},
    ],
)
def test_from_json_rejects_malformed(bad):
    with pytest.raises((ValueError, KeyError, TypeError)):
        Curve.from_json(bad)


def test_key_defaults():
    k = Key(0.0, 1.0)
    assert k.interpolation is Interpolation.BEZIER and k.handle_left is None and k.handle_right is None
