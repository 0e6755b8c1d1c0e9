"""The pretrain stage's data: every simulated motion with its captions, as fixed-size standardised windows.

``load_dataset`` reads ``data/signals`` (index.parquet, norm_stats.json and one ``.npz`` per motion) and the
captions of ``data/motion/manifest.parquet`` and keeps every motion in memory (float32; the embedded data
set is ~50 MB).  A motion without a caption cannot be paired with text and is left out, counted by reason.

A window is ``window_s`` seconds of one motion (the batch layout is in docs/contracts.md, "Pretrain batch"):
heatmaps [bins, F] in dB standardised with the train split's statistics; the strongest ``max_points``
points of each radar frame (x, y, z, velocity, intensity, standardised per feature; a feature without
spread, e.g. z of a radar without elevation, is 0); the IMU over the same span [T, S, 6] in units of one
scale per sensor type (accelerometer, gyroscope: the train split's pooled spread), with no mean removed, so
a rotated sensor reads a rotated vector of the same scale and gravity still shows posture.  A clip longer
than the window is cropped (centred in evaluation, at a random start in training), a shorter one padded at
the end; masks say what is real.

Training augmentation (``AugmentConfig``): a random start or shift, a dB gain offset and per-bin noise
per heatmap view, point dropout and jitter, IMU site dropout (at least one site kept) and a random rotation
of each sensor up to ``rotate_deg``.  Every random draw is seeded by the stage seed, the step and the
motion id, so a resumed run and a run on several processes see exactly the batches of one plain run.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy.spatial.transform import Rotation

from tasks.common.motions import load_manifest
from tasks.common.seeds import item_seed
from tasks.common.signals import DB_EPS, HEATMAPS, SignalsError, load_signals
from tasks.common.stage import StageError
from tasks.pretrain.config import AugmentConfig, DataConfig, SignalShapes

VIEWS = tuple(key for key, _ in HEATMAPS)  # range_time, doppler_time, azimuth_time


class Normaliser:
    """The train split's statistics (norm_stats.json of the simulate stage) applied to one motion."""

    def __init__(self, stats: dict, sites: list[str]):
        self.view = {v: (stats[v]["mean"], stats[v]["std"]) for v in VIEWS}
        self.eps = float(stats.get("eps", DB_EPS))
        mean, std = np.asarray(stats["points"]["mean"]), np.asarray(stats["points"]["std"])
        self.points_mean, self.points_scale = mean.astype(np.float32), np.where(std > 0, std, np.inf).astype(np.float32)
        if stats["imu"]["sites"] != sites:
            raise StageError(f"norm_stats.json: IMU sites {stats['imu']['sites']} differ from the signals' {sites}")
        # one scale per sensor type, the RMS spread over sites and axes: invariant under a sensor's rotation
        std = np.asarray(stats["imu"]["std"], np.float64)
        acc, gyro = np.sqrt(np.mean(std[:, :3] ** 2)), np.sqrt(np.mean(std[:, 3:] ** 2))
        self.imu_scale = np.array([acc] * 3 + [gyro] * 3, np.float32)

    def heatmap(self, view: str, power: np.ndarray) -> np.ndarray:
        mean, std = self.view[view]
        return ((10.0 * np.log10(power.astype(np.float64) + self.eps) - mean) / std).astype(np.float32)

    def points(self, points: np.ndarray) -> np.ndarray:
        return (points - self.points_mean) / self.points_scale


@dataclass
class Motion:
    """One motion in memory: its captions and its whole signals, standardised (IMU: scaled, see above)."""

    id: str
    split: str
    label: str | None
    captions: list[str]
    views: dict[str, np.ndarray]  # view -> [bins, F_clip]
    points: np.ndarray  # [F_clip, P, 5] in metres and m/s (standardised per window), strongest first
    n_points: np.ndarray  # [F_clip] real points per frame
    imu: np.ndarray  # [Ti_clip, S, 6]
    frame_rate: float
    imu_rate: float
    norm: Normaliser


