"""The `simulate` DVC stage: radar and IMU signals for every motion of the motion data set.

Output (`data/signals/`, written atomically):
  <id>.npz          one file per motion, the signals contract (tasks/common/signals.py, docs/contracts.md)
  index.parquet     one row per simulated motion (columns in INDEX_SCHEMA), sorted by id
  norm_stats.json   normalisation statistics of the train split (see ``norm_stats``)
  rejects.jsonl     motions that could not be simulated, and why
Metrics: `metrics/simulate.json`.

The work shards: ``--shard i/n`` simulates rows i::n of the id-sorted manifest into a folder that
looks like the output without norm_stats.json; ``--merge DIR...`` joins such folders into the output.
A plain run is one shard merged in place, so sharded and plain runs give the same files.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from tqdm import tqdm

from tasks.common.io import RejectLog, atomic_dir, write_json
from tasks.common.params import load_params
from tasks.common.shards import add_shard_arguments
from tasks.common.motions import load_manifest
from tasks.common.motions import MotionError
from tasks.common.signals import DB_EPS, HEATMAPS, IMU_CHANNELS, POINT_FEATURES, load_signals, save_signals, to_db
from tasks.simulate.signals import SimulateConfig, simulate_motion

INDEX_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("split", pa.string()),
        ("label", pa.string()),
        ("path", pa.string()),  # relative to the signals folder
        ("duration_s", pa.float32()),
        ("n_radar_frames", pa.int32()),
        ("n_points", pa.int32()),
        ("imu_samples", pa.int32()),
        ("device", pa.string()),
        ("seconds", pa.float32()),  # wall time taken: shard indexes only (it feeds the metrics)
    ]
)
# The data set's own index leaves the wall time out, so identical inputs give identical files (and DVC hashes).
FINAL_INDEX_SCHEMA = INDEX_SCHEMA.remove(INDEX_SCHEMA.get_field_index("seconds"))


class StageError(RuntimeError):
    """The stage as a whole failed (strict mode with rejects, nothing simulated, clashing shards)."""


def read_motions(motion_dir: Path) -> list[dict[str, Any]]:
    """The manifest's rows sorted by id, each with ``joints_file`` resolved against ``motion_dir``."""
    manifest = load_manifest(motion_dir).sort_values("id", kind="stable")
    return [
        {"id": r.id, "split": r.split, "label": r.label, "fps": float(r.fps), "duration_s": float(r.duration_s),
         "joints_file": str(motion_dir / r.joints_path)}
        for r in manifest.itertuples()
    ]


def simulate_shard(
    rows: Iterable[dict[str, Any]], params: dict[str, Any], out_dir: Path
) -> tuple[pd.DataFrame, RejectLog]:
    """Simulate ``rows`` (from ``read_motions``) with the ``simulate`` params section into ``out_dir``.

    Writes <id>.npz per motion, index.parquet and rejects.jsonl; a motion that fails is rejected
    (one line on stderr naming it) and the rest carry on.  Returns the index and the rejects.
    """
    cfg = SimulateConfig.from_params(params)
    # Results must not depend on the thread count (reductions change order), and on small CPU
    # machines one thread per process measured several times faster than two; scale out with shards.
    torch.set_num_threads(cfg.torch_threads)
    device = str(cfg.radar.torch_device())
    rows = list(rows)
    index, rejects = [], RejectLog("simulate")
    for row in tqdm(rows, desc="simulate", unit="motion", file=sys.stderr):
        start = time.perf_counter()
        try:
            joints = _read_joints(row)
            signals = simulate_motion(joints, row["fps"], cfg.radar, cfg.imu, cfg.seed, row["id"], cfg.method)
        except (MotionError, ValueError, OSError) as exc:
            reason = " ".join(str(exc).split())
            reason = reason if reason.startswith(f"{row['id']}:") else f"{row['id']}: {reason}"
            tqdm.write(f"simulate: rejected {reason}", file=sys.stderr)
            rejects.add(row["id"], reason, source=row["joints_file"])
            continue
        path = f"{row['id']}.npz"
        save_signals(out_dir / path, signals)
        index.append({
            "id": row["id"], "split": row["split"], "label": row["label"], "path": path,
            "duration_s": row["duration_s"], "n_radar_frames": len(signals["frame_time_s"]),
            "n_points": len(signals["points"]), "imu_samples": len(signals["imu_time_s"]), "device": device,
            "seconds": time.perf_counter() - start,
        })
    table = _write_index(index, out_dir)
    rejects.write(out_dir / "rejects.jsonl")
    return table, rejects


