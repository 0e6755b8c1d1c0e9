"""`python -m tasks.pretrain`: align a signal encoder with text on the simulated motions; measure it on test.

Reads ``params.yaml`` (section ``pretrain``), ``data/signals`` and the captions of ``data/motion``.  Writes:
  models/encoder/                  model.safetensors + encoder.json (tasks/pretrain/export.py: load_encoder)
  data/embeddings/                 every motion's embeddings and token sequences, for the tune stage
  metrics/pretrain.json            per split, "test/..." (in distribution) and "hard/..." (the motions whose
                                   conditions lie outside pretrain.data.hard, never trained on): retrieval
                                   both ways, zero-shot activity, a linear probe, each modality alone, each
                                   with a bootstrap 95 % CI, next to the same numbers with signals shuffled
                                   across motions (the control) and chance
  metrics/pretrain/                training curves (dvclive: plots/metrics/train/*.tsv, val/*.tsv)
  metrics/pretrain_confusion_<split>.csv  zero-shot predictions (actual, predicted) for `dvc plots`
  metrics/pretrain_confusion_<split>.png  the same, normalised per true class
  metrics/pretrain_real/           with pretrain.real_eval: flywheel classify's report on those recordings
                                   (the headline numbers also in pretrain.json, "real/...")

Under ``torchrun --nproc_per_node N -m tasks.pretrain`` every process trains its share of each batch and
process 0 evaluates and writes.  Checkpoints go to ``pretrain.checkpoint_dir`` (data/cache/pretrain): a
killed run, rerun, continues where the last checkpoint left it.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as torch_dist

from tasks.common.config import load_section
from tasks.common.io import write_atomic, write_json
from tasks.common.stage import run_stage
from tasks.pretrain.classify import classify
from tasks.pretrain.config import PretrainConfig
from tasks.pretrain.data import Dataset, Motion, eval_batches, load_dataset
from tasks.pretrain.export import save_embeddings, save_encoder
from tasks.pretrain.metrics import class_embeddings, confusion_rows, evaluate_embeddings, plot_confusion
from tasks.pretrain.model import ContrastiveModel
from tasks.pretrain.train import text_features, train


@torch.no_grad()
def encode(model: ContrastiveModel, motions: list[Motion], data: Dataset, batch_size: int) -> dict[str, np.ndarray]:
    """Per motion the fused embedding ("fused") and each modality's own ("range_time", ..., "imu")."""
    model.eval()
    parts: dict[str, list[np.ndarray]] = {}
    for batch in eval_batches(motions, data.shapes, batch_size):
        out = model.signal(batch)
        for name, emb in {"fused": out["embedding"], **out["pooled"]}.items():
            parts.setdefault(name, []).append(emb.float().numpy())
    return {name: np.concatenate(p) for name, p in parts.items()}


SPLITS = ("test", "hard")  # evaluated: in-distribution, and the held-out conditions (pretrain.data.hard)


def classes_of(data: Dataset) -> list[str]:
    return sorted({m.label for m in data.motions if m.label is not None})


def evaluate(model: ContrastiveModel, data: Dataset, cfg: PretrainConfig,
             split: str) -> tuple[dict[str, Any], list[dict]]:
    """One split's metrics (with CIs and the shuffled control) and its zero-shot confusion rows."""
    test, train_set = data.split(split), data.split("train")
    bs = cfg.eval.batch_size
    texts = sorted({c for m in test for c in m.captions})
    owner = np.array([[t in m.captions for t in texts] for m in test])
    classes = classes_of(data)
    labelled = [i for i, m in enumerate(test) if m.label is not None]

    def encode_texts(strings: list[str]) -> np.ndarray:
        return text_features(model, strings, bs).float().numpy()

    signal, probe_train = encode(model, test, data, bs), encode(model, train_set, data, bs)
    metrics = evaluate_embeddings(
        signal=signal, text=encode_texts(texts), positives=owner,
        class_emb=class_embeddings(encode_texts, classes, cfg.eval.templates) if classes else None,
        labels=np.array([classes.index(test[i].label) for i in labelled]) if classes else None,
        labelled=np.array(labelled, int),
        probe_train=probe_train,
        probe_labels=np.array([classes.index(m.label) if m.label is not None else -1 for m in train_set]),
        class_names=classes, n_boot=cfg.eval.bootstrap, seed=cfg.seed)
    rows = confusion_rows(metrics.pop("_labels", []), metrics.pop("_predictions", []), classes)
    return metrics, rows


