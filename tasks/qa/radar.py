"""Radar grounding facts, read from the simulated heatmaps and points (the signals contract, docs/contracts.md).

Static clutter removal leaves a still person almost invisible, so only frames whose strongest range bin
stands ``active_db`` above the median of the whole range-time map count as seeing the person.  On those:

* range: the power-weighted range of the bins within ``peak_window_db`` of the frame's peak, smoothed
  over ``track_smooth_s``;
  start/end are the medians of the first/last ``edge_s`` of seen frames, closest is the minimum;
* movement: approaching / receding when the range changes by ``move_m`` or more, "approaches then
  recedes" (or the reverse) when a range between the edge windows lies ``move_m`` nearer (farther) than
  both ends;
* Doppler (velocity > 0 = away from the radar), over the frames whose spectrum peaks ``active_db`` above
  its own median, per frame from the bins within ``doppler_window_db`` of its peak, normalised so every
  frame weighs the same: the mean share of power at negative velocities (approaching), the mean velocity,
  the mean spread (micro-Doppler) and, as the peak radial speed, the 90th percentile over frames of the
  speed below which 95% of a frame's power lies;
* points: mean detected points per frame; azimuth: power-weighted angle at the start and the end
  (positive = the radar's right).

Every threshold is ``qa.radar`` in params.yaml.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field

from tasks.common.config import Section
from tasks.common.signals import to_db
from tasks.qa.trends import TrendConfig, describe, segment_trends, smooth


class RadarFactConfig(Section):
    """``qa.radar`` in params.yaml."""

    active_db: float = Field(15.0, gt=0)
    peak_window_db: float = Field(10.0, gt=0)
    edge_s: float = Field(0.25, gt=0)
    move_m: float = Field(0.3, gt=0)
    track_smooth_s: float = Field(0.3, ge=0)  # moving average of the range track
    doppler_window_db: float = Field(15.0, gt=0)  # per frame, Doppler bins this far below the strongest are ignored
    dominant_share: float = Field(0.6, gt=0.5, le=1)  # this share of Doppler power on one sign makes it dominant


def _weighted(axis: np.ndarray, power: np.ndarray) -> np.ndarray:
    """Power-weighted mean of ``axis`` per column of ``power`` [bins, frames]."""
    return (axis[:, None] * power).sum(axis=0) / np.maximum(power.sum(axis=0), 1e-30)


def _movement(track: np.ndarray, edge: int, move_m: float) -> str:
    """How the range changes; a pass (closest or farthest point) counts only between the two edge windows."""
    start, end = float(np.median(track[:edge])), float(np.median(track[-edge:]))
    inner = track[edge:-edge] if len(track) > 2 * edge else track
    if inner.min() <= min(start, end) - move_m:
        return "approaches then recedes"
    if inner.max() >= max(start, end) + move_m:
        return "recedes then approaches"
    if end - start <= -move_m:
        return "approaching"
    if end - start >= move_m:
        return "receding"
    return "no net movement"


def radar_facts(signals: dict[str, np.ndarray], cfg: RadarFactConfig = RadarFactConfig(),
                trend: TrendConfig = TrendConfig()) -> dict[str, Any]:
    """The radar facts of one motion's signals (keys as in the module docstring)."""
    t = np.asarray(signals["frame_time_s"], dtype=np.float64)
    range_power = np.asarray(signals["range_time"], dtype=np.float64)
    db = to_db(range_power)
    peak_db = db.max(axis=0)
    seen = peak_db >= np.median(db) + cfg.active_db
    points_per_frame = round(len(signals["points"]) / max(len(t), 1), 1)
    if seen.sum() < 2:
        return {"seen_share": round(float(seen.mean()), 2), "points_per_frame": points_per_frame}
    near_peak = np.where(db >= peak_db - cfg.peak_window_db, range_power, 0.0)[:, seen]
    rate = (seen.sum() - 1) / max(t[seen][-1] - t[seen][0], 1e-9)
    track = smooth(_weighted(np.asarray(signals["range_m"], np.float64), near_peak), rate, cfg.track_smooth_s)
    edge = max(1, int(round(cfg.edge_s * rate)))
    start, end = float(np.median(track[:edge])), float(np.median(track[-edge:]))

    velocity = np.asarray(signals["velocity_mps"], dtype=np.float64)
    doppler = np.asarray(signals["doppler_time"], dtype=np.float64)
    doppler_db = to_db(doppler)
    # frames whose spectrum has a clear line: a flat (noise-only) one would read as every speed at once
    clear = doppler_db.max(axis=0) >= np.median(doppler_db, axis=0) + cfg.active_db
    if not clear.any():
        clear = seen
    doppler, doppler_db = doppler[:, clear], doppler_db[:, clear]
    # each frame on its own scale: the closest frames echo far stronger (1/R^4) and would drown the rest
    doppler = np.where(doppler_db >= doppler_db.max(axis=0) - cfg.doppler_window_db, doppler, 0.0)
    doppler = doppler / doppler.sum(axis=0)
    mean_v = _weighted(velocity, doppler)
    spread = np.sqrt((_weighted(velocity**2, doppler) - mean_v**2).clip(min=0.0))
    # per frame, the speed under which 95% of its Doppler power lies: one stray bin does not set it
    order = np.argsort(np.abs(velocity))
    below = np.cumsum(doppler[order], axis=0) >= 0.95
    top_speed = np.abs(velocity)[order][below.argmax(axis=0)]
    approach_share = float(doppler[velocity < 0].sum(axis=0).mean())
    dominant = ("approaching" if approach_share >= cfg.dominant_share
                else "receding" if approach_share <= 1 - cfg.dominant_share else "mixed")
    azimuth = _weighted(np.asarray(signals["azimuth_deg"], np.float64),
                        np.asarray(signals["azimuth_time"], np.float64)[:, seen])
    return {
        "seen_share": round(float(seen.mean()), 2),
        "range_start_m": round(start, 2),
        "range_end_m": round(end, 2),
        "range_change_m": round(end - start, 2),
        "closest_range_m": round(float(track.min()), 2),
        "movement": _movement(track, edge, cfg.move_m),
        "doppler_dominant": dominant,
        "doppler_approach_share": round(approach_share, 2),
        "doppler_mean_mps": round(float(mean_v.mean()), 2),
        "doppler_spread_mps": round(float(spread.mean()), 2),
        "doppler_peak_speed_mps": round(float(np.percentile(top_speed, 90)), 2),
        "azimuth_start_deg": round(float(np.median(azimuth[:edge])), 1),
        "azimuth_end_deg": round(float(np.median(azimuth[-edge:])), 1),
        "points_per_frame": points_per_frame,
        "range_trend": describe("range to the person", "m", segment_trends(t[seen], track, cfg.move_m, trend), trend),
    }