@dataclass
class Dataset:
    motions: list[Motion]
    shapes: SignalShapes
    sites: list[str]
    skipped: dict[str, int]  # reason -> motions left out

    def split(self, name: str) -> list[Motion]:
        return [m for m in self.motions if m.split == name]


def _rate(times: np.ndarray, what: str, name: str) -> float:
    step = np.median(np.diff(times)) if times.size > 1 else 0.0
    if not step > 0:
        raise SignalsError(f"{name}: {what} times do not increase")
    return float(1.0 / step)


def strongest_points(points: np.ndarray, frames: np.ndarray, n_frames: int, keep: int) -> tuple[np.ndarray, np.ndarray]:
    """[n_frames, keep, 5] of each frame's strongest points by intensity, and how many each frame has."""
    out = np.zeros((n_frames, keep, points.shape[1]), np.float32)
    counts = np.zeros(n_frames, np.int64)
    order = np.lexsort((-points[:, 4], frames))  # by frame, then strongest first
    points, frames = points[order], frames[order]
    starts = np.searchsorted(frames, np.arange(n_frames))
    ends = np.searchsorted(frames, np.arange(n_frames), side="right")
    for f, (a, b) in enumerate(zip(starts, ends)):
        n = min(b - a, keep)
        out[f, :n], counts[f] = points[a:a + n], n
    return out, counts


def motion_of(signals: dict[str, np.ndarray], norm: Normaliser, max_points: int, name: str, *, id: str,
              split: str, label: str | None, captions: list[str]) -> Motion:
    """One simulated motion's signals (tasks/common/signals.py), standardised with ``norm``."""
    n_frames = signals["frame_time_s"].size
    points, counts = strongest_points(signals["points"], signals["points_frame"], n_frames, max_points)
    return Motion(id=id, split=split, label=label, captions=captions,
                  views={v: norm.heatmap(v, signals[v]) for v in VIEWS}, points=points, n_points=counts,
                  imu=(signals["imu"] / norm.imu_scale).astype(np.float32),
                  frame_rate=_rate(signals["frame_time_s"], "radar frame", name),
                  imu_rate=_rate(signals["imu_time_s"], "IMU sample", name), norm=norm)


def load_dataset(signals_dir: str | Path, motion_dir: str | Path, cfg: DataConfig) -> Dataset:
    """Every simulated motion with at least one caption, loaded and standardised (see the module doc)."""
    signals_dir, motion_dir = Path(signals_dir), Path(motion_dir)
    for path in (signals_dir / "index.parquet", signals_dir / "norm_stats.json"):
        if not path.is_file():
            raise StageError(f"{path}: not found (run the simulate stage first: dvc repro simulate)")
    index = pd.read_parquet(signals_dir / "index.parquet").sort_values("id", kind="stable")
    manifest = load_manifest(motion_dir).set_index("id")
    captions = manifest["captions"]
    held_out = hard_motions(index, manifest, cfg.hard)
    stats = json.loads((signals_dir / "norm_stats.json").read_text())
    skipped: Counter[str] = Counter()
    motions, norm, sites = [], None, None
    for row in index.itertuples():
        own = captions.get(row.id) if row.id in captions.index else None
        texts = [str(c).strip() for c in ([] if own is None else own)]
        texts = list(dict.fromkeys(t for t in texts if t))
        if not texts:
            skipped["no caption"] += 1
            continue
        name = str(signals_dir / row.path)
        signals = load_signals(name)
        if sites is None:
            sites = signals["imu_sites"].tolist()
            norm = Normaliser(stats, sites)
        elif signals["imu_sites"].tolist() != sites:
            raise SignalsError(f"{name}: IMU sites {signals['imu_sites'].tolist()} differ from the others' {sites}")
        motions.append(motion_of(signals, norm, cfg.max_points, name, id=row.id,
                                 split="hard" if row.id in held_out else row.split,
                                 label=None if pd.isna(row.label) else str(row.label), captions=texts))
    if not motions:
        raise StageError(f"{signals_dir}: no simulated motion with a caption to pretrain on")
    first = motions[0]
    for m in motions:
        bins = {v: m.views[v].shape[0] for v in VIEWS}
        if bins != {v: first.views[v].shape[0] for v in VIEWS} or abs(m.frame_rate - first.frame_rate) > 1e-3 * \
                first.frame_rate or abs(m.imu_rate - first.imu_rate) > 1e-3 * first.imu_rate:
            raise StageError(f"{m.id}: radar bins {bins} or rates differ from {first.id}'s: one radar and IMU "
                             "configuration per data set")
    shapes = SignalShapes(
        range_bins=first.views["range_time"].shape[0], doppler_bins=first.views["doppler_time"].shape[0],
        angle_bins=first.views["azimuth_time"].shape[0], n_frames=round(cfg.window_s * first.frame_rate),
        max_points=cfg.max_points, imu_steps=round(cfg.window_s * first.imu_rate), n_sites=len(sites))
    return Dataset(motions, shapes, sites, dict(skipped))


