"""Pretrain stage benchmark: training speed and memory of each encoder preset on synthetic batches.

The batches follow tasks/pretrain/data.py's layout exactly: synthetic Motion objects (random standardised
heatmaps, points and IMU, 4-8 s clips like motion.procedural's) go through data.train_batch with the default
AugmentConfig, at the sizes the default params give (simulate.radar preset and simulate.imu through
pretrain.data: the SignalShapes load_dataset would report for data/signals).  A training step is what
tasks/pretrain/train.py does once it has its batch: copy it to the device, forward with the frozen MiniLM's
caption features computed once, the CLIP loss of the fused embedding plus ``tower_loss`` x the towers' mean,
backward, gradient clipping, AdamW.

Each (preset, device) runs in a fresh process, so one run's memory does not hide the next's.  Columns:
  encoder params    parameters of the signal encoder (the text tower is frozen)
  ms/step           median wall time over --steps steps, after --warmup steps
  samples/s         batch / ms/step
  +data             the same with the batch's construction added: train.py builds each batch on the CPU in the
                    training loop (no loader workers), so this is the end-to-end rate on either device
  peak MB           CPU: peak RSS of the process minus its RSS before the model was built (model with MiniLM,
                    optimizer state, activations); CUDA: torch.cuda.max_memory_allocated over the same span
The data line above the table is the median time to build one augmented batch (windows, collate, positives).
Other jobs on the machine slow every number (torch's threads wait on each other), several times over on a busy
2-core machine: the load average before the run is printed with the table.

    python benchmarks/bench_pretrain.py [--presets tiny small] [--devices cpu cuda] [--batch-size 32]
                                        [--steps 10] [--warmup 2] [--threads 2]

By default: tiny and small on every device present, base too on CUDA (base on a CPU only when named).
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import statistics
import sys
import time

import numpy as np
import torch
from transformers.utils import logging as hf_logging

from tasks.common.params import load_params
from tasks.pretrain.config import AugmentConfig, DataConfig, PretrainModelConfig, SignalShapes, TrainConfig
from tasks.pretrain.data import VIEWS, Motion, Normaliser, train_batch
from tasks.pretrain.loss import make_loss
from tasks.pretrain.model import build_model, param_groups
from tasks.simulate.config import SimulateConfig

DURATION_S = (4.0, 8.0)  # params.yaml motion.procedural.duration_s: clips shorter and longer than the window
N_CAPTIONS = 24  # one caption per procedural class, so motions of a class share theirs (several positives a row)


def default_shapes(params_path: str) -> tuple[SignalShapes, float, float]:
    """(shapes, radar frame rate, IMU rate) of the data set the params build, as load_dataset computes them."""
    params = load_params(params_path)
    sim = SimulateConfig.from_params(params.get("simulate"))
    data = DataConfig.model_validate((params.get("pretrain") or {}).get("data") or {})
    radar, imu = sim.radar, sim.imu
    shapes = SignalShapes(range_bins=radar.n_range, doppler_bins=radar.n_doppler_bins, angle_bins=radar.n_angle,
                          n_frames=round(data.window_s * radar.frame_rate_hz), max_points=data.max_points,
                          imu_steps=round(data.window_s * imu.rate_hz), n_sites=len(imu.sites))
    return shapes, radar.frame_rate_hz, imu.rate_hz


def synthetic_motions(n: int, shapes: SignalShapes, frame_rate: float, imu_rate: float, seed: int) -> list[Motion]:
    """``n`` training motions of random standardised signals (unit statistics, so the Normaliser is the identity
    on points and IMU; a 10 dB heatmap spread scales the dB augmentation as real statistics would)."""
    rng = np.random.default_rng(seed)
    sites = [f"site{k}" for k in range(shapes.n_sites)]
    stats = {**{v: {"mean": -60.0, "std": 10.0} for v in VIEWS},
             "points": {"mean": [0.0] * 5, "std": [1.0] * 5},
             "imu": {"sites": sites, "std": [[1.0] * 6] * shapes.n_sites}}
    norm = Normaliser(stats, sites)
    motions = []
    for i in range(n):
        seconds = rng.uniform(*DURATION_S)
        frames, samples = round(seconds * frame_rate), round(seconds * imu_rate)
        motions.append(Motion(
            id=f"synthetic_{i:04d}", split="train", label=None, captions=[f"a person does movement {i % N_CAPTIONS}."],
            views={v: rng.normal(size=(shapes.bins(v), frames)).astype(np.float32) for v in VIEWS},
            points=rng.normal(size=(frames, shapes.max_points, 5)).astype(np.float32),
            n_points=rng.integers(0, shapes.max_points + 1, frames),
            imu=rng.normal(size=(samples, shapes.n_sites, 6)).astype(np.float32),
            frame_rate=frame_rate, imu_rate=imu_rate, norm=norm))
    return motions


def data_ms(motions: list[Motion], shapes: SignalShapes, batch_size: int, repeats: int) -> float:
    """Median wall milliseconds of one augmented training batch."""
    times = []
    for step in range(repeats):
        start = time.perf_counter()
        train_batch(motions, shapes, step, batch_size, 0, AugmentConfig())
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def bench_training(preset: str, device_name: str, shapes: SignalShapes, rates: tuple[float, float],
                   batch_size: int, warmup: int, steps: int, threads: int) -> dict:
    """Encoder parameters, median ms per training step and peak memory in MB of one preset on one device."""
    hf_logging.disable_progress_bar()  # MiniLM's weight-loading bar, once per run
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    device = torch.device(device_name)
    motions = synthetic_motions(2 * batch_size, shapes, *rates, seed=0)
    batches = [train_batch(motions, shapes, step, batch_size, 0, AugmentConfig())[:3] for step in range(4)]
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    cfg, train_cfg = PretrainModelConfig(preset=preset), TrainConfig()
    model = build_model(cfg, shapes).to(device)
    model.train()
    optimizer = torch.optim.AdamW(param_groups(model, train_cfg.weight_decay), lr=train_cfg.lr)
    loss_fn = make_loss(cfg.loss)
    captions = sorted({c for m in motions for c in m.captions})
    with torch.no_grad():  # the frozen text tower's features, once, as train.py caches them
        bank = dict(zip(captions, model.text.pooled_features(captions)))

    def step(batch: dict[str, torch.Tensor], texts: list[str], pos: torch.Tensor) -> None:
        batch = {k: v.to(device) for k, v in batch.items()}
        out = model(batch, torch.stack([bank[t] for t in texts]))
        scale, bias, pos = out["logit_scale"], out["logit_bias"], pos.to(device)
        text = out["text_features"]
        loss = loss_fn(out["signal_features"], text, scale, bias, pos)
        towers = out.get("tower_features")
        if towers is not None and cfg.tower_loss > 0:
            tower = torch.stack([loss_fn(towers[:, k], text, scale, bias, pos) for k in range(towers.shape[1])])
            loss = loss + cfg.tower_loss * tower.mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), train_cfg.grad_clip)
        optimizer.step()
        loss.item()  # train.py logs the loss every step: a host sync, as in the real loop

    times = []
    for i in range(warmup + steps):
        if cuda:
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        step(*batches[i % len(batches)])
        if cuda:
            torch.cuda.synchronize(device)
        if i >= warmup:
            times.append(time.perf_counter() - start)
    if cuda:
        peak = torch.cuda.max_memory_allocated(device)
    else:  # ru_maxrss is in KiB on Linux, bytes on macOS
        peak = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) * (1 if sys.platform == "darwin"
                                                                                    else 1024)
    params = sum(p.numel() for p in model.signal_encoder.parameters())
    return {"preset": preset, "device": device_name, "params": params, "ms": 1e3 * statistics.median(times),
            "peak_mb": peak / 2**20}


def runs(presets: list[str] | None, devices: list[str]) -> list[tuple[str, str]]:
    """(preset, device) pairs: the presets named on every device, else tiny and small, with base on CUDA."""
    if presets is not None:
        return [(p, d) for d in devices for p in presets]
    return [(p, d) for d in devices for p in ("tiny", "small", *(("base",) if d == "cuda" else ()))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", choices=["tiny", "small", "base"], default=None,
                        help="default: tiny small, and base on CUDA")
    parser.add_argument("--devices", nargs="+", choices=["cpu", "cuda"],
                        default=["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    parser.add_argument("--batch-size", type=int, default=TrainConfig().batch_size)
    parser.add_argument("--steps", type=int, default=10, help="timed training steps")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    parser.add_argument("--data-repeats", type=int, default=10, help="batches built to time the data side")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--params", default="params.yaml", help="where the default shapes come from")
    args = parser.parse_args()
    if "cuda" in args.devices and not torch.cuda.is_available():
        parser.error("--devices cuda: torch sees no CUDA device")
    load = os.getloadavg()[0]  # other jobs' threads, before this run adds its own
    print(f"options: {vars(args)}")
    torch.set_num_threads(args.threads)
    shapes, frame_rate, imu_rate = default_shapes(args.params)
    print(f"shapes (from {args.params}): {shapes}")
    motions = synthetic_motions(2 * args.batch_size, shapes, frame_rate, imu_rate, seed=0)
    data = data_ms(motions, shapes, args.batch_size, args.data_repeats)
    print(f"data: one augmented batch of {args.batch_size} windows in {data:.1f} ms (median of {args.data_repeats})")

    rows = []
    spawn = multiprocessing.get_context("spawn")  # a fresh process per run: its peak RSS is its own
    for preset, device in runs(args.presets, args.devices):
        with spawn.Pool(1) as pool:
            row = pool.apply(bench_training, (preset, device, shapes, (frame_rate, imu_rate), args.batch_size,
                                              args.warmup, args.steps, args.threads))
        rows.append(row)
        print(f"  {preset} on {device}: {row['ms']:.0f} ms/step", flush=True)

    b = args.batch_size
    print(f"\nbatch {b}, {args.threads} torch threads, median of {args.steps} steps after {args.warmup} warm-up; "
          f"load average {load:.1f} on {os.cpu_count()} CPUs before the run\n")
    print("| preset | device | encoder params | ms/step | samples/s | ms/step +data | samples/s +data | peak MB |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['preset']} | {r['device']} | {r['params'] / 1e6:.2f} M | {r['ms']:.0f} "
              f"| {1e3 * b / r['ms']:.1f} | {r['ms'] + data:.0f} | {1e3 * b / (r['ms'] + data):.1f} "
              f"| {r['peak_mb']:.0f} |")


if __name__ == "__main__":
    main()
