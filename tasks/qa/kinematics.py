"""Kinematic grounding facts: what the motion stage measured and the source declared, plus what the QA
needs on top — a repetition count where none was declared, laterality, and vertical events.

Conventions as in docs/contracts.md: metres, y up, the person starts facing +z with their left at +x.
A fact the manifest lacks (a source that measured nothing) stays None; nothing is made up for it.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
from pydantic import Field
from scipy.signal import find_peaks

from tasks.common.config import Section
from tasks.common.skeleton import JOINT, LIMB_ENDS, headings, leg_length
from tasks.qa.trends import smooth

ENDS = {**LIMB_ENDS, "torso": "head"}  # the joint whose path relative to the pelvis shows the limb's movement
FEET = [JOINT[n] for n in ("left_ankle", "right_ankle", "left_foot", "right_foot")]


class KinematicsConfig(Section):
    """``qa.kinematics`` in params.yaml."""

    airborne_m: float = Field(0.05, gt=0)  # every foot joint this far above its lowest level: both feet off the ground
    swing_share: float = Field(0.3, gt=0)  # a repetition swings at least this share of the limb's range along its axis
    min_swing_m: float = Field(0.03, ge=0)
    axis_share: float = Field(0.3, gt=0, le=1)  # velocity axes this strong (singular value / the top one) are searched
    smooth_s: float = Field(0.1, ge=0)  # moving average of the limb's position before its swings are counted


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


def estimate_repetitions(joints: np.ndarray, fps: float, limb: str,
                         cfg: KinematicsConfig = KinematicsConfig()) -> int | None:
    """How many times ``limb`` repeats its main movement, or None when it does not repeat (fewer than 2).

    Velocity principal axes favour fast back-and-forth over posture changes.  Along an axis the smoothed
    position's prominent maxima and minima are counted (each swinging ``swing_share`` of that axis' range):
    n cycles between rest poses give n of one kind and n - 1 or n of the other, so the larger is taken.
    A single large raise (an arm lifted to wave) can lead the velocity and show one swing only, so the
    next axes carrying ``axis_share`` of the leading one's strength are tried in turn.
    """
    local = _limb_local(np.asarray(joints, dtype=np.float64), limb)
    if len(local) < 4:
        return None
    velocity = np.diff(local, axis=0)
    _, strength, axes = np.linalg.svd(velocity - velocity.mean(axis=0), full_matrices=False)
    for axis in axes[strength >= cfg.axis_share * strength[0]]:
        along = smooth(local @ axis, fps, cfg.smooth_s)
        prominence = max(cfg.swing_share * float(np.percentile(along, 98) - np.percentile(along, 2)), cfg.min_swing_m)
        count = max(len(find_peaks(along, prominence=prominence)[0]), len(find_peaks(-along, prominence=prominence)[0]))
        if count >= 2:
            return count
    return None


def _side(limbs: list[str], kind: str) -> str | None:
    """left | right | both | None from a list of limb names, for kind 'arm' or 'leg'."""
    sides = {limb.split("_")[0] for limb in limbs if limb.endswith(f"_{kind}")}
    return "both" if len(sides) == 2 else sides.pop() if sides else None


def vertical_facts(joints: np.ndarray, fps: float, cfg: KinematicsConfig = KinematicsConfig()) -> dict[str, Any]:
    """How far the pelvis drops below / rises above its start height, and time with both feet off the ground."""
    joints = np.asarray(joints, dtype=np.float64)
    pelvis_y = joints[:, JOINT["pelvis"], 1]
    lowest_foot = joints[:, FEET, 1].min(axis=1)
    airborne = lowest_foot > lowest_foot.min() + cfg.airborne_m
    flights = int(np.count_nonzero(np.diff(airborne.astype(int)) == 1) + airborne[0])
    return {
        "pelvis_drop_m": round(max(0.0, float(pelvis_y[0] - pelvis_y.min())), 2),
        "pelvis_rise_m": round(max(0.0, float(pelvis_y.max() - pelvis_y[0])), 2),
        "pelvis_drop_share": round(max(0.0, float(pelvis_y[0] - pelvis_y.min())) / leg_length(joints), 2),
        "airborne_s": round(float(airborne.sum() / fps), 2),
        "flights": flights,
    }


def motion_facts(joints: np.ndarray, fps: float, manifest_facts: dict[str, Any] | None,
                 cfg: KinematicsConfig = KinematicsConfig()) -> dict[str, Any]:
    """Kinematic facts of one motion: the manifest's (measured + declared) facts, rounded, and the extras.

    ``manifest_facts`` may be None or lack keys: those facts are None (``most_active_limbs`` too, as
    "unknown" differs from the measured "no limb moves", []).
    """
    f = {k: clean(v) for k, v in (manifest_facts or {}).items()}
    active = f.get("most_active_limbs")
    declared = f.get("limbs") or []
    limbs = declared or active or []
    # the busiest limb among those the source says do the action, else the first declared (a torso: its head)
    candidates = [limb for limb in active or [] if not declared or limb in declared] or [
        limb for limb in declared if limb in ENDS]
    main_limb = candidates[0] if candidates else None
    vertical = vertical_facts(joints, fps, cfg)
    reps, reps_source = f.get("repetitions"), "declared"
    if reps is None:
        # leaving the ground is the clearest repeated event there is: one flight per jump (or running step)
        reps, reps_source = vertical["flights"] or None, "estimated"
        if reps is None and main_limb is not None:
            reps = estimate_repetitions(joints, fps, main_limb, cfg)
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