def hard_motions(index: pd.DataFrame, manifest: pd.DataFrame, hard: dict[str, tuple[float, float]]) -> set[str]:
    """Ids of the motions with any condition outside its training range (DataConfig.hard)."""
    facts = manifest["facts"].reindex(index["id"]).tolist()
    held: set[str] = set()
    for name, (lo, hi) in hard.items():
        if name in index.columns:
            values = index[name].to_numpy(np.float64)
        else:
            values = np.array([(f or {}).get(name, np.nan) if isinstance(f, dict) else np.nan for f in facts], float)
            if np.isnan(values).all():
                numeric = ", ".join(dict.fromkeys(sorted(
                    k for f in facts if isinstance(f, dict) for k, v in f.items()
                    if isinstance(v, int | float) and not isinstance(v, bool))))
                scene = [c for c in index.columns if index[c].dtype.kind == "f"]
                raise StageError(f"pretrain.data.hard.{name}: neither a scene column of index.parquet "
                                 f"({', '.join(scene)}) nor a numeric motion fact ({numeric})")
        held |= set(index["id"][(values < lo) | (values > hi)])  # a motion without the value is not held out
    return held


def _rotations(rng: np.random.Generator, n: int, max_deg: float) -> np.ndarray:
    """``n`` random rotation matrices, each about a uniform random axis by an angle up to ``max_deg``."""
    axes = rng.normal(size=(n, 3))
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    return Rotation.from_rotvec(axes * np.radians(rng.uniform(0, max_deg, (n, 1)))).as_matrix().astype(np.float32)