def run(args: argparse.Namespace) -> int:
    cfg = load_section(PretrainConfig, args.params, "pretrain")
    start = time.perf_counter()
    data = load_dataset(args.signals, args.motion, cfg.data)
    counts = {s: len(data.split(s)) for s in ("train", "val", *SPLITS)}
    print(f"pretrain: {len(data.motions)} motions {counts}, left out {data.skipped or 'none'}; shapes {data.shapes}")
    model = train(cfg, data, Path(cfg.checkpoint_dir), args.live)
    trained = time.perf_counter() - start
    if torch_dist.is_initialized():
        rank = torch_dist.get_rank()
        torch_dist.destroy_process_group()
        if rank != 0:
            return 0
    metrics = {"motions": counts, "left_out": data.skipped, "train_seconds": round(trained, 1)}
    for split in SPLITS:
        found, rows = evaluate(model, data, cfg, split) if data.split(split) else ({}, [])
        if not data.split(split):
            print(f"pretrain: no motion in the {split} split: nothing to evaluate there", file=sys.stderr)
        metrics.update({f"{split}/{key}": value for key, value in found.items()})
        confusion = Path(args.metrics).with_name(f"pretrain_confusion_{split}.csv")  # header only when empty
        write_atomic(confusion, "actual,predicted\n" + "".join(f"{r['actual']},{r['predicted']}\n" for r in rows))
        if rows:
            plot_confusion(rows, classes_of(data), confusion.with_suffix(".png"))
    norm = json.loads((Path(args.signals) / "norm_stats.json").read_text())
    save_encoder(model, args.out, cfg.model, cfg.data, data.shapes, data.sites, classes_of(data), norm)
    save_embeddings(model, data, args.embeddings, cfg.eval.batch_size)
    if cfg.real_eval:  # real recordings, scored by the encoder just saved (flywheel classify)
        report = classify(cfg.real_eval, args.out, Path(args.metrics).with_name("pretrain_real"),
                          cfg.eval.batch_size, cfg)
        metrics.update({f"real/{modality}/{key}": found[key] for modality, found in report["modalities"].items()
                        for key in ("accuracy", "macro_f1", "recordings")})
        metrics["real/rejected_files"] = len(report["rejects"])
    metrics["seconds"] = round(time.perf_counter() - start, 1)
    write_json(args.metrics, metrics)
    print(f"pretrain: {args.metrics}: " + summary(metrics))
    return 0


def summary(metrics: dict[str, Any]) -> str:
    """One line of the headline numbers."""
    bits = []
    for key in (f"{split}/{name}" for split in SPLITS for name in ("retrieval/text_to_signal/r5", "zero_shot/top1")):
        value = metrics.get(key)
        if isinstance(value, dict):
            bits.append(f"{key} {value['value']:.3f} [{value['ci95'][0]:.3f}, {value['ci95'][1]:.3f}]")
    return "; ".join(bits) or "no headline numbers"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tasks.pretrain", description=__doc__.splitlines()[0])
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--signals", type=Path, default=Path("data/signals"))
    ap.add_argument("--motion", type=Path, default=Path("data/motion"))
    ap.add_argument("--out", type=Path, default=Path("models/encoder"))
    ap.add_argument("--embeddings", type=Path, default=Path("data/embeddings"), help="every motion's embeddings")
    ap.add_argument("--metrics", type=Path, default=Path("metrics/pretrain.json"))
    ap.add_argument("--live", type=Path, default=Path("metrics/pretrain"), help="dvclive folder of the curves")
    args = ap.parse_args(argv)
    return run_stage("pretrain", lambda: run(args))
