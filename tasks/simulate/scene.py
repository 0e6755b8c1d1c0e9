"""Where the radar stands for each motion, and how loud the channel is: per-motion domain randomisation.

The radar is placed relative to the motion, not in fixed world coordinates, so the same params suit
procedural motions, HumanML3D clips and BVH takes wherever they start.  From the person's start (pelvis on
the floor at frame 0) and initial heading h (tasks/common/skeleton.headings: from +z towards +x), the radar
stands ``distance_m`` away in the direction h + ``bearing_deg`` (positive = to the person's left), at
``height_m`` above the floor (y = 0), looking back at the start, then turned by ``yaw_deg``
(counter-clockwise seen from above, as RadarConfig.yaw_deg) and tilted by ``pitch_deg`` (up).

No joint may come nearer the radar's plane than ``clearance_m`` at any frame (measured along the horizontal
boresight): where the drawn distance would allow it (a walk towards the radar), the radar backs away along
its line to the start until it holds, so no motion walks through or behind it.  The distance recorded is
the one used.

``noise_db`` is added to the radar's noise floor and ``rcs_db`` scales every body segment's echo power.
Each value is a [low, high] range drawn uniformly per motion (a single number: always that value), seeded
by simulate.seed and the motion id alone.  The room's layout (radar/room.py) is seeded per motion too, and
it is built around the radar's pose.
"""
from __future__ import annotations

import math
from typing import Annotated, Any

import numpy as np
from pydantic import BeforeValidator, Field, model_validator

from tasks.common.config import Section, invalid
from tasks.common.seeds import item_seed
from tasks.common.skeleton import JOINT, headings
from tasks.simulate.radar import RadarConfig


def _as_range(value: Any) -> Any:
    return (value, value) if isinstance(value, int | float) and not isinstance(value, bool) else value


Range = Annotated[tuple[float, float], BeforeValidator(_as_range)]
# What each motion records, in this order (index.parquet columns, the npz's ``scene`` key): the drawn values,
# with the distance as used; the npz's ``radar_pose`` holds the world pose they give.
RECORDED = ("radar_distance_m", "radar_bearing_deg", "radar_height_m", "radar_yaw_deg", "radar_pitch_deg",
            "noise_db", "rcs_db")
DRAWN = ("distance_m", "bearing_deg", "height_m", "yaw_deg", "pitch_deg", "noise_db", "rcs_db")


class SceneConfig(Section):
    """``simulate.scene``: per-motion ranges; the defaults put the radar 3 m ahead, 1 m up, facing the person."""

    distance_m: Range = (3.0, 3.0)
    bearing_deg: Range = (0.0, 0.0)
    height_m: Range = (1.0, 1.0)
    yaw_deg: Range = (0.0, 0.0)
    pitch_deg: Range = (0.0, 0.0)
    noise_db: Range = (0.0, 0.0)
    rcs_db: Range = (0.0, 0.0)
    clearance_m: float = Field(0.5, ge=0.0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _ranges(self) -> SceneConfig:
        limits = {"distance_m": (0.1, 100.0), "bearing_deg": (-180.0, 180.0), "height_m": (0.0, 10.0),
                  "yaw_deg": (-89.0, 89.0), "pitch_deg": (-89.0, 89.0), "noise_db": (-60.0, 60.0),
                  "rcs_db": (-60.0, 60.0)}
        for name, (floor, ceiling) in limits.items():
            lo, hi = getattr(self, name)
            if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
                raise invalid(f"{name} must be a number or [low, high] with low <= high, got [{lo}, {hi}]")
            if lo < floor or hi > ceiling:
                raise invalid(f"{name} must lie within [{floor}, {ceiling}], got [{lo}, {hi}]")
        return self


def draw(scene: SceneConfig, seed: int, item: str) -> dict[str, float]:
    """The scene values of motion ``item`` (DRAWN keys), from its own random stream."""
    rng = np.random.default_rng(item_seed(seed, item, "scene"))
    return {name: float(rng.uniform(*getattr(scene, name))) for name in DRAWN}


def place(joints: np.ndarray, cfg: RadarConfig, scene: SceneConfig, seed: int,
          item: str) -> tuple[RadarConfig, dict[str, float]]:
    """``cfg`` posed and scaled for motion ``item`` (joints [T, 22, 3], y up), and the values used (RECORDED)."""
    v = draw(scene, seed, item)
    start = joints[0, JOINT["pelvis"], [0, 2]].astype(np.float64)
    toward = headings(joints[:1])[0] + math.radians(v["bearing_deg"])  # from the start towards the radar
    u = np.array([math.sin(toward), math.cos(toward)])
    yaw = toward + math.radians(v["yaw_deg"])  # RadarConfig's yaw: boresight (-sin, -cos) of it
    boresight = -np.array([math.sin(yaw), math.cos(yaw)])
    # radar at start + d u: a joint p lies (p - start) . b + d cos(yaw_deg) ahead of the radar's plane
    ahead = (joints[..., [0, 2]].reshape(-1, 2).astype(np.float64) - start) @ boresight
    needed = (scene.clearance_m - float(ahead.min())) / math.cos(math.radians(v["yaw_deg"]))
    distance = max(v["distance_m"], needed)
    x, z = start + distance * u
    gain = 10.0 ** (v["rcs_db"] / 20.0)  # power dB -> amplitude
    posed = cfg.replace(
        position_m=(float(x), v["height_m"], float(z)), yaw_deg=math.degrees(yaw), pitch_deg=v["pitch_deg"],
        noise_db=None if cfg.noise_db is None else cfg.noise_db + v["noise_db"],
        reflectivity={k: a * gain for k, a in cfg.reflectivity.items()},
    )
    values = dict(zip(RECORDED, (distance, *(v[k] for k in DRAWN[1:]))))
    return posed, values
