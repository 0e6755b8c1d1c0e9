"""Contrastive pretraining of the signal encoder against text: one process, one GPU or several (torchrun).

Every step takes the global batch of ``batch_size`` motions (tasks/pretrain/data.py: a function of the
seed and the step alone); under ``torchrun`` each process encodes every ``world``-th motion of it, the
features of all processes are gathered (this process's own with their gradient) and each computes the loss
of the whole batch, scaled by ``world`` because DDP averages gradients: the same loss and the same update
as one process with the whole batch.  The loss is the fused embedding's plus ``model.tower_loss`` times the
mean of each tower's own (tasks/pretrain/config.py says why).  AdamW (weight decay on matrices only), linear
warm-up then cosine decay, gradient clipping.

A checkpoint (model, optimizer, scheduler, step, RNG state and the curves so far) is written atomically
every ``checkpoint_every`` steps to ``checkpoint_dir``; a rerun with the same params and data continues from
it (after ``kill -9`` too) and ends with the weights of an uninterrupted run.  A checkpoint of other params
or data is set aside, not used.  The curves (loss, learning rate, temperature, validation retrieval) go to
``dvclive`` in ``live_dir`` (replayed from the checkpoint on a resume, so they have no gaps or repeats).
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as torch_dist
from tqdm import tqdm

from tasks.common.training import load_checkpoint, log_row, lr_factor, open_live, save_checkpoint
from tasks.pretrain.config import PretrainConfig
from tasks.pretrain.data import Dataset, Motion, eval_batches, steps_per_epoch, train_batch
from tasks.pretrain.loss import make_loss
from tasks.pretrain.metrics import retrieval
from tasks.pretrain.model import ContrastiveModel, build_model, param_groups

CHECKPOINT = "checkpoint.pt"


@dataclass(frozen=True)
class Dist:
    """This process's place among the torchrun processes (rank 0 of 1 without torchrun)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup(device_name: str) -> tuple[Dist, torch.device]:
    """Join the torchrun process group when there is one (gloo on CPU, nccl on CUDA); pick the device."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    dist = Dist(int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0")))
    cuda = device_name.startswith("cuda") or (device_name == "auto" and torch.cuda.is_available())
    if device_name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"pretrain.train.device: {device_name}, but torch sees no CUDA device")
    device = torch.device(device_name if device_name.startswith("cuda:") else
                          f"cuda:{dist.local_rank}" if cuda else "cpu")
    if world > 1 and not torch_dist.is_initialized():
        torch_dist.init_process_group("nccl" if cuda else "gloo")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    return dist, device


def gather(local: torch.Tensor, dist: Dist) -> torch.Tensor:
    """The whole batch's rows from every process's share (rows rank, rank + world, ...), this process's own
    rows keeping their gradient."""
    if dist.world == 1:
        return local
    parts = [torch.empty_like(local) for _ in range(dist.world)]
    torch_dist.all_gather(parts, local.detach().contiguous())
    parts[dist.rank] = local
    # row k of process r is row r + world * k of the batch
    return torch.stack(parts, dim=1).reshape(-1, *local.shape[1:])


def fingerprint(cfg: PretrainConfig, data: Dataset) -> str:
    """What a checkpoint must match to be continued: the params that change training and the data set."""
    blob = {"cfg": cfg.model_dump(exclude={"checkpoint_dir": True, "eval": True, "real_eval": True,
                                           "train": {"device", "checkpoint_every", "torch_threads"}}),
            "motions": [(m.id, m.split, m.captions, float(m.views["range_time"].sum())) for m in data.motions]}
    return hashlib.blake2b(json.dumps(blob, sort_keys=True, default=str).encode(), digest_size=12).hexdigest()


def text_features(model: ContrastiveModel, texts: list[str], batch_size: int) -> torch.Tensor:
    """L2-normalised text embeddings [N, E] of ``texts`` (no grad, eval mode)."""
    with torch.no_grad():
        return model.text.project(model.text.pooled_features(texts, batch_size))


@torch.no_grad()
def embed(model: ContrastiveModel, motions: list[Motion], data: Dataset, batch_size: int,
          device: torch.device) -> np.ndarray:
    """L2-normalised signal embeddings [N, E] of ``motions`` (centred windows)."""
    model.eval()
    out = [model.encode_signal({k: v.to(device) for k, v in b.items()}).float().cpu()
           for b in eval_batches(motions, data.shapes, batch_size)]
    return torch.cat(out).numpy()


def validate(model: ContrastiveModel, motions: list[Motion], data: Dataset, batch_size: int,
             device: torch.device) -> dict[str, float]:
    """Retrieval on the whole validation split: mean Recall@1 and MRR of both directions."""
    signal = embed(model, motions, data, batch_size, device)
    texts = sorted({c for m in motions for c in m.captions})
    owner = np.array([[t in m.captions for t in texts] for m in motions])
    r = retrieval(signal, text_features(model, texts, batch_size).float().cpu().numpy(), owner)
    model.train()
    return {"val/r1": 0.5 * (r["signal_to_text"]["r1"] + r["text_to_signal"]["r1"]),
            "val/mrr": 0.5 * (r["signal_to_text"]["mrr"] + r["text_to_signal"]["mrr"])}


def train(cfg: PretrainConfig, data: Dataset, checkpoint_dir: Path, live_dir: Path | None = None) -> ContrastiveModel:
    """Train (or continue training) the encoder; return the model of the last step on the CPU.  Runs on
    ``train.torch_threads`` threads and gives the caller its thread count back."""
    threads = torch.get_num_threads()
    try:
        return _train(cfg, data, checkpoint_dir, live_dir)
    finally:
        torch.set_num_threads(threads)


def _train(cfg: PretrainConfig, data: Dataset, checkpoint_dir: Path, live_dir: Path | None) -> ContrastiveModel:
    dist, device = setup(cfg.train.device)
    if cfg.train.torch_threads:
        torch.set_num_threads(cfg.train.torch_threads)
    if cfg.train.batch_size % dist.world:
        raise ValueError(f"pretrain.train.batch_size {cfg.train.batch_size} is not a multiple of the "
                         f"{dist.world} processes")
    torch.manual_seed(cfg.seed)
    train_set, val_set = data.split("train"), data.split("val")
    per_epoch = steps_per_epoch(len(train_set), cfg.train.batch_size)
    total = per_epoch * cfg.train.epochs
    model = build_model(cfg.model, data.shapes).to(device)
    step_fn: torch.nn.Module = model
    if dist.world > 1:  # the whole step goes through the wrapper's forward, so every gradient is synchronised
        step_fn = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    optimizer = torch.optim.AdamW(param_groups(model, cfg.train.weight_decay), lr=cfg.train.lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: lr_factor(s, cfg.train.warmup_steps, total))
    loss_fn = make_loss(cfg.model.loss)
    # a text transformer that does not train gives every caption the same features each step: compute them once
    cached = not model.text.trains_transformer
    if cached:
        captions = sorted({c for m in train_set for c in m.captions})
        bank = dict(zip(captions, model.text.pooled_features(captions, cfg.eval.batch_size)))

    key = fingerprint(cfg, data)
    checkpoint = Path(checkpoint_dir) / CHECKPOINT
    state = load_checkpoint(checkpoint, key, "pretrain")
    step, history = 0, []
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng"])
        step, history = state["step"], state["history"]
        if dist.main:
            print(f"pretrain: continuing from step {step} of {total} ({checkpoint})")
    live = open_live(live_dir, history, dist.main)  # the curves up to the checkpoint: a resumed run's are whole

    def save() -> None:
        if dist.main:
            save_checkpoint(checkpoint, {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                               "scheduler": scheduler.state_dict(), "rng": torch.get_rng_state(), "step": step,
                               "history": history, "fingerprint": key})

    model.train()
    bar = tqdm(total=total, initial=step, desc="pretrain", unit="step", disable=not dist.main)
    while step < total:
        batch, texts, pos, mine = train_batch(train_set, data.shapes, step, cfg.train.batch_size, cfg.seed,
                                              cfg.augment if cfg.augment.enabled else None, dist.rank, dist.world)
        batch = {k: v.to(device) for k, v in batch.items()}
        mine_texts = [texts[i] for i in mine]
        out = step_fn(batch, torch.stack([bank[t] for t in mine_texts]) if cached else mine_texts)
        scale, bias, pos = out["logit_scale"], out["logit_bias"], pos.to(device)
        text = gather(out["text_features"], dist)
        fused = loss_fn(gather(out["signal_features"], dist), text, scale, bias, pos)
        loss = fused
        if cfg.model.tower_loss > 0:
            towers = gather(out["tower_features"], dist)
            tower = torch.stack([loss_fn(towers[:, k], text, scale, bias, pos) for k in range(towers.shape[1])])
            loss = fused + cfg.model.tower_loss * tower.mean()
        optimizer.zero_grad(set_to_none=True)
        (loss * dist.world).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.train.grad_clip)
        optimizer.step()
        scheduler.step()
        step += 1
        row = {"step": step, "train/loss": loss.item(), "train/fused_loss": fused.item(),
               "train/lr": scheduler.get_last_lr()[0],
               "train/temperature": 1.0 / scale.item()}
        if dist.main and (step % cfg.train.eval_every == 0 or step == total) and val_set:
            row.update(validate(model, val_set, data, cfg.eval.batch_size, device))
        history.append(row)
        log_row(live, row)
        bar.update()
        bar.set_postfix(loss=f"{row['train/loss']:.3f}")
        if step % cfg.train.checkpoint_every == 0 or step == total:
            save()
    bar.close()
    if live is not None:
        live.end()
    return model.cpu().eval()


