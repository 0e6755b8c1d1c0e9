"""Arm activities: wave, clap, punch, raise the arms, stretch, shadow-box.

Hands are placed by wrist targets in the chest frame and reached by IK; each repetition ends in a keyframe
(the hand stops at the end of a wave, at the clap, at full punch extension), so counts are exact.  Each move
takes as long as its distance and a peak hand speed in the human range of that gesture make it (move_time):
a punch's fist 3-6 m/s, a wave about 1-2 m/s, a clap's closing hands 2-3 m/s, arms raised at 2-3 m/s
(peaks of the smooth moves; the 20 fps joints show a little less).
"""
from __future__ import annotations

import numpy as np

from tasks.motion.procedural.body import (
    LEFT,
    RIGHT,
    SIDE_NAME,
    SIDE_SIGN,
    Body,
    Pose,
    apply,
    arm_target,
    rest_arms,
    rot_y,
    settle_hips,
)
from tasks.motion.procedural.curves import keyframes, move_time, ramp
from tasks.motion.procedural.feet import Swing, foot_track
from tasks.motion.procedural.scene import BOTH_ARMS, STANDING, Made, Scene, hand_facts

Key = tuple[float, np.ndarray, np.ndarray]  # time, wrist target, elbow pole (canonical chest frame)


def _scale(body: Body) -> float:
    return body.height / 1.75


def _set_arm(pose: Pose, t: np.ndarray, side: int, keys: list[Key]) -> None:
    """Move one arm through wrist/pole keyframes, starting and ending at rest."""
    times = [k[0] for k in keys]
    pose.wrist[side] = keyframes(t, times, np.array([k[1] for k in keys]))
    pose.elbow_pole[side] = keyframes(t, times, np.array([k[2] for k in keys]))


REST_ANGLES = (7.0, 90.0, 14.0)  # shoulder elevation, azimuth, elbow flexion (degrees) of a hanging arm


def _swing_arm(pose: Pose, t: np.ndarray, body: Body, side: int, times: list[float], angles: list) -> None:
    """Move one arm through (elevation, azimuth, elbow flexion) keyframes in degrees: big arcs such as raising
    an arm overhead go round the shoulder rather than through it."""
    a = np.radians(keyframes(t, times, np.array(angles, dtype=float)))
    pose.wrist[side], pose.elbow_pole[side] = arm_target(body, a[:, 0], a[:, 1], a[:, 2], bend=(0.0, 1.0, 0.3))


def _arc(body: Body, start: tuple, end: tuple) -> float:
    """Length (m) of the wrist's path when _swing_arm blends (elevation, azimuth, flexion) ``start`` into ``end``."""
    share = np.linspace(0.0, 1.0, 41)[:, None]
    a = np.radians(np.asarray(start, float) + share * (np.asarray(end, float) - np.asarray(start, float)))
    wrist, _ = arm_target(body, a[:, 0], a[:, 1], a[:, 2], bend=(0.0, 1.0, 0.3))
    return float(np.linalg.norm(np.diff(wrist, axis=0), axis=-1).sum())


def _rest(body: Body) -> tuple[np.ndarray, np.ndarray]:
    wrist, pole = rest_arms(body)
    return np.asarray(wrist), np.asarray(pole)


def wave(scene: Scene) -> Made:
    body, t = scene.body, scene.t
    pose = scene.stand()
    side = scene.side(p_left=0.35)
    lead = scene.uniform(0.2, 0.6)
    k = _scale(body)
    centre = np.array([scene.uniform(0.2, 0.3), scene.uniform(0.05, 0.35), scene.uniform(0.05, 0.2)]) * k
    swing = np.array([scene.uniform(0.09, 0.14) * k, 0.0, 0.0])
    pole = np.array([0.5, -1.0, -0.1])
    rest, rest_pole = _rest(body)
    reach = np.linalg.norm(centre - rest)
    rise, lower = move_time(reach, scene.uniform(1.6, 2.0)), move_time(reach, scene.uniform(1.5, 1.9))
    # a wave is two moves of 2 * swing (the first starting from the centre), each peaking at 7.5 swing / cycle
    n, cycle = scene.reps(scene.duration - lead - rise - lower - 0.2,
                          (7.5 * swing[0] / 1.9, 7.5 * swing[0] / 1.0), (2, 6))
    keys: list[Key] = [(0.0, rest, rest_pole), (lead, rest, rest_pole), (lead + rise, centre, pole)]
    start = lead + rise
    for i in range(n):  # one wave: out to one side, over to the other
        keys += [(start + (i + 0.25) * cycle, centre + swing, pole), (start + (i + 0.75) * cycle, centre - swing, pole)]
    keys += [(start + n * cycle, centre, pole), (start + n * cycle + lower, rest, rest_pole)]
    _set_arm(pose, t, side, keys)
    return Made(pose, {**STANDING, "direction": "in place", "repetitions": n, **hand_facts(side)},
                {"high": bool(centre[1] > 0.25 * k)})


