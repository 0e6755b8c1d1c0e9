"""Synthetic bodies with known geometry for the motion tests (metres, y up, facing +z, left at +x)."""
from __future__ import annotations

import numpy as np

from tasks.common.skeleton import JOINT

THIGH, SHIN = 0.38, 0.39
# upper body of a standing adult, relative to the pelvis
UPPER = {
    "spine1": (0, 0.11, 0), "spine2": (0, 0.24, 0), "spine3": (0, 0.30, 0), "neck": (0, 0.52, 0),
    "head": (0, 0.62, 0.03), "left_collar": (0.08, 0.44, 0), "right_collar": (-0.08, 0.44, 0),
    "left_shoulder": (0.18, 0.45, 0), "right_shoulder": (-0.18, 0.45, 0), "left_elbow": (0.20, 0.19, 0),
    "right_elbow": (-0.20, 0.19, 0), "left_wrist": (0.21, -0.05, 0), "right_wrist": (-0.21, -0.05, 0),
}


def rot_x(deg: float) -> np.ndarray:
    """Rotation about x; positive turns +y towards +z (a forward lean)."""
    a = np.radians(deg)
    return np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])


def rot_y(deg: float) -> np.ndarray:
    """Rotation about y; positive is counter-clockwise seen from above (+z turns towards +x)."""
    a = np.radians(deg)
    return np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])


def body(hip_flex: float = 0.0, knee_flex: float = 0.0, lean: float = 0.0) -> np.ndarray:
    """One pose [22, 3]: thighs raised forward by hip_flex, shins bent back by knee_flex, trunk leaned
    forward by lean (degrees); the lower foot touches y = 0.02 and the pelvis is above the origin."""
    pose = np.zeros((22, 3))
    for name, offset in UPPER.items():
        pose[JOINT[name]] = rot_x(lean) @ np.array(offset, dtype=float)
    h, k = np.radians(hip_flex), np.radians(hip_flex - knee_flex)
    for side, x in (("left", 0.09), ("right", -0.09)):
        hip = np.array([x, -0.08, 0.0])
        knee = hip + THIGH * np.array([0, -np.cos(h), np.sin(h)])
        ankle = knee + SHIN * np.array([0, -np.cos(k), np.sin(k)])
        pose[JOINT[f"{side}_hip"]], pose[JOINT[f"{side}_knee"]], pose[JOINT[f"{side}_ankle"]] = hip, knee, ankle
        pose[JOINT[f"{side}_foot"]] = ankle + np.array([0.01, -0.06, 0.11])
    pose[:, 1] -= pose[:, 1].min() - 0.02
    return pose


STANDING = body()
SEATED = body(hip_flex=90, knee_flex=90)  # on a chair: thighs level, shins upright
SQUAT = body(hip_flex=105, knee_flex=130, lean=40)


def moving(pose: np.ndarray, path: np.ndarray, yaw_deg: np.ndarray | float = 0.0) -> np.ndarray:
    """A clip [T, 22, 3]: ``pose`` turned by yaw_deg[t] about its pelvis and moved by path[t] (x, z)."""
    path = np.asarray(path, dtype=float)
    yaw = np.broadcast_to(np.asarray(yaw_deg, dtype=float), (len(path),))
    centred = pose - pose[JOINT["pelvis"]] * [1, 0, 1]
    frames = [centred @ rot_y(a).T + [p[0], 0.0, p[1]] for a, p in zip(yaw, path)]
    return np.stack(frames).astype(np.float32)


def straight(pose: np.ndarray, to_xz: tuple[float, float], frames: int, yaw_deg: float = 0.0) -> np.ndarray:
    """``pose`` travelling at constant speed from the origin to ``to_xz``."""
    return moving(pose, np.linspace([0.0, 0.0], to_xz, frames), yaw_deg)
