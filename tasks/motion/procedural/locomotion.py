"""Stepping activities: walk, jog, walk backwards, side-step, turn on the spot, march, walk in a circle.

Speeds and cadences follow adult gait data: walking 0.9-1.6 m/s at 1.6-2.2 steps/s with the step length
growing with speed; jogging 2-3.4 m/s at 2.4-3.1 steps/s with flight phases.  As in a recording session,
the person stays inside the scene's capture area: walks and jogs towards the radar stop in front of it (and
their clips end soon after), a circle is only as wide as the area allows.
"""
from __future__ import annotations

import numpy as np

from tasks.motion.procedural.body import LEFT, SIDE_NAME
from tasks.motion.procedural.curves import ramp_rate
from tasks.motion.procedural.gait import Gait, Style, integrate_path, locomote, speed_profile
from tasks.motion.procedural.scene import BOTH_LEGS, STANDING, Facts, Made, Scene


def _zero(t: np.ndarray) -> np.ndarray:
    return np.zeros_like(t)


def _gait_facts(direction: str, cadence: float) -> Facts:
    return {**STANDING, "direction": direction, "cadence_steps_per_s": round(cadence, 2), "limbs": BOTH_LEGS}


def _travel(scene: Scene, v: float, room: float, gait: Gait, p_running_start: float, p_stop: float,
            accel: float = 0.8, decel: float = 0.8, steady: float = 0.5) -> tuple[float, float]:
    """When stepping at ``v`` m/s (speeding up over ``accel`` s, slowing down over ``decel`` s) starts and stops,
    so that neither the path nor the feet placed along it go more than ``room`` m from the first frame.

    A start from standing (start >= 0) needs room to speed up, hold v for ``steady`` s and slow down; otherwise,
    and with chance ``p_running_start``, the person is under way at the first frame (start < 0).  A clip that
    would take them (or the next footfall, ``gait.lookahead_s`` ahead) past the room has them stop in time
    (after ``steady`` s at v where the room allows) and ends 0.8-1.4 s later; a clip that would not ends with
    them still going (stop = inf), or stopping with chance ``p_stop``.
    """
    from_rest = scene.rng.random() >= p_running_start and v * (accel / 2 + steady + decel / 2) <= room
    start = scene.uniform(0.2, 0.6) if from_rest else -2.5
    full = room / v + (start + accel / 2 if from_rest else 0.0)  # the room runs out here without a stop
    latest = full + decel / 2
    earliest = min(latest, max(start, 0.0) + (accel if from_rest else 0.0) + steady + decel)
    tail = scene.uniform(0.8, 1.4)
    if scene.duration + gait.lookahead_s <= full and (scene.rng.random() >= p_stop
                                                      or scene.duration - tail < earliest):
        return start, np.inf
    stop = float(np.clip(scene.duration - tail, earliest, latest))
    scene.cut(stop + tail)
    return start, stop


def _stops(scene: Scene, stop: float) -> bool:
    """Whether the person has come to rest a while before the clip ends."""
    return bool(stop + 0.5 <= scene.duration)


def _toes_ahead(scene: Scene) -> float:
    """How far past the end of the path the toes reach: the feet close up under the hips, toes forward."""
    return scene.body.ankle_back + 0.03


def _cadence(scene: Scene, v: float, relative_step: float, v_ref: float,
             cadence: tuple[float, float]) -> tuple[float, float]:
    """Speed and cadence for a person of this stature: the step length is ``relative_step`` of the stature at
    ``v_ref`` and grows with the square root of speed; the cadence is kept in its range by adjusting the speed."""
    step = relative_step * scene.body.height * np.sqrt(v / v_ref) * scene.rng.normal(1.0, 0.03)
    f = float(np.clip(v / step, *cadence))
    return f * step, f


def walk(scene: Scene) -> Made:
    room = scene.area.forward_m - _toes_ahead(scene)
    fastest = min(1.5, max(0.95, room / 0.9))  # a step at v (0.5 s) and the 0.8 s stop cover 0.9 s at v
    v, cadence = _cadence(scene, scene.uniform(0.95, fastest), 0.4, 1.3, (1.62, 2.15))
    gait = Gait(cadence=cadence, duty=scene.uniform(0.58, 0.62), lift=scene.uniform(0.06, 0.09),
                half_width=scene.body.hip_half + scene.uniform(0.0, 0.02), heel=np.radians(45 + 20 * (v - 0.9) / 0.6))
    style = Style(arm_swing=np.radians(scene.uniform(8, 14) + 12 * (v - 0.9) / 0.6),
                  lean=np.radians(scene.uniform(0, 4)))
    start, stop = _travel(scene, v, room, gait, 0.4, 0.35)
    path = integrate_path(scene.duration, speed_profile(v, start, stop), _zero, _zero, t_from=start)
    pose, _ = locomote(scene.body, scene.t, path, gait, style, scene.side(), start, stop)
    return Made(pose, _gait_facts("forward", cadence),
                {"stops": _stops(scene, stop), "from_rest": start >= 0, "pace_mps": v})


