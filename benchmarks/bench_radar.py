"""Radar simulator benchmark: speed of the exact reference vs the fast path, and their agreement.

For each preset and motion: CPU seconds per simulated second of motion on one thread
for the reference (double precision, every ADC sample; on the first --ref-seconds of the motion:
it is slow) and for the fast path
(on the whole motion, the way the pipeline runs it), with noise on; then the Pearson correlation
of the two paths' range_time, doppler_time and azimuth_time on the reference clip with noise off
(noise realisations differ between paths; its distribution is tested in tests/test_radar_fast.py).
Then the fast path alone on device-like set-ups (TI profiles with the TI detection chain, with and without a
room): CPU seconds per simulated second on one thread and how many times faster than real time that is.
Motions come from tasks.motion.procedural when it exists, else from a parametric walker.

    python benchmarks/bench_radar.py [--presets default udoppler] [--setups ...] [--motions 3] [--ref-seconds 0.5]
"""
from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import torch

from tasks.simulate.radar import RadarConfig, simulate_radar
from tasks.simulate.radar.synthetic import walking_skeleton

VIEWS = ("range_time", "doppler_time", "azimuth_time")
# A TI-like room as the README's Rooms example: clutter removal off, walls, furniture, leakage, EVM pattern
ROOM = dict(static_clutter_removal=False, room_wall_points=40, room_reflectors=20, leakage_db=0.0,
            antenna_pattern="ti_evm")
SETUPS = {
    "default": {"preset": "default"},
    "default+room": {"preset": "default", **ROOM},
    "iwr1443": {"preset": "iwr1443_short_range"},
    "iwr1443+room": {"preset": "iwr1443_short_range", **ROOM},
    "iwr1843+room": {"preset": "iwr1843_best_range_res", **ROOM},
    "iwr6843+room": {"preset": "iwr6843_people_counting", **ROOM},
}


def motions(count: int) -> list[tuple[str, np.ndarray]]:
    """(name, joints) of ``count`` motions of a few seconds."""
    try:
        from tasks.motion.procedural import CLASSES, generate
    except ImportError:
        walkers = [dict(velocity_xz=(0.0, 1.0)), dict(velocity_xz=(0.6, -0.8), cadence=2.2),
                   dict(velocity_xz=(0.0, 0.0), leg_swing_deg=5.0, arm_swing_deg=60.0, cadence=1.2)]
        return [(f"walker{i}", walking_skeleton(4.0, **walkers[i % len(walkers)])) for i in range(count)]
    return [(f"{label}#{i}", generate(label, i, 0).joints) for i, label in zip(range(count), CLASSES * count)]


def best_time(run: Callable[[], object], repeats: int, clock: Callable[[], float] = time.process_time) -> float:
    """Fastest of ``repeats`` runs; CPU time by default, which other jobs on a shared machine barely disturb."""
    best = float("inf")
    for _ in range(repeats):
        start = clock()
        run()
        best = min(best, clock() - start)
    return best


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def bench_preset(preset: str, clips: list[tuple[str, np.ndarray]], ref_seconds: float, fps: float) -> dict:
    cfg = RadarConfig.from_params({"preset": preset, "device": "cpu"})
    quiet = cfg.replace(noise_db=None)
    ref_frames = int(round(ref_seconds * fps)) + 1
    ref_rate, fast_rate, corr = [], [], {v: [] for v in VIEWS}
    for _, joints in clips:
        short = joints[:ref_frames]
        simulate_radar(short[:4], fps, cfg, "fast")  # warm-up
        ref_rate.append(best_time(lambda j=short: simulate_radar(j, fps, cfg, "reference"), 1) / ref_seconds)
        fast_rate.append(best_time(lambda j=joints: simulate_radar(j, fps, cfg, "fast"), 3) / ((len(joints) - 1) / fps))
        ref, fast = (simulate_radar(short, fps, quiet, m) for m in ("reference", "fast"))
        for v in VIEWS:
            corr[v].append(correlation(ref[v], fast[v]))
    ref_s, fast_s = float(np.mean(ref_rate)), float(np.mean(fast_rate))
    return {"preset": preset, "ref": ref_s, "fast": fast_s, "speedup": ref_s / fast_s,
            **{v: min(c) for v, c in corr.items()}}


def bench_setup(name: str, clips: list[tuple[str, np.ndarray]], fps: float) -> dict:
    """Fast path, noise on, as the pipeline runs it: CPU seconds per simulated second and points per frame."""
    cfg = RadarConfig.from_params({**SETUPS[name], "device": "cpu"})
    simulate_radar(clips[0][1][:4], fps, cfg, "fast")  # warm-up
    seconds = sum((len(j) - 1) / fps for _, j in clips)
    cpu = sum(best_time(lambda j=j: simulate_radar(j, fps, cfg, "fast"), 2) for _, j in clips)
    outs = [simulate_radar(j, fps, cfg, "fast") for _, j in clips]
    per_frame = sum(len(o["points"]) for o in outs) / sum(len(o["frame_time_s"]) for o in outs)
    return {"setup": name, "detection": cfg.detection, "rate": cpu / seconds, "realtime": seconds / cpu,
            "points": per_frame}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["default", "udoppler"])
    parser.add_argument("--setups", nargs="+", default=list(SETUPS), choices=list(SETUPS))
    parser.add_argument("--motions", type=int, default=3)
    parser.add_argument("--ref-seconds", type=float, default=0.5, help="length of the reference's clip")
    parser.add_argument("--fps", type=float, default=20.0)
    args = parser.parse_args()
    print(f"options: {vars(args)}")
    torch.set_num_threads(1)
    clips = motions(args.motions)
    print(f"motions: {', '.join(f'{n} ({(len(j) - 1) / args.fps:.1f} s)' for n, j in clips)}")
    print("CPU seconds (one thread) per simulated second; correlation = min over motions (noise off)")
    print(f"{'preset':10s} {'reference':>10s} {'fast':>8s} {'speed-up':>9s} " + " ".join(f"{v:>13s}" for v in VIEWS))
    for preset in args.presets:
        row = bench_preset(preset, clips, args.ref_seconds, args.fps)
        print(f"{row['preset']:10s} {row['ref']:10.3f} {row['fast']:8.4f} {row['speedup']:8.1f}x "
              + " ".join(f"{row[v]:13.6f}" for v in VIEWS))
    print("\nfast path, noise on, one thread: CPU seconds per simulated second, times faster than real time")
    print(f"{'set-up':14s} {'detection':>9s} {'s per s':>8s} {'real time':>10s} {'points/frame':>13s}")
    for name in args.setups:
        row = bench_setup(name, clips, args.fps)
        print(f"{row['setup']:14s} {row['detection']:>9s} {row['rate']:8.4f} {row['realtime']:9.1f}x "
              f"{row['points']:13.1f}")
    torch.set_num_threads(2)
    cfg = RadarConfig.from_params({"preset": "default", "device": "cpu"})
    six = walking_skeleton(6.0, velocity_xz=(0.3, 0.8))
    wall = best_time(lambda: simulate_radar(six, 20, cfg), 3, time.perf_counter)
    cpu = best_time(lambda: simulate_radar(six, 20, cfg), 3)
    print(f"fast path, default preset, one 6 s motion, 2 threads: {wall:.2f} s wall, {cpu:.2f} s CPU")


if __name__ == "__main__":
    main()
