"""Jumps: countermovement jumps in place and forward, rebounding hops in place, and jumping jacks.

Between take-off and landing the hips fly a true ballistic parabola (g = 9.81 m/s^2): a flight of
duration T leaves the floor at g*T/2 m/s and rises g*T^2/8 m.  Take-off happens at the highest hip
height the extended legs (heels raised) can reach, so planted feet never slide and legs never overstretch.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tasks.common.skeleton import FPS
from tasks.motion.procedural.body import LEFT, RIGHT, SIDE_SIGN, TOE_HEIGHT, Body, Pose, arm_target, max_hips_y
from tasks.motion.procedural.curves import hermite_track, keyframes, minjerk
from tasks.motion.procedural.scene import BOTH_ARMS, BOTH_LEGS, STANDING, G, Made, Scene

REACH = 0.985  # legs straighten to this share of their length at take-off
CLEAR = 0.015  # feet start moving sideways or forward once this far off the floor (m)
LANDING_AHEAD = 0.25  # how far past the landing ankles the pelvis (absorbing the landing) or the toes reach (m)


@dataclass(frozen=True)
class Flight:
    """Both feet leave the floor at ``t_off`` and land at ``t_land`` on ``feet`` ((x, z, yaw) per foot)."""

    t_off: float
    t_land: float
    feet: tuple[tuple[float, float, float], tuple[float, float, float]]

    @property
    def speed(self) -> float:
        """Vertical take-off speed of a ballistic flight of this duration."""
        return G * (self.t_land - self.t_off) / 2.0


def stance(body: Body, half_width: float, z: float = 0.0, toe_out: float = np.radians(8.0)) -> tuple:
    """(x, z, yaw) of each foot joint for ankles ``half_width`` either side of the midline at depth ``z``."""
    feet = []
    for side in (LEFT, RIGHT):
        yaw = SIDE_SIGN[side] * toe_out
        off = body.ankle_offset(yaw, 0.0)
        feet.append((SIDE_SIGN[side] * half_width - off[0], z - off[2], yaw))
    return tuple(feet)


def _place_feet(pose: Pose, t: np.ndarray, flights: list[Flight]) -> None:
    """Feet stay where they are until each landing, then stand on its landing spots (flights filled in later)."""
    for fl in flights:
        after = t >= fl.t_land
        for side in (LEFT, RIGHT):
            x, z, yaw = fl.feet[side]
            pose.toe[side, after, 0], pose.toe[side, after, 2], pose.foot_yaw[side, after] = x, z, yaw


def take_off_height(body: Body, pose: Pose, t: np.ndarray, flights: list[Flight]) -> float:
    """The highest hip height from which every take-off and to which every landing is within the legs' reach."""
    limit = max_hips_y(body, pose, REACH)
    frames = []
    for fl in flights:
        frames += [int(np.floor(fl.t_off * FPS)), int(np.ceil(fl.t_land * FPS))]
    return float(limit[np.clip(frames, 0, len(t) - 1)].min()) - 0.005


def fly(pose: Pose, t: np.ndarray, flights: list[Flight], y_off: float, tuck: float) -> None:
    """Fill in the feet during each flight: they rise and fall with the hips (plus a knee tuck of ``tuck`` m)
    and move from their take-off to their landing spots while clear of the floor."""
    for fl in flights:
        during = (t > fl.t_off) & (t < fl.t_land)
        tau = (t[during] - fl.t_off) / (fl.t_land - fl.t_off)
        clear = CLEAR / fl.speed / (fl.t_land - fl.t_off)  # share of the flight until the feet are CLEAR m up
        go = minjerk((tau - clear) / (1.0 - 2.0 * clear))[:, None]
        lift = pose.hips[during, 1] - y_off + tuck * np.sin(np.pi * tau) ** 2
        before = np.searchsorted(t, fl.t_off) - 1
        for side in (LEFT, RIGHT):
            start, dest = pose.toe[side, before, [0, 2]], np.array(fl.feet[side][:2])
            xz = start + go * (dest - start)
            pose.toe[side, during, 0], pose.toe[side, during, 2] = xz[:, 0], xz[:, 1]
            pose.toe[side, during, 1] = TOE_HEIGHT + lift
            yaw0 = pose.foot_yaw[side, before]
            pose.foot_yaw[side, during] = yaw0 + go[:, 0] * (fl.feet[side][2] - yaw0)


def _arms(pose: Pose, body: Body, t: np.ndarray, times: list[float], elev_deg: list[float], azim_deg: float,
          flex_deg: float) -> None:
    """Both arms through shoulder elevations at ``times`` (degrees from hanging; azimuth 0 forward, 90 sideways)."""
    elev = np.radians(keyframes(t, times, elev_deg))
    wrist, pole = arm_target(body, elev, np.radians(azim_deg), np.radians(flex_deg))
    pose.wrist[:], pose.elbow_pole[:] = wrist, pole


