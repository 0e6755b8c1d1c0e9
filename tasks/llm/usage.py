"""Token accounting per pipeline stage, with cost where params give prices per 1M tokens."""
from __future__ import annotations

from collections import defaultdict
from typing import Any

from tasks.llm.config import Prices
from tasks.llm.records import ChatResult

_FIELDS = ("requests", "cached", "failed", "prompt_tokens", "completion_tokens", "cached_prompt_tokens",
           "cached_completion_tokens")


class UsageMeter:
    """Totals per stage. Tokens of cached answers are counted apart: they cost nothing this run."""

    def __init__(self, prices: Prices | None = None) -> None:
        self.prices = prices
        self._stages: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(_FIELDS, 0))

    def add(self, stage: str, result: ChatResult) -> None:
        row = self._stages[stage]
        row["requests"] += 1
        if result.error is not None:
            row["failed"] += 1
        elif result.cached:
            row["cached"] += 1
            row["cached_prompt_tokens"] += result.usage.prompt_tokens
            row["cached_completion_tokens"] += result.usage.completion_tokens
        else:
            row["prompt_tokens"] += result.usage.prompt_tokens
            row["completion_tokens"] += result.usage.completion_tokens

    def add_report(self, report: dict[str, Any]) -> None:
        """Add the totals of another meter's ``report()`` (a shard's, say) to this one's."""
        for name, row in report["stages"].items():
            mine = self._stages[name]
            for field in _FIELDS:
                mine[field] += row[field]

    def cost(self, row: dict[str, int]) -> float | None:
        if self.prices is None:
            return None
        return (row["prompt_tokens"] * self.prices.prompt + row["completion_tokens"] * self.prices.completion) / 1e6

    def report(self) -> dict[str, Any]:
        """A JSON-ready summary: per stage, the total, and the prices used."""
        total = dict.fromkeys(_FIELDS, 0)
        stages = {}
        for name, row in sorted(self._stages.items()):
            stages[name] = {**row, "cost": self.cost(row)}
            for field in _FIELDS:
                total[field] += row[field]
        return {
            "stages": stages,
            "total": {**total, "cost": self.cost(total)},
            "prices_per_mtok": self.prices.model_dump() if self.prices else None,
        }
