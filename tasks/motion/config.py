"""The ``motion:`` section of params.yaml, validated once at the stage boundary (tasks/common/config.py).

Every source's settings are typed here, with their defaults, so the generator and the loaders read
attributes and never guess.  What the stage writes is in docs/contracts.md.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from tasks.common.config import Section, invalid
from tasks.motion.procedural.library import CLASSES, MAX_DURATION_S, MIN_AREA
from tasks.motion.procedural.scene import JOG_SPEED_MPS, MIN_DURATION_S, WALK_SPEED_MPS, Area

SourceName = Literal["procedural", "humanml3d", "bvh"]
SplitName = Literal["train", "val", "test"]
SPLITS: tuple[SplitName, ...] = ("train", "val", "test")
# What the stepping model covers (m/s): slower than 0.3 is hardly walking, and people break into a run near 2;
# jogging starts above about 1.5, and more than 4 cannot stop inside any capture area of a few metres
WALK_LIMITS = (0.3, 2.0)
JOG_LIMITS = (1.5, 4.0)
# metres per BVH file unit; "cmu" is the CMU mocap BVH unit (inches / 0.45, from the ASF "length 0.45")
BVH_UNITS = {"m": 1.0, "cm": 0.01, "mm": 0.001, "in": 0.0254, "cmu": 0.0254 / 0.45}


def _span(value: tuple[float, float], low: float, high: float) -> tuple[float, float]:
    a, b = value
    if not low <= a <= b <= high:
        raise invalid(f"need {low:g} <= min <= max <= {high:g}, got [{a:g}, {b:g}]")
    return value


class AreaConfig(Section):
    """The capture area around the start (m): pelvis and feet stay inside, so the person stays in front of the
    radar.  Each size has a floor: the smallest area every class fits in (MIN_AREA)."""

    forward_m: float = Field(Area.forward_m, ge=MIN_AREA.forward_m, allow_inf_nan=False)
    backward_m: float = Field(Area.backward_m, ge=MIN_AREA.backward_m, allow_inf_nan=False)
    side_m: float = Field(Area.side_m, ge=MIN_AREA.side_m, allow_inf_nan=False)

    def area(self) -> Area:
        return Area(self.forward_m, self.backward_m, self.side_m)


class ProceduralConfig(Section):
    motions_per_class: int = Field(20, ge=0)
    classes: tuple[str, ...] = CLASSES  # "all" in params.yaml
    duration_s: tuple[float, float] = (4.0, 8.0)  # each clip's length is drawn from [min, max]
    body_height_m: tuple[float, float] = (1.55, 1.95)
    walk_speed_mps: tuple[float, float] = WALK_SPEED_MPS  # each walk's speed is drawn from [min, max]
    jog_speed_mps: tuple[float, float] = JOG_SPEED_MPS
    area: AreaConfig = AreaConfig()

    @field_validator("classes", mode="before")
    @classmethod
    def _classes(cls, value: object) -> object:
        if value == "all":
            return CLASSES
        if not isinstance(value, (list, tuple)):
            raise invalid(f"expected 'all' or a list of labels, got {value!r}")
        unknown = [c for c in value if c not in CLASSES]
        if unknown:
            raise invalid(f"unknown class '{unknown[0]}' (valid: {', '.join(CLASSES)})")
        return value

    @field_validator("duration_s")
    @classmethod
    def _duration(cls, value: tuple[float, float]) -> tuple[float, float]:
        return _span(value, MIN_DURATION_S, MAX_DURATION_S)

    @field_validator("body_height_m")
    @classmethod
    def _height(cls, value: tuple[float, float]) -> tuple[float, float]:
        return _span(value, 1.2, 2.2)

    @field_validator("walk_speed_mps")
    @classmethod
    def _walk(cls, value: tuple[float, float]) -> tuple[float, float]:
        return _span(value, *WALK_LIMITS)

    @field_validator("jog_speed_mps")
    @classmethod
    def _jog(cls, value: tuple[float, float]) -> tuple[float, float]:
        return _span(value, *JOG_LIMITS)


class HumanML3DConfig(Section):
    root: Path = Path("data/raw/humanml3d")  # new_joints/, texts/, train.txt, val.txt, test.txt
    splits: tuple[SplitName, ...] = SPLITS
    subset: int | list[str] | None = None  # None: every clip; N: the first N ids; [ids]: these
    mirrored: bool = False  # also the M<id> mirror clips
    min_seconds: float = Field(1.0, ge=0, allow_inf_nan=False)  # shorter clips (after trimming) are rejected

    @field_validator("subset", mode="before")
    @classmethod
    def _subset(cls, value: object) -> object:
        if isinstance(value, list):
            numbers = [v for v in value if not isinstance(v, str)]
            if numbers:  # YAML reads 000001 as the number 1, which names no clip
                raise invalid(f"clip ids must be quoted strings ('000001'), got {numbers[0]!r}")
        elif value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise invalid(f"expected null, a number of clips >= 0 or a list of ids, got {value!r}")
        return value


class BVHConfig(Section):
    root: Path = Path("data/raw/bvh")  # *.bvh, each with an optional <stem>.txt of captions
    scale: float | str = "auto"  # metres per file unit, a unit name from BVH_UNITS, or auto

    @field_validator("scale")
    @classmethod
    def _scale(cls, value: float | str) -> float | str:
        if isinstance(value, str):
            if value != "auto" and value not in BVH_UNITS:
                raise invalid(f"expected a number, 'auto' or one of {', '.join(BVH_UNITS)}; got {value!r}")
        elif not (math.isfinite(value) and value > 0):
            raise invalid(f"metres per file unit must be positive, got {value:g}")
        return value


class SplitFractions(Section):
    """Shares of train/val/test for items without a split of their own; a split left out gets none."""

    train: float = Field(0.0, ge=0, allow_inf_nan=False)
    val: float = Field(0.0, ge=0, allow_inf_nan=False)
    test: float = Field(0.0, ge=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _positive(self) -> SplitFractions:
        if self.train + self.val + self.test <= 0:
            raise invalid("the fractions must add up to more than 0")
        return self

    def as_dict(self) -> dict[str, float]:
        return {split: getattr(self, split) for split in SPLITS}


class MotionConfig(Section):
    seed: int = 0
    sources: tuple[SourceName, ...] = ("procedural",)
    strict: bool = False  # any rejected item fails the stage
    split_fractions: SplitFractions = SplitFractions(train=0.7, val=0.15, test=0.15)
    procedural: ProceduralConfig = ProceduralConfig()
    humanml3d: HumanML3DConfig = HumanML3DConfig()
    bvh: BVHConfig = BVHConfig()

    @field_validator("sources")
    @classmethod
    def _once_each(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise invalid("list at least one of procedural, humanml3d, bvh")
        twice = sorted({s for s in value if value.count(s) > 1})
        if twice:
            raise invalid(f"'{twice[0]}' is listed more than once")
        return value
