"""Smooth curves of time, vectorised over frames: minimum-jerk blends, keyframe tracks, quintic segments.

Every motion channel is built from these, so velocity and acceleration stay continuous and bounded.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def minjerk(x: np.ndarray | float) -> np.ndarray:
    """The minimum-jerk blend 0 -> 1 on [0, 1] (clipped outside): zero velocity and acceleration at both ends."""
    x = np.clip(np.asarray(x, dtype=float), 0.0, 1.0)
    return x**3 * (10.0 - 15.0 * x + 6.0 * x * x)


MINJERK_PEAK = 1.875  # a minimum-jerk move's peak speed over its mean speed


def move_time(distance: float, peak_speed: float) -> float:
    """How long a minimum-jerk move (a keyframe to keyframe blend) over ``distance`` m takes to peak at
    ``peak_speed`` m/s."""
    return MINJERK_PEAK * float(distance) / peak_speed


def ramp(t: np.ndarray, t0: float, t1: float) -> np.ndarray:
    """0 before t0, 1 after t1, a minimum-jerk blend in between."""
    if t1 <= t0:
        return (np.asarray(t) >= t0).astype(float)
    return minjerk((np.asarray(t) - t0) / (t1 - t0))


def ramp_rate(t: np.ndarray, t0: float, t1: float) -> np.ndarray:
    """Time derivative of ``ramp(t, t0, t1)``."""
    x = np.clip((np.asarray(t, dtype=float) - t0) / (t1 - t0), 0.0, 1.0)
    return 30.0 * x * x * (1.0 - x) ** 2 / (t1 - t0)


def keyframes(t: np.ndarray, times: Sequence[float], values: Sequence | np.ndarray) -> np.ndarray:
    """Values at increasing ``times``, joined by minimum-jerk blends and held before/after.

    ``values`` is [K, ...]; the result is [len(t), ...].  Each keyframe is a momentary stop, which is how
    a wave, a punch or a clap reaches its extreme.
    """
    times = np.asarray(times, dtype=float)
    values = np.asarray(values, dtype=float)
    if len(times) != len(values):
        raise ValueError(f"keyframes: {len(times)} times but {len(values)} values")
    if np.any(np.diff(times) <= 0):
        raise ValueError(f"keyframes: times must increase, got {np.round(times, 3).tolist()}")
    t = np.asarray(t, dtype=float)
    if len(times) == 1:
        return np.broadcast_to(values[0], t.shape + values.shape[1:]).copy()
    seg = np.clip(np.searchsorted(times, t, side="right") - 1, 0, len(times) - 2)
    s = minjerk((t - times[seg]) / (times[seg + 1] - times[seg]))
    s = s.reshape(s.shape + (1,) * (values.ndim - 1))
    return values[seg] + s * (values[seg + 1] - values[seg])


def quintic(t: np.ndarray, t0: float, t1: float, start: tuple[float, float, float],
            end: tuple[float, float, float]) -> np.ndarray:
    """The quintic on [t0, t1] with the given (position, velocity, acceleration) at both ends.

    It reproduces any polynomial of degree <= 5 exactly, so a ballistic parabola is one segment.
    """
    h = t1 - t0
    s = (np.asarray(t, dtype=float) - t0) / h
    s2, s3, s4, s5 = s * s, s**3, s**4, s**5
    (p0, v0, a0), (p1, v1, a1) = start, end
    return (
        (1 - 10 * s3 + 15 * s4 - 6 * s5) * p0
        + (s - 6 * s3 + 8 * s4 - 3 * s5) * h * v0
        + (0.5 * s2 - 1.5 * s3 + 1.5 * s4 - 0.5 * s5) * h * h * a0
        + (0.5 * s3 - s4 + 0.5 * s5) * h * h * a1
        + (-4 * s3 + 7 * s4 - 3 * s5) * h * v1
        + (10 * s3 - 15 * s4 + 6 * s5) * p1
    )


def hermite_track(t: np.ndarray, knots: Sequence[tuple[float, float, float, float]]) -> np.ndarray:
    """A C2 track through knots (time, position, velocity, acceleration), one quintic per gap.

    Before the first knot and after the last the track continues with that knot's position and velocity
    (a held pose when the velocity is zero).
    """
    t = np.asarray(t, dtype=float)
    times = [k[0] for k in knots]
    if np.any(np.diff(times) <= 0):
        raise ValueError(f"hermite_track: knot times must increase, got {np.round(times, 3).tolist()}")
    out = np.empty_like(t)
    first, last = knots[0], knots[-1]
    before, after = t < first[0], t >= last[0]
    out[before] = first[1] + first[2] * (t[before] - first[0])
    out[after] = last[1] + last[2] * (t[after] - last[0])
    for a, b in zip(knots[:-1], knots[1:]):
        m = (t >= a[0]) & (t < b[0])
        out[m] = quintic(t[m], a[0], b[0], a[1:], b[1:])
    return out


def _cruise_lut(rise: float, n: int = 2001) -> tuple[np.ndarray, np.ndarray]:
    """Progress 0 -> 1 of a move whose speed rises smoothly over ``rise`` of its time, cruises, and falls."""
    u = np.linspace(0.0, 1.0, n)
    speed = minjerk(u / rise) * minjerk((1.0 - u) / rise)
    pos = np.concatenate([[0.0], np.cumsum((speed[1:] + speed[:-1]) * 0.5)])
    return u, pos / pos[-1]


CRUISE_RISE = 0.3  # share of a cruise spent speeding up (and again slowing down)
_CRUISE_U, _CRUISE_P = _cruise_lut(CRUISE_RISE)


def cruise(x: np.ndarray | float) -> np.ndarray:
    """Progress 0 -> 1 on [0, 1] with a flatter speed profile than minjerk (peak 1/(1 - CRUISE_RISE) = 1.43x
    the mean, not 1.88x), still starting and stopping with zero velocity and acceleration: a swinging foot."""
    return np.interp(np.clip(x, 0.0, 1.0), _CRUISE_U, _CRUISE_P)
