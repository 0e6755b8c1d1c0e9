"""Fact accuracy of an answer: the qa stage's claim checker (tasks/qa/claims.py) applied to a model's answer.

Every evaluated motion's facts are computed as the qa stage computes them (tasks/qa/facts.ground_facts, the
``qa`` params' thresholds), for every evaluated motion, not only those the qa stage asked about.  An answer's
claims are read and verified against them: ``true`` / ``false`` claims are the checkable ones; an answer is
fact-accurate when it has at least one checkable claim and none is false (``unsupported`` claims, which the
sheet neither confirms nor contradicts, are counted apart).  An activity answer is right when it names an
activity the motion's label allows and none it does not.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from tasks.common.motions import load_joints, load_manifest
from tasks.common.signals import load_signals
from tasks.qa.claims import FALSE, TRUE, UNSUPPORTED, extract_claims, verify
from tasks.qa.config import QAConfig
from tasks.qa.facts import SheetConfig, ground_facts


@dataclass(frozen=True)
class FactScore:
    claims: int
    checkable: int  # true + false claims
    false: int
    unsupported: int
    activity: str | None  # the main activity the answer names (first), if any
    activity_right: float  # 1 / 0; nan when the answer names no activity and the motion has no label

    @property
    def accurate(self) -> float:
        """1 when every checkable claim is true, 0 when one is false, nan when nothing is checkable."""
        return math.nan if not self.checkable else float(self.false == 0)


def motion_facts(motions: set[str], motion_dir: Path, signals_dir: Path, cfg: QAConfig) -> dict[str, dict[str, Any]]:
    """The facts of each motion in ``motions`` (motion id -> ground_facts' dict)."""
    manifest = load_manifest(motion_dir)
    paths = dict(pd.read_parquet(signals_dir / "index.parquet", columns=["id", "path"]).itertuples(index=False))
    out = {}
    for row in manifest[manifest["id"].isin(motions)].to_dict("records"):
        joints = load_joints(motion_dir, row["joints_path"])
        out[row["id"]] = ground_facts(row, joints, load_signals(signals_dir / paths[row["id"]]), cfg.trends,
                                      cfg.radar, cfg.kinematics, cfg.imu)
    return out


def score_answer(answer: str, facts: dict[str, Any], sheet: SheetConfig = SheetConfig()) -> FactScore:
    verdicts = verify(extract_claims(answer, "answer"), facts, sheet=sheet)
    count = {v: sum(x.verdict == v for x in verdicts) for v in (TRUE, FALSE, UNSUPPORTED)}
    acts = [x for x in verdicts if x.claim.kind == "activity"]
    main = next((x for x in acts if x.claim.what == "main"), acts[0] if acts else None)
    right = math.nan
    if acts:
        right = float(all(x.verdict == TRUE for x in acts))
    elif facts.get("label"):
        right = 0.0  # an activity question answered without naming an activity
    return FactScore(len(verdicts), count[TRUE] + count[FALSE], count[FALSE], count[UNSUPPORTED],
                     main.claim.name if main else None, right)
