"""Pretrain benchmark: training speed and memory of the signal encoder, per preset and device.

For each preset (tiny and small by default; base with --presets base, best on a GPU) and each device torch
sees (the CPU; CUDA when available): one training step as tasks/pretrain/train.py takes it (forward of
every tower, CLIP loss of the fused and each tower's embedding, backward, clipping, AdamW) on batches of the
default data's shapes, the text features precomputed as the frozen MiniLM allows. Reported: signal-encoder
parameters, median milliseconds per step, training samples per second, and peak memory (CPU: the process's
peak resident set after the preset's steps, presets run smallest first, next to the peak before any model was
built (torch, transformers and MiniLM); CUDA: torch's peak allocation). Then the data side on the CPU: one
augmented batch of windows cut from whole motions (tasks/pretrain/data.py), which on a CPU is part of every
step.

    python benchmarks/bench_pretrain.py [--presets tiny small] [--batch 32] [--steps 10] [--threads 2]
"""
from __future__ import annotations

import argparse
import resource
import statistics
import time

import numpy as np
import torch

from tasks.pretrain.config import AugmentConfig, PretrainModelConfig, SignalShapes
from tasks.pretrain.data import Motion, train_batch
from tasks.pretrain.loss import make_loss
from tasks.pretrain.model import build_model, param_groups

# What load_dataset gives for the default params: the default radar preset (123 range bins up to 6 m, 64
# Doppler bins, 64 angle bins, 20 fps), a 6 s window, 32 points per frame, 9 IMU sites at 50 Hz.
SHAPES = SignalShapes(range_bins=123, doppler_bins=64, angle_bins=64, n_frames=120, max_points=32, imu_steps=300,
                      n_sites=9)
FPS, IMU_HZ = 20.0, 50.0


class _Unit:
    """A normaliser that leaves values as they are (the benchmark's signals are standard normal already)."""

    view = {v: (0.0, 1.0) for v in ("range_time", "doppler_time", "azimuth_time")}

    @staticmethod
    def points(points: np.ndarray) -> np.ndarray:
        return points


def motions(n: int, seconds: float, rng: np.random.Generator) -> list[Motion]:
    """``n`` motions of random signals in the default layout (a third of each frame's points real)."""
    frames, samples = round(seconds * FPS), round(seconds * IMU_HZ)
    out = []
    for i in range(n):
        views = {"range_time": rng.normal(size=(SHAPES.range_bins, frames)),
                 "doppler_time": rng.normal(size=(SHAPES.doppler_bins, frames)),
                 "azimuth_time": rng.normal(size=(SHAPES.angle_bins, frames))}
        out.append(Motion(
            f"m{i:03d}", "train", "walk", [f"a person walks, take {i}."],
            {k: v.astype(np.float32) for k, v in views.items()},
            rng.normal(size=(frames, SHAPES.max_points, 5)).astype(np.float32),
            np.full(frames, SHAPES.max_points // 3), rng.normal(size=(samples, SHAPES.n_sites, 6)).astype(np.float32),
            FPS, IMU_HZ, _Unit()))
    return out


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # kilobytes on Linux


def bench_training(preset: str, device: torch.device, batch_size: int, steps: int,
                   data: list[Motion]) -> dict:
    cfg = PretrainModelConfig(preset=preset)
    model = build_model(cfg, SHAPES).to(device)
    optimizer = torch.optim.AdamW(param_groups(model, 0.05), lr=1e-3)
    loss_fn = make_loss("clip")
    with torch.no_grad():
        text = model.text.pooled_features([m.captions[0] for m in data[:batch_size]])
    text = text.to(device)
    batch, _, positives, _ = train_batch(data, SHAPES, 0, batch_size, 0, AugmentConfig())
    batch = {k: v.to(device) for k, v in batch.items()}
    positives = positives.to(device)

    def step() -> None:
        out = model(batch, text)
        scale, bias = out["logit_scale"], out["logit_bias"]
        loss = loss_fn(out["signal_features"], out["text_features"], scale, bias, positives)
        towers = out["tower_features"]
        loss = loss + 0.5 * torch.stack([loss_fn(towers[:, k], out["text_features"], scale, bias, positives)
                                         for k in range(towers.shape[1])]).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    model.train()
    for _ in range(2):  # warm-up: allocator, kernels, lazy initialisation
        step()
    sync()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - start)
    memory = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else peak_rss_mb()
    ms = 1000.0 * statistics.median(times)
    return {"preset": preset, "device": str(device),
            "params": sum(p.numel() for p in model.signal_encoder.parameters()),
            "ms": ms, "samples_s": batch_size / (ms / 1000.0), "memory_mb": memory}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["tiny", "small"], choices=["tiny", "small", "base"])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    print(f"options: {vars(args)}; shapes {SHAPES}")
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    data = motions(args.batch, 7.0, np.random.default_rng(0))
    from tasks.pretrain.model import TextTower  # noqa: F401 (transformers loaded: the baseline counts it)
    baseline = peak_rss_mb()
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    rows = [bench_training(p, d, args.batch, args.steps, data) for d in devices for p in args.presets]

    times = []
    for k in range(5):
        start = time.perf_counter()
        train_batch(data, SHAPES, k, args.batch, 0, AugmentConfig())
        times.append(time.perf_counter() - start)
    data_ms = 1000.0 * statistics.median(times)

    print(f"\ntraining step, batch {args.batch}, {args.threads} CPU threads (median of {args.steps} steps)")
    print("| preset | device | encoder parameters | ms per step | samples/s | peak memory (MB) |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        what = "allocated" if r["device"].startswith("cuda") else "process peak RSS"
        print(f"| {r['preset']} | {r['device']} | {r['params'] / 1e6:.2f} M | {r['ms']:.0f} | {r['samples_s']:.0f} | "
              f"{r['memory_mb']:.0f} ({what}) |")
    print(f"\nprocess peak RSS before any model: {baseline:.0f} MB")
    print(f"data: one augmented batch of {args.batch} windows on the CPU: {data_ms:.0f} ms")


if __name__ == "__main__":
    main()