def window(m: Motion, shapes: SignalShapes, aug: AugmentConfig | None, rng: np.random.Generator | None):
    """One motion's window as numpy arrays (the batch layout without the batch axis).

    ``aug`` None: the centred window, nothing random (evaluation)."""
    F, T = shapes.n_frames, shapes.imu_steps
    clip_frames = m.views["range_time"].shape[1]
    spare = clip_frames - F
    if aug is None:
        start, pad = max(spare, 0) // 2, 0
    elif spare > 0:
        start, pad = int(rng.integers(0, spare + 1)), 0
    else:  # a short clip may start a little late in its window
        start, pad = 0, int(rng.integers(0, min(aug.shift_frames, -spare) + 1))
    take = min(F - pad, clip_frames - start)
    out = {"frame_mask": np.zeros(F, bool)}
    out["frame_mask"][pad:pad + take] = True
    for v in VIEWS:
        view = np.zeros((m.views[v].shape[0], F), np.float32)
        view[:, pad:pad + take] = m.views[v][:, start:start + take]
        if aug is not None:  # a gain offset and per-bin noise, in dB, then in the view's standard units
            jitter = rng.normal(0, aug.db_gain) + rng.normal(0, aug.db_noise, (view.shape[0], take))
            view[:, pad:pad + take] += (jitter / m.norm.view[v][1]).astype(np.float32)
        out[v] = view
    points = np.zeros((F, shapes.max_points, 5), np.float32)
    mask = np.zeros((F, shapes.max_points), bool)
    points[pad:pad + take] = m.points[start:start + take]
    mask[pad:pad + take] = np.arange(shapes.max_points)[None, :] < m.n_points[start:start + take, None]
    if aug is not None:
        mask &= rng.random(mask.shape) >= aug.point_dropout
        sigma = np.array([aug.point_jitter_m] * 3 + [aug.velocity_jitter_mps, 0.0], np.float32)
        points += rng.normal(0, 1, points.shape).astype(np.float32) * sigma
    out["points"], out["points_mask"] = np.where(mask[..., None], m.norm.points(points), 0.0).astype(np.float32), mask
    # the IMU over the same span: radar frame f starts at f / frame_rate
    i0, i_pad = round(start / m.frame_rate * m.imu_rate), round(pad / m.frame_rate * m.imu_rate)
    i_take = max(0, min(T - i_pad, m.imu.shape[0] - i0, round(take / m.frame_rate * m.imu_rate)))
    imu = np.zeros((T, m.imu.shape[1], 6), np.float32)
    imu[i_pad:i_pad + i_take] = m.imu[i0:i0 + i_take]
    sites = np.ones(m.imu.shape[1], bool)
    if aug is not None:
        if aug.rotate_deg > 0:
            rot = _rotations(rng, m.imu.shape[1], aug.rotate_deg)  # [S, 3, 3], one per sensor
            imu = np.concatenate([np.einsum("sij,tsj->tsi", rot, imu[..., :3]),
                                  np.einsum("sij,tsj->tsi", rot, imu[..., 3:])], axis=-1)
        sites = rng.random(sites.size) >= aug.site_dropout
        if not sites.any():
            sites[rng.integers(sites.size)] = True
        imu[:, ~sites] = 0.0
    out["imu"], out["imu_mask"], out["site_mask"] = imu, np.zeros(T, bool), sites
    out["imu_mask"][i_pad:i_pad + i_take] = True
    return out


def collate(windows: list[dict[str, np.ndarray]]) -> dict[str, torch.Tensor]:
    return {key: torch.from_numpy(np.stack([w[key] for w in windows])) for key in windows[0]}


def positives(texts: list[str], motions: list[Motion]) -> torch.Tensor:
    """bool [B, B]: text j is a caption of motion i (so two motions sharing a caption are no negatives)."""
    owned = [set(m.captions) for m in motions]
    return torch.tensor([[t in own for t in texts] for own in owned])


def steps_per_epoch(n_train: int, batch_size: int) -> int:
    if n_train < batch_size:
        raise StageError(f"{n_train} training motions, fewer than pretrain.train.batch_size {batch_size}")
    return n_train // batch_size


def train_batch(train: list[Motion], shapes: SignalShapes, step: int, batch_size: int, seed: int,
                aug: AugmentConfig | None, rank: int = 0, world: int = 1):
    """The global batch of ``step`` (every epoch a seeded permutation, the last partial batch dropped), this
    process's share of it (every ``world``-th motion from ``rank``), one caption per motion, and the
    positives of the global batch: (batch, texts of the global batch, positives [B, B], this share's rows).
    ``aug`` None: centred windows, no augmentation."""
    per_epoch = steps_per_epoch(len(train), batch_size)
    epoch, k = divmod(step, per_epoch)
    order = np.random.default_rng(item_seed(seed, "epoch", str(epoch))).permutation(len(train))
    motions = [train[i] for i in order[k * batch_size:(k + 1) * batch_size]]
    texts = []
    for m in motions:
        pick = np.random.default_rng(item_seed(seed, "caption", str(step), m.id)).integers(len(m.captions))
        texts.append(m.captions[pick])
    mine = list(range(rank, batch_size, world))
    windows = [window(motions[i], shapes, aug, np.random.default_rng(item_seed(seed, "augment", str(step),
                                                                                 motions[i].id))) for i in mine]
    return collate(windows), texts, positives(texts, motions), mine


def eval_batches(motions: list[Motion], shapes: SignalShapes, batch_size: int):
    """The centred windows of ``motions`` in order, ``batch_size`` at a time."""
    for i in range(0, len(motions), batch_size):
        yield collate([window(m, shapes, None, None) for m in motions[i:i + batch_size]])
