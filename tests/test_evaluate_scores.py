"""The evaluate stage's scoring against known answers: fact accuracy of hand-written answers (the qa stage's
checker), summaries and paired gaps with CIs, the weaknesses ranking, and a report page with no external URL."""
from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest
from test_qa_claims import facts

from tasks.evaluate.facts import score_answer
from tasks.evaluate.report import render
from tasks.evaluate.scores import estimate, paired_gaps, summarize
from tasks.evaluate.weaknesses import weaknesses

FACTS = facts("wave", ["A person waves with the left hand."], hand="left", most_active_limbs=["left_arm"])


@pytest.mark.parametrize("answer, accurate, right", [
    ("The person waves.", 1.0, 1.0),
    ("The person is doing a squat.", 0.0, 0.0),
    ("The person waves with the right hand.", 0.0, 1.0),  # left kept apart from right
    ("Something happens.", math.nan, 0.0),  # nothing checkable, no activity named
])
def test_fact_accuracy_of_hand_written_answers(answer, accurate, right):
    score = score_answer(answer, FACTS)
    assert (math.isnan(score.accurate) and math.isnan(accurate)) or score.accurate == accurate
    assert score.activity_right == right


def table() -> pd.DataFrame:
    rows = []
    for k in range(40):
        category = "caption" if k % 2 else "activity"
        label = "wave" if k % 4 < 2 else "squat"
        rows.append({"key": f"i{k}", "system": "tuned", "category": category, "label": label,
                     "similarity": 0.8, "fact_accuracy": float(label == "wave")})
        rows.append({"key": f"i{k}", "system": "text_only", "category": category, "label": label,
                     "similarity": 0.5, "fact_accuracy": 0.0})
    return pd.DataFrame(rows)


def test_estimates_skip_missing_values_and_cover_the_mean():
    found = estimate(np.array([1.0, 0.0, np.nan, 1.0, 1.0]), 500, 0)
    assert found["value"] == 0.75 and found["n"] == 4 and found["ci95"][0] <= 0.75 <= found["ci95"][1]
    assert estimate(np.array([np.nan]), 500, 0) is None


def test_summaries_and_paired_gaps_are_per_system_and_category():
    t = table()
    s = summarize(t, ("similarity", "fact_accuracy"), 200, 0)
    assert s["tuned"]["overall"]["similarity"]["value"] == pytest.approx(0.8)
    assert s["tuned"]["per_category"]["activity"]["fact_accuracy"]["value"] == pytest.approx(0.5)
    gap = paired_gaps(t, ("similarity", "fact_accuracy"), "text_only", 200, 0)
    assert gap["similarity"]["value"] == pytest.approx(0.3) and gap["similarity"]["ci95"] == pytest.approx([0.3, 0.3])
    assert gap["fact_accuracy"]["value"] == pytest.approx(0.5) and gap["fact_accuracy"]["ci95"][0] > 0.2


def test_weaknesses_rank_the_weakest_class_first():
    w = weaknesses(table(), ["test"], 200, 0)
    assert [g["label"] for g in w["per_class"]] == ["squat", "wave"] and w["per_class"][0]["rank"] == 1
    assert w["per_class"][0]["scores"]["fact_accuracy"]["value"] == 0.0 and w["per_class"][0]["n"] == 20
    assert {g["category"] for g in w["per_category"]} == {"activity", "caption"}


def test_the_report_has_no_external_url():
    t = table().assign(split="test", motion="m", question="q?", answer="a <b>", references='["r"]', activity=None)
    summary = summarize(t, ("similarity", "fact_accuracy"), 200, 0)
    metrics = {"splits": ["test"], "items": {"total": 40, "per_category": {"activity": 20, "caption": 20}},
               "headline": ["similarity", "fact_accuracy"], "skipped": {"spice": "offline"}, "systems": summary,
               "gaps": {"text_only": paired_gaps(t, ("similarity",), "text_only", 200, 0)}, "encoder_har": None,
               "judge": None}
    page = render(metrics, t, [{"actual": "wave", "predicted": "wave"}], 2)
    assert not re.search(r"(?:src|href)\s*=\s*['\"]?(?:https?:)?//", page) and "http" not in page.replace(
        "data:image/png", "")
    assert "a &lt;b&gt;" in page and page.count("<img") >= 2
