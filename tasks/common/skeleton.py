"""The 22-joint SMPL skeleton of HumanML3D: metres, y up, 20 fps, person starts at the origin facing +z.

The joint-format contract of docs/contracts.md, and the few geometric readings of it that several stages use.
"""
from __future__ import annotations

import numpy as np

FPS = 20
N_JOINTS = 22

JOINT_NAMES = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee",
    "spine2", "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot",
    "neck", "left_collar", "right_collar", "head", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist",
)
JOINT = {name: i for i, name in enumerate(JOINT_NAMES)}

KINEMATIC_CHAINS = (
    (0, 2, 5, 8, 11),
    (0, 1, 4, 7, 10),
    (0, 3, 6, 9, 12, 15),
    (9, 14, 17, 19, 21),
    (9, 13, 16, 18, 20),
)

# parent of each joint (-1 for the root), derived from the chains
PARENTS = [-1] * N_JOINTS
for _chain in KINEMATIC_CHAINS:
    for _parent, _child in zip(_chain[:-1], _chain[1:]):
        PARENTS[_child] = _parent
PARENTS = tuple(PARENTS)

# (parent, child) pairs: the 21 bones
BONES = tuple((p, c) for c, p in enumerate(PARENTS) if p >= 0)

# joint index of the mirror image (left <-> right), used for HumanML3D's M-clips and laterality
MIRROR = tuple(
    JOINT[n.replace("left_", "@").replace("right_", "left_").replace("@", "right_")] for n in JOINT_NAMES
)

# the joint whose path stands for each limb's motion
LIMB_ENDS = {"left_arm": "left_wrist", "right_arm": "right_wrist", "left_leg": "left_ankle", "right_leg": "right_ankle"}

# plot colours of the body's sides (skeleton renders and signal plots agree)
LEFT, RIGHT, CENTRE = "#d62728", "#1f77b4", "#333333"


def headings(joints: np.ndarray) -> np.ndarray:
    """Unwrapped facing angle per frame in radians, from +z towards +x (counter-clockwise seen from above).

    The body's left-pointing vector is the sum of the hip and shoulder lines (as HumanML3D does); facing is
    left x up, so a left of +x gives a facing of +z.
    """
    across = (joints[:, JOINT["left_hip"]] - joints[:, JOINT["right_hip"]]
              + joints[:, JOINT["left_shoulder"]] - joints[:, JOINT["right_shoulder"]])
    face_x, face_z = -across[:, 2], across[:, 0]  # (left x up) restricted to the floor plane
    return np.unwrap(np.arctan2(face_x, face_z))


def leg_length(joints: np.ndarray) -> float:
    """Hip-knee-ankle length, median over frames and both legs (a rigid skeleton makes it constant)."""
    lengths = [
        np.linalg.norm(joints[:, JOINT[f"{s}_hip"]] - joints[:, JOINT[f"{s}_knee"]], axis=-1)
        + np.linalg.norm(joints[:, JOINT[f"{s}_knee"]] - joints[:, JOINT[f"{s}_ankle"]], axis=-1)
        for s in ("left", "right")
    ]
    return float(np.median(np.concatenate(lengths)))
