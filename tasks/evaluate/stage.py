"""`python -m tasks.evaluate`: does the tuned model use the signal?  Every system on every test item.

Reads ``params.yaml`` (sections ``evaluate``, ``qa`` for the fact thresholds, ``llm`` for the judge), the tuned
model (models/tune), the encoder (models/encoder, for the zero-shot system), data/embeddings, data/motion,
data/signals (facts) and data/qa.  Writes:
  metrics/evaluate.json             per system (tuned, text_only, shuffled, zero_shot): overall and per category,
                                    the reference metrics, fact accuracy, activity accuracy, the judge's scores,
                                    each with a bootstrap 95 % CI; the paired gaps tuned - text_only and tuned -
                                    shuffled; the encoder's zero-shot HAR; the judge's model, status counts,
                                    calibration (agreement and Cohen's kappa with the fact checker) and stability
  metrics/evaluate_categories.csv   per category and system the similarity and fact accuracy (a DVC plot)
  metrics/evaluate_confusion.csv    label vs the activity the tuned model's answer names (a DVC plot)
  metrics/evaluate_report.html      one offline page: the tables, plots, calibration and example answers
  data/evaluate/answers.parquet     every answer of every system with its scores (tasks/evaluate/scores.py)
  data/evaluate/weaknesses.json     the tuned model's weakest categories and classes (tasks/evaluate/weaknesses.py)
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import f1_score

from tasks.common.config import load_section
from tasks.common.io import atomic_dir, write_atomic, write_json
from tasks.common.params import load_params
from tasks.common.seeds import item_seed
from tasks.common.stage import StageError, run_stage
from tasks.evaluate.answer import ACTIVITY, Item, answer_systems, build_items, zero_shot_answer, zero_shot_labels
from tasks.evaluate.config import EvaluateConfig
from tasks.evaluate.facts import motion_facts
from tasks.evaluate.judge import JudgeItem, cohen_kappa, flip_rate, judge, judge_identity, same_family
from tasks.evaluate.report import render
from tasks.evaluate.scores import HEADLINE, add_verdicts, estimate, paired_gaps, score_table, summarize
from tasks.evaluate.weaknesses import weaknesses
from tasks.llm.client import make_client
from tasks.qa.config import QAConfig
from tasks.tune.data import load_bank, load_samples
from tasks.tune.export import load_tuned


def judge_items(table: pd.DataFrame, cfg: EvaluateConfig) -> list[JudgeItem]:
    """The judged (system, item) pairs: each judged system's answers, a seeded draw of ``judge.limit`` items."""
    keys = sorted(set(table["key"]))
    if cfg.judge.limit is not None and len(keys) > cfg.judge.limit:
        rng = np.random.default_rng(item_seed(cfg.seed, "judge"))
        keys = sorted(rng.choice(keys, cfg.judge.limit, replace=False).tolist())
    wanted = set(keys)
    rows = table[table["system"].isin(cfg.judge.systems) & table["key"].isin(wanted)]
    return [JudgeItem(f"{r.system}/{r.key}", r.question, json.loads(r.references)[0], r.answer)
            for r in rows.itertuples()]


def run_judge(table: pd.DataFrame, cfg: EvaluateConfig, params: Path, writer: str) -> dict[str, Any]:
    """Judge the answers (the scores go into ``table``); the judge's identity, counts, calibration, stability."""
    llm = {**(load_params(params, "llm") or {}), **cfg.judge.llm}
    items = judge_items(table, cfg)
    with make_client(llm) as client:
        identity = judge_identity(client)
        verdicts = judge(client, items, cfg.judge.rubrics, variant="plain", max_attempts=cfg.judge.max_attempts,
                         max_tokens=cfg.judge.max_tokens)
        rng = np.random.default_rng(item_seed(cfg.seed, "stability"))
        again = [items[i] for i in sorted(rng.choice(len(items), round(cfg.judge.stability_share * len(items)),
                                                     replace=False))] if items else []
        swapped = judge(client, again, cfg.judge.rubrics, variant="swapped", max_attempts=cfg.judge.max_attempts,
                        max_tokens=cfg.judge.max_tokens) if again else []
    add_verdicts(table, verdicts)
    status: dict[str, dict[str, int]] = {}
    for v in verdicts:
        status.setdefault(v.rubric, {"ok": 0, "unparsable": 0, "failed": 0})[v.status] += 1
    plain = {(v.key, v.rubric): v for v in verdicts}
    return {"identity": identity, "writer": writer, "preference_leakage": same_family(identity["model"], writer),
            "rubrics": list(cfg.judge.rubrics), "systems": list(cfg.judge.systems), "status": status,
            "calibration": calibration(table),
            "stability": flip_rate([plain[(v.key, v.rubric)] for v in swapped if (v.key, v.rubric) in plain],
                                   swapped) if swapped else {}}