def jog(scene: Scene) -> Made:
    room = scene.area.forward_m - _toes_ahead(scene)
    fastest = min(3.3, max(2.1, room / 0.65))  # a step at v (0.3 s) and the 0.7 s stop cover 0.65 s at v
    v, cadence = _cadence(scene, scene.uniform(2.1, fastest), 0.52, 2.6, (2.4, 3.1))
    gait = Gait(cadence=cadence, duty=scene.uniform(0.36, 0.4), lift=scene.uniform(0.12, 0.18), ref=0.2,
                half_width=scene.body.hip_half + scene.uniform(-0.01, 0.01), heel=np.radians(scene.uniform(60, 70)))
    style = Style(arm_swing=np.radians(scene.uniform(25, 35)), arm_forward=np.radians(scene.uniform(10, 20)),
                  arm_flex=np.radians(scene.uniform(75, 95)), lean=np.radians(scene.uniform(5, 10)), bob=0.03,
                  crouch=0.03, sway=0.012, pelvis_turn=np.radians(6.0), chest_turn=np.radians(4.0))
    # the run-up is mostly before the first frame: speeding up from standing takes more room than there is
    start, stop = _travel(scene, v, room, gait, 0.7 if scene.duration > 3.5 else 1.0, 0.0, accel=1.0, decel=0.7,
                          steady=0.3)
    path = integrate_path(scene.duration, speed_profile(v, start, stop, 1.0, 0.7), _zero, _zero, t_from=start)
    pose, _ = locomote(scene.body, scene.t, path, gait, style, scene.side(), start, stop)
    return Made(pose, _gait_facts("forward", cadence),
                {"stops": _stops(scene, stop), "from_rest": start >= 0, "pace_mps": v})


def walk_backward(scene: Scene) -> Made:
    room = scene.area.backward_m - 0.03  # the ankles end under the hips, the toes point away
    v = scene.uniform(0.5, 0.9)
    cadence = float(np.clip(1.45 + 0.5 * (v - 0.5) / 0.4 + scene.rng.normal(0, 0.04), 1.4, 2.0))
    gait = Gait(cadence=cadence, duty=scene.uniform(0.6, 0.64), lift=scene.uniform(0.05, 0.07),
                half_width=scene.body.hip_half + scene.uniform(0.005, 0.025), heel=np.radians(15.0))
    style = Style(arm_swing=np.radians(scene.uniform(5, 10)), lean=np.radians(scene.uniform(3, 7)))
    start, stop = _travel(scene, v, room, gait, 0.2, 0.4)
    speed = speed_profile(v, start, stop)
    path = integrate_path(scene.duration, lambda t: -speed(t), _zero, _zero, t_from=start)
    pose, _ = locomote(scene.body, scene.t, path, gait, style, scene.side(), start, stop)
    return Made(pose, _gait_facts("backward", cadence), {"stops": _stops(scene, stop)})


def side_step(scene: Scene) -> Made:
    side = scene.side()
    cadence = scene.uniform(1.4, 1.9)
    v = min(max(scene.uniform(0.2, 0.35), 0.6 / (scene.duration - 1.2)), 0.5)  # 0.6 m to the side in a short clip
    # the trailing foot closes in to no less than 12 cm from the leading one, so the feet never cross
    half = max(scene.uniform(0.13, 0.17), 0.5 * (v / cadence + 0.12))
    gait = Gait(cadence=cadence, duty=0.65, lift=scene.uniform(0.05, 0.07), half_width=half,
                heel=np.radians(8.0), toe_out=np.radians(4.0), ref=0.5)
    room = scene.area.side_m - half - 0.04  # the leading foot is ``half`` outside the path, its toes turned out
    # a stop comes after 0.6 m too: that much side-stepping at v, counting half of each speed change
    start, stop = _travel(scene, v, room, gait, 0.0, 0.5, accel=0.5, decel=0.5, steady=max(0.5, 0.6 / v - 0.5))
    style = Style(arm_swing=0.0, sway=0.0, pelvis_turn=0.0, chest_turn=0.0)
    sign = 1.0 if side == LEFT else -1.0
    speed = speed_profile(v, start, stop, 0.5)
    path = integrate_path(scene.duration, _zero, lambda t: sign * speed(t), _zero)
    pose, _ = locomote(scene.body, scene.t, path, gait, style, side, start, stop)  # the leading foot goes first
    return Made(pose, _gait_facts(SIDE_NAME[side], cadence), {"stops": _stops(scene, stop)})


