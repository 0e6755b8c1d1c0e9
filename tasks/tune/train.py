"""Two-phase tuning of the signal-conditioned LLM (LLaVA's recipe) on the train split, selected on val.

``align``     captions ("Describe the motion."): only the projector and the two boundary vectors learn, the
              LLM (adapters included, still zero) stays frozen, so the soft tokens learn to speak its language;
``instruct``  the QA pairs and captions: projector and LoRA adapters learn.
Each phase has its own AdamW (weight decay ``train.weight_decay``), warm-up then cosine decay, gradient
clipping, and ``grad_accum`` micro-batches per step whose loss is the mean over the step's answer tokens
(the same update as one batch).  The validation loss (mean over answer tokens) and next-token accuracy of the
answers are measured after every epoch on a seeded draw of val samples.

A checkpoint (the trainable weights, optimizer, scheduler, RNG state, phase and step, the curves so far) is
written atomically every ``checkpoint_every`` steps and at each phase's end; a rerun with the same params and
data continues from it, after ``kill -9`` too.  Curves go to dvclive (tasks/common/training.py).
"""
from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm
from transformers import AutoModelForCausalLM, AutoTokenizer

from tasks.common.seeds import item_seed
from tasks.common.stage import StageError
from tasks.common.training import load_checkpoint, log_row, lr_factor, open_live, save_checkpoint
from tasks.tune.config import TuneConfig
from tasks.tune.data import Prompter, Sample, SignalBank, epoch_batches, make_batch, phase_samples
from tasks.tune.model import IGNORE, SignalLM, add_lora, add_signal_tokens, answer_loss
from tasks.tune.projector import SignalProjector

CHECKPOINT = "checkpoint.pt"
PHASES = ("align", "instruct")


def pick_device(name: str) -> torch.device:
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"tune.train.device: {name}, but torch sees no CUDA device")
    return torch.device("cuda" if name == "auto" and torch.cuda.is_available() else "cpu" if name == "auto" else name)


def pick_dtype(precision: str, device: torch.device) -> torch.dtype:
    """fp32 on CPU; bf16 on a CUDA device that supports it (``auto``), else fp32."""
    if precision == "bf16" or (precision == "auto" and device.type == "cuda" and torch.cuda.is_bf16_supported()):
        return torch.bfloat16
    return torch.float32


def build_model(cfg: TuneConfig, encoder_width: int, device: torch.device,
                dtype: torch.dtype) -> tuple[SignalLM, Any, Prompter]:
    """The base LLM (frozen) with fresh LoRA adapters and a fresh projector; its tokenizer with the signal
    markers; the prompter.  Seeded by ``cfg.seed``."""
    if not (Path(cfg.model.base) / "config.json").is_file():
        raise StageError(f"tune.model.base: {cfg.model.base}: no Hugging Face model folder (config.json) here; the "
                         "embedded default is written by `dvc repro llm_model`")
    torch.manual_seed(cfg.seed)
    tokenizer = AutoTokenizer.from_pretrained(cfg.model.base)
    ids = add_signal_tokens(tokenizer)
    lm = AutoModelForCausalLM.from_pretrained(cfg.model.base, dtype=dtype)
    table = lm.get_input_embeddings().weight
    projector = SignalProjector(cfg.model.projector, cfg.model.modalities, encoder_width, table.shape[1],
                                init_scale=float(table.detach().float().std()))
    model = SignalLM(add_lora(lm, cfg.model.lora), projector, ids).to(device)
    return model, tokenizer, Prompter(tokenizer, cfg.model.system_prompt, ids, cfg.model.max_answer_tokens)


def trainable_names(model: SignalLM, phase: str) -> list[str]:
    """Parameters that learn in ``phase``: the projector's, and in ``instruct`` the LoRA adapters' too."""
    return [n for n, _ in model.named_parameters()
            if n.startswith("projector.") or (phase == "instruct" and "lora_" in n)]


def set_phase(model: SignalLM, phase: str) -> list[torch.nn.Parameter]:
    names = set(trainable_names(model, phase))
    params = []
    for n, p in model.named_parameters():
        p.requires_grad_(n in names)
        if n in names:
            params.append(p)
    return params


def tuned_state(model: SignalLM) -> dict[str, torch.Tensor]:
    """Every weight that tuning changes (projector and adapters): what a checkpoint and the export hold."""
    names = set(trainable_names(model, "instruct"))
    return {n: p.detach().cpu().clone() for n, p in model.named_parameters() if n in names}