def _jumps(scene: Scene, forward: bool) -> Made:
    """Countermovement jumps: crouch, push off, fly, land, absorb, stand up, pause; repeated."""
    body, t = scene.body, scene.t
    pose = scene.stand(half_width=body.hip_half + scene.uniform(0.01, 0.04))
    half = pose.toe[LEFT, 0, 0] + body.ankle_offset(pose.foot_yaw[LEFT, 0], 0.0)[0]
    y_stand = pose.hips[0, 1]
    lead = scene.uniform(0.2, 0.5)
    # forward: 0.5-1 m a jump, all of them inside the area (the hips overshoot the feet on landing)
    room = scene.area.forward_m - LANDING_AHEAD if forward else 0.0
    most = min(3, int(room / 0.5)) if forward else 3
    n, cycle = scene.reps(scene.duration - lead - 0.2, (2.6, 3.4), (1, most))  # phases take up to 2.5 s
    flights, phases = [], []
    hz, pitch_keys, lean_keys, arm_keys = [(0.0, 0.0, 0.0, 0.0)], [(0.0, 0.0)], [(0.0, 0.0)], [(0.0, 7.0)]
    feet_z = hips_z = 0.0
    for k in range(n):
        t0 = lead + k * cycle
        t_b = t0 + scene.uniform(0.45, 0.6)  # bottom of the crouch
        t_off = t_b + scene.uniform(0.24, 0.3)
        flight_t = scene.uniform(0.36, 0.46) if forward else scene.uniform(0.38, 0.5)
        t_land = t_off + flight_t
        t_ab = t_land + scene.uniform(0.25, 0.35)  # bottom of the landing
        t_up = t_ab + scene.uniform(0.45, 0.6)
        depth = scene.uniform(0.15, 0.25) * body.height / 1.75
        dist = scene.uniform(0.5, min(1.0, (room - feet_z) / (n - k))) if forward else 0.0  # leaves 0.5 m a jump
        feet_z += dist
        flights.append(Flight(t_off, t_land, stance(body, half, feet_z)))
        phases.append((t0, t_b, t_ab, t_up, depth))
        if forward:  # hips lead the feet at take-off and trail them on landing
            vz = (dist - 0.22) / flight_t
            z_off, z_land = hips_z + 0.1, hips_z + 0.1 + vz * flight_t
            hz += [(t0, hips_z, 0.0, 0.0), (t_b, hips_z - 0.05, 0.0, 0.0), (t_off, z_off, vz, 0.0),
                   (t_land, z_land, vz, 0.0), (t_ab, z_land + 0.35 * vz * (t_ab - t_land), 0.0, 0.0),
                   (t_up, feet_z, 0.0, 0.0)]
            hips_z = feet_z
        heel_off, heel_land = np.radians(scene.uniform(40, 55)), np.radians(scene.uniform(20, 30))
        pitch_keys += [(t_b, 0.0), (t_off, heel_off), (t_land, heel_land), (t_ab, 0.0)]
        lean = scene.uniform(25, 40)
        lean_keys += [(t0, 0.0), (t_b, lean), (t_off, 20.0 if forward else 8.0), (t_off + 0.5 * flight_t, 5.0),
                      (t_ab, 0.8 * lean), (t_up, 0.0)]
        arm_keys += [(t0, 7.0), (t_b - 0.15, -40.0), (t_off + 0.2, 95.0 if forward else 130.0), (t_land + 0.08, 70.0),
                     (t_ab + 0.1, 25.0), (t_up + 0.15, 7.0)]

    if forward:
        pose.hips[:, 2] = hermite_track(t, hz)
    pose.pelvis_pitch = np.radians(keyframes(t, *zip(*lean_keys)))
    pose.spine_pitch = 0.3 * pose.pelvis_pitch
    pose.head_pitch = -0.5 * pose.pelvis_pitch  # eyes forward
    _place_feet(pose, t, flights)
    pose.foot_pitch[:] = keyframes(t, *zip(*pitch_keys))
    y_off = take_off_height(body, pose, t, flights)
    knots = [(0.0, y_stand, 0.0, 0.0)]
    for fl, (t0, t_b, t_ab, t_up, depth) in zip(flights, phases):
        knots += [(t0, y_stand, 0.0, 0.0), (t_b, y_stand - depth, 0.0, 0.0), (fl.t_off, y_off, fl.speed, -G),
                  (fl.t_land, y_off, -fl.speed, -G), (t_ab, y_stand - 0.7 * depth, 0.0, 0.0), (t_up, y_stand, 0.0, 0.0)]
    pose.hips[:, 1] = hermite_track(t, knots)
    fly(pose, t, flights, y_off, tuck=scene.uniform(0.05, 0.12))
    _arms(pose, body, t, *map(list, zip(*arm_keys)), azim_deg=0.0, flex_deg=20.0)
    return Made(pose, {**STANDING, "direction": "forward" if forward else "in place", "repetitions": n,
                       "limbs": BOTH_LEGS})


