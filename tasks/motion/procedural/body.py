"""The synthetic body: segment lengths from stature, trunk forward kinematics, two-bone IK for the limbs.

Conventions are HumanML3D's: metres, y up, the person faces +z with their left at +x.  Angles follow the
right-hand rule about the world axes, so a positive yaw turns the person to their left (counter-clockwise
seen from above).  Every bone is either a fixed offset in a rotated frame or the output of an exact
two-bone IK, so bone lengths are constant by construction.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from tasks.common.skeleton import JOINT, N_JOINTS

LEFT, RIGHT = 0, 1
SIDE_SIGN = (1.0, -1.0)  # the person's left is +x
SIDE_NAME = ("left", "right")

# Segment lengths as fractions of stature (adult averages after Drillis & Contini / Winter, adjusted to
# where the SMPL joints sit: the foot joint is the ball of the foot, the head joint the base of the skull).
PROPORTIONS = {
    "ankle": 0.042, "ankle_back": 0.072, "shank": 0.242, "thigh": 0.232, "hip_half": 0.034,
    "pelvis_up": 0.05, "spine1": 0.065, "spine2": 0.078, "spine3": 0.033, "neck": 0.12, "head_up": 0.055,
    "head_fwd": 0.025, "collar_out": 0.044, "collar_up": 0.068, "shoulder_out": 0.07, "shoulder_down": 0.01,
    "upper_arm": 0.16, "forearm": 0.146,
}
TOE_HEIGHT = 0.012  # the foot joint sits this far above the floor when the foot is flat (m)
SPINE_SHARE = (0.4, 0.35, 0.25)  # how trunk bend/twist is spread over spine1..spine3


@dataclass(frozen=True)
class Body:
    """Segment lengths (m) of one person; left-side offsets, the right side is their mirror image."""

    height: float
    ankle_up: float  # ankle above the foot joint, foot flat
    ankle_back: float  # ankle behind the foot joint
    shank: float
    thigh: float
    hip_half: float  # hip joint to the midline
    pelvis_up: float  # pelvis joint above the hip centre
    spine: tuple[np.ndarray, np.ndarray, np.ndarray]  # pelvis->spine1, spine1->spine2, spine2->spine3
    neck: np.ndarray  # spine3 -> neck
    head: np.ndarray  # neck -> head
    collar: np.ndarray  # spine3 -> left collar
    shoulder: np.ndarray  # left collar -> left shoulder
    upper_arm: float
    forearm: float

    @classmethod
    def from_height(cls, height: float, rng: np.random.Generator | None = None) -> Body:
        """A body of the given stature; with ``rng``, limb and width proportions vary by a few per cent."""
        p = dict(PROPORTIONS)
        if rng is not None:
            leg, arm, width = rng.normal(1.0, [0.015, 0.015, 0.03]).clip(0.95, 1.05)
            trunk = 1.0 - (leg - 1.0) * (p["shank"] + p["thigh"]) / (p["spine1"] + p["spine2"] + p["neck"])
            for k in ("shank", "thigh"):
                p[k] *= leg
            for k in ("spine1", "spine2", "neck"):
                p[k] *= trunk  # keep the stature when the legs are longer or shorter
            for k in ("upper_arm", "forearm"):
                p[k] *= arm
            for k in ("hip_half", "collar_out", "shoulder_out"):
                p[k] *= width
        h = height
        return cls(
            height=h, ankle_up=p["ankle"] * h - TOE_HEIGHT, ankle_back=p["ankle_back"] * h,
            shank=p["shank"] * h, thigh=p["thigh"] * h, hip_half=p["hip_half"] * h, pelvis_up=p["pelvis_up"] * h,
            spine=(np.array([0.0, p["spine1"] * h, 0.0]), np.array([0.0, p["spine2"] * h, 0.004 * h]),
                   np.array([0.0, p["spine3"] * h, 0.0])),
            neck=np.array([0.0, p["neck"] * h, -0.004 * h]),
            head=np.array([0.0, p["head_up"] * h, p["head_fwd"] * h]),
            collar=np.array([p["collar_out"] * h, p["collar_up"] * h, -0.005 * h]),
            shoulder=np.array([p["shoulder_out"] * h, -p["shoulder_down"] * h, -0.004 * h]),
            upper_arm=p["upper_arm"] * h, forearm=p["forearm"] * h,
        )

    @property
    def leg(self) -> float:
        return self.thigh + self.shank

    @property
    def arm(self) -> float:
        return self.upper_arm + self.forearm

    @property
    def shoulder_half(self) -> float:
        """Shoulder joint to the midline."""
        return float(self.collar[0] + self.shoulder[0])

    @property
    def ankle_height(self) -> float:
        """Ankle above the floor with the foot flat."""
        return TOE_HEIGHT + self.ankle_up

    def stand_hips_y(self, reach: float = 0.995, spread: float = 0.0) -> float:
        """Hip-centre height when standing with legs at ``reach`` of full length, each ankle ``spread`` m
        to the side of (or in front of) its hip."""
        return self.ankle_height + float(np.sqrt((reach * self.leg) ** 2 - spread**2))

    def ankle_offset(self, yaw: np.ndarray, pitch: np.ndarray) -> np.ndarray:
        """Ankle minus foot joint [..., 3] for a foot turned by ``yaw`` with its heel raised by ``pitch`` (rad).

        A raised heel pivots about the foot joint (the ball of the foot), which stays where it is.
        """
        yaw, pitch = np.broadcast_arrays(np.asarray(yaw, float), np.asarray(pitch, float))
        a, b = self.ankle_up, self.ankle_back
        up = a * np.cos(pitch) + b * np.sin(pitch)
        fwd = a * np.sin(pitch) - b * np.cos(pitch)
        return np.stack([fwd * np.sin(yaw), up, fwd * np.cos(yaw)], axis=-1)


def rot_x(a: np.ndarray) -> np.ndarray:
    """[..., 3, 3] rotations about x; positive tips +y towards +z (a forward lean)."""
    a = np.asarray(a, float)
    c, s, o, i = np.cos(a), np.sin(a), np.zeros_like(a), np.ones_like(a)
    return np.stack([np.stack([i, o, o], -1), np.stack([o, c, -s], -1), np.stack([o, s, c], -1)], -2)


def rot_y(a: np.ndarray) -> np.ndarray:
    """[..., 3, 3] rotations about y; positive turns +z towards +x (a turn to the person's left)."""
    a = np.asarray(a, float)
    c, s, o, i = np.cos(a), np.sin(a), np.zeros_like(a), np.ones_like(a)
    return np.stack([np.stack([c, o, s], -1), np.stack([o, i, o], -1), np.stack([-s, o, c], -1)], -2)


def rot_z(a: np.ndarray) -> np.ndarray:
    """[..., 3, 3] rotations about z; positive tips +y towards -x (a lean to the person's right)."""
    a = np.asarray(a, float)
    c, s, o, i = np.cos(a), np.sin(a), np.zeros_like(a), np.ones_like(a)
    return np.stack([np.stack([c, -s, o], -1), np.stack([s, c, o], -1), np.stack([o, o, i], -1)], -2)


def apply(rot: np.ndarray, vec: np.ndarray) -> np.ndarray:
    """Rotate vectors: rot [..., 3, 3] times vec [..., 3] (either side may broadcast)."""
    return np.einsum("...ij,...j->...i", rot, vec)


def two_bone_ik(root: np.ndarray, target: np.ndarray, l1: float, l2: float,
                pole: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Middle and end joints [T, 3] of a two-bone chain from ``root`` reaching for ``target``.

    The chain bends towards ``pole`` (a direction).  Out-of-reach targets are approached along the same
    line, so both bone lengths are always exact; the caller sees where the end really went.
    """
    to = target - root
    dist = np.linalg.norm(to, axis=-1, keepdims=True)
    u = to / np.maximum(dist, 1e-9)
    d = np.clip(dist, abs(l1 - l2) + 1e-4, (l1 + l2) * (1.0 - 1e-6))
    v = pole - np.sum(pole * u, axis=-1, keepdims=True) * u
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    fallback = np.cross(u, [1.0, 0.0, 0.0])  # only when the pole lies along the chain
    v = np.where(n > 1e-6, v / np.maximum(n, 1e-12), fallback / np.linalg.norm(fallback, axis=-1, keepdims=True))
    cos_a = (l1 * l1 + d * d - l2 * l2) / (2.0 * l1 * d)
    sin_a = np.sqrt(np.clip(1.0 - cos_a * cos_a, 0.0, 1.0))
    return root + l1 * (cos_a * u + sin_a * v), root + d * u


def arm_target(body: Body, elev: np.ndarray, azim: np.ndarray, flex: np.ndarray,
               bend: np.ndarray | tuple = (0.0, 0.0, 1.0)) -> tuple[np.ndarray, np.ndarray]:
    """Wrist target and elbow pole (canonical chest frame: x outward, y up, z forward) from joint angles.

    The upper arm points ``elev`` from hanging straight down (pi/2 horizontal, pi straight up) at azimuth
    ``azim`` (0 forward, pi/2 out to the side); the elbow flexes by ``flex`` with the forearm turning
    towards ``bend``.  Angles in radians, broadcast over frames.
    """
    elev, azim, flex = np.broadcast_arrays(*(np.asarray(x, float) for x in (elev, azim, flex)))
    upper = np.stack([np.sin(elev) * np.sin(azim), -np.cos(elev), np.sin(elev) * np.cos(azim)], axis=-1)
    bend = np.broadcast_to(np.asarray(bend, float), upper.shape)
    q = bend - np.sum(bend * upper, axis=-1, keepdims=True) * upper
    n = np.linalg.norm(q, axis=-1, keepdims=True)
    alt = np.array([0.0, 1.0, 0.0]) - upper[..., 1:2] * upper  # bend towards "up" if ``bend`` is along the arm
    alt /= np.maximum(np.linalg.norm(alt, axis=-1, keepdims=True), 1e-9)
    q = np.where(n > 1e-3, q / np.maximum(n, 1e-12), alt)
    fore = np.cos(flex)[..., None] * upper + np.sin(flex)[..., None] * q
    return body.upper_arm * upper + body.forearm * fore, -q


def level(target: np.ndarray, trunk_pitch: np.ndarray) -> np.ndarray:
    """A canonical arm vector [T, 3] meant relative to the world's vertical, expressed in a chest frame pitched
    forward by ``trunk_pitch`` [T] (pelvis plus spine): relaxed arms hang and raised arms stay level when the
    trunk bends."""
    return apply(rot_x(-np.asarray(trunk_pitch)), target)


def rest_arms(body: Body) -> tuple[np.ndarray, np.ndarray]:
    """Wrist target and pole of a relaxed hanging arm, elbows slightly bent."""
    return arm_target(body, np.radians(7.0), np.radians(90.0), np.radians(14.0))


@dataclass
class Pose:
    """Every channel of a motion, one row per frame ([T] angles in radians, [T, 3] positions in metres).

    Side-indexed channels are [2, ...] with LEFT = 0.  Arm targets are in the canonical chest frame of
    their side (x outward, y up, z forward) relative to the shoulder; ``wrist_world`` overrides them with
    weight ``world_weight`` (for reaching to a place on the floor).  Feet are given by the foot joint's
    world position, the foot's heading and the heel rise.
    """

    hips: np.ndarray  # hip centre [T, 3]
    yaw: np.ndarray
    pelvis_pitch: np.ndarray  # forward tilt of the whole trunk about the hips
    pelvis_roll: np.ndarray  # positive lifts the right hip (trunk leans left)
    spine_pitch: np.ndarray  # forward bend spread over the spine
    spine_roll: np.ndarray  # positive bends to the left
    spine_twist: np.ndarray  # positive turns the chest to the left
    head_pitch: np.ndarray  # positive nods down
    head_yaw: np.ndarray
    wrist: np.ndarray  # [2, T, 3]
    elbow_pole: np.ndarray  # [2, T, 3]
    wrist_world: np.ndarray  # [2, T, 3]
    world_weight: np.ndarray  # [2, T]
    toe: np.ndarray  # [2, T, 3] foot joints, world
    foot_yaw: np.ndarray  # [2, T]
    foot_pitch: np.ndarray  # [2, T] heel rise
    knee_out: np.ndarray  # [2, T] how far the knees point outwards (0 straight ahead)

    @classmethod
    def standing(cls, body: Body, frames: int, half_width: float | None = None,
                 toe_out: float = np.radians(6.0)) -> Pose:
        """A relaxed upright stance at the origin facing +z, ankles ``half_width`` from the midline."""
        w = body.hip_half + 0.015 if half_width is None else half_width
        zeros = np.zeros(frames)
        wrist, pole = rest_arms(body)
        yaws = np.array([toe_out, -toe_out])
        ankles = np.array([[w, body.ankle_height, 0.0], [-w, body.ankle_height, 0.0]])
        toes = ankles - body.ankle_offset(yaws, np.zeros(2))
        return cls(
            hips=np.tile([0.0, body.stand_hips_y(spread=w - body.hip_half), 0.0], (frames, 1)),
            yaw=zeros.copy(), pelvis_pitch=zeros.copy(), pelvis_roll=zeros.copy(), spine_pitch=zeros.copy(),
            spine_roll=zeros.copy(), spine_twist=zeros.copy(), head_pitch=zeros.copy(), head_yaw=zeros.copy(),
            wrist=np.tile(wrist, (2, frames, 1)), elbow_pole=np.tile(pole, (2, frames, 1)),
            wrist_world=np.zeros((2, frames, 3)), world_weight=np.zeros((2, frames)),
            toe=np.repeat(toes[:, None, :], frames, axis=1), foot_yaw=np.repeat(yaws[:, None], frames, axis=1),
            foot_pitch=np.zeros((2, frames)), knee_out=np.full((2, frames), 0.15),
        )

    def frames_from(self, first: int) -> Pose:
        """The pose without its first ``first`` frames."""
        return replace(self, **{k: (v[first:] if v.ndim == 1 or k == "hips" else v[:, first:]).copy()
                                for k, v in vars(self).items()})


def pelvis_rotation(pose: Pose) -> np.ndarray:
    return rot_y(pose.yaw) @ rot_x(pose.pelvis_pitch) @ rot_z(-pose.pelvis_roll)


def max_hips_y(body: Body, pose: Pose, reach: float, planted: np.ndarray | None = None) -> np.ndarray:
    """The highest hip-centre height [T] at which the legs still reach their ankles at ``reach`` of full length.

    With ``planted`` [2, T] only planted feet count (a swinging foot goes where the leg can take it);
    frames with no planted foot have no limit.
    """
    rot = pelvis_rotation(pose)
    limits = []
    for s in (LEFT, RIGHT):
        off = apply(rot, np.array([SIDE_SIGN[s] * body.hip_half, 0.0, 0.0]))
        ankle = pose.toe[s] + body.ankle_offset(pose.foot_yaw[s], pose.foot_pitch[s])
        horiz = (pose.hips + off - ankle)[:, [0, 2]]
        span = np.sqrt(np.maximum((reach * body.leg) ** 2 - np.sum(horiz**2, axis=-1), 0.0))
        limit = ankle[:, 1] - off[:, 1] + span
        limits.append(limit if planted is None else np.where(planted[s], limit, np.inf))
    return np.minimum(*limits)


def settle_hips(body: Body, pose: Pose, desired_y: np.ndarray, reach: float = 0.985,
                planted: np.ndarray | None = None, smooth_frames: float = 1.5) -> None:
    """Set the hip height to ``desired_y`` wherever the planted legs reach, dipping smoothly where they would not.

    This is what makes a walking pelvis drop at double support: a wide stance forces it down.
    """
    from scipy.ndimage import gaussian_filter1d, minimum_filter1d

    limit = max_hips_y(body, pose, reach, planted)
    deficit = np.minimum(0.0, np.minimum(limit, 1e3) - 0.004 - desired_y)
    if smooth_frames > 0:
        radius = int(np.ceil(2 * smooth_frames))
        deficit = gaussian_filter1d(minimum_filter1d(deficit, 2 * radius + 1), smooth_frames, mode="nearest")
    pose.hips[:, 1] = np.minimum(desired_y + deficit, limit)


def _knee_pole(hip: np.ndarray, ankle: np.ndarray, foot_yaw: np.ndarray, outward: np.ndarray) -> np.ndarray:
    """Where the knee points: ahead of the foot (and a little up, for a leg raised forward), square to the
    leg, then turned ``outward`` by a fixed share whichever way the leg swings."""
    u = ankle - hip
    u /= np.maximum(np.linalg.norm(u, axis=-1, keepdims=True), 1e-9)
    ahead = np.stack([np.sin(foot_yaw), np.full_like(foot_yaw, 0.35), np.cos(foot_yaw)], axis=-1)
    ahead -= np.sum(ahead * u, axis=-1, keepdims=True) * u
    ahead /= np.maximum(np.linalg.norm(ahead, axis=-1, keepdims=True), 1e-9)
    out = np.stack([np.cos(foot_yaw), np.zeros_like(foot_yaw), -np.sin(foot_yaw)], axis=-1)
    return ahead + outward[:, None] * out


def assemble(body: Body, pose: Pose) -> np.ndarray:
    """The 22 joints [T, 22, 3] (float32) of a pose."""
    frames = len(pose.hips)
    out = np.zeros((frames, N_JOINTS, 3))
    rot = pelvis_rotation(pose)
    out[:, JOINT["pelvis"]] = pose.hips + apply(rot, np.array([0.0, body.pelvis_up, 0.0]))

    frame, pos = rot, out[:, JOINT["pelvis"]]
    for name, offset, share in zip(("spine1", "spine2", "spine3"), body.spine, SPINE_SHARE):
        pos = pos + apply(frame, offset)
        out[:, JOINT[name]] = pos
        bend = rot_y(share * pose.spine_twist) @ rot_x(share * pose.spine_pitch) @ rot_z(-share * pose.spine_roll)
        frame = frame @ bend
    chest, spine3 = frame, pos
    out[:, JOINT["neck"]] = spine3 + apply(chest, body.neck)
    neck_frame = chest @ rot_y(pose.head_yaw) @ rot_x(pose.head_pitch)
    out[:, JOINT["head"]] = out[:, JOINT["neck"]] + apply(neck_frame, body.head)

    for s in (LEFT, RIGHT):
        side = SIDE_NAME[s]
        mirror = np.array([SIDE_SIGN[s], 1.0, 1.0])
        collar = spine3 + apply(chest, mirror * body.collar)
        out[:, JOINT[f"{side}_collar"]] = collar
        # the shoulder girdle rises as the arm goes overhead (scapular rotation)
        w = pose.wrist[s]
        elev = np.arccos(np.clip(-w[:, 1] / np.maximum(np.linalg.norm(w, axis=-1), 1e-9), -1.0, 1.0))
        shrug = np.radians(18.0) * ((elev - np.radians(70.0)) / np.radians(110.0)).clip(0.0, 1.0) ** 2
        shoulder = collar + apply(chest, mirror * apply(rot_z(shrug), body.shoulder))
        out[:, JOINT[f"{side}_shoulder"]] = shoulder
        target = shoulder + apply(chest, mirror * w)
        ww = pose.world_weight[s][:, None]
        target = (1.0 - ww) * target + ww * pose.wrist_world[s]
        pole = apply(chest, mirror * pose.elbow_pole[s])
        out[:, JOINT[f"{side}_elbow"]], out[:, JOINT[f"{side}_wrist"]] = two_bone_ik(
            shoulder, target, body.upper_arm, body.forearm, pole)

        hip = pose.hips + apply(rot, np.array([SIDE_SIGN[s] * body.hip_half, 0.0, 0.0]))
        offset = body.ankle_offset(pose.foot_yaw[s], pose.foot_pitch[s])
        wanted = pose.toe[s] + offset
        pole = _knee_pole(hip, wanted, pose.foot_yaw[s], SIDE_SIGN[s] * pose.knee_out[s])
        knee, ankle = two_bone_ik(hip, wanted, body.thigh, body.shank, pole)
        out[:, JOINT[f"{side}_hip"]], out[:, JOINT[f"{side}_knee"]] = hip, knee
        out[:, JOINT[f"{side}_ankle"]], out[:, JOINT[f"{side}_foot"]] = ankle, ankle - offset
    return out.astype(np.float32)