def load_tuned_state(model: SignalLM, state: dict[str, torch.Tensor]) -> None:
    params = dict(model.named_parameters())
    if set(state) != set(trainable_names(model, "instruct")):
        raise ValueError("tuned weights do not fit the model (other projector, modalities or LoRA set-up)")
    with torch.no_grad():
        for n, value in state.items():
            params[n].copy_(value)


def fingerprint(cfg: TuneConfig, samples: dict[str, dict[str, list[Sample]]], bank: SignalBank) -> str:
    """What a checkpoint must match to be continued: the params that change training, the samples, the signals."""
    blob = {"cfg": cfg.model_dump(mode="json", exclude={"checkpoint_dir": True, "generate_max_tokens": True,
                                                       "train": {"device", "checkpoint_every", "torch_threads"}}),
            "samples": {s: {k: [(x.motion, x.question, x.answer) for x in v] for k, v in kinds.items()}
                        for s, kinds in sorted(samples.items()) if s in ("train", "val")},
            "signal": float(bank.signal.double().sum())}
    return hashlib.blake2b(json.dumps(blob, sort_keys=True).encode(), digest_size=12).hexdigest()


def val_samples(samples: dict[str, dict[str, list[Sample]]], limit: int | None, seed: int) -> list[Sample]:
    """Each val motion's first caption and every val QA pair; a seeded draw of ``limit`` of them."""
    val = samples.get("val", {"caption": [], "qa": []})
    first: dict[str, Sample] = {}
    for s in val["caption"]:
        first.setdefault(s.motion, s)
    pool = list(first.values()) + list(val["qa"])
    if limit is not None and len(pool) > limit:
        keep = np.random.default_rng(item_seed(seed, "val")).choice(len(pool), limit, replace=False)
        pool = [pool[i] for i in sorted(keep)]
    return pool


@torch.no_grad()
def evaluate_loss(model: SignalLM, samples: list[Sample], bank: SignalBank | None, prompter: Prompter,
                  batch_size: int, device: torch.device) -> dict[str, float]:
    """Mean cross-entropy over the answer tokens of ``samples`` and the share predicted exactly (greedy next
    token); ``bank`` None: without the signal (prompts with no signal block)."""
    was_training = model.training
    model.eval()
    total, correct, n = 0.0, 0, 0
    for i in range(0, len(samples), batch_size):
        part = samples[i:i + batch_size]
        batch = _to(make_batch(part, prompter, *(bank.take(part) if bank is not None else ())), device)
        logits, targets = model(batch)
        total += float(torch.nn.functional.cross_entropy(logits, targets, reduction="sum"))
        correct += int((logits.argmax(-1) == targets).sum())
        n += int(targets.numel())
    model.train(was_training)
    return {"loss": total / max(n, 1), "token_accuracy": correct / max(n, 1), "tokens": n}


