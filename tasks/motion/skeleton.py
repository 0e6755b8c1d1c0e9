"""The 22-joint SMPL skeleton of HumanML3D: metres, y up, 20 fps, person starts at the origin facing +z."""
from __future__ import annotations

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
