"""The `simulate` DVC stage: radar and IMU signals for every motion of the motion data set.

Output (`data/signals/`, replaced in one rename on success):
  <id>.npz          one file per motion, the signals contract (tasks/common/signals.py, docs/contracts.md),
                    plus its provenance key (tasks/simulate/resume.py)
  index.parquet     one row per simulated motion (columns in FINAL_INDEX_SCHEMA), sorted by id
  norm_stats.json   normalisation statistics of the train split (see ``norm_stats``)
  rejects.jsonl     motions that could not be simulated, and why
Metrics: `metrics/simulate.json`.

The stage resumes: it works in `data/.signals.partial/` and keeps every motion whose signals there or in the
previous output (``--out``; also ``--reuse DIR``, for a shard by default `data/signals/`) were made from
the same joints, params and code (tasks/simulate/resume.py).

The work shards: ``--shard i/n`` simulates rows i::n of the id-sorted manifest into a folder that
looks like the output without norm_stats.json; ``--merge DIR...`` joins such folders into the output.
A plain run is one shard merged in place, so sharded and plain runs give the same files.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from tqdm import tqdm

from tasks.common.config import load_section
from tasks.common.io import RejectLog, atomic_dir, replace_dir, write_json
from tasks.common.motions import MotionError, load_manifest
from tasks.common.shards import add_shard_arguments
from tasks.common.signals import DB_EPS, HEATMAPS, IMU_CHANNELS, POINT_FEATURES, load_signals, save_signals, to_db
from tasks.common.stage import StageError, one_line, run_stage
from tasks.simulate.config import SimulateConfig
from tasks.simulate.resume import clear_stale, link_or_copy, provenance_key, reuse, scratch_folder, stamped
from tasks.simulate.scene import RECORDED
from tasks.simulate.signals import simulate_motion

DEFAULT_OUT = Path("data/signals")
INDEX_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("split", pa.string()),
        ("label", pa.string()),  # null for sources without classes (HumanML3D, BVH)
        ("path", pa.string()),  # relative to the signals folder
        ("duration_s", pa.float32()),
        ("n_radar_frames", pa.int32()),
        ("n_points", pa.int32()),
        ("imu_samples", pa.int32()),
        ("device", pa.string()),
        *((name, pa.float64()) for name in RECORDED),  # the motion's scene (tasks/simulate/scene.py)
        # shard indexes only (they feed the metrics): wall time taken, and whether an earlier run's file was kept
        ("seconds", pa.float32()),
        ("reused", pa.bool_()),
    ]
)
# The data set's own index leaves those out, so identical inputs give identical files (and DVC hashes).
FINAL_INDEX_SCHEMA = pa.schema([f for f in INDEX_SCHEMA if f.name not in ("seconds", "reused")])


def read_motions(motion_dir: Path) -> list[dict[str, Any]]:
    """The manifest's rows sorted by id, each with ``joints_file`` resolved against ``motion_dir``."""
    manifest = load_manifest(motion_dir).sort_values("id", kind="stable")
    return [
        {"id": r.id, "split": r.split, "label": r.label if isinstance(r.label, str) else None,  # null, not NaN
         "fps": float(r.fps), "duration_s": float(r.duration_s), "joints_file": str(motion_dir / r.joints_path)}
        for r in manifest.itertuples()
    ]


def simulate_shard(
    rows: Iterable[dict[str, Any]], cfg: SimulateConfig, out_dir: Path, earlier: Iterable[Path] = ()
) -> tuple[pd.DataFrame, RejectLog]:
    """Simulate ``rows`` (from ``read_motions``) into ``out_dir``: <id>.npz per motion, index.parquet, rejects.jsonl.

    A motion whose file in ``out_dir`` or one of the ``earlier`` signals folders carries its provenance
    key is kept, not simulated again.  A motion that fails is rejected (one line on stderr naming it) and
    the rest carry on; a file that cannot be written (a full disk) fails the shard.  Files of other
    motions are removed from ``out_dir``.  Returns the index and the rejects.
    """
    # Results must not depend on the thread count (reductions change order), and on small CPU
    # machines one thread per process measured several times faster than two; scale out with shards.
    torch.set_num_threads(cfg.torch_threads)
    device = str(cfg.radar.torch_device())
    rows, earlier = list(rows), [p for p in earlier if p.is_dir()]
    index, rejects = [], RejectLog("simulate")
    for row in tqdm(rows, desc="simulate", unit="motion", file=sys.stderr):
        start = time.perf_counter()
        path = f"{row['id']}.npz"
        try:
            joints = _read_joints(row)
            key = provenance_key(row["id"], joints, row["fps"], cfg)
            reused = reuse(key, out_dir / path, [folder / path for folder in earlier])
            if not reused:
                signals = simulate_motion(joints, row["fps"], cfg.radar, cfg.imu, cfg.seed, row["id"], cfg.method,
                                          cfg.scene)
        except ValueError as exc:  # MotionError: a motion the simulators refuse; OSError (a full disk) ends the run
            reason = " ".join(str(exc).split())
            reason = reason if reason.startswith(f"{row['id']}:") else f"{row['id']}: {reason}"
            tqdm.write(f"simulate: rejected {reason}", file=sys.stderr)
            rejects.add(row["id"], reason, source=row["joints_file"])
            continue
        if reused:
            with np.load(out_dir / path, allow_pickle=False) as signals:
                counts = _counts(signals)
        else:
            save_signals(out_dir / path, stamped(signals, key))
            counts = _counts(signals)
        index.append({"id": row["id"], "split": row["split"], "label": row["label"], "path": path,
                      "duration_s": row["duration_s"], **counts, "device": device,
                      "seconds": time.perf_counter() - start, "reused": reused})
    kept = {r["path"] for r in index}
    for stale in [p for p in out_dir.iterdir() if p.name not in kept]:
        stale.unlink()
    table = _write_index(pd.DataFrame(index, columns=INDEX_SCHEMA.names), out_dir)
    rejects.write(out_dir / "rejects.jsonl")
    return table, rejects


