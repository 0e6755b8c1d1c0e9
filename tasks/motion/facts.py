"""Facts measured from the joints alone: how far, how fast, which way, how much turning, which posture.

Conventions (docs/contracts.md): metres, y up, the person starts facing +z with their left at +x.  Headings are
measured from +z towards +x, so a positive turn is counter-clockwise seen from above, i.e. a turn to the
person's left.  The questions generated later are checked against these numbers, so each one is defined
plainly in ``measure_facts``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from tasks.common.skeleton import JOINT, LIMB_ENDS, headings, leg_length

# One struct type for the manifest's ``facts`` column: what the stage measures plus the keys a source may
# declare (tasks/motion/item.py).  Keys a motion lacks are null.
FACTS_SCHEMA = pa.struct(
    [
        # measured here
        ("duration_s", pa.float64()),
        ("distance_m", pa.float64()),
        ("path_length_m", pa.float64()),
        ("direction", pa.string()),  # forward | backward | left | right | in place (| away and back, declared)
        ("speed_mps", pa.float64()),
        ("peak_speed_mps", pa.float64()),
        ("turn_deg", pa.float64()),
        ("turn", pa.string()),  # left | right | null
        ("height_change_m", pa.float64()),
        ("start_posture", pa.string()),  # standing | sitting | crouching | lying
        ("end_posture", pa.string()),
        ("most_active_limbs", pa.list_(pa.string())),
        # declared by sources only
        ("repetitions", pa.int64()),
        ("limbs", pa.list_(pa.string())),
        ("hand", pa.string()),
        ("cadence_steps_per_s", pa.float64()),
        ("body_height_m", pa.float64()),
    ]
)

FEET = [JOINT[n] for n in ("left_ankle", "right_ankle", "left_foot", "right_foot")]


@dataclass(frozen=True)
class FactThresholds:
    """Where a number becomes a word."""

    in_place_m: float = 0.3  # net travel below this is "in place"
    turn_deg: float = 45.0  # |net heading change| below this is no turn
    standing_ratio: float = 0.75  # pelvis height over leg length at or above this: standing
    floor_ratio: float = 0.25  # pelvis this close to the floor (over leg length): sitting on the floor
    seat_offset_ratio: float = 0.35  # pelvis this far behind/beside the ankles (over leg length): on a seat
    lying_deg: float = 60.0  # lying: trunk tilted more than this from vertical ...
    lying_height_ratio: float = 0.5  # ... with pelvis and neck this close to the floor (over leg length)
    posture_window_s: float = 0.25  # start/end posture is taken from the mean pose of this long a window
    smooth_s: float = 0.25  # speed is smoothed over this long a window before taking the peak
    active_share: float = 0.5  # a limb is among the most active if it moves at least this share of the top one
    active_min_mps: float = 0.1  # ... and its end moves at least this fast relative to the pelvis


def posture(pose: np.ndarray, leg: float, th: FactThresholds = FactThresholds()) -> str:
    """standing, sitting, crouching or lying, for one pose [22, 3].

    Standing keeps the pelvis about a leg length above the lower foot.  When it is lower, a pelvis far behind
    the ankles is held up by a seat (on a chair the thighs run back from the knees), one over the feet is a
    crouch, and one nearly on the floor is sitting on the floor.  Lying needs a trunk nearer horizontal than
    vertical with both pelvis and neck close to the floor (bending over or crawling keeps them high).
    """
    pelvis, neck = pose[JOINT["pelvis"]], pose[JOINT["neck"]]
    trunk = neck - pelvis
    tilt = np.degrees(np.arccos(np.clip(trunk[1] / max(np.linalg.norm(trunk), 1e-9), -1.0, 1.0)))
    if tilt > th.lying_deg and max(pelvis[1], neck[1]) - pose[:, 1].min() < th.lying_height_ratio * leg:
        return "lying"
    height = (pelvis[1] - pose[FEET, 1].min()) / leg
    if height >= th.standing_ratio:
        return "standing"
    ankles = (pose[JOINT["left_ankle"]] + pose[JOINT["right_ankle"]]) / 2
    offset = np.hypot(*(pelvis - ankles)[[0, 2]]) / leg
    if height < th.floor_ratio or offset >= th.seat_offset_ratio:
        return "sitting"
    return "crouching"


def _direction(travel: np.ndarray, heading0: float, th: FactThresholds) -> str:
    """Net horizontal travel (x, z) named relative to the initial facing."""
    if np.hypot(*travel) < th.in_place_m:
        return "in place"
    facing = np.array([np.sin(heading0), np.cos(heading0)])  # (x, z)
    left = np.array([facing[1], -facing[0]])  # up x facing, in (x, z)
    forward, leftward = travel @ facing, travel @ left
    if abs(forward) >= abs(leftward):
        return "forward" if forward > 0 else "backward"
    return "left" if leftward > 0 else "right"


def _limb_activity(joints: np.ndarray, yaw: np.ndarray, elapsed: float) -> dict[str, float]:
    """Mean speed (m/s) of each wrist/ankle in the pelvis's own turning frame, so a turn alone moves no limb."""
    rel = joints[:, [JOINT[j] for j in LIMB_ENDS.values()]] - joints[:, JOINT["pelvis"]][:, None]
    c, s = np.cos(-yaw)[:, None], np.sin(-yaw)[:, None]
    local = np.stack([c * rel[..., 0] + s * rel[..., 2], rel[..., 1], -s * rel[..., 0] + c * rel[..., 2]], axis=-1)
    path = np.linalg.norm(np.diff(local, axis=0), axis=-1).sum(axis=0)
    return {limb: float(p / elapsed) if elapsed > 0 else 0.0 for limb, p in zip(LIMB_ENDS, path)}