def _rebound(scene: Scene, pose: Pose, flights: list[Flight], lead: float, prep: float, tuck: float) -> None:
    """Hips and feet through back-to-back flights on the balls of the feet (jumping jacks, hops): heels rise
    and the hips dip over ``prep`` s from ``lead``, each short contact between two flights is a springy
    rebound, and after the last landing the person settles and stands."""
    body, t = scene.body, scene.t
    y_stand = pose.hips[0, 1]
    first_off, last_land = flights[0].t_off, flights[-1].t_land
    heel = np.radians(scene.uniform(15, 25))
    pose.foot_pitch[:] = keyframes(t, [lead, first_off, last_land, last_land + 0.3], [0.0, heel, heel, 0.0])
    _place_feet(pose, t, flights)
    y_off = take_off_height(body, pose, t, flights)
    dip = scene.uniform(0.04, 0.08)
    knots = [(lead, y_stand, 0.0, 0.0), (lead + 0.5 * prep, y_off - dip, 0.0, 0.0)]
    for fl in flights:
        knots += [(fl.t_off, y_off, fl.speed, -G), (fl.t_land, y_off, -fl.speed, -G)]
    knots += [(last_land + 0.3, y_stand - dip, 0.0, 0.0), (last_land + 0.65, y_stand, 0.0, 0.0)]
    pose.hips[:, 1] = hermite_track(t, knots)
    fly(pose, t, flights, y_off, tuck=tuck)


def _hops(scene: Scene) -> Made:
    """Small hops on the spot, 1.5-2.5 a second as when skipping rope: 0.22-0.3 s in the air (6-11 cm up),
    at least 0.17 s on the floor between hops; the arms hang with the elbows bent."""
    body = scene.body
    pose = scene.stand(half_width=body.hip_half + scene.uniform(0.0, 0.03))
    half = pose.toe[LEFT, 0, 0] + body.ankle_offset(pose.foot_yaw[LEFT, 0], 0.0)[0]
    lead, prep, settle = scene.uniform(0.2, 0.5), 0.35, 0.7
    n, period = scene.reps(scene.duration - lead - prep - settle - 0.1, (0.4, 0.67), (3, 12))
    flight_t = scene.uniform(0.22, max(0.22, min(0.3, period - 0.17)))
    flights = [Flight(t_off, t_off + flight_t, stance(body, half, 0.0))
               for t_off in lead + prep + period * np.arange(n)]
    _rebound(scene, pose, flights, lead, prep, tuck=scene.uniform(0.03, 0.06))
    elbows = scene.uniform(40, 70)
    _arms(pose, scene.body, scene.t, [lead, lead + prep], [7.0, 15.0], azim_deg=20.0, flex_deg=elbows)
    return Made(pose, {**STANDING, "direction": "in place", "repetitions": n, "limbs": BOTH_LEGS}, {"hops": True})


def jump_in_place(scene: Scene) -> Made:
    """Big countermovement jumps, or (half the time) a run of small rebounding hops."""
    return _hops(scene) if scene.rng.random() < 0.5 else _jumps(scene, forward=False)


def jump_forward(scene: Scene) -> Made:
    return _jumps(scene, forward=True)


def jumping_jacks(scene: Scene) -> Made:
    body, t = scene.body, scene.t
    narrow = body.hip_half + 0.01
    wide = body.hip_half + scene.uniform(0.18, 0.27)
    pose = scene.stand(half_width=narrow)
    lead, prep, settle = scene.uniform(0.2, 0.5), 0.35, 0.7
    n, period = scene.reps(scene.duration - lead - prep - settle - 0.1, (0.8, 1.3), (2, 10))
    flight_t = scene.uniform(0.18, 0.24)
    first_off = lead + prep
    flights = []
    for k in range(2 * n):  # out, in, out, in, ...
        t_off = first_off + k * period / 2
        flights.append(Flight(t_off, t_off + flight_t, stance(body, wide if k % 2 == 0 else narrow, 0.0,
                                                              np.radians(15.0 if k % 2 == 0 else 8.0))))
    _rebound(scene, pose, flights, lead, prep, tuck=0.02)
    # arms reach overhead while the feet are apart, back down as they close
    times, elev = [lead], [7.0]
    for k, fl in enumerate(flights):
        times.append(fl.t_land)
        elev.append(scene.uniform(150, 170) if k % 2 == 0 else 12.0)
    times.append(flights[-1].t_land + 0.5)
    elev.append(7.0)
    _arms(pose, body, t, times, elev, azim_deg=90.0, flex_deg=15.0)
    return Made(pose, {**STANDING, "direction": "in place", "repetitions": n, "limbs": BOTH_ARMS["limbs"] + BOTH_LEGS,
                  "hand": "both"})
