"""`python -m tasks.tune`: LoRA-tune the base LLM to answer questions about a motion from its signal tokens.

Reads ``params.yaml`` (section ``tune``), the pretrain stage's ``data/embeddings`` (the frozen encoder's token
sequences), the captions of ``data/motion`` and the QA pairs of ``data/qa``.  Trains on the train split,
validates on val, never reads test or hard.  Writes:
  models/tune/              adapter (peft), projector, tokenizer, tune.json (tasks/tune/export.py: load_tuned)
  metrics/tune.json         samples per split, per phase the steps, last train loss, val loss and next-token
                            accuracy, seconds and tokens/s; the final val loss with the signal, with another
                            motion's signal (shuffled) and with none (the tuned model, question only); peak memory
  metrics/tune/             the curves (dvclive: plots/metrics/train/loss.tsv, val/loss.tsv, ...)
  metrics/tune_examples.md  a few val questions answered with and without the signal, beside the reference
Checkpoints go to ``tune.checkpoint_dir`` (data/cache/tune): a killed run, rerun, continues.
"""
from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path
from typing import Any

import torch

from tasks.common.config import load_section
from tasks.common.io import write_atomic, write_json
from tasks.common.stage import run_stage
from tasks.tune.config import TuneConfig
from tasks.tune.data import CAPTION, Sample, SignalBank, load_bank, load_samples, shuffled_bank
from tasks.tune.export import TunedModel, save_tuned
from tasks.tune.train import evaluate_loss, train, val_samples

N_EXAMPLES = 6


def examples(tuned: TunedModel, bank: SignalBank, val: list[Sample], max_tokens: int) -> str:
    """Markdown: a few val questions (captions and QA) answered with the signal and without, and the reference."""
    picked = [s for s in val if s.category == CAPTION][:N_EXAMPLES // 2]
    picked += [s for s in val if s.category != CAPTION][:N_EXAMPLES - len(picked)]
    if not picked:
        return "# Tune examples\n\nNo validation sample.\n"
    signal, mask = bank.take(picked)
    with_signal = tuned.answer([s.question for s in picked], signal, mask, max_tokens)
    without = tuned.answer([s.question for s in picked], None, None, max_tokens)
    lines = ["# Tune examples (val split)", "",
             "The tuned model answers each question with the motion's signal and with the question alone.", ""]
    for s, a, b in zip(picked, with_signal, without):
        lines += [f"## {s.motion} ({s.category})", "", f"**Q:** {s.question}", "", f"- reference: {s.answer}",
                  f"- with signal: {a}", f"- without signal: {b}", ""]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    cfg = load_section(TuneConfig, args.params, "tune")
    start = time.perf_counter()
    bank = load_bank(args.embeddings, cfg.model.modalities, cfg.model.tokens_per_modality)
    samples = load_samples(bank, args.motion, args.qa, cfg.data.caption_prompt)
    counts = {split: {kind: len(v) for kind, v in kinds.items()} for split, kinds in sorted(samples.items())}
    print(f"tune: {len(bank.ids)} motions; samples {counts}; base {cfg.model.base}")
    result = train(cfg, bank, samples, Path(cfg.checkpoint_dir), args.live)
    trained = time.perf_counter() - start
    width = bank.signal.shape[-1]
    save_tuned(result.model, result.tokenizer, args.out, cfg, width)
    tuned = TunedModel(result.model, result.prompter, {})
    val = val_samples(samples, cfg.data.val_limit, cfg.seed)
    device = tuned.device
    batch = cfg.train.instruct.batch_size
    metrics: dict[str, Any] = {"samples": counts, "base": cfg.model.base, "phases": result.phases,
                               "train_seconds": round(trained, 1)}
    if val:
        final = {"signal": evaluate_loss(result.model, val, bank, result.prompter, batch, device),
                 "shuffled_signal": evaluate_loss(result.model, val, shuffled_bank(bank, cfg.seed), result.prompter,
                                                  batch, device),
                 "no_signal": evaluate_loss(result.model, val, None, result.prompter, batch, device)}
        metrics["val"] = {name: {k: round(v, 4) if isinstance(v, float) else v for k, v in found.items()}
                          for name, found in final.items()}
    else:
        print("tune: no val sample: nothing to validate on", file=sys.stderr)
    write_atomic(args.examples, examples(tuned, bank, val, cfg.generate_max_tokens))
    metrics["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    if torch.cuda.is_available():
        metrics["peak_cuda_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    metrics["seconds"] = round(time.perf_counter() - start, 1)
    write_json(args.metrics, metrics)
    print(f"tune: {args.metrics}: " + summary(metrics))
    return 0


def summary(metrics: dict[str, Any]) -> str:
    val = metrics.get("val", {})
    bits = [f"val loss {name} {found['loss']:.3f}" for name, found in val.items()]
    return "; ".join(bits + [f"{metrics['seconds']:.0f} s"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tasks.tune", description=__doc__.splitlines()[0])
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--embeddings", type=Path, default=Path("data/embeddings"))
    ap.add_argument("--motion", type=Path, default=Path("data/motion"))
    ap.add_argument("--qa", type=Path, default=Path("data/qa"))
    ap.add_argument("--out", type=Path, default=Path("models/tune"))
    ap.add_argument("--metrics", type=Path, default=Path("metrics/tune.json"))
    ap.add_argument("--live", type=Path, default=Path("metrics/tune"), help="dvclive folder of the curves")
    ap.add_argument("--examples", type=Path, default=Path("metrics/tune_examples.md"))
    args = ap.parse_args(argv)
    return run_stage("tune", lambda: run(args))
