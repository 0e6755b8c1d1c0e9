"""A parametric walker in the HumanML3D joint format, for radar tests and benchmarks.

Faces +z (its left is +x), swings its legs and arms in opposite phase at ``cadence`` steps per
second, and travels at a constant horizontal velocity.  With both swings at 0 it is a rigid body.
"""
from __future__ import annotations

import numpy as np

from tasks.common.skeleton import FPS, JOINT, N_JOINTS

# trunk and head relative to the pelvis (x left, y up, z forward), metres
_TRUNK = {
    "spine1": (0, 0.11, 0), "spine2": (0, 0.24, 0), "spine3": (0, 0.30, 0), "neck": (0, 0.52, 0),
    "head": (0, 0.62, 0.03), "left_collar": (0.08, 0.44, 0), "right_collar": (-0.08, 0.44, 0),
    "left_shoulder": (0.18, 0.45, 0), "right_shoulder": (-0.18, 0.45, 0),
    "left_hip": (0.09, -0.08, 0), "right_hip": (-0.09, -0.08, 0),
}
_THIGH, _SHIN, _UPPER_ARM, _FOREARM = 0.40, 0.40, 0.27, 0.25


def _limb(angle: np.ndarray, length: float) -> np.ndarray:
    """[T, 3] vector of a limb hanging down, swung forward (+z) by ``angle`` radians."""
    return length * np.stack([np.zeros_like(angle), -np.cos(angle), np.sin(angle)], axis=-1)


def walking_skeleton(duration_s: float = 2.0, velocity_xz: tuple[float, float] = (0.0, 1.0),
                     cadence: float = 1.8, leg_swing_deg: float = 25.0, arm_swing_deg: float = 30.0,
                     fps: float = FPS) -> np.ndarray:
    """Joints float32 [T, 22, 3] of a walk starting at the origin; velocity in m/s along world x, z."""
    t = np.arange(int(round(duration_s * fps)) + 1) / fps
    stride = np.pi * cadence * t  # one stride (two steps) per 2 pi
    legs, arms = np.radians(leg_swing_deg) * np.sin(stride), np.radians(arm_swing_deg) * np.sin(stride)
    pelvis = np.stack([velocity_xz[0] * t, 0.93 + 0.02 * np.cos(2 * stride) * (leg_swing_deg > 0),
                       velocity_xz[1] * t], axis=-1)
    joints = np.zeros((len(t), N_JOINTS, 3))
    joints[:, JOINT["pelvis"]] = pelvis
    for name, offset in _TRUNK.items():
        joints[:, JOINT[name]] = pelvis + offset
    for side, sign in (("left", 1.0), ("right", -1.0)):
        hip, shoulder = joints[:, JOINT[f"{side}_hip"]], joints[:, JOINT[f"{side}_shoulder"]]
        thigh = sign * legs
        knee_bend = np.radians(10.0) + 0.8 * np.maximum(thigh, 0.0)  # the swinging leg bends its knee
        knee = hip + _limb(thigh, _THIGH)
        ankle = knee + _limb(thigh - knee_bend, _SHIN)
        joints[:, JOINT[f"{side}_knee"]], joints[:, JOINT[f"{side}_ankle"]] = knee, ankle
        joints[:, JOINT[f"{side}_foot"]] = ankle + [0.0, -0.05, 0.12]
        upper = -sign * arms  # arms swing against the same-side leg
        elbow = shoulder + _limb(upper, _UPPER_ARM)
        joints[:, JOINT[f"{side}_elbow"]] = elbow
        joints[:, JOINT[f"{side}_wrist"]] = elbow + _limb(upper + np.radians(15.0), _FOREARM)
    return joints.astype(np.float32)