def _counts(signals: Any) -> dict[str, Any]:
    """The index columns read from a motion's signals: sizes and its scene values."""
    return {"n_radar_frames": len(signals["frame_time_s"]), "n_points": len(signals["points"]),
            "imu_samples": len(signals["imu_time_s"]), **dict(zip(RECORDED, signals["scene"].tolist()))}


def _read_joints(row: dict[str, Any]) -> np.ndarray:
    try:
        return np.load(row["joints_file"], allow_pickle=False)
    except OSError as exc:
        problem = one_line(exc)
    except EOFError:
        problem = "empty or cut short"
    except ValueError as exc:  # numpy reads anything that is not an .npy as a pickle it refuses to load
        problem = "not a NumPy .npy file" if "pickle" in str(exc) else one_line(exc)
    raise MotionError(f"{row['id']}: unreadable joints file {row['joints_file']} ({problem})")


def _write_index(frame: pd.DataFrame, folder: Path, schema: pa.Schema = INDEX_SCHEMA) -> pd.DataFrame:
    """Write ``frame``'s ``schema`` columns sorted by id; from pandas, which reads a null label back as NaN."""
    table = pa.Table.from_pandas(frame.sort_values("id", kind="stable"), schema=schema, preserve_index=False)
    pq.write_table(table.replace_schema_metadata(None), folder / "index.parquet")
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
    seconds, reused = float(index["seconds"].sum()), int(index["reused"].sum())
    index = _write_index(index, folder, FINAL_INDEX_SCHEMA)
    rejects.records.sort(key=lambda r: r["item"])
    rejects.write(folder / "rejects.jsonl")
    write_json(folder / "norm_stats.json", norm_stats(folder, index))
    frames = int(index["n_radar_frames"].sum())
    return {
        "motions": len(index), "rejects": len(rejects), "reused": reused,
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
            link_or_copy(shard / path, folder / path)
        indexes.append(part)
        lines = (shard / "rejects.jsonl").read_text().splitlines()
        rejects.records.extend(json.loads(line) for line in lines if line)
    return pd.concat(indexes, ignore_index=True), rejects


def run(args: argparse.Namespace) -> int:
    cfg = load_section(SimulateConfig, args.params, "simulate")
    clear_stale(args.out)
    if args.merge:
        with atomic_dir(args.out) as tmp:
            summary = finish(tmp, *merge_shards(args.merge, tmp), cfg.strict)
    else:
        rows = read_motions(args.motion)
        if args.shard:
            rows = rows[args.shard[0]::args.shard[1]]
        scratch = scratch_folder(args.out)
        scratch.mkdir(parents=True, exist_ok=True)
        # a failed run keeps the scratch folder: the next run resumes from it
        # a shard also looks in the data set of the last plain or merged run
        also = args.reuse or (DEFAULT_OUT if args.shard else None)
        index, rejects = simulate_shard(rows, cfg, scratch, [args.out] + ([also] if also else []))
        if args.shard:
            replace_dir(scratch, args.out)
            print(f"simulate: shard {args.shard[0]}/{args.shard[1]}: {len(index)} motions "
                  f"({int(index['reused'].sum())} reused), {len(rejects)} rejected -> {args.out}", file=sys.stderr)
            return 0
        summary = finish(scratch, index, rejects, cfg.strict)
        replace_dir(scratch, args.out)
    write_json(args.metrics / "simulate.json", summary)
    print(
        f"simulate: {summary['motions']} motions ({summary['signal_seconds']} s of signals, "
        f"{summary['seconds_per_simulated_second']} s per simulated s; {summary['reused']} reused from an earlier "
        f"run), {summary['rejects']} rejected -> {args.out}",
        file=sys.stderr,
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tasks.simulate", description=__doc__.splitlines()[0])
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--motion", type=Path, default=Path("data/motion"), help="the motion data set folder")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--metrics", type=Path, default=Path("metrics"))
    ap.add_argument("--reuse", type=Path, metavar="DIR", help="another signals folder whose matching files are "
                    f"kept, besides --out's (a shard's default: {DEFAULT_OUT})")
    add_shard_arguments(ap, "simulate rows I::N into --out, no merge")
    args = ap.parse_args(argv)
    return run_stage("simulate", lambda: run(args))
