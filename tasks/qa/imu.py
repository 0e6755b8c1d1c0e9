"""IMU grounding facts: which sensor moves most, and how its readings evolve (SensorLLM-style trend text).

The busiest site is the one whose accelerometer magnitude varies most (standard deviation after a short
moving average, so noise alone does not win).  Its |acceleration| gets a segment-by-segment trend
sentence; it and |angular rate| get summary statistics.  A still sensor reads ~9.81 m/s² (gravity).
"""
from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field

from tasks.common.config import Section
from tasks.qa.trends import TrendConfig, describe, segment_trends, smooth


class ImuFactConfig(Section):
    """``qa.imu`` in params.yaml."""

    min_acc_change: float = Field(0.5, ge=0)  # m/s²: smaller changes of |acceleration| are never a rise or a fall


def site_words(site: str) -> str:
    """'left_wrist' -> 'left-wrist'."""
    return site.replace("_", "-")


def imu_facts(signals: dict[str, np.ndarray], trend: TrendConfig = TrendConfig(),
              cfg: ImuFactConfig = ImuFactConfig()) -> dict[str, Any]:
    t = np.asarray(signals["imu_time_s"], dtype=np.float64)
    imu = np.asarray(signals["imu"], dtype=np.float64)
    sites = [str(s) for s in signals["imu_sites"]]
    rate = (len(t) - 1) / max(t[-1] - t[0], 1e-9)
    acc = np.linalg.norm(imu[:, :, :3], axis=-1)
    gyr = np.linalg.norm(imu[:, :, 3:], axis=-1)
    activity = np.array([smooth(acc[:, i], rate, trend.smooth_s).std() for i in range(len(sites))])
    ranked = np.argsort(-activity)
    top = int(ranked[0])
    a, g = acc[:, top], gyr[:, top]
    name = f"{site_words(sites[top])} acceleration"
    return {
        "most_active_sites": [sites[i] for i in ranked[:3]],
        "site": sites[top],
        "acc_trend": describe(name, "m/s²", segment_trends(t, a, cfg.min_acc_change, trend), trend),
        "acc_mean": round(float(a.mean()), 1),
        "acc_min": round(float(a.min()), 1),
        "acc_max": round(float(a.max()), 1),
        "acc_std": round(float(a.std()), 2),
        "acc_peak_time_s": round(float(t[int(a.argmax())]), 1),
        "gyro_mean_rad_s": round(float(g.mean()), 2),
        "gyro_max_rad_s": round(float(g.max()), 2),
    }