def clap(scene: Scene) -> Made:
    body, t = scene.body, scene.t
    pose = scene.stand()
    lead, rise, lower = scene.uniform(0.2, 0.7), scene.uniform(0.4, 0.6), scene.uniform(0.4, 0.6)
    k = _scale(body)
    height, reach = -scene.uniform(0.18, 0.3) * k, scene.uniform(0.25, 0.35) * k
    apart = np.array([-body.shoulder_half + scene.uniform(0.17, 0.27), height, reach])
    together = np.array([-body.shoulder_half + 0.035, height, reach + 0.02])
    pole = np.array([0.6, -1.0, -0.2])
    rest, rest_pole = _rest(body)
    # the hands close fast and part more slowly: 2-3 claps a second
    closing = move_time(np.linalg.norm(apart - together), scene.uniform(2.5, 3.2))
    shortest = closing * 2.2
    n, interval = scene.reps(scene.duration - lead - rise - lower - 0.2, (shortest, 1.4 * shortest), (2, 10))
    keys: list[Key] = [(0.0, rest, rest_pole), (lead, rest, rest_pole), (lead + rise, apart, pole)]
    start = lead + rise
    for i in range(n):
        keys += [(start + i * interval + closing, together, pole), (start + (i + 1) * interval, apart, pole)]
    keys.append((start + n * interval + lower, rest, rest_pole))
    for side in (LEFT, RIGHT):
        _set_arm(pose, t, side, keys)
    return Made(pose, {**STANDING, "direction": "in place", "repetitions": n, **BOTH_ARMS})


def _guard(body: Body, scene: Scene) -> tuple[np.ndarray, np.ndarray]:
    """Fists up in front of the chin, elbows down."""
    k = _scale(body)
    return (np.array([-scene.uniform(0.06, 0.12), scene.uniform(-0.06, 0.02), scene.uniform(0.18, 0.25)]) * k,
            np.array([0.3, -1.0, -0.2]))


def _punch_keys(body: Body, scene: Scene, hands: list[int], start: float, gaps: list[float],
                guard: tuple[np.ndarray, np.ndarray], hips_follow: float = 0.0
                ) -> tuple[list[list[Key]], list[float], list[float]]:
    """Per-arm keyframes for punches thrown by ``hands`` in turn (guard between), and the chest twist keys.

    The punching shoulder turns forward with the chest (and the hips turn ``hips_follow`` of the twist with it),
    so the fist's target is turned back by as much: the fist goes straight out, not round with the chest."""
    keys: list[list[Key]] = [[], []]
    twist_t, twist_v = [0.0], [0.0]
    now = start
    for hand, gap in zip(hands, gaps):
        twist = np.radians(scene.uniform(10, 20))
        fist = apply(rot_y((1.0 + hips_follow) * twist),
                     np.array([-scene.uniform(0.1, 0.16), scene.uniform(-0.06, 0.04), 0.95 * body.arm]))
        # the arm's own extension at 3.6-5.2 m/s; the shoulder coming forward with the chest adds a little
        out = move_time(np.linalg.norm(fist - guard[0]), scene.uniform(3.6, 5.2))
        back = scene.uniform(0.2, 0.28)
        keys[hand] += [(now, *guard), (now + out, fist, guard[1]), (now + out + back, *guard)]
        twist_t += [now, now + out, now + out + back]
        twist_v += [0.0, -SIDE_SIGN[hand] * twist, 0.0]  # that shoulder goes forward
        now += out + back + gap
    return keys, twist_t, twist_v


def _arm_with_guard(pose: Pose, t: np.ndarray, body: Body, side: int, up: float, down: float,
                    guard: tuple[np.ndarray, np.ndarray], punches: list[Key]) -> None:
    """One arm: rest, guard at ``up``, its punches, guard, rest again at ``down``."""
    rest, rest_pole = _rest(body)
    keys: list[Key] = [(0.0, rest, rest_pole), (up - 0.45, rest, rest_pole), (up, *guard)]
    keys += [k for k in punches if up < k[0] < down - 0.45]
    keys += [(down - 0.45, *guard), (down, rest, rest_pole)]
    keys.sort(key=lambda k: k[0])
    dedup = [k for i, k in enumerate(keys) if i == 0 or k[0] - keys[i - 1][0] > 1e-6]
    _set_arm(pose, t, side, dedup)