def calibration(table: pd.DataFrame) -> dict[str, Any]:
    """The judge's same_facts verdict against the fact checker's, on the answers both scored."""
    both = table[table["judge_same_facts"].notna() & table["fact_accuracy"].notna()]
    if both.empty:
        return {"n": 0, "agreement": None, "kappa": None}
    a, b = both["judge_same_facts"].astype(int).tolist(), both["fact_accuracy"].astype(int).tolist()
    return {"n": len(both), "agreement": round(float(np.mean(np.equal(a, b))), 4),
            "kappa": round(cohen_kappa(a, b), 4)}


def encoder_har(items: list[Item], labels: dict[str, str], n_boot: int, seed: int) -> dict[str, Any] | None:
    """The encoder's zero-shot activity recognition on the evaluated motions: accuracy and macro-F1 with CIs."""
    motions = sorted({i.motion for i in items if i.label})
    if not motions:
        return None
    truth = np.array([next(i.label for i in items if i.motion == m) for m in motions])
    guess = np.array([labels[m] for m in motions])
    rng = np.random.default_rng(seed)
    draws = [rng.integers(0, len(motions), len(motions)) for _ in range(n_boot)]
    f1 = [f1_score(truth[d], guess[d], average="macro", zero_division=0) for d in draws]
    return {"motions": len(motions), "accuracy": estimate((truth == guess).astype(float), n_boot, seed),
            "macro_f1": {"value": float(f1_score(truth, guess, average="macro", zero_division=0)),
                         "ci95": [float(np.percentile(f1, 2.5)), float(np.percentile(f1, 97.5))],
                         "n": len(motions)}}


def run(args: argparse.Namespace) -> int:
    cfg = load_section(EvaluateConfig, args.params, "evaluate")
    qa_cfg = load_section(QAConfig, args.params, "qa")
    start = time.perf_counter()
    if cfg.torch_threads:
        torch.set_num_threads(cfg.torch_threads)
    tuned = load_tuned(args.model)
    bank = load_bank(args.embeddings, tuple(tuned.info["modalities"]), tuned.info["tokens_per_modality"])
    samples = load_samples(bank, args.motion, args.qa, tuned.info["caption_prompt"])
    items = build_items(samples, bank, cfg.splits, tuned.info["caption_prompt"])
    if not items:
        raise StageError(f"no caption or QA pair of a motion in the {', '.join(cfg.splits)} split to evaluate on")
    per_category = pd.Series([i.category for i in items]).value_counts().sort_index().to_dict()
    print(f"evaluate: {len(items)} items {per_category}")
    answers: dict[str, list[str | None]] = dict(answer_systems(tuned, bank, items, cfg.seed, cfg.max_new_tokens,
                                                               cfg.batch_size))
    _, zero_shot = zero_shot_labels(args.encoder, args.embeddings, sorted({i.motion for i in items}))
    labels = dict(zip(sorted({i.motion for i in items}), zero_shot))
    answers["zero_shot"] = [zero_shot_answer(labels[i.motion]) if i.category == ACTIVITY else None for i in items]
    generated = time.perf_counter() - start
    facts = motion_facts({i.motion for i in items}, args.motion, args.signals, qa_cfg)
    table = score_table(items, answers, facts, qa_cfg)
    sources = pd.read_parquet(Path(args.qa) / "qa.parquet", columns=["source"])["source"]
    writer = str(sources.iloc[0]).split(":")[-1] if len(sources) else ""  # "llm:<backend>:<model>"
    judge_report = run_judge(table, cfg, args.params, writer) if cfg.judge.enabled else None
    skipped = dict(table.attrs.get("skipped", {}))
    if not cfg.judge.enabled:
        skipped["judge"] = "evaluate.judge.enabled is false"
    metrics: dict[str, Any] = {
        "splits": list(cfg.splits), "items": {"total": len(items), "per_category": per_category},
        "headline": list(HEADLINE), "skipped": skipped,
        "systems": summarize(table, HEADLINE, cfg.bootstrap, cfg.seed),
        "gaps": {b: paired_gaps(table, HEADLINE, b, cfg.bootstrap, cfg.seed) for b in ("text_only", "shuffled")},
        "encoder_har": encoder_har(items, labels, cfg.bootstrap, cfg.seed), "judge": judge_report,
        "generate_seconds": round(generated, 1)}
    confusion = [{"actual": str(r.label), "predicted": str(r.activity or "none")}
                 for r in table[(table["system"] == "tuned") & table["label"].notna()].itertuples()]
    metrics["seconds"] = round(time.perf_counter() - start, 1)
    write_outputs(args, metrics, table, confusion, cfg)
    print(f"evaluate: {args.metrics}: " + summary(metrics))
    return 0


