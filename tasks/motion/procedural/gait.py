"""Stepping locomotion: a hip path, footsteps placed along it at a cadence, the body carried between them.

One planner serves walking, jogging, walking backwards, side-stepping, turning on the spot, marching and
walking in a circle; they differ only in the path and a few gait numbers.  Each footprint is placed
where the hips will pass over that ankle a little after it lands, so steps follow the path whatever its
shape, and the legs' reach decides how far the pelvis dips between steps.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tasks.motion.procedural.body import LEFT, RIGHT, SIDE_SIGN, Body, Pose, arm_target, settle_hips
from tasks.motion.procedural.curves import keyframes, ramp
from tasks.motion.procedural.feet import Swing, foot_track

Speed = Callable[[np.ndarray], np.ndarray]
Plans = tuple[list[Swing], list[Swing]]  # each foot's swings, LEFT first


@dataclass(frozen=True)
class Path:
    """Hip-centre ground track (x, z) and heading, sampled finely and interpolated."""

    t: np.ndarray
    xz: np.ndarray
    yaw: np.ndarray

    def at(self, t: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        xz = np.stack([np.interp(t, self.t, self.xz[:, 0]), np.interp(t, self.t, self.xz[:, 1])], axis=-1)
        return xz, np.interp(t, self.t, self.yaw)


def integrate_path(t_end: float, forward: Speed, left: Speed, yaw_rate: Speed, t_from: float = 0.0,
                   dt: float = 0.005) -> Path:
    """A path through the origin at t = 0, facing +z, from body-frame speeds (m/s) and a turn rate (rad/s).

    It is sampled from ``t_from`` (negative for a motion already under way when the clip starts) to well
    past ``t_end``, so footprints placed before the first or after the last frame are defined.
    """
    t = np.arange(min(t_from, 0.0) - 0.5, t_end + 3.0, dt)
    zero = int(np.argmin(np.abs(t)))
    rate = yaw_rate(t)
    psi = np.concatenate([[0.0], np.cumsum((rate[1:] + rate[:-1]) * 0.5 * dt)])
    psi -= psi[zero]
    fwd, lft = forward(t), left(t)
    vel = np.stack([fwd * np.sin(psi) + lft * np.cos(psi), fwd * np.cos(psi) - lft * np.sin(psi)], axis=-1)
    xz = np.concatenate([[[0.0, 0.0]], np.cumsum((vel[1:] + vel[:-1]) * 0.5 * dt, axis=0)])
    return Path(t, xz - xz[zero], psi)


def speed_profile(v: float, t_start: float, t_stop: float, accel_s: float = 0.8,
                  decel_s: float | None = None) -> Speed:
    """v between t_start and t_stop with a smooth speed-up of ``accel_s`` and slow-down of ``decel_s`` (default
    the same); t_start may be -inf (already moving) and t_stop inf (still moving at the end).

    Without overlap of the two, the distance covered from t_start to t_stop is v * (t_stop - t_start
    - (accel_s + decel_s) / 2)."""
    decel = accel_s if decel_s is None else decel_s

    def speed(t: np.ndarray) -> np.ndarray:
        up = np.ones_like(t) if np.isinf(t_start) else ramp(t, t_start, t_start + accel_s)
        down = np.zeros_like(t) if np.isinf(t_stop) else ramp(t, t_stop - decel, t_stop)
        return v * up * (1.0 - down)
    return speed


@dataclass(frozen=True)
class Gait:
    """How the feet move."""

    cadence: float  # steps per second
    duty: float  # share of a gait cycle each foot is planted (> 0.5 walks, < 0.5 runs with flight)
    lift: float  # swing clearance (m)
    half_width: float  # ankle distance from the path's centre line (m)
    heel: float = 0.0  # heel rise at lift-off (rad)
    ref: float = 0.3  # share of a stance after which the hips are over that ankle
    toe_out: float = np.radians(6.0)
    min_step: float = 0.03  # shorter steps are not taken (m), except when marching

    @property
    def lookahead_s(self) -> float:
        """How far ahead in time a foot lands: a foot lifting off now is placed where the hips will be this
        much later (a swing, then ``ref`` of a stance)."""
        cycle = 2.0 / self.cadence
        return (1.0 - self.duty) * cycle + self.ref * self.duty * cycle


@dataclass(frozen=True)
class Style:
    """How the rest of the body moves with the steps."""

    arm_swing: float = np.radians(15.0)  # peak shoulder swing either side (rad)
    arm_forward: float = 0.0  # mean shoulder flexion (rad)
    arm_flex: float = np.radians(15.0)  # elbow flexion (rad)
    lean: float = 0.0  # forward trunk lean at full speed (rad)
    bob: float = 0.0  # running: extra hip rise at mid-flight (m)
    reach: float = 0.985  # planted legs straighten up to this share of their length
    crouch: float = 0.01  # hips this much lower than standing tall (m)
    sway: float = 0.022  # sideways shift of the hips over the standing foot (m)
    pelvis_turn: float = np.radians(4.0)  # pelvis turns with the swinging leg (rad)
    chest_turn: float = np.radians(3.0)  # the chest turns back the other way (rad)


def footprint(body: Body, path: Path, gait: Gait, side: int, when: float) -> tuple[tuple[float, float], float]:
    """Where foot ``side`` lands (foot joint x, z) and its heading, so its ankle is on the path at ``when``."""
    (cx, cz), psi = path.at(when)
    yaw = float(psi + SIDE_SIGN[side] * gait.toe_out)
    w = SIDE_SIGN[side] * gait.half_width
    off = body.ankle_offset(yaw, 0.0)
    return (float(cx + w * np.cos(psi) - off[0]), float(cz - w * np.sin(psi) - off[2])), yaw


def plan_swings(body: Body, path: Path, gait: Gait, start: Pose, first: int, t_start: float,
                t_stop: float, horizon: float, march: bool = False) -> Plans:
    """Each foot's swings up to time ``horizon``: feet alternate from t_start (``first`` lifts first) at the
    gait's cadence.

    Stepping ends at t_stop; without ``march`` up to one more cycle follows to bring the feet back under
    the hips, and steps shorter than ``min_step`` are left out.
    """
    step_t = 1.0 / gait.cadence
    cycle, swing_t = 2.0 * step_t, (1.0 - gait.duty) * 2.0 * step_t
    stance = gait.duty * cycle
    plans: Plans = ([], [])
    for side in (LEFT, RIGHT):
        here = start.toe[side, 0, [0, 2]]
        heading = start.foot_yaw[side, 0]
        t0 = t_start + (0.0 if side == first else step_t)
        end = min(t_stop if march else t_stop + cycle, horizon)
        lead = min(0.45 * stance, t0 - t_start + 0.15)  # the first heel rise starts with the motion
        while t0 < end:
            t1 = t0 + swing_t
            xz, yaw = footprint(body, path, gait, side, t1 + gait.ref * stance)
            moved = np.hypot(xz[0] - here[0], xz[1] - here[1])
            if march or moved >= gait.min_step or abs(yaw - heading) > np.radians(4.0):
                plans[side].append(Swing(t0, t1, xz, yaw, gait.lift, gait.heel, lead))
                here, heading = np.asarray(xz), yaw
            t0 += cycle
            lead = 0.45 * stance
    return plans


def step_rhythm(t: np.ndarray, plans: Plans, step_t: float) -> np.ndarray:
    """+1 at mid-swing of the left foot, -1 at mid-swing of the right, 0 when standing: the phase of the gait
    that hips, pelvis and arms follow."""
    out = np.zeros_like(t)
    for side, swings in enumerate(plans):
        for sw in swings:
            mid = 0.5 * (sw.t0 + sw.t1)
            out += SIDE_SIGN[side] * keyframes(t, [mid - step_t, mid, mid + step_t], [0.0, 1.0, 0.0])
    return out


def locomote(body: Body, t: np.ndarray, path: Path, gait: Gait, style: Style, first: int, t_start: float,
             t_stop: float, march: bool = False) -> tuple[Pose, Plans]:
    """A whole stepping motion over frame times ``t``.

    With a negative ``t_start`` the motion is under way at the first frame: it is made from t_start on and
    the frames before t[0] are dropped.
    """
    if t_start < 0 and t[0] > t_start:
        dt = t[1] - t[0]
        early = int(np.ceil((t[0] - t_start) / dt)) + 1
        full, plans = locomote(body, np.concatenate([t[0] + dt * np.arange(-early, 0), t]), path, gait, style,
                               first, t_start, t_stop, march)
        return full.frames_from(early), plans
    pose = Pose.standing(body, len(t), half_width=gait.half_width, toe_out=gait.toe_out)
    if t_start < 0:  # the feet set off from where they stood at t_start
        for side in (LEFT, RIGHT):
            (x, z), yaw = footprint(body, path, gait, side, t_start)
            pose.toe[side, :, 0], pose.toe[side, :, 2], pose.foot_yaw[side] = x, z, yaw
    plans = plan_swings(body, path, gait, pose, first, t_start, t_stop, float(t[-1]), march)
    step_t = 1.0 / gait.cadence
    rhythm = step_rhythm(t, plans, step_t)
    xz, psi = path.at(t)
    left_dir = np.stack([np.cos(psi), -np.sin(psi)], axis=-1)
    # the hips shift over the planted foot: away from the swinging one
    hips_xz = xz - style.sway * rhythm[:, None] * left_dir
    pose.hips[:, 0], pose.hips[:, 2] = hips_xz[:, 0], hips_xz[:, 1]
    planted = np.ones((2, len(t)), dtype=bool)
    for side in (LEFT, RIGHT):
        track = foot_track(t, pose.toe[side, 0, [0, 2]], pose.foot_yaw[side, 0], plans[side])
        pose.toe[side], pose.foot_yaw[side], pose.foot_pitch[side] = track.toe, track.yaw, track.pitch
        planted[side] = track.reaching
    moving = _activity(t, plans, step_t)
    pose.yaw = psi - style.pelvis_turn * rhythm  # the swinging leg's hip goes forward
    pose.spine_twist = (style.pelvis_turn + style.chest_turn) * rhythm
    pose.pelvis_pitch = style.lean * moving
    pose.head_pitch = -0.6 * style.lean * moving  # eyes stay on the horizon

    for side in (LEFT, RIGHT):
        swing = -SIDE_SIGN[side] * style.arm_swing * rhythm + style.arm_forward * moving
        flex = style.arm_flex + 0.5 * np.maximum(swing, 0.0)  # the elbow bends more as the arm swings forward
        wrist, pole = arm_target(body, swing, 0.0, flex)
        pose.wrist[side] = wrist + np.array([0.035, 0.0, 0.0])
        pose.elbow_pole[side] = pole + np.array([0.3, 0.0, 0.0])

    desired = body.stand_hips_y(style.reach) - style.crouch * moving
    if style.bob:
        first_lift = min(p[0].t0 for p in plans if p)
        flight_mid = first_lift + 0.5 * (step_t + (1.0 - gait.duty) * 2.0 * step_t)
        desired = desired + style.bob * moving * np.cos(np.pi * (t - flight_mid) / step_t)
    settle_hips(body, pose, desired, style.reach, planted)
    return pose, plans


def _activity(t: np.ndarray, plans: Plans, step_t: float) -> np.ndarray:
    """1 while stepping, easing in and out over a step: how much of the gait posture to show."""
    swings = [sw for p in plans for sw in p]
    if not swings:
        return np.zeros_like(t)
    t0, t1 = min(sw.t0 for sw in swings), max(sw.t1 for sw in swings)
    return ramp(t, t0 - step_t, t0) * (1.0 - ramp(t, t1, t1 + step_t))