TURN_ANGLES = {90: 3.0, 135: 1.0, 180: 3.5, 270: 1.0, 360: 1.5}  # degrees: how often each is chosen


def turn_in_place(scene: Scene) -> Made:
    side = scene.side()
    start = scene.uniform(0.2, 0.6)
    mean_rate = np.radians(scene.uniform(50, 80))  # so a planted foot never lags the hips by much
    fits = [a for a in TURN_ANGLES if a / 90.0 <= scene.duration - start - 1.0] or [90]
    weights = np.array([TURN_ANGLES[a] for a in fits])
    angle = scene.pick(fits, p=weights / weights.sum())
    turn_s = min(np.radians(angle) / mean_rate, scene.duration - start - 1.0)
    sign = 1.0 if side == LEFT else -1.0

    def rate(t: np.ndarray) -> np.ndarray:
        return sign * np.radians(angle) * ramp_rate(t, start + 0.15, start + 0.15 + turn_s)

    cadence = scene.uniform(1.8, 2.2)
    gait = Gait(cadence=cadence, duty=0.62, lift=scene.uniform(0.04, 0.06), half_width=scene.body.hip_half + 0.02,
                heel=np.radians(10.0), ref=0.5)
    path = integrate_path(scene.duration, _zero, _zero, rate)
    pose, _ = locomote(scene.body, scene.t, path, gait, Style(arm_swing=np.radians(4.0), sway=0.015), side,
                       start, start + turn_s)
    return Made(pose, {**STANDING, "direction": "in place", "turn": SIDE_NAME[side], "turn_deg": float(sign * angle),
                  "limbs": BOTH_LEGS})


def march_in_place(scene: Scene) -> Made:
    cadence = scene.uniform(1.6, 2.2)
    start = scene.uniform(0.2, 0.5)
    stop = scene.duration - scene.uniform(0.4, 0.8)
    gait = Gait(cadence=cadence, duty=0.56, lift=scene.uniform(0.12, 0.25), half_width=scene.body.hip_half + 0.015,
                heel=np.radians(25.0), ref=0.5)
    style = Style(arm_swing=np.radians(scene.uniform(25, 40)), arm_flex=np.radians(scene.uniform(50, 90)),
                  sway=0.02, pelvis_turn=np.radians(2.0))
    path = integrate_path(scene.duration, _zero, _zero, _zero)
    pose, plans = locomote(scene.body, scene.t, path, gait, style, scene.side(), start, stop, march=True)
    steps = sum(1 for p in plans for sw in p if sw.t1 <= scene.duration)
    return Made(pose, {**_gait_facts("in place", cadence), "repetitions": steps})


def walk_circle(scene: Scene) -> Made:
    side = scene.side()  # LEFT: counter-clockwise seen from above
    v, cadence = _cadence(scene, scene.uniform(0.8, 1.2), 0.33, 1.1, (1.7, 2.1))  # shorter steps on a curve
    start = scene.uniform(0.2, 0.5)
    accel = 0.8
    half_width = scene.body.hip_half + 0.01
    # the circle starts at the origin heading +z, so it spans 2 radii to one side and one radius ahead and
    # behind; the outer foot, toes turned out, goes round a little outside the hips
    out = half_width + 0.05
    largest = min((scene.area.side_m - out) / 2, scene.area.forward_m - out, scene.area.backward_m - out)
    turn = np.radians(scene.uniform(330, 420))
    distance = v * (scene.duration - start - accel / 2)
    radius = min(max(0.8, distance / turn), largest)
    stop = np.inf
    if distance > turn * radius:  # no room for a circle that lasts the clip: stop once round
        stop = start + accel + turn * radius / v
        scene.cut(stop + scene.uniform(0.8, 1.4))
    gait = Gait(cadence=cadence, duty=0.6, lift=scene.uniform(0.05, 0.08), half_width=half_width,
                heel=np.radians(40.0))
    sign = 1.0 if side == LEFT else -1.0
    speed = speed_profile(v, start, stop, accel)
    path = integrate_path(scene.duration, speed, _zero, lambda t: sign * speed(t) / radius)
    pose, _ = locomote(scene.body, scene.t, path, gait, Style(arm_swing=np.radians(10.0)), scene.side(), start, stop)
    turned = float(np.degrees(path.at(scene.t[-1])[1]))
    return Made(pose, {**STANDING, "turn": SIDE_NAME[side], "turn_deg": round(turned),
                  "cadence_steps_per_s": round(cadence, 2), "limbs": BOTH_LEGS}, {"stops": _stops(scene, stop)})
