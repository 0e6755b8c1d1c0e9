"""Every system's answers scored, one row per (system, item), and the summaries with bootstrap 95 % CIs.

Columns of the table (``data/evaluate/answers.parquet``): key, system, split, motion, category, label,
question, answer, references (JSON list), facts (the motion's fact sheet, as the qa stage writes it); the
reference metrics (tasks/evaluate/captions.py: bleu1..bleu4, meteor, rouge_l, cider, similarity); the fact
checks (claims, checkable, false, unsupported, fact_accuracy, activity, activity_right); the judge's scores
(judge_score5, judge_correctness, judge_hallucination, judge_same_facts; NaN where not judged, unparsable or
failed).  A summary is the mean over the items where a value exists, a percentile CI from resampling those
items, and n.
"""
from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd

from tasks.evaluate.answer import Item
from tasks.evaluate.captions import reference_scores
from tasks.evaluate.facts import score_answer
from tasks.evaluate.judge import Verdict
from tasks.pretrain.metrics import bootstrap_ci
from tasks.qa.config import QAConfig
from tasks.qa.facts import fact_lines, fact_sheet

FACT_COLUMNS = ("fact_accuracy", "unsupported", "activity_right")
JUDGE_COLUMNS = {"score5": {"score": "judge_score5"},
                 "correct_halluc": {"correctness": "judge_correctness", "hallucination": "judge_hallucination"},
                 "same_facts": {"same_facts": "judge_same_facts"}}
HEADLINE = ("bleu4", "meteor", "rouge_l", "cider", "similarity", "fact_accuracy", "activity_right",
            "judge_score5", "judge_correctness", "judge_hallucination", "judge_same_facts")


def score_table(items: list[Item], answers: dict[str, list[str | None]], facts: dict[str, dict[str, Any]],
                qa_cfg: QAConfig) -> pd.DataFrame:
    """One row per system and item it answered, with the reference metrics and the fact checks."""
    frames = []
    for system, said in answers.items():
        picked = [(i, a) for i, a in zip(items, said) if a is not None]
        if not picked:
            continue
        refs = reference_scores([a for _, a in picked], [list(i.references) for i, _ in picked])
        rows = []
        for k, (item, answer) in enumerate(picked):
            fact = score_answer(answer, facts[item.motion], qa_cfg.sheet) if item.motion in facts else None
            rows.append({"key": item.key, "system": system, "split": item.split, "motion": item.motion,
                         "category": item.category, "label": item.label, "question": item.question,
                         "answer": answer, "references": json.dumps(list(item.references)),
                         "facts": fact_sheet(fact_lines(facts[item.motion], sheet=qa_cfg.sheet))
                         if item.motion in facts else "",
                         **{m: float(v[k]) for m, v in refs.per_item.items()},
                         "claims": fact.claims if fact else 0, "checkable": fact.checkable if fact else 0,
                         "false": fact.false if fact else 0,
                         "unsupported": float(fact.unsupported > 0) if fact else math.nan,
                         "fact_accuracy": fact.accurate if fact else math.nan,
                         "activity": fact.activity if fact else None,
                         "activity_right": fact.activity_right if fact else math.nan})
        frames.append(pd.DataFrame(rows))
        skipped = refs.skipped
    table = pd.concat(frames, ignore_index=True)
    table.attrs["skipped"] = skipped
    for columns in JUDGE_COLUMNS.values():
        for column in columns.values():
            table[column] = math.nan
    return table


def add_verdicts(table: pd.DataFrame, verdicts: list[Verdict]) -> None:
    """The judge's scores into ``table`` (rows keyed "<system>/<item key>", verdicts of the plain variant)."""
    where = {f"{s}/{k}": i for i, (s, k) in enumerate(zip(table["system"], table["key"]))}
    for v in verdicts:
        if v.status == "ok" and v.variant == "plain" and v.key in where:
            for name, column in JUDGE_COLUMNS[v.rubric].items():
                table.loc[table.index[where[v.key]], column] = float(v.scores[name])


def estimate(values: np.ndarray, n_boot: int, seed: int) -> dict[str, Any] | None:
    """Mean of the finite values with a bootstrap 95 % CI and n; None when there is none."""
    values = np.asarray(values, np.float64)
    values = values[np.isfinite(values)]
    if not len(values):
        return None
    lo, hi = bootstrap_ci(values, n_boot, seed)
    return {"value": float(values.mean()), "ci95": [lo, hi], "n": int(len(values))}


def summarize(table: pd.DataFrame, columns: tuple[str, ...], n_boot: int, seed: int) -> dict[str, Any]:
    """Per system: ``overall`` and ``per_category`` estimates of each column present."""
    out: dict[str, Any] = {}
    present = [c for c in columns if c in table]
    for system, rows in table.groupby("system", sort=False):
        entry = {"items": int(len(rows)), "overall": {c: estimate(rows[c].to_numpy(), n_boot, seed) for c in present},
                 "per_category": {}}
        for category, part in rows.groupby("category"):
            entry["per_category"][category] = {c: estimate(part[c].to_numpy(), n_boot, seed) for c in present}
        out[system] = entry
    return out


def paired_gaps(table: pd.DataFrame, columns: tuple[str, ...], baseline: str, n_boot: int,
                seed: int) -> dict[str, Any]:
    """tuned minus ``baseline`` on the items both answered: mean difference with a bootstrap CI (paired)."""
    present = [c for c in columns if c in table]
    a = table[table["system"] == "tuned"].set_index("key")
    b = table[table["system"] == baseline].set_index("key")
    both = a.index.intersection(b.index)
    return {c: estimate((a.loc[both, c] - b.loc[both, c]).to_numpy(), n_boot, seed) for c in present}