def _read_joints(row: dict[str, Any]) -> np.ndarray:
    try:
        return np.load(row["joints_file"], allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise MotionError(f"{row['id']}: unreadable joints file {row['joints_file']} ({exc})") from exc


def _write_index(rows: list[dict[str, Any]], folder: Path, schema: pa.Schema = INDEX_SCHEMA) -> pd.DataFrame:
    table = pa.Table.from_pylist(sorted(rows, key=lambda r: r["id"]), schema=schema)
    pq.write_table(table, folder / "index.parquet")
    return table.to_pandas()


class Moments:
    """Count, mean and sum of squared deviations over axis 0, merged batch by batch (Chan et al.)."""

    def __init__(self) -> None:
        self.n, self.mean, self.m2 = 0, np.float64(0.0), np.float64(0.0)

    def add(self, x: np.ndarray) -> None:
        x = np.asarray(x, dtype=np.float64)
        if not len(x):
            return
        mean = x.mean(axis=0)
        m2 = np.square(x - mean).sum(axis=0)
        total = self.n + len(x)
        delta = mean - self.mean
        self.mean = self.mean + delta * len(x) / total
        self.m2 = self.m2 + m2 + np.square(delta) * self.n * len(x) / total
        self.n = total

    def summary(self) -> dict[str, Any]:
        """Mean and population standard deviation (lists or floats for JSON; None without data)."""
        if not self.n:
            return {"count": 0, "mean": None, "std": None}
        return {"count": self.n, "mean": self.mean.tolist(), "std": np.sqrt(self.m2 / self.n).tolist()}


def norm_stats(folder: Path, index: pd.DataFrame) -> dict[str, Any]:
    """Normalisation statistics over the train split's signals, read from ``folder`` in id order.

    Heatmaps: one mean/std per view of every bin's 10 log10(power + eps) (dB).  IMU: mean/std per site
    and channel [S][6] of the raw readings.  Points: mean/std of each of the 5 point features.
    """
    train = index[index["split"] == "train"].sort_values("id")
    if train.empty:
        raise StageError("no motion of the train split was simulated: no normalisation statistics")
    heatmaps = {key: Moments() for key, _ in HEATMAPS}
    imu, points = Moments(), Moments()
    sites = None
    for path in train["path"]:
        signals = load_signals(folder / path)
        for key, stats in heatmaps.items():
            stats.add(to_db(signals[key]).ravel())
        if sites is not None and signals["imu_sites"].tolist() != sites:
            raise StageError(f"{path}: IMU sites {signals['imu_sites'].tolist()} differ from the others' {sites}")
        sites = signals["imu_sites"].tolist()
        imu.add(signals["imu"])
        points.add(signals["points"])
    return {
        "split": "train", "motions": len(train),
        "heatmap_transform": "dB = 10*log10(power + eps); normalised = (dB - mean) / std",
        "eps": float(DB_EPS),
        **{key: stats.summary() for key, stats in heatmaps.items()},
        "imu": {"sites": sites, "channels": list(IMU_CHANNELS), **imu.summary()},
        "points": {"features": list(POINT_FEATURES), **points.summary()},
    }


def finish(folder: Path, index: pd.DataFrame, rejects: RejectLog, strict: bool) -> dict[str, Any]:
    """Add what only the whole data set has (sorted index, rejects, norm_stats.json); return the metrics."""
    if strict and len(rejects):
        raise StageError(f"strict mode and {len(rejects)} rejected motion(s); nothing written")
    if index.empty:
        raise StageError(f"every motion was rejected ({len(rejects)}); nothing written")
    seconds = float(index["seconds"].sum())
    index = _write_index(index.to_dict("records"), folder, FINAL_INDEX_SCHEMA)
    rejects.records.sort(key=lambda r: r["item"])
    rejects.write(folder / "rejects.jsonl")
    write_json(folder / "norm_stats.json", norm_stats(folder, index))
    frames = int(index["n_radar_frames"].sum())
    return {
        "motions": len(index), "rejects": len(rejects),
        "splits": {str(k): int(v) for k, v in index["split"].value_counts().sort_index().items()},
        "signal_seconds": round(float(index["duration_s"].sum()), 3),
        "compute_seconds": round(seconds, 3),
        "seconds_per_simulated_second": round(seconds / float(index["duration_s"].sum()), 4),
        "radar_frames": frames,
        "mean_points_per_frame": round(int(index["n_points"].sum()) / max(frames, 1), 3),
        "imu_samples": int(index["imu_samples"].sum()),
        "devices": sorted(index["device"].unique().tolist()),
    }


def merge_shards(shards: list[Path], folder: Path) -> tuple[pd.DataFrame, RejectLog]:
    """Bring the shard folders' signals into ``folder`` (hard links where possible); their index and rejects."""
    indexes, rejects = [], RejectLog("simulate")
    for shard in shards:
        if not (shard / "index.parquet").is_file():
            raise StageError(f"{shard}: not a simulate shard folder (no index.parquet)")
        part = pd.read_parquet(shard / "index.parquet")
        for path in part["path"]:
            if (folder / path).exists():
                raise StageError(f"{shard}: {path} is in another shard too")
            _link_or_copy(shard / path, folder / path)
        indexes.append(part)
        lines = (shard / "rejects.jsonl").read_text().splitlines()
        rejects.records.extend(json.loads(line) for line in lines if line)
    return pd.concat(indexes, ignore_index=True), rejects


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:  # another file system, or links not supported
        shutil.copy2(src, dst)


def run(args: argparse.Namespace) -> int:
    params = load_params(args.params, "simulate")
    if args.shard:
        i, n = args.shard
        rows = read_motions(args.motion)[i::n]
        with atomic_dir(args.out) as tmp:
            index, rejects = simulate_shard(rows, params, tmp)
        print(f"simulate: shard {i}/{n}: {len(index)} motions, {len(rejects)} rejected -> {args.out}", file=sys.stderr)
        return 0
    strict = SimulateConfig.from_params(params).strict
    try:
        with atomic_dir(args.out) as tmp:
            if args.merge:
                index, rejects = merge_shards(args.merge, tmp)
            else:
                index, rejects = simulate_shard(read_motions(args.motion), params, tmp)
            summary = finish(tmp, index, rejects, strict)
    except StageError as exc:
        print(f"simulate: {exc}", file=sys.stderr)
        return 1
    write_json(args.metrics / "simulate.json", summary)
    print(
        f"simulate: {summary['motions']} motions ({summary['signal_seconds']} s of signals, "
        f"{summary['seconds_per_simulated_second']} s per simulated s), {summary['rejects']} rejected -> {args.out}",
        file=sys.stderr,
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tasks.simulate", description=__doc__.splitlines()[0])
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--motion", type=Path, default=Path("data/motion"), help="the motion data set folder")
    ap.add_argument("--out", type=Path, default=Path("data/signals"))
    ap.add_argument("--metrics", type=Path, default=Path("metrics"))
    add_shard_arguments(ap, "simulate rows I::N into --out, no merge")
    args = ap.parse_args(argv)
    try:
        return run(args)
    except (ValueError, FileNotFoundError) as exc:  # bad params or a missing data set: one line, not a trace
        print(f"simulate: {exc}", file=sys.stderr)
        return 1
