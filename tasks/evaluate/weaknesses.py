"""``data/evaluate/weaknesses.json``: where the tuned model is weakest, per QA category and per activity class,
in a machine-readable form (the input of the flywheel loop that steers the next round's data).

Schema (version 1):
  {"version": 1, "system": "tuned", "splits": [...],
   "primary": "fact_accuracy", "secondary": "similarity",
   "per_category": [{"category", "n", "scores": {metric: {"value", "ci95", "n"} | null}, "rank"}, ...],
   "per_class":    [{"label", "n", "scores": {...}, "rank"}, ...]}
``rank`` 1 is the weakest: groups are ordered by the primary score's mean (ascending; a group without one
comes last), ties by the secondary's.  The scores are the tuned model's over the evaluated items of that group
(every metric of ``metrics/evaluate.json`` the group has).
"""
from __future__ import annotations

import math
from typing import Any

import pandas as pd

from tasks.evaluate.scores import HEADLINE, estimate

PRIMARY, SECONDARY = "fact_accuracy", "similarity"


def _groups(rows: pd.DataFrame, by: str, n_boot: int, seed: int) -> list[dict[str, Any]]:
    out = []
    for name, part in rows.groupby(by):
        scores = {c: estimate(part[c].to_numpy(), n_boot, seed) for c in HEADLINE if c in part}
        out.append({by: str(name), "n": int(len(part)), "scores": scores})

    def order(group: dict[str, Any]) -> tuple[float, float]:
        def value(metric: str) -> float:
            entry = group["scores"].get(metric)
            return entry["value"] if entry else math.inf
        return value(PRIMARY), value(SECONDARY)

    out.sort(key=order)
    for rank, group in enumerate(out, 1):
        group["rank"] = rank
    return out


def weaknesses(table: pd.DataFrame, splits: list[str], n_boot: int, seed: int) -> dict[str, Any]:
    tuned = table[table["system"] == "tuned"]
    labelled = tuned[tuned["label"].notna()]
    return {"version": 1, "system": "tuned", "splits": splits, "primary": PRIMARY, "secondary": SECONDARY,
            "per_category": [{"category": g.pop("category"), **g} for g in _groups(tuned, "category", n_boot, seed)],
            "per_class": [{"label": g.pop("label"), **g} for g in _groups(labelled, "label", n_boot, seed)]}
