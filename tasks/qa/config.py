"""The ``qa:`` section of params.yaml, validated once so a typo fails before any request is sent."""
from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from tasks.common.params import ParamsError
from tasks.common.seeds import item_seed


class TrendParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    segments: int = Field(4, ge=1)
    smooth_s: float = Field(0.1, ge=0)


class QAConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seed: int = 0
    prompts: str = "prompts/qa/qa.yaml"
    questions_per_motion: int = Field(3, ge=1)
    categories: dict[str, float] = Field(min_length=1)  # category -> sampling weight (0 = never)
    max_tokens: int = Field(80, ge=8)  # per reply; overrides llm.max_tokens for this stage
    temperature: float = Field(0.0, ge=0)
    max_attempts: int = Field(1, ge=1)  # replies per item before an unparsable one is rejected
    splits: list[str] = ["train", "val", "test"]
    limit: int | None = Field(None, ge=1)  # only the first N motions (by id): quick looks
    min_question_words: int = Field(4, ge=1)
    min_answer_words: int = Field(2, ge=1)
    dedup_threshold: float = Field(0.92, gt=0, le=1)  # cosine similarity of questions of one motion
    samples_per_category: int = Field(5, ge=0)  # pairs per category in sample.md
    trends: TrendParams = TrendParams()

    @model_validator(mode="after")
    def _weights(self) -> QAConfig:
        negative = [c for c, w in self.categories.items() if w < 0]
        if negative:
            raise ValueError(f"categories {negative}: weights must be >= 0")
        if not any(w > 0 for w in self.categories.values()):
            raise ValueError("categories: at least one weight must be > 0")
        return self

    @classmethod
    def from_params(cls, section: dict[str, Any] | None) -> QAConfig:
        try:
            return cls.model_validate(section or {})
        except ValidationError as exc:
            problems = "; ".join(f"qa.{'.'.join(map(str, e['loc']))}: {e['msg']}"
                                 for e in exc.errors(include_input=False))
            raise ParamsError(f"params.yaml: {problems}") from None


def sample_categories(motion_id: str, weights: dict[str, float], k: int, seed: int) -> list[str]:
    """``k`` categories for one motion, drawn by weight without replacement (all of them if fewer).

    Seeded by the motion id, so a motion's draw does not change when other motions come or go.
    """
    names = [c for c, w in weights.items() if w > 0]
    p = np.array([weights[c] for c in names], dtype=np.float64)
    rng = np.random.default_rng(item_seed(seed, motion_id, "categories"))
    picked = rng.choice(len(names), size=min(k, len(names)), replace=False, p=p / p.sum())
    return [names[i] for i in sorted(picked)]