def punch(scene: Scene) -> Made:
    body, t = scene.body, scene.t
    pose = scene.stand(half_width=body.hip_half + scene.uniform(0.02, 0.06))
    mode = scene.pick(("left", "right", "alternating"), p=(0.3, 0.4, 0.3))
    lead = scene.uniform(0.5, 0.9)
    n, cycle = scene.reps(scene.duration - lead - 1.0, (0.5, 1.0), (2, 8))
    first = scene.side()
    hands = [LEFT] * n if mode == "left" else [RIGHT] * n if mode == "right" else [(first + i) % 2 for i in range(n)]
    gaps = [max(0.05, cycle - 0.45 + scene.uniform(-0.05, 0.05)) for _ in range(n)]
    guard = _guard(body, scene)
    keys, twist_t, twist_v = _punch_keys(body, scene, hands, lead + 0.1, gaps, guard, hips_follow=0.3)
    end = max(twist_t[-1] + 0.5, lead + n * cycle + 0.5)
    for side in (LEFT, RIGHT):
        _arm_with_guard(pose, t, body, side, lead, end, guard, keys[side])
    pose.spine_twist = keyframes(t, twist_t, twist_v)
    pose.yaw = 0.3 * pose.spine_twist  # the hips turn a little with the shoulders
    facts = BOTH_ARMS if mode == "alternating" else hand_facts(LEFT if mode == "left" else RIGHT)
    return Made(pose, {**STANDING, "direction": "in place", "repetitions": n, **facts},
                {"alternating": mode == "alternating"})


def boxing(scene: Scene) -> Made:
    body, t = scene.body, scene.t
    pose = scene.stand()
    lead_side = scene.side(p_left=0.75)  # the lead foot and lead hand: left for an orthodox stance
    rear = RIGHT if lead_side == LEFT else LEFT
    step_at = scene.uniform(0.2, 0.5)
    back, wide = scene.uniform(0.25, 0.35), scene.uniform(0.03, 0.08)
    here = pose.toe[rear, 0, [0, 2]]
    dest = (float(here[0] + SIDE_SIGN[rear] * wide), float(here[1] - back))
    track = foot_track(t, here, pose.foot_yaw[rear, 0], [
        Swing(step_at, step_at + 0.45, dest, pose.foot_yaw[rear, 0] + SIDE_SIGN[rear] * np.radians(20.0), 0.05)])
    pose.toe[rear], pose.foot_yaw[rear] = track.toe, track.yaw
    into = ramp(t, step_at, step_at + 0.5)
    pose.hips[:, 0] += into * SIDE_SIGN[rear] * 0.5 * wide
    pose.hips[:, 2] -= into * 0.5 * back
    pose.yaw = -SIDE_SIGN[lead_side] * np.radians(scene.uniform(15, 25)) * into  # lead shoulder forward
    # bounce on the balls of the feet
    bounce_f = scene.uniform(1.5, 2.4)
    active = ramp(t, step_at + 0.5, step_at + 0.9)
    bob = 0.5 * (1.0 - np.cos(2 * np.pi * bounce_f * (t - step_at - 0.5))) * active
    pose.foot_pitch[:] = np.radians(8.0 + 8.0 * bob) * active
    planted = ~track.swinging
    guard = _guard(body, scene)
    start = step_at + 0.8
    n, cycle = scene.reps(scene.duration - start - 0.5, (0.45, 0.9), (3, 10))
    hands = [lead_side if scene.rng.random() < 0.6 else rear for _ in range(n)]
    gaps = [max(0.05, cycle - 0.42 + scene.uniform(-0.1, 0.1)) for _ in range(n)]
    keys, twist_t, twist_v = _punch_keys(body, scene, hands, start, gaps, guard)
    for side in (LEFT, RIGHT):
        _arm_with_guard(pose, t, body, side, start - 0.2, t[-1] + 1.0, guard, keys[side])
    pose.spine_twist = keyframes(t, twist_t, twist_v)
    pose.pelvis_pitch = np.radians(8.0) * active  # a slight crouch forward
    pose.head_pitch = -0.5 * pose.pelvis_pitch
    desired = pose.hips[:, 1] - (0.03 + 0.02 * bob) * active
    settle_hips(body, pose, desired, planted=np.stack([planted if s == rear else np.ones_like(planted)
                                                       for s in (LEFT, RIGHT)]))
    return Made(pose, {**STANDING, "direction": "in place", "repetitions": n, **BOTH_ARMS},
                {"lead": SIDE_NAME[lead_side]})


