"""Simulated signals as Recordings, so simulated and real point clouds go through one feature path.

A signals ``.npz`` already holds its points in the radar frame (x right, y up, z boresight; velocity + = away;
docs/contracts.md), so the conversion only adds what a real recording's metadata says: the radar's height
above the floor and its pitch.  Both come from the file's ``radar_pose`` ([x, y, z, yaw_deg, pitch_deg],
world, y up: y is the height), or, for a file without one, from the simulate section's radar pose.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from tasks.common.params import load_params
from tasks.common.signals import SignalsError, load_signals
from tasks.real.schema import Recording, SensorMeta

POSE_KEY = "radar_pose"
SIM_FORMAT = "npz"
Pose = tuple[float, float, float, float, float]  # x, y, z (m, world), yaw_deg, pitch_deg


def params_pose(params_path: str | Path) -> Pose:
    """The radar pose of the params file's simulate section (its preset and overrides)."""
    from tasks.simulate.config import SimulateConfig  # imported here: it brings torch along

    radar = SimulateConfig.from_params(load_params(params_path, "simulate")).radar
    return (*map(float, radar.position_m), float(radar.yaw_deg), float(radar.pitch_deg))


def signals_pose(signals: dict[str, np.ndarray], default: Pose | Callable[[], Pose], where: str) -> Pose:
    """The file's own ``radar_pose``, else ``default`` (a pose, or a function giving one when first needed)."""
    if POSE_KEY not in signals:
        return default() if callable(default) else default
    pose = np.asarray(signals[POSE_KEY], dtype=np.float64)
    if pose.shape != (5,) or not np.isfinite(pose).all():
        raise SignalsError(f"{where}: {POSE_KEY} must be 5 finite numbers (x, y, z, yaw_deg, pitch_deg), "
                           f"got shape {list(pose.shape)}")
    return tuple(float(v) for v in pose)  # type: ignore[return-value]


def lazy_pose(default: Pose | Callable[[], Pose]) -> Pose | Callable[[], Pose]:
    """``default`` as it is, or, for a function, one that computes the pose once, when first asked."""
    return functools.cache(default) if callable(default) else default


def signals_to_recording(signals: dict[str, np.ndarray], id: str, label: str, pose: Pose,
                         source: Path = Path(), device: str = "simulated") -> Recording:
    """One motion's simulated point cloud as a Recording: the same points and frames, the pose's height and pitch.

    Frame times start at 0 (``clock_start_s`` keeps the first frame's time from the motion's start); every
    frame is kept, those without points included.
    """
    times = np.asarray(signals["frame_time_s"], dtype=np.float64)
    period = float(np.median(np.diff(times))) if len(times) > 1 else None
    sensor = SensorMeta(axes="radar", velocity_positive="away", radar_height_m=pose[1], pitch_deg=pose[4],
                        frame_period_s=period, device=device)
    start = float(times[0]) if len(times) else 0.0
    return Recording(id=id, label=label, folder=label, source=source, format=SIM_FORMAT, sensor=sensor,
                     frame_time_s=times - start, points=np.asarray(signals["points"], dtype=np.float32),
                     points_frame=np.asarray(signals["points_frame"], dtype=np.int32), clock_start_s=start)


def read_index(folder: Path) -> pd.DataFrame:
    """The labelled rows (id, label, split, path) of a signals folder's index.parquet, sorted by id."""
    if not (folder / "index.parquet").is_file():
        raise SignalsError(f"{folder}: not a signals folder (no index.parquet; run the simulate stage, or "
                           "compare-real --simulate)")
    index = pd.read_parquet(folder / "index.parquet", columns=["id", "label", "split", "path"])
    return index[index["label"].notna()].sort_values("id", kind="stable")


def load_signals_dir(folder: str | Path, default_pose: Pose | Callable[[], Pose],
                     classes: Sequence[str] | None = None) -> tuple[list[Recording], dict[str, str]]:
    """Recordings of the labelled motions of a signals folder (its ``index.parquet``) and each one's split.

    Motions without a label are left out, and so are those of classes not in ``classes`` (when given).
    ``default_pose`` is used for files without a ``radar_pose``; pass a function to compute it only then.
    """
    folder = Path(folder)
    index = read_index(folder)
    if classes is not None:
        index = index[index["label"].isin(list(classes))]
    default_pose = lazy_pose(default_pose)
    recordings, splits = [], {}
    for row in index.itertuples():
        path = folder / row.path
        signals = load_signals(path)
        pose = signals_pose(signals, default_pose, str(path))
        recordings.append(signals_to_recording(signals, row.id, row.label, pose, source=path))
        splits[row.id] = row.split
    return recordings, splits
