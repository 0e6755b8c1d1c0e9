"""Point-cloud statistics of a set of recordings, pooled per class, for the sim-vs-real side-by-side.

Pooled over every frame and point of a class's whole recordings (not windows): points per frame and the
share of empty frames, the radial-velocity (Doppler) histogram and the zero-velocity share, height above
the floor and radar range (quantiles and extent), the share of points off the boresight plane (a device
without elevation antennas puts every point on it, and its heights are then all the radar's), and each
frame's spread (lateral, forward, height; as
in features.py).  Histograms share fixed edges so a simulated and a real class compare bin by bin.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tasks.real.features import ZERO_VELOCITY_MPS, frame_groups, frame_spreads, level_frame
from tasks.real.schema import Recording

EDGES = {
    "velocity_mps": np.linspace(-4.0, 4.0, 41),  # outside: counted in the end bins
    "height_m": np.linspace(0.0, 2.5, 26),
    "points_per_frame": np.arange(-0.5, 128.5, 4.0),  # TI devices report up to hundreds; empty frames: their share
    "frame_spread_m": np.linspace(0.0, 1.0, 26),
}
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
ELEVATED_M = 1e-3  # a point this far above or below the boresight plane has a measured elevation


@dataclass
class Samples:
    """What one class's recordings hold, flattened: per frame, per point, per non-empty frame."""

    recordings: int
    points_per_frame: np.ndarray  # [frames]
    velocity_mps: np.ndarray  # [points]
    height_m: np.ndarray  # [points]
    range_m: np.ndarray  # [points]
    elevation_m: np.ndarray  # [points]: the radar-frame y, 0 for every point of a device that measures no elevation
    frame_spread_m: np.ndarray  # [non-empty frames with 2+ points, 3]: lateral, forward, height


def class_samples(recordings: Sequence[Recording]) -> dict[str, Samples]:
    """Samples per class label, sorted by label."""
    by_class: dict[str, list[Recording]] = defaultdict(list)
    for rec in recordings:
        by_class[rec.label].append(rec)
    out = {}
    for label in sorted(by_class):
        recs = by_class[label]
        spreads = []
        for rec in recs:
            frames, inverse = frame_groups(rec)
            s = frame_spreads(level_frame(rec), inverse, len(frames))
            spreads.append(s[np.isfinite(s[:, 0])])
        out[label] = Samples(
            recordings=len(recs),
            points_per_frame=np.concatenate([np.bincount(r.points_frame, minlength=r.n_frames) for r in recs]),
            velocity_mps=np.concatenate([r.points[:, 3] for r in recs]).astype(np.float64),
            height_m=np.concatenate([r.heights_m() for r in recs]),
            range_m=np.concatenate([np.linalg.norm(r.points[:, :3], axis=1) for r in recs]).astype(np.float64),
            elevation_m=np.concatenate([r.points[:, 1] for r in recs]).astype(np.float64),
            frame_spread_m=np.concatenate(spreads) if spreads else np.empty((0, 3)))
    return out


def histogram(values: np.ndarray, name: str) -> list[float]:
    """Share of ``values`` in each bin of EDGES[name] (values outside go to the end bins); [] without values."""
    edges = EDGES[name]
    if not len(values):
        return []
    counts, _ = np.histogram(np.clip(values, edges[0], edges[-1]), bins=edges)
    return (counts / len(values)).tolist()


def summarise(s: Samples) -> dict[str, Any]:
    """The JSON statistics of one class's Samples (None where there is nothing to measure)."""
    speed = np.abs(s.velocity_mps)
    spread = s.frame_spread_m
    return {
        "recordings": s.recordings, "frames": len(s.points_per_frame), "points": len(s.velocity_mps),
        "points_per_frame": _describe(s.points_per_frame.astype(np.float64)),
        "empty_frame_share": _share(s.points_per_frame == 0),
        "zero_velocity_share": _share(speed < ZERO_VELOCITY_MPS),
        "abs_velocity_mps": _describe(speed),
        "velocity_hist": histogram(s.velocity_mps, "velocity_mps"),
        "elevated_share": _share(np.abs(s.elevation_m) > ELEVATED_M),
        "height_m": _describe(s.height_m, extent=True),
        "height_hist": histogram(s.height_m, "height_m"),
        "range_m": _describe(s.range_m, extent=True),
        "points_per_frame_hist": histogram(s.points_per_frame, "points_per_frame"),
        "frame_spread_m": {axis: _describe(spread[:, k]) for k, axis in enumerate(("lateral", "forward", "height"))},
        "frame_spread_hist": {axis: histogram(spread[:, k], "frame_spread_m")
                              for k, axis in enumerate(("lateral", "forward"))},
    }


def _share(flags: np.ndarray) -> float | None:
    return float(np.mean(flags)) if len(flags) else None


def _describe(values: np.ndarray, extent: bool = False) -> dict[str, float] | None:
    """Mean and quantiles (q05 ... q95), and the q05-q95 extent if asked; None without values."""
    if not len(values):
        return None
    q = np.quantile(values, QUANTILES)
    out = {"mean": float(values.mean()), **{f"q{round(p * 100):02d}": float(v) for p, v in zip(QUANTILES, q)}}
    if extent:
        out["extent"] = float(q[-1] - q[0])
    return out