def raise_arms(scene: Scene) -> Made:
    body, t = scene.body, scene.t
    pose = scene.stand()
    which = scene.pick(("left", "right", "both"), p=(0.25, 0.3, 0.45))
    sides = [LEFT, RIGHT] if which == "both" else [LEFT if which == "left" else RIGHT]
    overhead = scene.rng.random() < 0.6
    sideways = scene.rng.random() < 0.45
    up = (scene.uniform(160, 172) if overhead else scene.uniform(82, 95),
          scene.uniform(78, 92) if sideways else scene.uniform(0, 15), scene.uniform(5, 15))
    lead = scene.uniform(0.2, 0.7)
    arc = _arc(body, REST_ANGLES, up)
    rise, lower = move_time(arc, scene.uniform(2.2, 3.2)), move_time(arc, scene.uniform(2.2, 3.2))
    shortest = rise + lower + 0.3  # with a short hold at the top and a pause
    n, cycle = scene.reps(scene.duration - lead - 0.2, (shortest, 1.6 * shortest), (1, 3))
    hold = 0.75 * (cycle - rise - lower)  # the rest of the cycle is the pause before the next
    times, angles = [0.0], [REST_ANGLES]
    for i in range(n):
        t0 = lead + i * cycle
        times += [t0, t0 + rise, t0 + rise + hold, t0 + rise + hold + lower]
        angles += [REST_ANGLES, up, up, REST_ANGLES]
    for side in sides:
        _swing_arm(pose, t, body, side, times, angles)
    hand = BOTH_ARMS if which == "both" else hand_facts(sides[0])
    return Made(pose, {**STANDING, "direction": "in place", "repetitions": n, **hand},
                {"overhead": overhead, "sideways": sideways})


def stretch(scene: Scene) -> Made:
    body, t = scene.body, scene.t
    pose = scene.stand(half_width=body.hip_half + scene.uniform(0.02, 0.08))
    lead = scene.uniform(0.2, 0.5)
    up = (scene.uniform(160, 172), scene.uniform(15, 40), scene.uniform(10, 25))
    rise = move_time(_arc(body, REST_ANGLES, up), scene.uniform(2.2, 3.2))  # arms up (and down again)
    side_bend = scene.rng.random() < 0.6
    start = lead + rise
    available = scene.duration - start - rise - 0.2
    if side_bend:
        n, cycle = scene.reps(available, (1.2, 2.2), (1, 4))
        first = scene.side()
        angle = np.radians(scene.uniform(15, 30))
        times, roll = [start], [0.0]
        for i in range(n):  # lean to one side and back, then the other
            lean = angle * SIDE_SIGN[(first + i) % 2]
            times += [start + (i + 0.4) * cycle, start + (i + 0.6) * cycle, start + (i + 1) * cycle]
            roll += [lean, lean, 0.0]
        pose.spine_roll = keyframes(t, times, roll)
        pose.pelvis_roll = 0.25 * pose.spine_roll
        detail = {"side_bend": True, "first": SIDE_NAME[first]}
    else:
        n, cycle = scene.reps(available, (1.2, 2.2), (1, 2))
        times, reach = [start], [0.0]
        for i in range(n):  # reach up onto the toes and back down
            times += [start + (i + 0.4) * cycle, start + (i + 0.7) * cycle, start + (i + 1) * cycle]
            reach += [1.0, 1.0, 0.0]
        r = keyframes(t, times, reach)
        heel = np.radians(scene.uniform(20, 30))
        pose.foot_pitch[:] = r * heel
        rise_m = body.ankle_offset(0.0, heel)[1] - body.ankle_offset(0.0, 0.0)[1]
        pose.hips[:, 1] += 0.9 * rise_m * r
        pose.spine_pitch = -np.radians(6.0) * r
        detail = {"side_bend": False}
    end = start + n * cycle
    for side in (LEFT, RIGHT):
        _swing_arm(pose, t, body, side, [0.0, lead, start, end, end + rise],
                   [REST_ANGLES, REST_ANGLES, up, up, REST_ANGLES])
    settle_hips(body, pose, pose.hips[:, 1].copy(), reach=0.995)  # a tilted pelvis lifts one hip
    return Made(pose, {**STANDING, "direction": "in place", "repetitions": n, "hand": "both",
                       "limbs": ["left_arm", "right_arm", "torso"]}, detail)
