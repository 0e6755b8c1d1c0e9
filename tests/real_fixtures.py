"""Writers of small real-recording files for the tests: schema tables, sidecars and ROS RadarScan dumps.

Points are dicts with x, y, z, velocity, intensity in the file's own conventions.  The ROS dump looks like
``rostopic echo /ti_mmwave/radar_scan`` output of ti_mmwave_rospkg: one block per point, ``---`` after each.
Toy scenes (``scene``) give simulated signals dicts of one scene seen from any radar placement
(``scene_signals``) and signals folders of them (``write_signals_dir``).
"""
from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from tasks.common.signals import save_signals

TI_META = {"axes": "ti", "velocity_positive": "away", "radar_height_m": 1.0}
HEADER = "frame,time_s,x,y,z,velocity,intensity"
Point = dict[str, float]


def write_csv(path: Path, lines: Sequence[str] | str, meta: dict | None = None) -> Path:
    """A CSV file of ``lines`` (header included), with a sidecar ``meta`` if given."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(lines if isinstance(lines, str) else "\n".join(lines) + "\n")
    if meta is not None:
        write_sidecar(path, meta)
    return path


def frames_csv(frames: dict[int, tuple[float, Sequence[Point]]], column: str = "intensity") -> list[str]:
    """CSV lines of frames ``{frame: (time_s, points)}``."""
    lines = [HEADER.replace("intensity", column)]
    for frame, (time_s, points) in frames.items():
        lines += [f"{frame},{time_s},{p['x']},{p['y']},{p['z']},{p['velocity']},{p['intensity']}" for p in points]
    return lines


def write_parquet(path: Path, columns: dict[str, list], embedded: dict | None = None,
                  meta: dict | None = None) -> Path:
    """A Parquet file of ``columns``, with ``embedded`` as its ``mmflywheel`` schema metadata and/or a sidecar."""
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.table(columns)
    if embedded is not None:
        table = table.replace_schema_metadata({b"mmflywheel": json.dumps(embedded).encode()})
    pq.write_table(table, path)
    if meta is not None:
        write_sidecar(path, meta)
    return path


def write_sidecar(recording: Path, meta: dict) -> Path:
    sidecar = recording.with_suffix(".json")
    sidecar.write_text(json.dumps(meta))
    return sidecar


def ros_record(point_id: int, point: Point, secs: int, nsecs: int, seq: int, ros2: bool = False) -> str:
    """One RadarScan message as rostopic echo prints it (ROS 2's stamp spelling with ``ros2``)."""
    rng = math.sqrt(point["x"] ** 2 + point["y"] ** 2 + point["z"] ** 2)
    stamp = (f"    sec: {secs}\n    nanosec: {nsecs}\n" if ros2 else f"    secs: {secs}\n    nsecs: {nsecs}\n")
    return (f"header: \n  seq: {seq}\n  stamp: \n{stamp}  frame_id: \"ti_mmwave\"\n"
            f"point_id: {point_id}\nx: {point['x']}\ny: {point['y']}\nz: {point['z']}\nrange: {rng}\n"
            f"velocity: {point['velocity']}\ndoppler_bin: 8\n"
            f"bearing: {math.degrees(math.atan2(point['y'], point['x']))}\nintensity: {point['intensity']}\n---\n")


def write_ros_dump(path: Path, frames: Sequence[Sequence[Point]], start_s: int = 1_600_000_000,
                   period_ns: int = 100_000_000, point_gap_ns: int = 50_000, first_ids: Sequence[int] = (),
                   skip_frames: Sequence[int] = (), ros2: bool = False, tail: str = "") -> Path:
    """A dump of ``frames`` ``period_ns`` apart, each point stamped ``point_gap_ns`` after the one before (the
    driver stamps every message with ros::Time::now()).  ``first_ids[k]`` is frame k's first point_id (a
    driver that drops points outside its field of view); frames in ``skip_frames`` are silent (no points, so
    nothing is published, but their time passes); ``tail`` is appended (an unfinished record)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    blocks, seq = [], 0
    for k, points in enumerate(frames):
        if k in skip_frames:
            continue
        first = first_ids[k] if k < len(first_ids) else 0
        for i, point in enumerate(points):
            ns = k * period_ns + i * point_gap_ns
            blocks.append(ros_record(first + i, point, start_s + ns // 1_000_000_000, ns % 1_000_000_000, seq, ros2))
            seq += 1
    path.write_text("".join(blocks) + tail)
    return path


def point(x: float, y: float, z: float, velocity: float = 0.0, intensity: float = 10.0) -> Point:
    return {"x": x, "y": y, "z": z, "velocity": velocity, "intensity": intensity}


def to_radar(level: np.ndarray, height_m: float, pitch_deg: float) -> np.ndarray:
    """Level-frame positions [N, 3] (lateral, forward from the radar, height above the floor) -> the radar frame
    of a radar ``height_m`` above the floor tilted ``pitch_deg`` (+ = up)."""
    p = math.radians(pitch_deg)
    lateral, forward, up = level[:, 0], level[:, 1], level[:, 2] - height_m
    c, s = math.cos(p), math.sin(p)
    return np.column_stack([lateral, up * c - forward * s, forward * c + up * s])


def scene(kind: str, rng: np.random.Generator, frames: int = 50, fps: float = 10.0) -> dict[str, np.ndarray]:
    """A toy scene in the level frame, relative to the person's start (lateral, forward, height):
    ``big`` walks 1 m/s towards the radar as a tall cloud of ~12 points with fast radial velocities; ``small`` is
    a sparse cloud of ~3 points at shoulder height, slow velocities of both signs, some frames empty.
    Returns ``level`` [N, 3], ``velocity`` [N], ``intensity`` [N], ``points_frame`` [N], ``frame_time_s`` [F]."""
    times = np.arange(frames) / fps
    level, velocity, intensity, frame = [], [], [], []
    for k, t in enumerate(times):
        if kind == "big":
            n = int(rng.integers(9, 16))
            centre = np.array([0.0, -1.0 * t, 0.0])
            pts = centre + np.column_stack([rng.normal(0, 0.15, n), rng.normal(0, 0.1, n), rng.uniform(0.1, 1.7, n)])
            v = rng.normal(-1.0, 0.4, n)
        else:
            n = int(rng.integers(0, 5))
            pts = np.column_stack([rng.normal(0.3, 0.05, n), rng.normal(0, 0.03, n), rng.uniform(1.3, 1.6, n)])
            v = rng.normal(0.0, 0.3, n)
        level.append(pts)
        velocity.append(v)
        intensity.append(rng.normal(20.0, 4.0, n))
        frame.append(np.full(n, k))
    return {"level": np.concatenate(level), "velocity": np.concatenate(velocity),
            "intensity": np.concatenate(intensity), "points_frame": np.concatenate(frame).astype(np.int32),
            "frame_time_s": times}


def scene_signals(sc: dict[str, np.ndarray], height_m: float = 1.0, distance_m: float = 3.0, lateral_m: float = 0.0,
                  pitch_deg: float = 0.0, pose: bool = True) -> dict[str, np.ndarray]:
    """The signals dict (every contract key, tiny heatmaps and IMU) of ``sc`` seen by a radar ``distance_m`` in
    front of the person's start, ``height_m`` high, ``lateral_m`` to one side; with ``pose`` its radar_pose."""
    level = sc["level"] + [lateral_m, distance_m, 0.0]
    points = np.column_stack([to_radar(level, height_m, pitch_deg), sc["velocity"], sc["intensity"]])
    f, ti = len(sc["frame_time_s"]), 4
    signals = {
        "range_time": np.ones((2, f), np.float32), "range_m": np.array([1.0, 2.0], np.float32),
        "doppler_time": np.ones((2, f), np.float32), "velocity_mps": np.array([-1.0, 1.0], np.float32),
        "azimuth_time": np.ones((2, f), np.float32), "azimuth_deg": np.array([-10.0, 10.0], np.float32),
        "frame_time_s": np.asarray(sc["frame_time_s"], np.float32), "points": points.astype(np.float32),
        "points_frame": sc["points_frame"], "imu": np.zeros((ti, 5, 6), np.float32),
        "imu_time_s": np.arange(ti, dtype=np.float64) / 50,
        "imu_sites": np.array(["pelvis", "left_wrist", "right_wrist", "left_ankle", "right_ankle"]),
    }
    if pose:
        signals["radar_pose"] = np.array([lateral_m, height_m, distance_m, 0.0, pitch_deg])
    return signals


def write_signals_dir(folder: Path, items: Sequence[tuple[str, str | None, str, dict[str, np.ndarray]]]) -> Path:
    """A signals folder of ``(id, label, split, signals)`` items: <id>.npz each and index.parquet."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for item, label, split, signals in items:
        save_signals(folder / f"{item}.npz", signals)
        rows.append({"id": item, "split": split, "label": label, "path": f"{item}.npz"})
    pd.DataFrame(rows).to_parquet(folder / "index.parquet", index=False)
    return folder
