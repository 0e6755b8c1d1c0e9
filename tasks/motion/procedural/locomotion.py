"""Stepping activities: walk, jog, walk backwards, side-step, turn on the spot, march, walk in a circle, walk
away from the radar and back, walk across its view.

Walks and jogs draw their speed from the scene's ranges; step length and cadence both grow with speed as in
adult gait data (``step_rate``), and the arms swing more the faster the walk.  As in a recording session,
the person stays inside the scene's capture area: walks and jogs towards the radar stop in front of it (and
their clips end soon after), a circle is only as wide as the area allows.
"""
from __future__ import annotations

import numpy as np

from tasks.motion.procedural.body import LEFT, SIDE_NAME
from tasks.motion.procedural.curves import keyframes, ramp_rate
from tasks.motion.procedural.gait import Gait, Path, Style, integrate_path, locomote, speed_profile
from tasks.motion.procedural.scene import BOTH_LEGS, STANDING, Facts, G, Made, Scene


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


def step_rate(scene: Scene, v: float) -> float:
    """Steps per second of this person walking or running at ``v`` m/s.

    Alexander's relation of stride length to speed (R. McN. Alexander, "Estimates of speeds of dinosaurs",
    Nature 261:129-130, 1976): stride / h = 2.3 (v^2 / (g h))^0.3 with h the hip height, so the step grows as
    v^0.6 and the cadence as v^0.4.  For a 1.75 m adult: 0.31 m steps at 1.3 steps/s at 0.4 m/s, 0.63 m at
    2.05 steps/s at 1.3 m/s, 1.1 m at 3 steps/s at 3.4 m/s.  Step lengths vary by 4 % between people.
    """
    hip = scene.body.leg + scene.body.ankle_height
    step = 1.15 * hip * (v * v / (G * hip)) ** 0.3 * scene.rng.normal(1.0, 0.04)
    return v / step


def _walk_gait(scene: Scene, v: float) -> tuple[float, Gait, Style]:
    """Cadence, feet and body of a walk at ``v`` m/s.  Slower walks spend longer on both feet, lift the feet and
    heels less and swing the arms less (about 5 degrees either side at 0.4 m/s, 20 at 1.3 m/s)."""
    f = step_rate(scene, v)
    slow = float(np.clip((1.3 - v) / 0.9, 0.0, 1.0))  # 0 at 1.3 m/s and faster, 1 at 0.4 m/s
    gait = Gait(cadence=f, duty=scene.uniform(0.58, 0.62) + 0.06 * slow, lift=scene.uniform(0.06, 0.09) - 0.02 * slow,
                half_width=scene.body.hip_half + scene.uniform(0.0, 0.02),
                heel=np.radians(np.clip(45 + 20 * (v - 0.9) / 0.6, 20.0, 70.0)))
    style = Style(arm_swing=np.radians(20.0 * v / 1.3 * scene.uniform(0.8, 1.2)),
                  lean=np.radians(scene.uniform(0, 4) * min(1.0, v / 1.3)))
    return f, gait, style


def walk(scene: Scene) -> Made:
    room = scene.area.forward_m - _toes_ahead(scene)
    lo, hi = scene.walk_speed
    v = scene.uniform(lo, max(lo, min(hi, room / 0.9)))  # a step at v (0.5 s) and the 0.8 s stop cover 0.9 s at v
    f, gait, style = _walk_gait(scene, v)
    start, stop = _travel(scene, v, room, gait, 0.4, 0.35)
    path = integrate_path(scene.duration, speed_profile(v, start, stop), _zero, _zero, t_from=start)
    pose, _ = locomote(scene.body, scene.t, path, gait, style, scene.side(), start, stop)
    return Made(pose, _gait_facts("forward", f), {"stops": _stops(scene, stop), "from_rest": start >= 0, "pace_mps": v})


def jog(scene: Scene) -> Made:
    room = scene.area.forward_m - _toes_ahead(scene)
    lo, hi = scene.jog_speed
    v = scene.uniform(lo, max(lo, min(hi, room / 0.65)))  # a step at v (0.3 s) and the 0.7 s stop cover 0.65 s at v
    f = float(np.clip(step_rate(scene, v), 2.3, 3.2))  # runners rarely step slower, however slowly they jog
    gait = Gait(cadence=f, duty=scene.uniform(0.36, 0.4), lift=scene.uniform(0.12, 0.18), ref=0.2,
                half_width=scene.body.hip_half + scene.uniform(-0.01, 0.01), heel=np.radians(scene.uniform(60, 70)))
    style = Style(arm_swing=np.radians(scene.uniform(25, 35)), arm_forward=np.radians(scene.uniform(10, 20)),
                  arm_flex=np.radians(scene.uniform(75, 95)), lean=np.radians(scene.uniform(5, 10)), bob=0.03,
                  crouch=0.03, sway=0.012, pelvis_turn=np.radians(6.0), chest_turn=np.radians(4.0))
    # the run-up is mostly before the first frame: speeding up from standing takes more room than there is
    start, stop = _travel(scene, v, room, gait, 0.7 if scene.duration > 3.5 else 1.0, 0.0, accel=1.0, decel=0.7,
                          steady=0.3)
    path = integrate_path(scene.duration, speed_profile(v, start, stop, 1.0, 0.7), _zero, _zero, t_from=start)
    pose, _ = locomote(scene.body, scene.t, path, gait, style, scene.side(), start, stop)
    return Made(pose, _gait_facts("forward", f), {"stops": _stops(scene, stop), "from_rest": start >= 0, "pace_mps": v})


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
    v = scene.uniform(0.8, 1.2)
    cadence = step_rate(scene, v) / 0.9  # steps a tenth shorter on a curve
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


