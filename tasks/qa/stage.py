"""The `qa` DVC stage: grounded synthetic question-answer pairs about every motion.

Per motion: facts computed from its joints, manifest facts and simulated signals (tasks/qa/facts.py);
a few question categories drawn by weight; per category one LLM request that sees only that category's
fact lines and writes {"question", "answer"}; replies that do not parse, fail the form checks, or make a
claim the facts contradict or do not support are rejected with the claim and the fact (tasks/qa/checks.py,
tasks/qa/claims.py); with ``qa.repair_attempts`` a rejected reply is asked once more, told that claim and
fact (its own cache key: the prompt differs); near-duplicate questions of a motion are dropped.

Output (`data/qa/`, written atomically):
  qa.parquet       accepted pairs: motion_id, split, category, question, answer, source, prompt_version, facts
                   (JSON of the fact lines the pair was grounded on)
  rejects.parquet  motion_id, category, reason, raw (the reply, or nothing for an LLM/infrastructure error),
                   repair (the re-ask's outcome: "" not asked, "accepted" (the pair is in qa.parquet),
                   "rejected: <reason>" or "llm error: ..."); reason and raw are the first reply's
  facts.parquet    motion_id, split, label (null where the source has none), facts (JSON of all structured
                   facts): what the checks used
  sample.md        a few pairs per category and one reject per reason, for people to read
Metrics: `metrics/qa.json`.  The LLM response cache (``llm.cache``) lives outside the outputs, so a re-run
or an interrupted run costs only the requests not answered yet.  When more than ``qa.max_error_rate`` of
the requests failed (LLM/infrastructure errors, not bad replies), the stage still writes its outputs, then
fails, so that DVC reruns it (cheaply, from the cache) on the next ``dvc repro``.

A category with no fact line to show for a motion (no label or captions for "intention", say) is not drawn
for it: a question the facts cannot ground would only teach the model to guess.

The work shards: motions go to the LLM in fixed chunks (``chunk_rows``); ``--shard i/n`` asks about chunks
i::n and saves that part into a folder, ``--merge DIR...`` joins such parts into the outputs. A plain run is
one part joined the same way, so sharded and plain runs write the same files (only the timing metrics differ:
``seconds`` is the compute time summed over shards).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from tasks.common.config import validate_section
from tasks.common.io import atomic_dir, write_atomic, write_json
from tasks.common.motions import MotionError, load_joints, load_manifest
from tasks.common.params import ParamsError, load_params
from tasks.common.seeds import item_seed
from tasks.common.shards import add_shard_arguments
from tasks.common.signals import SignalsError, load_signals
from tasks.common.stage import StageError, run_stage
from tasks.llm import ChatRequest, LLMClient, LLMConfig, StructuredResult, make_client
from tasks.llm.config import Prices
from tasks.llm.usage import UsageMeter
from tasks.qa.checks import CheckConfig, check_qa
from tasks.qa.claims import Check
from tasks.qa.config import QAConfig, sample_categories
from tasks.qa.dedup import duplicates, embed, load_embedder
from tasks.qa.facts import fact_lines, fact_sheet, ground_facts
from tasks.qa.prompts import Prompts, QAPair, salvage
from tasks.qa.report import summarise, write_sample

LLM_ERROR = "llm error: "  # the reason prefix of an LLM/infrastructure failure
# The user turn of a re-ask (qa.repair_attempts): the failed claim and its fact.  Part of the request, so
# of its cache key: new wording is asked afresh.
REPAIR_NOTE = {
    "false": 'Your answer says "{said}", but the facts say: {fact}. Write the question and answer again, '
             'true to the facts. Reply with only the JSON.',
    "unsupported": 'Your answer says "{said}", which the facts do not say. Write the question and answer again '
                   'using only the facts. Reply with only the JSON.',
}


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
    repair: dict[str, float] = field(default_factory=lambda: {"asked": 0, "accepted": 0, "seconds": 0.0})

    def reject(self, motion_id: str, category: str, reason: str, raw: str = "") -> dict[str, Any]:
        row = {"motion_id": motion_id, "category": category, "reason": reason, "raw": raw, "repair": ""}
        self.rejects.append(row)
        return row


def motion_rows(motion_dir: Path, cfg: QAConfig) -> list[dict[str, Any]]:
    manifest = load_manifest(motion_dir)
    manifest = manifest[manifest["split"].isin(cfg.splits)].sort_values("id", kind="stable")
    rows = manifest.to_dict("records")
    if cfg.limit is None or cfg.limit >= len(rows):
        return rows
    # a seeded draw by each id's own hash: representative of the data set, and a motion's membership does
    # not depend on the order of the others (the rows stay sorted by id)
    drawn = set(sorted((item_seed(cfg.seed, "qa subset", r["id"]), r["id"]) for r in rows)[: cfg.limit])
    return [r for r in rows if (item_seed(cfg.seed, "qa subset", r["id"]), r["id"]) in drawn]


def chunk_rows(rows: list[dict[str, Any]], llm: LLMConfig) -> list[list[dict[str, Any]]]:
    """The motions in the chunks they are asked in: max(batch_size, max_concurrency) motions each.

    A chunk's requests go to the LLM together, so with ``questions_per_motion`` per motion the embedded
    model fills whole batches and a server gets enough requests in flight. Chunks are fixed by the motion
    list alone and shards take whole chunks, so every batch, and with it every reply, is the same in a
    sharded run as in a plain one.
    """
    size = max(llm.batch_size, llm.max_concurrency)
    return [rows[i : i + size] for i in range(0, len(rows), size)]


def gather_facts(rows: list[dict[str, Any]], motion_dir: Path, signals_dir: Path, cfg: QAConfig,
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
            facts[mid] = ground_facts(row, joints, load_signals(signals_dir / paths[mid]), cfg.trends, cfg.radar,
                                      cfg.kinematics, cfg.imu)
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
        shown = {c: fact_lines(facts[mid], prompts.fact_names(c), cfg.sheet) for c in cfg.categories}
        weights = {c: w for c, w in cfg.categories.items() if shown[c]}  # a category with nothing to show: never
        drawn = sample_categories(mid, weights, cfg.questions_per_motion, cfg.seed)
        for category in sorted(drawn, key=prompts.categories.index):  # asked in prompt-file order
            lines = shown[category]
            request = ChatRequest(prompts.messages(category, lines), key=f"{mid}/{category}",
                                  max_tokens=cfg.max_tokens, temperature=cfg.temperature,
                                  seed=item_seed(cfg.seed, mid, category) % 2**31)
            items.append(Item(mid, row["split"], category, lines, request))
    return items


def judge_reply(item: Item, result: StructuredResult, facts: dict[str, Any], prompts: Prompts, cfg: QAConfig
                ) -> tuple[QAPair | None, str | None, Check | None]:
    """(pair, reason, check) of one reply: the pair when it passes, else why not (and the claim check, when
    the reply had a pair whose claims were read)."""
    if result.error is not None:
        return None, LLM_ERROR + " ".join(result.error.split()), None
    value = result.value if result.ok else salvage(result.raw)
    if value is None:
        return None, f"unparsable: {result.reason}", None
    pair = QAPair(question=value.question.strip(), answer=value.answer.strip())
    checked = check_qa(pair.question, pair.answer, facts, prompts.example(item.category),
                       CheckConfig(cfg.min_question_words, cfg.min_answer_words), fact_sheet(item.lines), cfg.sheet)
    return (pair, None, checked) if checked.reason is None else (None, checked.reason, checked)


def accept(item: Item, pair: QAPair, source: str, prompts: Prompts, outcome: Outcome) -> None:
    outcome.pairs.append({
        "motion_id": item.motion_id, "split": item.split, "category": item.category,
        "question": pair.question, "answer": pair.answer, "source": source, "prompt_version": prompts.version,
        "facts": json.dumps(item.lines, ensure_ascii=False),
    })


def judge(items: list[Item], results: list[StructuredResult], facts: dict[str, dict[str, Any]], prompts: Prompts,
          cfg: QAConfig, source: str, outcome: Outcome) -> list[tuple[Item, StructuredResult, dict[str, Any], Check]]:
    """Sort every reply into an accepted pair or a reject with its reason; return the rejects a re-ask may
    repair (a parsed pair with a failed claim: form failures and broken replies are not worth one)."""
    repairable = []
    for item, result in zip(items, results):
        outcome.salvaged += result.error is None and not result.ok and salvage(result.raw) is not None
        pair, reason, checked = judge_reply(item, result, facts[item.motion_id], prompts, cfg)
        if pair is not None:
            accept(item, pair, source, prompts, outcome)
            continue
        row = outcome.reject(item.motion_id, item.category, reason, result.raw)
        if checked is not None and checked.form is None:
            repairable.append((item, result, row, checked))
    return repairable


def repair_request(item: Item, result: StructuredResult, checked: Check) -> ChatRequest:
    """The first request, the rejected reply, and a user turn naming its first failed claim and the fact."""
    failed = sorted(checked.failed, key=lambda v: v.verdict != "false")[0]
    note = REPAIR_NOTE[failed.verdict].format(said=failed.claim.said, fact=failed.fact)
    return replace(item.request, key=f"{item.request.key}/repair",
                   messages=[*item.request.messages, {"role": "assistant", "content": result.raw},
                             {"role": "user", "content": note}])


def repair(client: LLMClient, repairable: list[tuple[Item, StructuredResult, dict[str, Any], Check]],
           facts: dict[str, dict[str, Any]], prompts: Prompts, cfg: QAConfig, source: str, outcome: Outcome) -> None:
    """Ask each repairable reject once more; an accepted answer becomes a pair, its reject row says so."""
    if not repairable:
        return
    started = time.perf_counter()
    requests = [repair_request(item, result, checked) for item, result, _, checked in repairable]
    results = client.generate_structured(requests, QAPair, 1, stage="qa_repair",
                                         usable=lambda raw: salvage(raw) is not None)
    for (item, _, row, _), result in zip(repairable, results):
        pair, reason, _ = judge_reply(item, result, facts[item.motion_id], prompts, cfg)
        if pair is not None:
            accept(item, pair, source, prompts, outcome)
        row["repair"] = "accepted" if pair is not None else reason if reason.startswith(LLM_ERROR) else (
            f"rejected: {reason}")
    outcome.repair["asked"] += len(repairable)
    outcome.repair["accepted"] += sum(row["repair"] == "accepted" for _, _, row, _ in repairable)
    outcome.repair["seconds"] += time.perf_counter() - started


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


def _strings(*names: str) -> list[tuple[str, pa.DataType]]:
    return [(name, pa.string()) for name in names]


# Explicit schemas: the files are the same byte for byte however the rows were split into shards.
QA_SCHEMA = pa.schema(_strings("motion_id", "split", "category", "question", "answer", "source", "prompt_version",
                               "facts"))
REJECT_SCHEMA = pa.schema(_strings("motion_id", "category", "reason", "raw", "repair"))
FACTS_SCHEMA = pa.schema(_strings("motion_id", "split", "label", "facts"))
ASKED_SCHEMA = pa.schema([*_strings("motion_id", "category"), ("attempts", pa.int64())])
QA_COLUMNS = QA_SCHEMA.names
REJECT_COLUMNS = REJECT_SCHEMA.names
PART_TABLES = {"qa": QA_SCHEMA, "rejects": REJECT_SCHEMA, "facts": FACTS_SCHEMA, "asked": ASKED_SCHEMA}


@dataclass
class Part:
    """What asking about some motions produced: what a shard saves and the merge puts together.

    Tables (lists of rows): ``qa`` accepted pairs, ``rejects``, ``facts`` (one row per motion with facts),
    ``asked`` (one row per request: motion_id, category, attempts). ``about``: source, prompt_version,
    salvaged, usage (a UsageMeter report) and seconds.
    """

    tables: dict[str, list[dict[str, Any]]]
    about: dict[str, Any]

    def save(self, folder: Path) -> None:
        for name, schema in PART_TABLES.items():
            pq.write_table(pa.Table.from_pylist(self.tables[name], schema=schema), folder / f"{name}.parquet")
        write_json(folder / "part.json", self.about)

    @classmethod
    def load(cls, folder: Path) -> Part:
        missing = [f"{n}.parquet" for n in PART_TABLES if not (folder / f"{n}.parquet").is_file()]
        if missing or not (folder / "part.json").is_file():
            raise StageError(f"{folder}: not a qa shard folder (missing {', '.join(missing) or 'part.json'})")
        tables = {name: pq.read_table(folder / f"{name}.parquet").to_pylist() for name in PART_TABLES}
        return cls(tables, json.loads((folder / "part.json").read_text()))


def ask(client: LLMClient, chunks: list[list[dict[str, Any]]], args: argparse.Namespace, cfg: QAConfig,
        prompts: Prompts) -> Part:
    """Facts, requests, replies, checks and duplicate removal for the motions in ``chunks``."""
    started = time.perf_counter()
    outcome = Outcome()
    source = f"llm:{client.backend.name}:{client.backend.model}"
    facts: dict[str, dict[str, Any]] = {}
    asked: list[dict[str, Any]] = []
    splits: dict[str, str] = {}
    with tqdm(total=sum(map(len, chunks)), desc="qa", unit="motion", file=sys.stderr) as bar:
        for rows in chunks:
            chunk_facts = gather_facts(rows, args.motion, args.signals, cfg, outcome)
            items = build_items(rows, chunk_facts, prompts, cfg)
            if items:
                # a broken reply whose pair salvage() recovers is an answer: cached, not asked again
                results = client.generate_structured([it.request for it in items], QAPair, cfg.max_attempts,
                                                     stage="qa", usable=lambda raw: salvage(raw) is not None)
                repairable = judge(items, results, chunk_facts, prompts, cfg, source, outcome)
                if cfg.repair_attempts:
                    repair(client, repairable, chunk_facts, prompts, cfg, source, outcome)
                asked += [{"motion_id": it.motion_id, "category": it.category, "attempts": r.attempts}
                          for it, r in zip(items, results)]
            facts.update(chunk_facts)
            splits.update((row["id"], row["split"]) for row in rows)
            bar.update(len(rows))
    drop_duplicates(outcome, cfg.dedup_threshold)
    fact_rows = [{"motion_id": mid, "split": splits[mid], "label": f["label"],
                  "facts": json.dumps(f, ensure_ascii=False)} for mid, f in facts.items()]
    return Part(
        {"qa": outcome.pairs, "rejects": outcome.rejects, "facts": fact_rows, "asked": asked},
        {"source": source, "prompt_version": prompts.version, "salvaged": outcome.salvaged,
         "usage": client.usage.report(), "seconds": time.perf_counter() - started, "repair": outcome.repair},
    )


def combine(parts: list[Part]) -> Part:
    """One part from several, each table in motion-id order (a motion's rows keep the order they were made in)."""
    if not parts:
        raise StageError("no shard to merge")
    about = [p.about for p in parts]
    shards = [tuple(a["shard"]) for a in about if "shard" in a]
    if shards:
        counts = sorted({n for _, n in shards})
        given = sorted(shards)
        if len(counts) > 1 or len(shards) != len(parts) or [i for i, _ in given] != list(range(counts[0])):
            raise StageError(f"need each shard 0/N ... N-1/N exactly once, got "
                             f"{', '.join(f'{i}/{n}' for i, n in given) or 'a plain part'}")
    for key in ("source", "prompt_version"):
        if len({a[key] for a in about}) > 1:
            raise StageError(f"the shards disagree on {key}: {sorted({a[key] for a in about})}")
    tables = {}
    for name in PART_TABLES:
        rows = [row for p in parts for row in p.tables[name]]
        tables[name] = sorted(rows, key=lambda row: row["motion_id"])  # stable
    ids = [row["motion_id"] for row in tables["facts"]]
    if len(ids) != len(set(ids)):
        raise StageError(f"a motion is in more than one shard: {sorted({i for i in ids if ids.count(i) > 1})[:5]}")
    meter = UsageMeter(Prices(**about[0]["usage"]["prices_per_mtok"]) if about[0]["usage"]["prices_per_mtok"]
                       else None)
    for a in about:
        meter.add_report(a["usage"])
    repaired = {k: sum(a["repair"][k] for a in about) for k in about[0]["repair"]}
    return Part(tables, {"source": about[0]["source"], "prompt_version": about[0]["prompt_version"],
                         "salvaged": sum(a["salvaged"] for a in about), "usage": meter.report(),
                         "seconds": sum(a["seconds"] for a in about), "repair": repaired})


def finish(part: Part, out: Path, metrics: Path, cfg: QAConfig) -> dict[str, Any]:
    """Check the whole data set's part, write the stage's outputs and metrics; return the metrics.

    StageError when nothing could be asked or every request failed (nothing written), or, after writing,
    when the LLM errors exceed ``qa.max_error_rate``.
    """
    asked, rejects = part.tables["asked"], part.tables["rejects"]
    if not asked:
        raise StageError(f"no motion to ask about ({len(part.tables['facts'])} with facts, "
                         f"{sum(not r['category'] for r in rejects)} without)")
    errors = [r["reason"].removeprefix(LLM_ERROR) for r in rejects if r["reason"].startswith(LLM_ERROR)]
    if len(errors) == len(asked):
        raise StageError(f"every one of {len(asked)} LLM requests failed ({LLM_ERROR}{errors[0]}); nothing written")
    about = part.about
    summary = summarise([a["category"] for a in asked], [a["attempts"] for a in asked], part.tables["qa"], rejects,
                        about["salvaged"], len(part.tables["facts"]), about["seconds"],
                        {k: about[k] for k in ("source", "prompt_version", "usage")}, about["repair"])
    labels = {row["motion_id"]: {"label": row["label"]} for row in part.tables["facts"]}
    with atomic_dir(out) as tmp:
        for name in ("qa", "rejects", "facts"):
            pq.write_table(pa.Table.from_pylist(part.tables[name], schema=PART_TABLES[name]), tmp / f"{name}.parquet")
        write_atomic(tmp / "sample.md", write_sample(part.tables["qa"], rejects, labels, summary,
                                                     cfg.samples_per_category))
    write_json(metrics / "qa.json", summary)
    if len(errors) > cfg.max_error_rate * len(asked):
        raise StageError(f"{len(errors)} of {len(asked)} LLM requests failed (more than qa.max_error_rate "
                         f"{cfg.max_error_rate:g}); the rest is written to {out} and every answer is kept in the LLM "
                         f"cache, so a rerun (`dvc repro`) asks only the failed ones. First error: {errors[0]}")
    return summary


def run(args: argparse.Namespace) -> int:
    params = load_params(args.params)
    if "qa" not in params or "llm" not in params:
        raise ParamsError(f"{args.params}: needs both a 'qa' and an 'llm' section")
    cfg = validate_section(QAConfig, params["qa"], "qa")
    llm = validate_section(LLMConfig, params["llm"], "llm")
    prompts = Prompts.load(cfg.prompts)
    unknown = [c for c in cfg.categories if c not in prompts.categories]
    if unknown:
        raise ParamsError(f"qa.categories: {unknown} not in {cfg.prompts} (it has {prompts.categories})")
    if args.merge:
        part = combine([Part.load(folder) for folder in args.merge])
    else:
        with make_client(llm) as client:
            chunks = chunk_rows(motion_rows(args.motion, cfg), client.config)
            if args.shard:
                i, n = args.shard
                with atomic_dir(args.out) as tmp:
                    part = ask(client, chunks[i::n], args, cfg, prompts)
                    part.about["shard"] = [i, n]  # the merge checks it has every shard once
                    part.save(tmp)
                print(f"qa: shard {i}/{n}: {len(part.tables['asked'])} requests, {len(part.tables['qa'])} pairs "
                      f"-> {args.out}", file=sys.stderr)
                return 0
            part = combine([ask(client, chunks, args, cfg, prompts)])
    summary = finish(part, args.out, args.metrics, cfg)
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
    add_shard_arguments(ap, "ask about chunks I::N into --out, no merge")
    args = ap.parse_args(argv)
    return run_stage("qa", lambda: run(args))
