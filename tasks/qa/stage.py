"""The `qa` DVC stage: grounded synthetic question-answer pairs about every motion.

Per motion: facts computed from its joints, manifest facts and simulated signals (tasks/qa/facts.py);
a few question categories drawn by weight; per category one LLM request that sees only that category's
fact lines and writes {"question", "answer"}; replies that do not parse, fail the form checks or contradict
a fact are rejected with the reason (tasks/qa/checks.py); near-duplicate questions of a motion are dropped.

Output (`data/qa/`, written atomically):
  qa.parquet       accepted pairs: motion_id, split, category, question, answer, source, prompt_version, facts
                   (JSON of the fact lines the pair was grounded on)
  rejects.parquet  motion_id, category, reason, raw (the reply, or nothing for an LLM/infrastructure error)
  facts.parquet    motion_id, split, label, facts (JSON of all structured facts): what the checks used
  sample.md        a few pairs per category and one reject per reason, for people to read
Metrics: `metrics/qa.json`.  The LLM response cache (``llm.cache``) lives outside the outputs, so a re-run
or an interrupted run costs only the requests not answered yet.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm import tqdm

from tasks.common.io import atomic_dir, write_atomic, write_json
from tasks.common.params import ParamsError, load_params
from tasks.llm import ChatRequest, LLMClient, LLMConfigError, StructuredResult, make_client
from tasks.motion.dataset import load_joints, load_manifest
from tasks.motion.item import MotionError
from tasks.qa.checks import CheckConfig, check_pair
from tasks.qa.config import QAConfig, item_seed, sample_categories
from tasks.qa.dedup import duplicates, embed, load_embedder
from tasks.qa.facts import fact_lines, fact_sheet, ground_facts
from tasks.qa.prompts import PromptError, Prompts, QAPair, salvage
from tasks.qa.report import summarise, write_sample
from tasks.qa.trends import TrendConfig
from tasks.simulate.signals import SignalsError, load_signals

REQUESTS_PER_CHUNK = 32  # requests sent together: enough to fill batches, small enough for a lively progress bar


@dataclass
class Item:
    """One requested pair: which motion, which category, and what the model was shown."""

    motion_id: str
    split: str
    category: str
    lines: dict[str, str]
    request: ChatRequest


@dataclass
class Outcome:
    pairs: list[dict[str, Any]] = field(default_factory=list)
    rejects: list[dict[str, Any]] = field(default_factory=list)
    salvaged: int = 0  # replies whose JSON was broken but whose question and answer were intact

    def reject(self, motion_id: str, category: str, reason: str, raw: str = "") -> None:
        self.rejects.append({"motion_id": motion_id, "category": category, "reason": reason, "raw": raw})


def motion_rows(motion_dir: Path, cfg: QAConfig) -> list[dict[str, Any]]:
    manifest = load_manifest(motion_dir)
    manifest = manifest[manifest["split"].isin(cfg.splits)].sort_values("id", kind="stable")
    rows = manifest.to_dict("records")
    return rows[: cfg.limit] if cfg.limit else rows


def gather_facts(rows: list[dict[str, Any]], motion_dir: Path, signals_dir: Path, trend: TrendConfig,
                 outcome: Outcome) -> dict[str, dict[str, Any]]:
    """Facts per motion id; a motion without readable joints or signals is rejected (category '')."""
    index_path = signals_dir / "index.parquet"
    if not index_path.is_file():
        raise FileNotFoundError(f"{index_path}: no signals data set here (run `dvc repro simulate` first)")
    paths = dict(pd.read_parquet(index_path, columns=["id", "path"]).itertuples(index=False))
    facts = {}
    for row in rows:
        mid = row["id"]
        if mid not in paths:
            outcome.reject(mid, "", f"no signals: {mid} is not in {index_path}")
            continue
        try:
            joints = load_joints(motion_dir, row["joints_path"])
            facts[mid] = ground_facts(row, joints, load_signals(signals_dir / paths[mid]), trend)
        except (SignalsError, MotionError, OSError, ValueError) as exc:
            outcome.reject(mid, "", f"facts: {mid}: {' '.join(str(exc).split())}")
    return facts


def build_items(rows: list[dict[str, Any]], facts: dict[str, dict[str, Any]], prompts: Prompts,
                cfg: QAConfig) -> list[Item]:
    items = []
    for row in rows:
        mid = row["id"]
        if mid not in facts:
            continue
        drawn = sample_categories(mid, cfg.categories, cfg.questions_per_motion, cfg.seed)
        for category in sorted(drawn, key=prompts.categories.index):  # asked in prompt-file order
            lines = fact_lines(facts[mid], prompts.fact_names(category))
            request = ChatRequest(prompts.messages(category, lines), key=f"{mid}/{category}",
                                  max_tokens=cfg.max_tokens, temperature=cfg.temperature,
                                  seed=item_seed(cfg.seed, mid, category) % 2**31)
            items.append(Item(mid, row["split"], category, lines, request))
    return items


def generate(client: LLMClient, items: list[Item], cfg: QAConfig) -> list[StructuredResult]:
    """Structured replies for ``items``, sent in chunks of whole motions under a progress bar over motions."""
    results: list[StructuredResult] = []
    with tqdm(total=len({it.motion_id for it in items}), desc="qa", unit="motion", file=sys.stderr) as bar:
        start = 0
        while start < len(items):
            end = min(start + REQUESTS_PER_CHUNK, len(items))
            while end < len(items) and items[end].motion_id == items[end - 1].motion_id:
                end += 1  # a chunk ends with a whole motion, so the bar counts motions
            part = items[start:end]
            results += client.generate_structured([it.request for it in part], QAPair, cfg.max_attempts, stage="qa")
            bar.update(len({it.motion_id for it in part}))
            start = end
    return results


def judge(items: list[Item], results: list[StructuredResult], facts: dict[str, dict[str, Any]], prompts: Prompts,
          cfg: QAConfig, source: str, outcome: Outcome) -> None:
    """Sort every reply into an accepted pair or a reject with its reason."""
    check_cfg = CheckConfig(cfg.min_question_words, cfg.min_answer_words)
    for item, result in zip(items, results):
        if result.error is not None:
            outcome.reject(item.motion_id, item.category, f"llm error: {' '.join(result.error.split())}")
            continue
        value = result.value if result.ok else salvage(result.raw)
        if value is None:
            outcome.reject(item.motion_id, item.category, f"unparsable: {result.reason}", result.raw)
            continue
        outcome.salvaged += not result.ok
        question, answer = value.question.strip(), value.answer.strip()
        reason = check_pair(question, answer, facts[item.motion_id], prompts.example(item.category), check_cfg,
                            shown=fact_sheet(item.lines))
        if reason:
            outcome.reject(item.motion_id, item.category, reason, result.raw)
            continue
        outcome.pairs.append({
            "motion_id": item.motion_id, "split": item.split, "category": item.category,
            "question": question, "answer": answer, "source": source, "prompt_version": prompts.version,
            "facts": json.dumps(item.lines, ensure_ascii=False),
        })


def drop_duplicates(outcome: Outcome, threshold: float) -> None:
    """Remove exact and near-duplicate questions within each motion (the first asked is kept)."""
    by_motion: dict[str, list[int]] = defaultdict(list)
    for i, pair in enumerate(outcome.pairs):
        by_motion[pair["motion_id"]].append(i)
    groups = [g for g in by_motion.values() if len(g) > 1]
    if not groups:
        return
    embedder = load_embedder()
    dropped = set()
    for group in groups:
        texts = [outcome.pairs[i]["question"] for i in group]
        for i, dup in zip(group, duplicates(texts, embed(texts, embedder), threshold)):
            if dup is None:
                continue
            pair, kept = outcome.pairs[i], outcome.pairs[group[dup[0]]]
            raw = json.dumps({"question": pair["question"], "answer": pair["answer"]}, ensure_ascii=False)
            outcome.reject(pair["motion_id"], pair["category"],
                           f"duplicate: cosine {dup[1]:.2f} with the {kept['category']} question", raw)
            dropped.add(i)
    outcome.pairs = [p for i, p in enumerate(outcome.pairs) if i not in dropped]


QA_COLUMNS = ["motion_id", "split", "category", "question", "answer", "source", "prompt_version", "facts"]
REJECT_COLUMNS = ["motion_id", "category", "reason", "raw"]


def write_outputs(out: Path, outcome: Outcome, facts: dict[str, dict[str, Any]], rows: list[dict[str, Any]],
                  summary: dict[str, Any], samples: int) -> None:
    splits = {r["id"]: r["split"] for r in rows}
    with atomic_dir(out) as tmp:
        pd.DataFrame(outcome.pairs, columns=QA_COLUMNS).to_parquet(tmp / "qa.parquet", index=False)
        pd.DataFrame(outcome.rejects, columns=REJECT_COLUMNS).to_parquet(tmp / "rejects.parquet", index=False)
        pd.DataFrame(
            [{"motion_id": mid, "split": splits[mid], "label": f["label"], "facts": json.dumps(f, ensure_ascii=False)}
             for mid, f in facts.items()],
            columns=["motion_id", "split", "label", "facts"],
        ).to_parquet(tmp / "facts.parquet", index=False)
        write_atomic(tmp / "sample.md", write_sample(outcome.pairs, outcome.rejects, facts, summary, samples))


def run(args: argparse.Namespace) -> int:
    params = load_params(args.params)
    if "qa" not in params or "llm" not in params:
        raise ParamsError(f"{args.params}: needs both a 'qa' and an 'llm' section")
    cfg = QAConfig.from_params(params["qa"])
    prompts = Prompts.load(cfg.prompts)
    unknown = [c for c in cfg.categories if c not in prompts.categories]
    if unknown:
        raise ParamsError(f"qa.categories: {unknown} not in {cfg.prompts} (it has {prompts.categories})")
    started = time.perf_counter()
    rows = motion_rows(args.motion, cfg)
    outcome = Outcome()
    trend = TrendConfig(segments=cfg.trends.segments, smooth_s=cfg.trends.smooth_s)
    facts = gather_facts(rows, args.motion, args.signals, trend, outcome)
    items = build_items(rows, facts, prompts, cfg)
    if not items:
        print(f"qa: no motion to ask about ({len(rows)} in the data set, {len(outcome.rejects)} without facts)",
              file=sys.stderr)
        return 1
    with make_client(params["llm"]) as client:
        source = f"llm:{client.backend.name}:{client.backend.model}"
        results = generate(client, items, cfg)
        usage = client.usage.report()
    if all(r.error is not None for r in results):
        print(f"qa: every one of {len(results)} LLM requests failed ({results[0].error}); nothing written",
              file=sys.stderr)
        return 1
    judge(items, results, facts, prompts, cfg, source, outcome)
    drop_duplicates(outcome, cfg.dedup_threshold)
    summary = summarise([it.category for it in items], [r.attempts for r in results], outcome.pairs,
                        outcome.rejects, outcome.salvaged, len(facts), time.perf_counter() - started,
                        {"source": source, "prompt_version": prompts.version, "usage": usage})
    write_outputs(args.out, outcome, facts, rows, summary, cfg.samples_per_category)
    write_json(args.metrics / "qa.json", summary)
    print(f"qa: {summary['accepted']} pairs from {summary['motions']} motions, {summary['rejected']} rejected "
          f"(rate {summary['rejection_rate']}), {summary['llm_errors']} LLM errors, "
          f"{summary['seconds']:.0f} s -> {args.out}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tasks.qa", description=__doc__.splitlines()[0])
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--motion", type=Path, default=Path("data/motion"), help="the motion data set folder")
    ap.add_argument("--signals", type=Path, default=Path("data/signals"), help="the signals data set folder")
    ap.add_argument("--out", type=Path, default=Path("data/qa"))
    ap.add_argument("--metrics", type=Path, default=Path("metrics"))
    args = ap.parse_args(argv)
    try:
        return run(args)
    except (ParamsError, PromptError, LLMConfigError, FileNotFoundError) as exc:
        print(f"qa: {exc}", file=sys.stderr)
        return 1