def _peak_speed(ground: np.ndarray, fps: float, th: FactThresholds) -> float:
    if len(ground) < 2:
        return 0.0
    speed = np.linalg.norm(np.gradient(ground, axis=0), axis=-1) * fps
    window = max(1, int(round(th.smooth_s * fps)))
    if len(speed) >= window:
        speed = np.convolve(speed, np.ones(window) / window, mode="valid")
    return float(speed.max())


def measure_facts(joints: np.ndarray, fps: float, th: FactThresholds = FactThresholds()) -> dict[str, Any]:
    """Facts of one motion [T, 22, 3] (metres, y up) sampled at ``fps``; keys as in FACTS_SCHEMA's measured part.

    duration_s is T / fps; speed_mps is path_length_m over the elapsed time (T - 1) / fps, peak_speed_mps the
    top of the pelvis speed smoothed over ``smooth_s``; distance_m is the net horizontal pelvis displacement and
    path_length_m the horizontal distance the pelvis covers; direction names the net displacement relative to
    the first frame's facing; turn_deg is the net change of facing (+ = left); postures come from the mean
    pose of the first/last ``posture_window_s``; most_active_limbs ranks the limbs whose wrist/ankle moves
    (relative to the turning pelvis) at least ``active_share`` as fast as the busiest one, [] if none moves.
    """
    joints = np.asarray(joints, dtype=np.float64)
    pelvis = joints[:, JOINT["pelvis"]]
    ground = pelvis[:, [0, 2]]
    elapsed = (len(joints) - 1) / fps
    path = float(np.linalg.norm(np.diff(ground, axis=0), axis=-1).sum())
    yaw = headings(joints)
    turn_deg = float(np.degrees(yaw[-1] - yaw[0]))
    leg = leg_length(joints)
    window = max(1, int(round(th.posture_window_s * fps)))

    activity = _limb_activity(joints, yaw, elapsed)
    top = max(activity.values())
    active = [limb for limb, v in sorted(activity.items(), key=lambda kv: -kv[1])
              if top >= th.active_min_mps and v >= th.active_share * top]

    return {
        "duration_s": len(joints) / fps,
        "distance_m": float(np.hypot(*(ground[-1] - ground[0]))),
        "path_length_m": path,
        "direction": _direction(ground[-1] - ground[0], yaw[0], th),
        "speed_mps": path / elapsed if elapsed > 0 else 0.0,
        "peak_speed_mps": _peak_speed(ground, fps, th),
        "turn_deg": turn_deg,
        "turn": "left" if turn_deg >= th.turn_deg else "right" if turn_deg <= -th.turn_deg else None,
        "height_change_m": float(pelvis[-1, 1] - pelvis[0, 1]),
        "start_posture": posture(joints[:window].mean(axis=0), leg, th),
        "end_posture": posture(joints[-window:].mean(axis=0), leg, th),
        "most_active_limbs": active,
    }
