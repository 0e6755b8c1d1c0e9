"""Point-cloud features of one window that do not depend on where the radar stands.

Positions are first taken to a level frame: ``lateral`` (the radar's right), ``forward`` (horizontal, along
the boresight's ground track) and ``height`` above the floor (from the radar's height and pitch).  Only
spreads, quantiles of height, differences between frames and velocities enter the features, never an
absolute range or bearing, so moving or tilting the radar in front of the same scene changes none of them
(radial velocities change only as far as the line of sight does).  Intensity enters only relative to the
window's own median: devices define SNR differently and their dB values are not comparable.

Device properties still show: points per frame, the zero-velocity share (static clutter removal, Doppler
resolution) and the spreads (angle resolution grows with range).  That is the gap the report measures.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from tasks.real.schema import Recording

# |v| below this counts as zero velocity: under half of every preset's Doppler bin (0.07-0.19 m/s), so a
# device reporting whole bins puts only its zero bin here.
ZERO_VELOCITY_MPS = 0.05
FEATURES: tuple[str, ...] = (
    "points_per_frame_mean", "points_per_frame_std", "empty_frame_share",
    "abs_velocity_mean", "velocity_std", "abs_velocity_q50", "abs_velocity_q90",
    "zero_velocity_share", "approaching_share", "receding_share",
    "height_q05", "height_q25", "height_q50", "height_q75", "height_q95", "height_extent",
    "lateral_spread", "forward_spread", "height_spread",
    "centroid_speed", "forward_drift", "frame_velocity_std", "frame_height_std",
    "intensity_spread", "intensity_peak",
)
UNITS = {"points_per_frame_mean": "points", "points_per_frame_std": "points", "empty_frame_share": "share",
         "zero_velocity_share": "share", "approaching_share": "share", "receding_share": "share",
         "centroid_speed": "m/s", "forward_drift": "m/s", "intensity_spread": "dB", "intensity_peak": "dB"}


def level_frame(rec: Recording) -> np.ndarray:
    """Points [N, 3] as lateral (m, radar's right), forward (m, horizontal) and height above the floor (m)."""
    pitch = math.radians(rec.sensor.pitch_deg)
    y, z = rec.points[:, 1].astype(np.float64), rec.points[:, 2].astype(np.float64)
    return np.column_stack([rec.points[:, 0].astype(np.float64), z * math.cos(pitch) - y * math.sin(pitch),
                            rec.heights_m()])


def window_features(rec: Recording) -> np.ndarray:
    """The FEATURES of one window (or recording), float64; NaN where a window has too few points for one."""
    out = dict.fromkeys(FEATURES, math.nan)
    counts = np.bincount(rec.points_frame, minlength=rec.n_frames).astype(np.float64)
    out.update(points_per_frame_mean=counts.mean(), points_per_frame_std=counts.std(),
               empty_frame_share=float(np.mean(counts == 0)))
    if len(rec.points):
        v = rec.points[:, 3].astype(np.float64)
        speed = np.abs(v)
        level = level_frame(rec)
        heights = level[:, 2]
        q = np.quantile(heights, [0.05, 0.25, 0.5, 0.75, 0.95])
        intensity = rec.points[:, 4].astype(np.float64)
        out.update(abs_velocity_mean=speed.mean(), velocity_std=v.std(), abs_velocity_q50=np.quantile(speed, 0.5),
                   abs_velocity_q90=np.quantile(speed, 0.9), zero_velocity_share=np.mean(speed < ZERO_VELOCITY_MPS),
                   approaching_share=np.mean(v <= -ZERO_VELOCITY_MPS), receding_share=np.mean(v >= ZERO_VELOCITY_MPS),
                   height_q05=q[0], height_q25=q[1], height_q50=q[2], height_q75=q[3], height_q95=q[4],
                   height_extent=q[4] - q[0],
                   intensity_spread=np.quantile(intensity, 0.9) - np.quantile(intensity, 0.1))
        out.update(_frame_features(rec, level, v, intensity - np.median(intensity)))
    return np.array([out[name] for name in FEATURES], dtype=np.float64)


def feature_matrix(windows: Sequence[Recording]) -> np.ndarray:
    """window_features of each window, [W, len(FEATURES)]."""
    if not windows:
        return np.empty((0, len(FEATURES)))
    return np.stack([window_features(w) for w in windows])


def frame_groups(rec: Recording) -> tuple[np.ndarray, np.ndarray]:
    """The non-empty frames (sorted) and, per point, the index of its frame among them."""
    frames, inverse = np.unique(rec.points_frame, return_inverse=True)
    return frames, inverse


def frame_means(values: np.ndarray, inverse: np.ndarray, n: int) -> np.ndarray:
    """Per non-empty frame, the mean of ``values`` [N] or [N, K] over its points."""
    counts = np.bincount(inverse, minlength=n).astype(np.float64)
    if values.ndim == 1:
        return np.bincount(inverse, weights=values, minlength=n) / counts
    return np.column_stack([np.bincount(inverse, weights=values[:, k], minlength=n) / counts
                            for k in range(values.shape[1])])


def frame_spreads(level: np.ndarray, inverse: np.ndarray, n: int) -> np.ndarray:
    """Per non-empty frame, the standard deviation of lateral, forward and height [n, 3]; NaN for one point."""
    counts = np.bincount(inverse, minlength=n)
    mean = frame_means(level, inverse, n)
    var = frame_means(np.square(level - mean[inverse]), inverse, n)
    spread = np.sqrt(var)
    spread[counts < 2] = np.nan
    return spread


def _frame_features(rec: Recording, level: np.ndarray, v: np.ndarray, relative_db: np.ndarray) -> dict[str, float]:
    """Features over frames: spreads within a frame, and how the per-frame centroid and velocity move."""
    frames, inverse = frame_groups(rec)
    n = len(frames)
    out: dict[str, float] = {}
    spreads = frame_spreads(level, inverse, n)
    if np.isfinite(spreads[:, 0]).any():
        out.update(zip(("lateral_spread", "forward_spread", "height_spread"), np.nanmean(spreads, axis=0)))
    centroid = frame_means(level, inverse, n)
    frame_v = frame_means(v, inverse, n)
    peak = np.full(n, -np.inf)
    np.maximum.at(peak, inverse, relative_db)
    out["intensity_peak"] = float(peak.mean())
    if n >= 2:
        t = rec.frame_time_s[frames]
        step = np.linalg.norm(np.diff(centroid, axis=0), axis=1) / np.diff(t)
        out.update(centroid_speed=float(np.median(step)), forward_drift=float(np.polyfit(t, centroid[:, 1], 1)[0]),
                   frame_velocity_std=float(frame_v.std()), frame_height_std=float(centroid[:, 2].std()))
    return out
