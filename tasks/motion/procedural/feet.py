"""Feet in world space: planted feet stay exactly where they are, swinging feet follow a smooth arc.

A foot is described by its foot joint (the ball of the foot) on the floor plus a heading and a heel rise;
the ankle follows from the body's foot geometry.  Between swings the foot joint does not move at all,
which is what keeps planted feet from sliding.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tasks.motion.procedural.body import TOE_HEIGHT
from tasks.motion.procedural.curves import cruise, keyframes, minjerk


@dataclass(frozen=True)
class Swing:
    """One step of one foot: it lifts at t0 and lands flat at t1 on (x, z) with heading ``yaw``."""

    t0: float
    t1: float
    xz: tuple[float, float]
    yaw: float
    lift: float  # peak clearance of the foot joint above its resting height (m)
    heel: float = 0.0  # heel rise (rad) reached at lift-off, pivoting about the planted ball of the foot
    lead: float = 0.0  # how long before lift-off the heel starts to rise (s)


# Within a swing (normalised time): the foot rises over [0, RISE_END] and comes down over [FALL_START, 1]; it
# travels horizontally over [MOVE_START, MOVE_END], starting and stopping gently so that it is clear of the
# floor by the time it moves.  Early in a swing the foot still trails the hips, so the hips stay within the
# leg's reach of it outside REACH_FREE.
RISE_END, FALL_START = 0.22, 0.75
MOVE_START, MOVE_END = 0.05, 0.95
REACH_FREE = (0.3, 0.8)


@dataclass
class FootTrack:
    toe: np.ndarray  # [T, 3]
    yaw: np.ndarray  # [T]
    pitch: np.ndarray  # [T]
    swinging: np.ndarray  # [T] bool
    reaching: np.ndarray  # [T] bool: planted, or so near lift-off or landing that the hips must stay in reach


def clearance(tau: np.ndarray) -> np.ndarray:
    """Foot height profile over a swing, 0 -> 1 -> 0 with a flat top."""
    return minjerk(tau / RISE_END) * (1.0 - minjerk((tau - FALL_START) / (1.0 - FALL_START)))


def foot_track(t: np.ndarray, start_xz: Sequence[float], start_yaw: float, swings: Sequence[Swing]) -> FootTrack:
    """The foot's trajectory over frame times ``t`` from its start placement through ``swings`` (in time order)."""
    n = len(t)
    toe = np.empty((n, 3))
    toe[:, 0], toe[:, 1], toe[:, 2] = start_xz[0], TOE_HEIGHT, start_xz[1]
    yaw = np.full(n, float(start_yaw))
    pitch = np.zeros(n)
    swinging = np.zeros(n, dtype=bool)
    free = np.zeros(n, dtype=bool)
    here, heading = np.asarray(start_xz, float), float(start_yaw)
    for sw in swings:
        if sw.t1 <= sw.t0:
            raise ValueError(f"swing lands before it lifts: t0={sw.t0:.3f} t1={sw.t1:.3f}")
        tau = (t - sw.t0) / (sw.t1 - sw.t0)
        during, after = (tau >= 0) & (tau < 1), tau >= 1
        go = cruise((tau[during] - MOVE_START) / (MOVE_END - MOVE_START))
        dest = np.asarray(sw.xz, float)
        path = here + go[:, None] * (dest - here)
        toe[during, 0], toe[during, 2] = path[:, 0], path[:, 1]
        toe[during, 1] = TOE_HEIGHT + sw.lift * clearance(tau[during])
        yaw[during] = heading + go * (sw.yaw - heading)
        toe[after, 0], toe[after, 1], toe[after, 2] = dest[0], TOE_HEIGHT, dest[1]
        yaw[after] = sw.yaw
        swinging |= during
        free |= (tau >= REACH_FREE[0]) & (tau < REACH_FREE[1])
        if sw.heel > 0:
            lead = max(sw.lead, 1e-3)
            pitch += keyframes(t, [sw.t0 - lead, sw.t0, sw.t0 + 0.6 * (sw.t1 - sw.t0)], [0.0, sw.heel, 0.0])
        here, heading = dest, sw.yaw
    return FootTrack(toe, yaw, pitch, swinging, ~free)
