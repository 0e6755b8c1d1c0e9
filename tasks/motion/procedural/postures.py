"""Whole-body activities on planted feet: squat, sit down, stand up, bend to pick something up, bow, kick.

The hips move on keyframed paths, the legs follow by IK from feet that stay where they are, so knees bend
forward over the toes and planted feet cannot slide.
"""
from __future__ import annotations

import numpy as np

from tasks.motion.procedural.body import LEFT, RIGHT, SIDE_NAME, SIDE_SIGN, Body, arm_target, level, settle_hips
from tasks.motion.procedural.curves import keyframes, ramp
from tasks.motion.procedural.scene import BOTH_ARMS, BOTH_LEGS, STANDING, Made, Scene, hand_facts


def _hold_arms_forward(body: Body, raise_by: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Arms raised forward by ``raise_by`` (0..1 of horizontal), elbows nearly straight: a squat's counterweight."""
    return arm_target(body, np.radians(7.0) + raise_by * np.radians(80.0), np.radians(10.0), np.radians(12.0),
                      bend=(0.0, 1.0, 0.2))


def _hands_on_chest(body: Body) -> tuple[np.ndarray, np.ndarray]:
    """Hands clasped in front of the chest, elbows down and out."""
    inward = body.shoulder_half - 0.04
    return np.array([-inward, -0.22 * body.height / 1.75, 0.22]), np.array([0.8, -1.0, -0.2])


def squat(scene: Scene) -> Made:
    body, t = scene.body, scene.t
    pose = scene.stand(half_width=body.hip_half + scene.uniform(0.05, 0.11), toe_out=np.radians(scene.uniform(12, 22)))
    pose.knee_out[:] = scene.uniform(0.25, 0.45)
    lead = scene.uniform(0.3, 0.7)
    n, cycle = scene.reps(scene.duration - lead - 0.4, (1.6, 3.0), (1, 6))
    stand_y, bottom_y = pose.hips[0, 1], body.ankle_height + scene.uniform(0.56, 0.8) * body.leg
    depth = (stand_y - bottom_y) / body.leg  # share of the leg length the hips drop
    times, down = [0.0], [0.0]
    for k in range(n):
        t0 = lead + k * cycle
        times += [t0, t0 + 0.42 * cycle, t0 + 0.52 * cycle, t0 + 0.95 * cycle]
        down += [0.0, 1.0, 1.0, 0.0]
    d = keyframes(t, times, down)  # 0 standing, 1 at the bottom
    pose.hips[:, 1] = stand_y - d * (stand_y - bottom_y)
    pose.hips[:, 2] = -d * body.leg * (0.12 + 0.25 * depth)  # hips go back as the knees go forward
    pose.pelvis_pitch = d * np.radians(15.0 + 40.0 * depth)
    pose.spine_pitch = d * np.radians(scene.uniform(5, 12))
    pose.head_pitch = -0.6 * pose.pelvis_pitch
    if scene.rng.random() < 0.6:
        wrist, pole = _hold_arms_forward(body, d)
        trunk = pose.pelvis_pitch + pose.spine_pitch
        wrist, pole = level(wrist, trunk), level(pole, trunk)
        arms = "forward"
    else:
        clasp, clasp_pole = _hands_on_chest(body)
        rest, rest_pole = pose.wrist[LEFT, 0], pose.elbow_pole[LEFT, 0]
        up = ramp(t, lead - 0.4, lead)[:, None] * (1.0 - ramp(t, lead + n * cycle, lead + n * cycle + 0.4))[:, None]
        wrist, pole = rest + up * (clasp - rest), rest_pole + up * (clasp_pole - rest_pole)
        arms = "chest"
    pose.wrist[:], pose.elbow_pole[:] = wrist, pole
    return Made(pose, {**STANDING, "direction": "in place", "repetitions": n, "limbs": BOTH_LEGS},
                {"arms": arms})


def _seated_hips(body: Body, ankle_z: float, rng: np.random.Generator) -> tuple[float, float, float]:
    """Hip-centre height and depth on a chair for feet at ``ankle_z``, and the knee height: shins about upright,
    thighs about level."""
    shin = np.radians(rng.uniform(0.0, 12.0))  # shins lean forward from the ankles
    thigh = np.radians(rng.uniform(-6.0, 4.0))  # thighs slope down (negative) or up towards the knee
    knee_y = body.ankle_height + body.shank * np.cos(shin)
    knee_z = ankle_z + body.shank * np.sin(shin)
    return knee_y - body.thigh * np.sin(thigh), knee_z - body.thigh * np.cos(thigh), knee_y


def _sit_transition(scene: Scene, down: bool) -> Made:
    """Standing -> seated on a chair behind (``down``) or seated -> standing, feet planted throughout.

    Seen backwards in time, sitting down is standing up: one keyframed path serves both.
    """
    body, t = scene.body, scene.t
    pose = scene.stand(half_width=body.hip_half + scene.uniform(0.02, 0.05))
    move = scene.uniform(1.3, 2.0)
    start = scene.uniform(0.3, max(0.35, scene.duration - move - 0.8))
    seat_y, seat_z, _ = _seated_hips(body, 0.0, scene.rng)
    stand_y = pose.hips[0, 1]
    lean = np.radians(scene.uniform(30, 45))
    recline = np.radians(scene.uniform(-8, 4))
    # phase 0 standing, 1 seated: the hips go back first, then down; the trunk leans forward to balance
    phase = np.array([0.0, 0.15, 0.55, 0.8, 1.0])
    z = np.array([0.0, 0.15, 0.75, 0.97, 1.0]) * seat_z
    y = stand_y - np.array([0.0, 0.05, 0.5, 0.92, 1.0]) * (stand_y - seat_y)
    pitch = np.array([0.0, 0.5 * lean, lean, 0.5 * lean, recline])
    times = start + move * (phase if down else 1.0 - phase[::-1])
    order = slice(None) if down else slice(None, None, -1)
    pose.hips[:, 1] = keyframes(t, times, y[order])
    pose.hips[:, 2] = keyframes(t, times, z[order])
    pose.pelvis_pitch = keyframes(t, times, pitch[order])
    pose.spine_pitch = 0.3 * pose.pelvis_pitch
    pose.head_pitch = -0.5 * pose.pelvis_pitch
    trunk = pose.pelvis_pitch + pose.spine_pitch
    pose.wrist[:], pose.elbow_pole[:] = level(pose.wrist, trunk), level(pose.elbow_pole, trunk)
    # hands come to rest on the thighs when seated
    seated = keyframes(t, times, np.array([0.0, 0.0, 0.3, 0.9, 1.0])[order])
    for side in (LEFT, RIGHT):
        hip_x = SIDE_SIGN[side] * body.hip_half
        pose.wrist_world[side] = [hip_x + SIDE_SIGN[side] * 0.04, seat_y + 0.12, seat_z + 0.6 * body.thigh]
        pose.world_weight[side] = seated
    if not down:  # the clip starts seated with the hips at the origin
        shift = pose.hips[0, 2]
        pose.hips[:, 2] -= shift
        pose.toe[:, :, 2] -= shift
        pose.wrist_world[:, :, 2] -= shift
    start_posture, end_posture = ("standing", "sitting") if down else ("sitting", "standing")
    return Made(pose, {"start_posture": start_posture, "end_posture": end_posture, "limbs": BOTH_LEGS})


def sit_down(scene: Scene) -> Made:
    return _sit_transition(scene, down=True)


def stand_up(scene: Scene) -> Made:
    return _sit_transition(scene, down=False)


def pick_up(scene: Scene) -> Made:
    body, t = scene.body, scene.t
    pose = scene.stand(half_width=body.hip_half + scene.uniform(0.03, 0.08))
    side = scene.side(p_left=0.3)
    both = scene.rng.random() < 0.3
    phases = np.array([scene.uniform(*span) for span in ((0.3, 0.8), (1.0, 1.5), (0.3, 0.6), (1.0, 1.4))])
    phases *= min(1.0, (scene.duration - 0.3) / phases.sum())  # quicker in a short clip, standing at the end
    lead, down, hold, up = phases
    t1, t2, t3 = np.cumsum(phases)[1:]
    bend = keyframes(t, [lead, t1, t2, t3], [0.0, 1.0, 1.0, 0.0])
    knees = scene.uniform(0.3, 0.45) * body.leg  # how far the hips drop
    pose.hips[:, 1] -= bend * knees
    pose.hips[:, 2] = -bend * scene.uniform(0.12, 0.2)
    pose.pelvis_pitch = bend * np.radians(scene.uniform(50, 65))
    pose.spine_pitch = bend * np.radians(scene.uniform(25, 35))
    pose.head_pitch = -0.3 * pose.pelvis_pitch
    trunk = pose.pelvis_pitch + pose.spine_pitch
    pose.wrist[:], pose.elbow_pole[:] = level(pose.wrist, trunk), level(pose.elbow_pole, trunk)  # arms hang
    spot_z = body.ankle_back + scene.uniform(0.1, 0.25)
    hands = (LEFT, RIGHT) if both else (side,)
    reach = keyframes(t, [lead + 0.3 * down, t1, t2, t2 + 0.6 * up], [0.0, 1.0, 1.0, 0.0])
    lifted = ramp(t, t2, t3)[:, None]
    for s in hands:
        spot_x = SIDE_SIGN[s] * (0.12 if both else 0.08)
        pose.wrist_world[s] = [spot_x, scene.uniform(0.1, 0.2), spot_z]
        pose.world_weight[s] = reach
        carry = np.array([-body.shoulder_half + (0.12 if both else 0.06), -0.35, 0.28])
        pose.wrist[s] = pose.wrist[s] + lifted * (carry - pose.wrist[s])  # the object is held in front
    facts = {**STANDING, "direction": "in place", **(BOTH_ARMS if both else hand_facts(side))}
    facts["limbs"] = facts["limbs"] + ["torso"]
    return Made(pose, facts)


def bow(scene: Scene) -> Made:
    t = scene.t
    pose = scene.stand()
    lead = scene.uniform(0.3, 0.8)
    n, cycle = scene.reps(scene.duration - lead - 0.3, (1.8, 3.2), (1, 3))
    depth = np.radians(scene.uniform(20, 60))
    times, bend = [0.0], [0.0]
    for k in range(n):
        t0 = lead + k * cycle
        times += [t0, t0 + 0.3 * cycle, t0 + 0.6 * cycle, t0 + 0.9 * cycle]
        bend += [0.0, 1.0, 1.0, 0.0]
    b = keyframes(t, times, bend)
    pose.pelvis_pitch = b * 0.7 * depth
    pose.spine_pitch = b * 0.3 * depth
    pose.head_pitch = b * np.radians(10.0)
    pose.hips[:, 2] = -b * 0.08 * np.sin(depth)  # the hips shift back to keep the weight over the feet
    return Made(pose, {**STANDING, "direction": "in place", "repetitions": n, "limbs": ["torso"]},
                {"deep": bool(depth > np.radians(45))})


def kick(scene: Scene) -> Made:
    body, t = scene.body, scene.t
    side = scene.side(p_left=0.4)
    support = RIGHT if side == LEFT else LEFT
    pose = scene.stand()
    lead = scene.uniform(0.3, 0.6)
    shift_t = 0.45
    n, cycle = scene.reps(scene.duration - lead - 2 * shift_t - 0.3, (1.0, 1.6), (1, 4))
    kicks_end = lead + shift_t + n * cycle
    # weight over the supporting foot for the whole series
    over = ramp(t, lead, lead + shift_t) * (1.0 - ramp(t, kicks_end, kicks_end + shift_t))
    pose.hips[:, 0] = over * SIDE_SIGN[support] * (body.hip_half + 0.02)
    pose.hips[:, 1] -= 0.02 * over
    hip = np.array([SIDE_SIGN[support] * (body.hip_half + 0.02) + SIDE_SIGN[side] * body.hip_half,
                    pose.hips[0, 1] - 0.02, 0.0])  # the kicking hip while on one leg
    ankle0 = pose.toe[side, 0] + body.ankle_offset(pose.foot_yaw[side, 0], 0.0)
    height = np.radians(scene.uniform(-35, 10))  # extension: below (negative) or above hip height
    extend = hip + 0.97 * body.leg * np.array([0.0, np.sin(height), np.cos(height)])
    extend[0] = ankle0[0]
    chamber = hip + np.array([0.0, -0.55 * body.leg, 0.35 * body.leg])
    chamber[0] = ankle0[0]
    lifted = ankle0 + [0.0, 0.06, 0.0]
    times, ankles, pitches = [0.0], [ankle0], [0.0]
    lean_t, lean_v = [0.0], [0.0]
    for k in range(n):
        t0 = lead + shift_t + k * cycle
        keys = [(0.0, ankle0, 0.0), (0.12, lifted, 0.0), (0.32, chamber, 0.5), (0.52, extend, -0.4),
                (0.7, chamber, 0.5), (0.87, lifted, 0.0), (0.97, ankle0, 0.0)]
        for frac, a, p in keys:
            times.append(t0 + frac * cycle)
            ankles.append(a)
            pitches.append(p)
        lean_t += [t0 + 0.32 * cycle, t0 + 0.52 * cycle, t0 + 0.7 * cycle]
        lean_v += [0.0, -np.radians(10.0), 0.0]
    ankle = keyframes(t, times, np.array(ankles))
    pose.foot_pitch[side] = keyframes(t, times, pitches)
    pose.toe[side] = ankle - body.ankle_offset(pose.foot_yaw[side], pose.foot_pitch[side])
    pose.pelvis_pitch = keyframes(t, lean_t, lean_v)  # lean back as the leg extends
    guard = scene.rng.random() < 0.5
    if guard:
        fists = ramp(t, lead, lead + 0.4)[:, None] * (1.0 - ramp(t, kicks_end, kicks_end + 0.4))[:, None]
        wrist, pole = np.array([-0.1, -0.05, 0.25]), np.array([0.3, -1.0, 0.0])
        pose.wrist[:] = pose.wrist + fists * (wrist - pose.wrist)
        pose.elbow_pole[:] = pose.elbow_pole + fists * (pole - pose.elbow_pole)
    planted = np.ones((2, len(t)), dtype=bool)
    planted[side] = False
    settle_hips(body, pose, pose.hips[:, 1].copy(), planted=planted, smooth_frames=0)
    return Made(pose, {**STANDING, "direction": "in place", "repetitions": n, "limbs": [f"{SIDE_NAME[side]}_leg"]},
                {"high": bool(height > np.radians(-5))})
