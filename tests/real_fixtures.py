"""Writers of small real-recording files for the tests: schema tables, sidecars and ROS RadarScan dumps.

Points are dicts with x, y, z, velocity, intensity in the file's own conventions.  The ROS dump looks like
``rostopic echo /ti_mmwave/radar_scan`` output of ti_mmwave_rospkg: one block per point, ``---`` after each.
"""
from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

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
