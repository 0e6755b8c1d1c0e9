"""Tune stage benchmark: step time, tokens/s and peak memory of both phases, and greedy generation, at the
default sizes (params.yaml ``tune``) on the default data (data/embeddings, data/motion, data/qa).

A step is what tasks/tune/train.py does: build the batch (chat template, padding to the longest), splice the
projected signal tokens, forward, the answer-only loss, backward, clipping, AdamW.  ``align`` trains the
projector with the LLM frozen (the gradient still flows back through every LLM layer to the soft tokens);
``instruct`` trains projector and LoRA.  Batches are the phase's real first batches.  Each (phase, device)
runs in a fresh process, so one run's memory does not hide the next's.  Columns:
  ms/step      median wall time over --steps steps after --warmup
  tokens/s     tokens in the batch (attention mask) / step time
  answer tok/s the labelled (answer) tokens / step time
  peak MB      CPU: peak RSS of the process minus its RSS before the model was built; CUDA: max allocated
``generate`` answers a batch of val questions with the signal, greedy, KV cache on: new tokens/s.
Run it on an otherwise idle machine: torch's threads wait on other jobs'.

    python benchmarks/bench_tune.py [--devices cpu cuda] [--steps 5] [--warmup 1] [--threads 2]
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import statistics
import sys
import time
from pathlib import Path

import torch
from transformers.utils import logging as hf_logging

from tasks.common.config import load_section
from tasks.tune.config import TuneConfig
from tasks.tune.data import epoch_batches, load_bank, load_samples, make_batch, phase_samples
from tasks.tune.export import TunedModel
from tasks.tune.model import IGNORE, answer_loss
from tasks.tune.train import build_model, pick_dtype, set_phase, val_samples


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(phase: str, device_name: str, args: argparse.Namespace, queue) -> None:
    hf_logging.set_verbosity_error()
    torch.set_num_threads(args.threads)
    cfg = load_section(TuneConfig, args.params, "tune")
    bank = load_bank(args.embeddings, cfg.model.modalities, cfg.model.tokens_per_modality)
    samples = load_samples(bank, args.motion, args.qa, cfg.data.caption_prompt)
    device = torch.device(device_name)
    before = _rss_mb()
    model, _, prompter = build_model(cfg, bank.signal.shape[-1], device, pick_dtype(cfg.train.precision, device))
    if phase == "generate":
        val = val_samples(samples, 8, cfg.seed)
        tuned, times, new = TunedModel(model.eval(), prompter, {}), [], 0
        for _ in range(args.warmup + args.steps):
            start = time.perf_counter()
            signal, mask = bank.take(val)
            answers = tuned.answer([s.question for s in val], signal, mask, cfg.generate_max_tokens, len(val))
            times.append(time.perf_counter() - start)
            new = sum(len(prompter.tokenizer(a, add_special_tokens=False)["input_ids"]) + 1 for a in answers)
        t = statistics.median(times[args.warmup:])
        queue.put({"phase": phase, "device": device_name, "batch": len(val), "ms": 1e3 * t, "tokens_s": new / t,
                   "answer_s": new / t, "peak_mb": _peak(device, before)})
        return
    phase_cfg = getattr(cfg.train, phase)
    params = set_phase(model, phase)
    optimizer = torch.optim.AdamW(params, lr=phase_cfg.lr)
    pool = phase_samples(samples["train"], phase, 0, cfg.seed, phase_cfg.captions_per_motion)
    batches = epoch_batches(len(pool), phase_cfg.batch_size, cfg.seed, phase, 0)
    model.train()
    times, tokens, answers = [], [], []
    for k in range(args.warmup + args.steps):
        start = time.perf_counter()
        picked = [pool[i] for i in batches[k % len(batches)]]
        batch = {key: v.to(device) for key, v in make_batch(picked, prompter, *bank.take(picked)).items()}
        n = int((batch["labels"][:, 1:] != IGNORE).sum())
        answer_loss(*model(batch), n).backward()
        torch.nn.utils.clip_grad_norm_(params, cfg.train.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
        tokens.append(int(batch["attention_mask"].sum()))
        answers.append(n)
    t = statistics.median(times[args.warmup:])
    queue.put({"phase": phase, "device": device_name, "batch": phase_cfg.batch_size, "ms": 1e3 * t,
               "tokens_s": statistics.mean(tokens[args.warmup:]) / t,
               "answer_s": statistics.mean(answers[args.warmup:]) / t, "peak_mb": _peak(device, before)})


def _peak(device: torch.device, before: float) -> float:
    return torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else _rss_mb() - before


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", nargs="+", default=["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--embeddings", type=Path, default=Path("data/embeddings"))
    ap.add_argument("--motion", type=Path, default=Path("data/motion"))
    ap.add_argument("--qa", type=Path, default=Path("data/qa"))
    args = ap.parse_args()
    if not (args.embeddings / "signals.safetensors").is_file():
        sys.exit(f"{args.embeddings}: no embeddings (run `dvc repro pretrain` first)")
    print(f"load average {os.getloadavg()[0]:.2f}; {args.threads} threads; {args.steps} steps after {args.warmup}")
    print("| phase | device | batch | ms/step | tokens/s | answer tokens/s | peak MB |")
    print("|---|---|---|---|---|---|---|")
    ctx = multiprocessing.get_context("spawn")
    for device in args.devices:
        for phase in ("align", "instruct", "generate"):
            queue = ctx.Queue()
            proc = ctx.Process(target=measure, args=(phase, device, args, queue))
            proc.start()
            proc.join()
            if proc.exitcode != 0:
                print(f"| {phase} | {device} | failed (exit {proc.exitcode}) | | | | |")
                continue
            r = queue.get()
            print(f"| {r['phase']} | {r['device']} | {r['batch']} | {r['ms']:.0f} | {r['tokens_s']:.0f} | "
                  f"{r['answer_s']:.0f} | {r['peak_mb']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