def walk_away_and_back(scene: Scene) -> Made:
    """Turn round on the spot, walk away from the radar (along -z), turn round again the same way at a slow
    step, walk back and stop about where they started, facing the radar again.

    Both half turns go the same way, so the facts' net turn (360 degrees) says that the person turned all the
    way round; turns to opposite sides would add up to no turn at all.  The walk out is as long as the area
    behind the start and the clip allow; the clip ends 0.8-1.4 s after the stop.
    """
    side = scene.side()
    sign = 1.0 if side == LEFT else -1.0
    turn1, turn2 = scene.uniform(1.0, 1.4), scene.uniform(1.0, 1.4)
    u = scene.uniform(0.25, 0.4)  # walking speed through the far turn
    accel = decel = 0.8
    room = scene.area.backward_m - (scene.body.ankle_back + scene.body.hip_half + 0.05)  # toes, outer foot
    # the shortest walk out: speeding up, slowing down to u and the far half of the turn at u (plus the first
    # turn's 0.1 m) take the hips this far at v
    lo, hi = scene.walk_speed
    fits = (room - 0.1 - u * (decel / 2 + turn2 / np.pi)) / ((accel + decel) / 2)
    v = scene.uniform(lo, max(lo, min(hi, fits)))
    u = min(u, v)
    f, gait, style = _walk_gait(scene, v)
    t0 = scene.uniform(0.2, 0.4)
    go = t0 + 0.5 * turn1  # sets off half-way round

    def route(cruise: float, back: float) -> tuple[Path, list[float]]:
        """The path with ``cruise`` s at v on the way out and ``back`` s on the way back, and its speed keyframes
        (the far turn starts 0.3 s before the slow-down to u is over)."""
        slow = go + accel + cruise + decel
        far = slow - 0.3
        turned = far + turn2
        times = [go, go + accel, go + accel + cruise, slow, turned, turned + accel, turned + accel + back,
                 turned + accel + back + decel]
        speeds = [0.0, v, v, u, u, v, v, 0.0]

        def rate(t: np.ndarray) -> np.ndarray:
            return sign * np.pi * (ramp_rate(t, t0, t0 + turn1) + ramp_rate(t, far, far + turn2))
        return integrate_path(times[-1] + 1.0, lambda t: keyframes(t, times, speeds), _zero, rate), times

    # Without cruising the hips get as far as z_far, and ``home`` s of cruising back after the turn would bring
    # the slow-down to its end at z = 0; each second of cruising out takes the far point v m further and adds a
    # second on the way back.
    shortest, times = route(1e-3, 1e-3)
    z_far = float(shortest.xz[:, 1].min())
    home = -float(shortest.at(times[5])[0][1]) / v - decel / 2  # cruising back after no cruising out (s)
    tail = scene.uniform(0.8, 1.4)
    cruise = max(1e-3, min((room + z_far) / v, (scene.duration - tail - (times[5] + home + decel)) / 2))
    path, times = route(cruise, max(1e-3, cruise + home))
    stop = times[-1]
    if stop + tail > scene.duration + 1e-6:  # the class's min_duration is too short: a bug, not bad input
        raise RuntimeError(f"walking away and back takes {stop + tail:.2f} s, the clip has {scene.duration:.2f} s")
    scene.cut(stop + tail)
    pose, _ = locomote(scene.body, scene.t, path, gait, style, scene.side(), t0, stop)
    turned = float(np.degrees(path.at(scene.t[-1])[1]))
    return Made(pose, {**STANDING, "direction": "away and back", "turn": SIDE_NAME[side], "turn_deg": round(turned),
                       "cadence_steps_per_s": round(f, 2), "limbs": BOTH_LEGS}, {"pace_mps": v})


def walk_across(scene: Scene) -> Made:
    """Turn a quarter to one side and walk across the radar's view (along +x or -x), facing the way they go;
    a walk that would leave the area stops at its side and the clip ends soon after."""
    side = scene.side()
    sign = 1.0 if side == LEFT else -1.0
    room = scene.area.side_m - _toes_ahead(scene)
    accel = decel = 0.8
    steady = 0.3
    lo, hi = scene.walk_speed
    fits = room / (accel / 2 + steady + decel / 2)  # the fastest walk that can start from standing and stop
    v = min(scene.uniform(lo, max(lo, min(hi, fits))), fits)
    f, gait, style = _walk_gait(scene, v)
    turn_s = scene.uniform(0.8, 1.2)
    start, stop = _travel(scene, v, room, gait, 0.0, 0.35, accel, decel, steady)
    turn_from = max(0.0, start - 0.3 * turn_s)  # the first step already turns that way

    def rate(t: np.ndarray) -> np.ndarray:
        return sign * 0.5 * np.pi * ramp_rate(t, turn_from, turn_from + turn_s)

    path = integrate_path(scene.duration, speed_profile(v, start, stop, accel, decel), _zero, rate)
    pose, _ = locomote(scene.body, scene.t, path, gait, style, side, start, stop)
    turned = float(np.degrees(path.at(scene.t[-1])[1]))
    return Made(pose, {**STANDING, "direction": SIDE_NAME[side], "turn": SIDE_NAME[side], "turn_deg": round(turned),
                       "cadence_steps_per_s": round(f, 2), "limbs": BOTH_LEGS},
                {"stops": _stops(scene, stop), "pace_mps": v})
