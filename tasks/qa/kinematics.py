"""Kinematic grounding facts: what the motion stage measured and the source declared, plus what the QA
needs on top — a repetition count where none was declared, laterality, and vertical events.

Conventions as in docs/contracts.md: metres, y up, the person starts facing +z with their left at +x.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.signal import find_peaks

from tasks.common.skeleton import LIMB_ENDS, headings, leg_length
from tasks.common.skeleton import JOINT
from tasks.qa.trends import smooth

ENDS = {**LIMB_ENDS, "torso": "head"}  # the joint whose path relative to the pelvis shows the limb's movement
FEET = [JOINT[n] for n in ("left_ankle", "right_ankle", "left_foot", "right_foot")]
AIRBORNE_M = 0.05  # every foot joint this far above its lowest level: both feet off the ground
SWING_SHARE = 0.3  # a repetition swings at least this share of the limb's range along its main axis
MIN_SWING_M = 0.03
AXIS_SHARE = 0.3  # velocity axes at least this strong (singular value over the top one) are searched


def clean(value: Any) -> Any:
    """Manifest values as plain JSON types: arrays to lists, NaN to None, numpy scalars to Python ones."""
    if isinstance(value, np.ndarray):
        return [clean(v) for v in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return None if math.isnan(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def _limb_local(joints: np.ndarray, limb: str) -> np.ndarray:
    """The limb's end (wrist or ankle) relative to the pelvis, in the pelvis's own turning frame [T, 3]."""
    rel = joints[:, JOINT[ENDS[limb]]] - joints[:, JOINT["pelvis"]]
    yaw = headings(joints)
    c, s = np.cos(yaw), np.sin(yaw)
    return np.stack([c * rel[:, 0] - s * rel[:, 2], rel[:, 1], s * rel[:, 0] + c * rel[:, 2]], axis=-1)


def estimate_repetitions(joints: np.ndarray, fps: float, limb: str) -> int | None:
    """How many times ``limb`` repeats its main movement, or None when it does not repeat (fewer than 2).

    Velocity principal axes favour fast back-and-forth over posture changes.  Along an axis the smoothed
    position's prominent maxima and minima are counted (each swinging ``SWING_SHARE`` of that axis' range):
    n cycles between rest poses give n of one kind and n - 1 or n of the other, so the larger is taken.
    A single large raise (an arm lifted to wave) can lead the velocity and show one swing only, so the
    next axes carrying ``AXIS_SHARE`` of the leading one's strength are tried in turn.
    """
    local = _limb_local(np.asarray(joints, dtype=np.float64), limb)
    if len(local) < 4:
        return None
    velocity = np.diff(local, axis=0)
    _, strength, axes = np.linalg.svd(velocity - velocity.mean(axis=0), full_matrices=False)
    for axis in axes[strength >= AXIS_SHARE * strength[0]]:
        along = smooth(local @ axis, fps, 0.1)
        prominence = max(SWING_SHARE * float(np.percentile(along, 98) - np.percentile(along, 2)), MIN_SWING_M)
        count = max(len(find_peaks(along, prominence=prominence)[0]), len(find_peaks(-along, prominence=prominence)[0]))
        if count >= 2:
            return count
    return None


def _side(limbs: list[str], kind: str) -> str | None:
    """left | right | both | None from a list of limb names, for kind 'arm' or 'leg'."""
    sides = {limb.split("_")[0] for limb in limbs if limb.endswith(f"_{kind}")}
    return "both" if len(sides) == 2 else sides.pop() if sides else None


def vertical_facts(joints: np.ndarray, fps: float) -> dict[str, Any]:
    """How far the pelvis drops below / rises above its start height, and time with both feet off the ground."""
    joints = np.asarray(joints, dtype=np.float64)
    pelvis_y = joints[:, JOINT["pelvis"], 1]
    lowest_foot = joints[:, FEET, 1].min(axis=1)
    airborne = lowest_foot > lowest_foot.min() + AIRBORNE_M
    flights = int(np.count_nonzero(np.diff(airborne.astype(int)) == 1) + airborne[0])
    return {
        "pelvis_drop_m": round(max(0.0, float(pelvis_y[0] - pelvis_y.min())), 2),
        "pelvis_rise_m": round(max(0.0, float(pelvis_y.max() - pelvis_y[0])), 2),
        "pelvis_drop_share": round(max(0.0, float(pelvis_y[0] - pelvis_y.min())) / leg_length(joints), 2),
        "airborne_s": round(float(airborne.sum() / fps), 2),
        "flights": flights,
    }


def motion_facts(joints: np.ndarray, fps: float, manifest_facts: dict[str, Any]) -> dict[str, Any]:
    """Kinematic facts of one motion: the manifest's (measured + declared) facts, rounded, and the extras."""
    f = {k: clean(v) for k, v in manifest_facts.items()}
    active = f.get("most_active_limbs") or []
    declared = f.get("limbs") or []
    limbs = declared or active
    # the busiest limb among those the source says do the action, else the first declared (a torso: its head)
    candidates = [limb for limb in active if not declared or limb in declared] or [
        limb for limb in declared if limb in ENDS]
    main_limb = candidates[0] if candidates else None
    vertical = vertical_facts(joints, fps)
    reps, reps_source = f.get("repetitions"), "declared"
    if reps is None:
        # leaving the ground is the clearest repeated event there is: one flight per jump (or running step)
        reps, reps_source = vertical["flights"] or None, "estimated"
        if reps is None and main_limb is not None:
            reps = estimate_repetitions(joints, fps, main_limb)
    out: dict[str, Any] = {
        key: (round(f[key], 2) if isinstance(f.get(key), float) else f.get(key))
        for key in ("duration_s", "path_length_m", "distance_m", "direction", "speed_mps", "peak_speed_mps",
                    "turn", "turn_deg", "start_posture", "end_posture", "height_change_m", "cadence_steps_per_s")
    }
    out.update(
        repetitions=int(reps) if reps is not None else None,
        repetitions_source=reps_source if reps is not None else None,
        most_active_limbs=active,
        main_limb=main_limb,
        hand=f.get("hand") or _side(limbs, "arm"),
        leg=_side(limbs, "leg"),
        **vertical,
    )
    return out
