"""Simulated motions written as real recordings (the CSV schema of docs/contracts.md, "Real recordings").

A stand-in for real data: a set simulated with another device profile, room and people, exported here and
read back by ``load_real_dir`` exactly as a real set would be, so the sim-to-real report can be tried end to
end before real recordings exist.  Each motion becomes ``OUT_DIR/<label>/<id>.csv`` with a sidecar
``<id>.json`` (axes, velocity sign, radar height and pitch from the file's ``radar_pose`` or the params',
frame period).  Positions are written in the chosen ``axes`` and velocities in the chosen sign, so the
reader's conversions are exercised too.  A frame without points has no row (the frame counter skips it);
empty frames before the first and after the last point are not represented.
"""
from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from tasks.common.io import atomic_dir
from tasks.common.signals import load_signals
from tasks.real.schema import AXES, to_radar_frame
from tasks.real.simulated import Pose, lazy_pose, read_index, signals_pose

HEADER = "frame,time_s,x,y,z,velocity,intensity"


def recording_csv(signals: dict[str, np.ndarray], axes: str = "ti", velocity_positive: str = "away") -> str:
    """The CSV text of one motion's points: positions in ``axes``, velocity + = ``velocity_positive``."""
    if axes not in AXES:
        raise ValueError(f"axes must be one of {', '.join(AXES)}, got '{axes}'")
    if velocity_positive not in ("away", "towards"):
        raise ValueError(f"velocity_positive must be away or towards, got '{velocity_positive}'")
    points = np.asarray(signals["points"], dtype=np.float64)
    frame = np.asarray(signals["points_frame"], dtype=np.int64)
    order = np.argsort(frame, kind="stable")
    points, frame = points[order], frame[order]
    # the reader's rotation is a signed permutation: its inverse is its transpose
    xyz = points[:, :3] @ to_radar_frame(np.eye(3), axes).T
    velocity = points[:, 3] if velocity_positive == "away" else 0.0 - points[:, 3]
    table = np.column_stack([frame, np.asarray(signals["frame_time_s"], dtype=np.float64)[frame], xyz, velocity,
                             points[:, 4]])
    buf = io.StringIO()
    buf.write(HEADER + "\n")
    np.savetxt(buf, table, delimiter=",", fmt=["%d", "%.6f", "%.5f", "%.5f", "%.5f", "%.5f", "%.3f"])
    return buf.getvalue()


def sidecar(signals: dict[str, np.ndarray], pose: Pose, axes: str, velocity_positive: str, device: str) -> dict:
    """The metadata of one exported recording."""
    times = np.asarray(signals["frame_time_s"], dtype=np.float64)
    meta = {"axes": axes, "velocity_positive": velocity_positive, "radar_height_m": round(pose[1], 6),
            "pitch_deg": round(pose[4], 6), "device": device}
    if len(times) > 1:
        meta["frame_period_s"] = round(float(np.median(np.diff(times))), 9)
    return meta


def write_recordings(items: Iterable[tuple[str, str, dict[str, np.ndarray]]], out_dir: str | Path,
                     default_pose: Pose | Callable[[], Pose], axes: str = "ti", velocity_positive: str = "away",
                     device: str = "simulated stand-in") -> int:
    """Write ``(id, label, signals)`` items as ``out_dir/<label>/<id>.csv`` + ``.json``; the number written.

    ``out_dir`` appears whole (it is written beside and renamed into place); it must not exist or be empty.
    Motions without points are skipped: a recording needs at least one row.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise ValueError(f"{out_dir}: exists and is not an empty folder (choose a new one)")
    written, default_pose = 0, lazy_pose(default_pose)
    with atomic_dir(out_dir) as tmp:
        for item, label, signals in items:
            if not len(signals["points"]):
                continue
            pose = signals_pose(signals, default_pose, item)
            path = tmp / label / f"{item}.csv"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(recording_csv(signals, axes, velocity_positive))
            meta = sidecar(signals, pose, axes, velocity_positive, device)
            path.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n")
            written += 1
    return written


def export_signals_dir(signals_dir: str | Path, out_dir: str | Path, default_pose: Pose | Callable[[], Pose],
                       axes: str = "ti", velocity_positive: str = "away") -> int:
    """Every labelled motion of a signals folder (its index.parquet) as a stand-in real recording."""
    signals_dir = Path(signals_dir)
    index = read_index(signals_dir)
    items = ((row.id, row.label, load_signals(signals_dir / row.path)) for row in index.itertuples())
    return write_recordings(items, out_dir, default_pose, axes, velocity_positive,
                            device=f"simulated stand-in ({signals_dir})")
