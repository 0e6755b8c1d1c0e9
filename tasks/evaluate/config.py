"""Params of the evaluate stage (section ``evaluate``), validated once (tasks/common/config.py's pattern).

The judge talks through tasks/llm with the top-level ``llm`` section; ``judge.llm`` overrides any of its keys
for the judge alone (e.g. ``{backend: openai, model: gpt-4o-mini}`` while the embedded model wrote the QA pairs).
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from tasks.common.config import Section, invalid

SYSTEMS = ("tuned", "text_only", "shuffled", "zero_shot")
RUBRIC_NAMES = ("score5", "correct_halluc", "same_facts")


class JudgeSection(Section):
    enabled: bool = True
    rubrics: tuple[Literal[RUBRIC_NAMES], ...] = RUBRIC_NAMES
    systems: tuple[Literal[SYSTEMS[:3]], ...] = SYSTEMS[:3]  # whose answers are judged
    limit: int | None = Field(None, ge=1)  # items judged per system (a seeded draw; null = every item)
    max_attempts: int = Field(2, ge=1)  # an unparsable verdict is asked again up to this many times in all
    max_tokens: int = Field(40, ge=4)
    stability_share: float = Field(0.25, ge=0, le=1)  # judged items judged again with the swapped prompt
    llm: dict[str, Any] = Field(default_factory=dict)  # overrides of the top-level llm section, for the judge

    @field_validator("rubrics", "systems")
    @classmethod
    def _once(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(names)) < len(names):
            raise invalid(f"each name once, got {list(names)}")
        return names


class EvaluateConfig(Section):
    seed: int = 0
    splits: tuple[Literal["test", "hard"], ...] = ("test",)  # never train or val: the tuned model saw them
    max_new_tokens: int = Field(40, ge=1)
    batch_size: int = Field(8, ge=1)  # prompts per left-padded generation batch
    torch_threads: int | None = Field(2, ge=1)
    bootstrap: int = Field(1000, ge=100)  # resamples of the items for every 95 % CI
    examples_per_category: int = Field(3, ge=0)  # side-by-side answers in the report
    judge: JudgeSection = Field(default_factory=JudgeSection)