def write_outputs(args: argparse.Namespace, metrics: dict[str, Any], table: pd.DataFrame,
                  confusion: list[dict[str, str]], cfg: EvaluateConfig) -> None:
    with atomic_dir(args.out) as tmp:
        table.to_parquet(tmp / "answers.parquet", index=False)
        write_json(tmp / "weaknesses.json", weaknesses(table, list(cfg.splits), cfg.bootstrap, cfg.seed))
    lines = ["group,category,system,similarity,fact_accuracy"]
    for system, entry in metrics["systems"].items():
        for category, scores in entry["per_category"].items():
            values = [scores.get(m) for m in ("similarity", "fact_accuracy")]
            lines.append(",".join([f"{category} / {system}", category, system,
                                   *(f"{v['value']:.4f}" if v else "" for v in values)]))
    metrics_dir = Path(args.metrics).parent
    write_atomic(metrics_dir / "evaluate_categories.csv", "\n".join(lines) + "\n")
    write_atomic(metrics_dir / "evaluate_confusion.csv",
                 "actual,predicted\n" + "".join(f"{r['actual']},{r['predicted']}\n" for r in confusion))
    write_atomic(metrics_dir / "evaluate_report.html", render(metrics, table, confusion, cfg.examples_per_category))
    write_json(args.metrics, metrics)


def summary(metrics: dict[str, Any]) -> str:
    bits = []
    for system in ("tuned", "text_only", "shuffled"):
        entry = metrics["systems"].get(system, {}).get("overall", {})
        for name in ("similarity", "fact_accuracy"):
            if entry.get(name):
                bits.append(f"{system} {name} {entry[name]['value']:.3f}")
    return "; ".join(bits + [f"{metrics['seconds']:.0f} s"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tasks.evaluate", description=__doc__.splitlines()[0])
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--model", type=Path, default=Path("models/tune"))
    ap.add_argument("--encoder", type=Path, default=Path("models/encoder"))
    ap.add_argument("--embeddings", type=Path, default=Path("data/embeddings"))
    ap.add_argument("--motion", type=Path, default=Path("data/motion"))
    ap.add_argument("--signals", type=Path, default=Path("data/signals"))
    ap.add_argument("--qa", type=Path, default=Path("data/qa"))
    ap.add_argument("--out", type=Path, default=Path("data/evaluate"))
    ap.add_argument("--metrics", type=Path, default=Path("metrics/evaluate.json"))
    args = ap.parse_args(argv)
    return run_stage("evaluate", lambda: run(args))

