"""The `motion` DVC stage: gather motions from the configured sources into one data set.

Output (`data/motion/`, written atomically):
  manifest.parquet   one row per motion (columns in MANIFEST_COLUMNS)
  joints/<id>.npy    float32 [T, 22, 3], the HumanML3D joint format
  rejects.jsonl      items that could not be used, with the file they came from and why
Metrics: `metrics/motion.json` (counts) and `metrics/motion_classes.csv` (motions per class, a DVC plot).
HumanML3D and BVH motions have no class: their label is null in the manifest (docs/contracts.md), "(none)" in
the plot, and `classes` counts only the labels there are.
"""
from __future__ import annotations

import argparse
import hashlib
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from tasks.common.config import load_section
from tasks.common.io import RejectLog, atomic_dir, write_atomic, write_json
from tasks.common.motions import MotionError
from tasks.common.stage import StageError, run_stage
from tasks.motion.config import SPLITS, MotionConfig, SplitFractions
from tasks.motion.facts import FACTS_SCHEMA, measure_facts
from tasks.motion.item import MotionItem, Reject
from tasks.motion.validate import check_joints

MANIFEST_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("split", pa.string()),
        ("source", pa.string()),
        ("label", pa.string()),
        ("fps", pa.int32()),
        ("n_frames", pa.int32()),
        ("duration_s", pa.float32()),
        ("captions", pa.list_(pa.string())),
        ("facts", FACTS_SCHEMA),
        ("joints_path", pa.string()),  # relative to the data set folder
        ("origin", pa.string()),
    ]
)


def iter_source(name: str, cfg: MotionConfig) -> Iterator[MotionItem | Reject]:
    """Items (or rejects) of one source; the loaders are imported lazily (the BVH parser is slow to import)."""
    if name == "procedural":
        from tasks.motion.procedural import generate_library

        yield from generate_library(cfg.procedural, cfg.seed)
    elif name == "humanml3d":
        from tasks.motion.humanml3d import load_humanml3d

        yield from load_humanml3d(cfg.humanml3d)
    else:  # "bvh": MotionConfig admits no other name
        from tasks.motion.bvh import load_bvh_dir

        yield from load_bvh_dir(cfg.bvh)


def finish_item(item: MotionItem) -> MotionItem:
    """Validate the joints and add measured facts (what the source declared takes precedence)."""
    item.joints = check_joints(item.joints, item.origin or item.id)
    if item.source != "bvh" and not item.captions:
        raise MotionError(f"{item.origin or item.id}: no captions")
    item.facts = {**measure_facts(item.joints, item.fps), **item.facts}
    return item


def assign_splits(items: list[MotionItem], split_fractions: SplitFractions) -> None:
    """Give every item without a split one, stratified by label, stable for a given set of ids."""
    fractions = split_fractions.as_dict()
    total = sum(fractions.values())
    groups: dict[str | None, list[MotionItem]] = defaultdict(list)
    for item in items:
        if item.split is None:
            groups[item.label].append(item)
    for group in groups.values():
        group.sort(key=lambda it: hashlib.sha1(it.id.encode()).hexdigest())
        n = len(group)
        # cumulative boundaries, rounding so small classes still reach val and test
        bounds, acc = [], 0.0
        for split in SPLITS:
            acc += fractions[split] / total
            bounds.append((split, round(acc * n)))
        start = 0
        for split, end in bounds:
            for item in group[start:end]:
                item.split = split
            start = max(start, end)


def collect(cfg: MotionConfig, rejects: RejectLog) -> list[MotionItem]:
    items: list[MotionItem] = []
    seen: set[str] = set()
    for name in cfg.sources:
        stream = iter_source(name, cfg)
        for entry in tqdm(stream, desc=f"motion: {name}", unit="motion", file=sys.stderr):
            if isinstance(entry, Reject):
                _reject(rejects, entry.item, entry.origin, entry.reason)
                continue
            if entry.id in seen:
                _reject(rejects, entry.id, entry.origin, f"duplicate id {entry.id}")
                continue
            try:
                items.append(finish_item(entry))
                seen.add(entry.id)
            except MotionError as exc:
                _reject(rejects, entry.id, entry.origin, str(exc))
    assign_splits(items, cfg.split_fractions)
    return items


def _reject(rejects: RejectLog, item: str, origin: str, reason: str) -> None:
    print(f"motion: rejected {origin or item}: {reason}", file=sys.stderr)
    rejects.add(item, reason, source=origin)


def write_dataset(items: Iterable[MotionItem], rejects: RejectLog, out: Path) -> pd.DataFrame:
    rows = []
    with atomic_dir(out) as tmp:
        (tmp / "joints").mkdir()
        for item in items:
            rel = f"joints/{item.id}.npy"
            np.save(tmp / rel, item.joints.astype(np.float32))
            rows.append(
                {
                    "id": item.id, "split": item.split, "source": item.source, "label": item.label,
                    "fps": item.fps, "n_frames": len(item.joints),
                    "duration_s": len(item.joints) / item.fps, "captions": list(item.captions),
                    "facts": {k: item.facts.get(k) for k in FACTS_SCHEMA.names},
                    "joints_path": rel, "origin": item.origin,
                }
            )
        table = pa.Table.from_pylist(rows, schema=MANIFEST_SCHEMA)
        pq.write_table(table, tmp / "manifest.parquet")
        rejects.write(tmp / "rejects.jsonl")
    return table.to_pandas()


def summarise(manifest: pd.DataFrame, rejects: RejectLog) -> dict[str, Any]:
    return {
        "motions": len(manifest),
        "rejects": len(rejects),
        "classes": int(manifest["label"].nunique()),
        "hours": round(float(manifest["duration_s"].sum()) / 3600, 4),
        "splits": {s: int((manifest["split"] == s).sum()) for s in SPLITS},
        "sources": dict(Counter(manifest["source"])),
        "reject_reasons": dict(Counter(reason_kind(r["reason"]) for r in rejects.records)),
    }


def reason_kind(reason: str) -> str:
    """'new_joints/7.npy: wrong shape (40, 21, 3), expected ...' -> 'wrong shape', for counting."""
    tail = reason.split(": ", 1)[-1]
    return re.split(r"[(:,]|\s\d", tail, maxsplit=1)[0].strip() or tail


def run(params_path: Path, out: Path, metrics_dir: Path) -> None:
    cfg = load_section(MotionConfig, params_path, "motion")
    rejects = RejectLog("motion")
    items = collect(cfg, rejects)
    if not items:
        raise StageError(f"every item was rejected ({len(rejects)}); nothing written")
    if cfg.strict and len(rejects):
        raise StageError(f"strict mode and {len(rejects)} rejects; nothing written")
    manifest = write_dataset(items, rejects, out)
    summary = summarise(manifest, rejects)
    write_json(metrics_dir / "motion.json", summary)
    per_class = manifest.fillna({"label": "(none)"}).groupby("label").size().rename("motions")
    write_atomic(metrics_dir / "motion_classes.csv", per_class.reset_index().to_csv(index=False))
    print(
        f"motion: {summary['motions']} motions in {summary['classes']} classes "
        f"({summary['splits']}), {summary['rejects']} rejected -> {out}",
        file=sys.stderr,
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tasks.motion", description=__doc__.splitlines()[0])
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--out", type=Path, default=Path("data/motion"))
    ap.add_argument("--metrics", type=Path, default=Path("metrics"))
    args = ap.parse_args(argv)
    return run_stage("motion", lambda: run(args.params, args.out, args.metrics))
