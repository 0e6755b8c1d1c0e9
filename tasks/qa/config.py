"""The ``qa:`` section of params.yaml (tasks/common/config.py's pattern), validated before any request is sent.

The fact thresholds are sub-sections, each defined beside the code that uses it: ``trends``
(tasks/qa/trends.py), ``kinematics``, ``imu``, ``radar`` and ``sheet`` (tasks/qa/facts.py).
"""
from __future__ import annotations

import numpy as np
from pydantic import Field, field_validator

from tasks.common.config import Section
from tasks.common.seeds import item_seed
from tasks.qa.facts import SheetConfig
from tasks.qa.imu import ImuFactConfig
from tasks.qa.kinematics import KinematicsConfig
from tasks.qa.radar import RadarFactConfig
from tasks.qa.trends import TrendConfig


class QAConfig(Section):
    seed: int = 0
    prompts: str = "prompts/qa/qa.yaml"
    questions_per_motion: int = Field(3, ge=1)
    categories: dict[str, float] = Field(min_length=1)  # category -> sampling weight (0 = never)
    max_tokens: int = Field(80, ge=8)  # per reply; overrides llm.max_tokens for this stage
    temperature: float = Field(0.0, ge=0)
    max_attempts: int = Field(1, ge=1)  # replies per item before an unparsable one is rejected
    repair_attempts: int = Field(0, ge=0, le=1)  # 1: re-ask a reply with a failed claim once, told the claim and fact
    max_error_rate: float = Field(0.0, ge=0, le=1)  # LLM errors over requests above this fail the stage
    splits: list[str] = ["train", "val", "test"]
    limit: int | None = Field(None, ge=1)  # ask about N motions, a seeded draw (pretrain uses every motion)
    min_question_words: int = Field(4, ge=1)
    min_answer_words: int = Field(2, ge=1)
    dedup_threshold: float = Field(0.92, gt=0, le=1)  # cosine similarity of questions of one motion
    samples_per_category: int = Field(5, ge=0)  # pairs per category in sample.md
    trends: TrendConfig = TrendConfig()
    kinematics: KinematicsConfig = KinematicsConfig()
    imu: ImuFactConfig = ImuFactConfig()
    radar: RadarFactConfig = RadarFactConfig()
    sheet: SheetConfig = SheetConfig()

    @field_validator("categories")
    @classmethod
    def _weights(cls, categories: dict[str, float]) -> dict[str, float]:
        negative = [c for c, w in categories.items() if w < 0]
        if negative:
            raise ValueError(f"weights must be >= 0, got {negative}")
        if not any(w > 0 for w in categories.values()):
            raise ValueError("at least one weight must be > 0")
        return categories


def sample_categories(motion_id: str, weights: dict[str, float], k: int, seed: int) -> list[str]:
    """``k`` categories for one motion, drawn by weight without replacement (all of them if fewer).

    Seeded by the motion id, so a motion's draw does not change when other motions come or go.
    """
    names = [c for c, w in weights.items() if w > 0]
    if not names:
        return []
    p = np.array([weights[c] for c in names], dtype=np.float64)
    rng = np.random.default_rng(item_seed(seed, motion_id, "categories"))
    picked = rng.choice(len(names), size=min(k, len(names)), replace=False, p=p / p.sum())
    return [names[i] for i in sorted(picked)]