def _to(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {k: v.to(device) for k, v in batch.items()}


@dataclass
class PhasePlan:
    name: str
    epochs: int
    per_epoch: int  # optimizer steps per epoch

    @property
    def total(self) -> int:
        return self.epochs * self.per_epoch


@dataclass
class TrainResult:
    model: SignalLM
    tokenizer: Any
    prompter: Prompter
    history: list[dict[str, float]]
    phases: dict[str, dict[str, Any]] = field(default_factory=dict)  # per phase: steps, samples, seconds, tokens


def plan(cfg: TuneConfig, train: dict[str, list[Sample]]) -> list[PhasePlan]:
    out = []
    for name in PHASES:
        phase = getattr(cfg.train, name)
        n = len(phase_samples(train, name, 0, cfg.seed, phase.captions_per_motion))
        if phase.epochs and n:
            out.append(PhasePlan(name, phase.epochs, math.ceil(n / phase.batch_size)))
    return out


def train(cfg: TuneConfig, bank: SignalBank, samples: dict[str, dict[str, list[Sample]]], checkpoint_dir: Path,
          live_dir: Path | None = None) -> TrainResult:
    """Train (or continue training) both phases; the model of the last step, in eval mode."""
    threads = torch.get_num_threads()
    try:
        if cfg.train.torch_threads:
            torch.set_num_threads(cfg.train.torch_threads)
        return _train(cfg, bank, samples, Path(checkpoint_dir), live_dir)
    finally:
        torch.set_num_threads(threads)


def _train(cfg: TuneConfig, bank: SignalBank, samples: dict[str, dict[str, list[Sample]]], checkpoint_dir: Path,
           live_dir: Path | None) -> TrainResult:
    train_set = samples.get("train")
    if not train_set or not (train_set["caption"] or train_set["qa"]):
        raise ValueError("tune: no training sample (no caption or QA pair of a train-split motion)")
    device = pick_device(cfg.train.device)
    model, tokenizer, prompter = build_model(cfg, bank.signal.shape[-1], device,
                                             pick_dtype(cfg.train.precision, device))
    val = val_samples(samples, cfg.data.val_limit, cfg.seed)
    phases = plan(cfg, train_set)
    key = fingerprint(cfg, samples, bank)
    checkpoint = checkpoint_dir / CHECKPOINT
    state = load_checkpoint(checkpoint, key, "tune")
    history: list[dict[str, float]] = state["history"] if state else []
    done_phase, done_step = (state["phase"], state["step"]) if state else (None, 0)
    info: dict[str, dict[str, Any]] = state["phases"] if state else {}
    if state:
        load_tuned_state(model, state["weights"])
        print(f"tune: continuing {done_phase} from step {done_step} ({checkpoint})")
    live = open_live(live_dir, history)
    offset = 0  # optimizer steps of the phases before this one: the curves' x axis runs across both
    for p in phases:
        phase_cfg = getattr(cfg.train, p.name)
        order = [q.name for q in phases]
        if done_phase is not None and order.index(p.name) < order.index(done_phase):
            offset += p.total
            continue
        params = set_phase(model, p.name)
        optimizer = torch.optim.AdamW(params, lr=phase_cfg.lr, weight_decay=cfg.train.weight_decay)
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda s, w=phase_cfg.warmup_steps, t=p.total: lr_factor(s, w, t))
        step = 0
        if state and done_phase == p.name:
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            torch.set_rng_state(state["rng"])
            step = done_step
        record = info.setdefault(p.name, {"steps": p.total, "seconds": 0.0, "tokens": 0, "trained_params": sum(
            x.numel() for x in params)})
        model.train()
        bar = tqdm(total=p.total, initial=step, desc=f"tune {p.name}", unit="step")
        while step < p.total:
            started = time.perf_counter()
            epoch, k = divmod(step, p.per_epoch)
            pool = phase_samples(train_set, p.name, epoch, cfg.seed, phase_cfg.captions_per_motion)
            picked = [pool[i] for i in epoch_batches(len(pool), phase_cfg.batch_size, cfg.seed, p.name, epoch)[k]]
            micro = max(1, math.ceil(len(picked) / phase_cfg.grad_accum))
            batches = [make_batch(part, prompter, *bank.take(part))
                       for part in (picked[i:i + micro] for i in range(0, len(picked), micro))]
            n_tokens = sum(int((b["labels"][:, 1:] != IGNORE).sum()) for b in batches)
            loss = 0.0
            for b in batches:
                logits, targets = model(_to(b, device))
                part = answer_loss(logits, targets, n_tokens)
                part.backward()
                loss += float(part.detach())
            torch.nn.utils.clip_grad_norm_(params, cfg.train.grad_clip)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            record["seconds"] += time.perf_counter() - started
            record["tokens"] += sum(int(b["attention_mask"].sum()) for b in batches)
            row: dict[str, float] = {"step": offset + step, "train/loss": loss, "train/lr": scheduler.get_last_lr()[0]}
            if step % p.per_epoch == 0 and val:  # an epoch's end: validation
                found = evaluate_loss(model, val, bank, prompter, phase_cfg.batch_size, device)
                row.update({"val/loss": found["loss"], "val/token_accuracy": found["token_accuracy"]})
                record.update({"val_loss": found["loss"], "val_token_accuracy": found["token_accuracy"]})
            record["train_loss"] = loss
            history.append(row)
            log_row(live, row)
            bar.update()
            bar.set_postfix(loss=f"{loss:.3f}")
            if step % cfg.train.checkpoint_every == 0 or step == p.total:
                save_checkpoint(checkpoint, {"weights": tuned_state(model), "optimizer": optimizer.state_dict(),
                                             "scheduler": scheduler.state_dict(), "rng": torch.get_rng_state(),
                                             "phase": p.name, "step": step, "history": history, "phases": info,
                                             "fingerprint": key})
        bar.close()
        offset += p.total
        state, done_phase = None, None
    if live is not None:
        live.end()
    return TrainResult(model.eval(), tokenizer, prompter, history, info)

