"""A folder of labelled real recordings -> Recordings in the project's radar frame, plus the files it refused.

Layout (docs/contracts.md, "Real recordings"):

    REAL_DIR/labels.yaml                  optional: folder name -> class name
    REAL_DIR/sensor.json                  optional: metadata for every recording below it
    REAL_DIR/<label>/[...]/<stem>.csv     a recording as a table (.parquet / .pq too)
    REAL_DIR/<label>/[...]/<stem>.txt     a rostopic echo dump (.log too)
    REAL_DIR/<label>/[...]/<stem>.json    optional sidecar: this recording's metadata

Metadata is merged, the nearest winning: ``defaults`` < each ``sensor.json`` from REAL_DIR down to the
file's folder < the sidecar (or, for Parquet, the schema's metadata; both at once is an error).  A dump's
axes and velocity sign are the ROS driver's, not the sensor's: ``ros_defaults`` (ROS_DEFAULTS) set them
over ``defaults`` and every ``sensor.json``, and only its own sidecar overrides them.  A bad file becomes
one reject naming it and the reason; the rest carries on.  Hidden files and folders (``.name``) are
skipped.  Real recordings are for measuring, never for fitting.
"""
from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tasks.common.io import RejectLog
from tasks.motion.procedural import CLASSES
from tasks.real.labels import LABELS_FILE, read_label_map, resolve_label
from tasks.real.ros_dump import GROUP_BY, ROS_DEFAULTS, read_ros_dump, renumber_by_period
from tasks.real.schema import Columns, RealDataError, Recording, assemble, parse_meta, read_utf8
from tasks.real.tables import read_csv, read_parquet

log = logging.getLogger(__name__)

SENSOR_FILE = "sensor.json"
FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".txt": "ros", ".log": "ros"}
STAGE = "real"


def load_real_dir(path: str | Path, classes: Sequence[str] = CLASSES, defaults: Mapping[str, Any] | None = None,
                  group_by: str = "auto", ros_defaults: Mapping[str, Any] = ROS_DEFAULTS,
                  ) -> tuple[list[Recording], RejectLog]:
    """Every usable recording under ``path`` (sorted by id) and a RejectLog of the files that are not.

    ``classes`` are the valid labels (the procedural classes by default); ``defaults`` metadata for files
    that do not declare it; ``group_by`` how ROS dumps split into frames (``auto``, ``point_id``, ``stamp``)
    and ``ros_defaults`` the axes and velocity sign of their driver.
    A missing folder, a bad ``labels.yaml`` or a bad ``REAL_DIR/sensor.json`` stops everything (RealDataError);
    a bad ``sensor.json`` further down rejects the recordings below it.
    """
    if group_by not in GROUP_BY:
        raise ValueError(f"group_by must be one of {', '.join(GROUP_BY)}, got '{group_by}'")
    root = Path(path)
    if not root.is_dir():
        raise RealDataError(root, "no such folder of real recordings")
    mapping = read_label_map(root / LABELS_FILE, classes)
    base = {**(defaults or {}), **_read_json(root / SENSOR_FILE, missing_ok=True)}
    files = sorted(p for p in root.rglob("*") if p.is_file() and not is_hidden(p.relative_to(root)))
    rejects = RejectLog(STAGE)
    recordings: dict[str, Recording] = {}
    for file in files:
        rel = file.relative_to(root)
        try:
            recording = _load_one(root, rel, mapping, classes, base, group_by, ros_defaults)
        except RealDataError as exc:
            _reject(rejects, rel, file, str(exc))
            continue
        if recording is None:
            continue
        if recording.id in recordings:
            _reject(rejects, rel, file, f"{file}: duplicate recording id '{recording.id}' "
                                        f"(also {recordings[recording.id].source.name})")
            continue
        recordings[recording.id] = recording
    return [recordings[k] for k in sorted(recordings)], rejects


def read_recording(path: str | Path, label: str, sensor: Mapping[str, Any] | None = None, group_by: str = "auto",
                   id: str | None = None, folder: str = "", ros_defaults: Mapping[str, Any] = ROS_DEFAULTS,
                   ) -> Recording:
    """One recording file; metadata from ``sensor`` (under ``ros_defaults`` for a dump), then its own."""
    path = Path(path)
    fmt = _format(path)
    if fmt is None:
        raise RealDataError(path, f"not a recording (expected {', '.join(FORMATS)})")
    where = str(path)
    cols = _read(path, fmt, where, group_by)
    meta = {**(sensor or {}), **(ros_defaults if fmt == "ros" else {})}
    meta.update(_own_meta(path, cols, where))
    sensor_meta = parse_meta(meta, where)
    if fmt == "ros" and sensor_meta.frame_period_s is not None:
        cols = renumber_by_period(cols, sensor_meta.frame_period_s, where)
    return assemble(cols, sensor_meta, where, id=id or path.stem, label=label, folder=folder, source=path,
                    format=fmt)


def split_windows(recording: Recording, window_s: float, hop_s: float | None = None) -> list[Recording]:
    """Windows of ``window_s`` seconds every ``hop_s`` (default: back to back) that fit within the recording.

    Window k holds the frames from k * hop_s (inclusive) to k * hop_s + window_s (exclusive) and their
    points; its id is ``<id>@<k>``, its frame times start at 0 and its ``offset_s`` says where it began.
    A partial window at the end is dropped, and so is a window without frames (a gap in a ROS dump).
    """
    hop = window_s if hop_s is None else hop_s
    if not (window_s > 0 and hop > 0 and math.isfinite(window_s) and math.isfinite(hop)):
        raise ValueError(f"window_s and hop_s must be positive seconds, got {window_s} and {hop}")
    eps = 1e-9
    count = math.floor((recording.duration_s - window_s) / hop + eps) + 1 if recording.duration_s >= window_s else 0
    times = recording.frame_time_s
    windows = []
    for k in range(max(count, 0)):
        start = k * hop
        frames = np.flatnonzero((times >= start - eps) & (times < start + window_s - eps))
        if not len(frames):
            continue
        lo, hi = int(frames[0]), int(frames[-1]) + 1
        keep = (recording.points_frame >= lo) & (recording.points_frame < hi)
        windows.append(Recording(
            id=f"{recording.id}@{k}", label=recording.label, folder=recording.folder, source=recording.source,
            format=recording.format, sensor=recording.sensor, frame_time_s=times[lo:hi] - times[lo],
            points=recording.points[keep], points_frame=(recording.points_frame[keep] - lo).astype(np.int32),
            clock_start_s=recording.clock_start_s + float(times[lo]), offset_s=recording.offset_s + float(times[lo])))
    return windows


def _load_one(root: Path, rel: Path, mapping: dict[str, str], classes: Sequence[str], base: dict[str, Any],
              group_by: str, ros_defaults: Mapping[str, Any]) -> Recording | None:
    """The recording at ``root/rel``, None for a file that is not one (metadata), RealDataError if it is bad."""
    file = root / rel
    if len(rel.parts) == 1:
        if rel.name in (LABELS_FILE, SENSOR_FILE):
            return None
        raise RealDataError(file, "not in a label folder (put recordings in REAL_DIR/<label>/)")
    if rel.suffix.lower() == ".json":
        if rel.name == SENSOR_FILE or any(_format(s) for s in file.parent.iterdir() if s.stem == file.stem):
            return None
        raise RealDataError(file, f"a sidecar without a recording (no {file.stem}.csv, .parquet or .txt beside it)")
    if _format(file) is None:
        raise RealDataError(file, f"not a recording (expected {', '.join(FORMATS)}, or a .json sidecar)")
    folder = rel.parts[0]
    label = resolve_label(folder, mapping, classes, file)
    meta = dict(base)
    for level in reversed(rel.parents[:-1]):  # below REAL_DIR (in ``base``): the label folder first, own folder last
        meta.update(_read_json(root / level / SENSOR_FILE, missing_ok=True))
    return read_recording(file, label, meta, group_by, id=rel.with_suffix("").as_posix(), folder=folder,
                          ros_defaults=ros_defaults)


def _read(path: Path, fmt: str, where: str, group_by: str) -> Columns:
    if fmt == "csv":
        return read_csv(path, where)
    if fmt == "parquet":
        return read_parquet(path, where)
    return read_ros_dump(path, where, group_by)


def _own_meta(path: Path, cols: Columns, where: str) -> dict[str, Any]:
    """The recording's own metadata: its sidecar ``<stem>.json`` or its Parquet schema's, not both."""
    sidecar = path.with_suffix(".json")
    own = _read_json(sidecar, missing_ok=True)
    if cols.embedded_meta is not None:
        if sidecar.is_file():
            raise RealDataError(where, f"metadata both in {sidecar.name} and in the Parquet schema; keep one")
        own = cols.embedded_meta
    return own


def _read_json(path: Path, missing_ok: bool) -> dict[str, Any]:
    if missing_ok and not path.is_file():
        return {}
    try:
        data = json.loads(read_utf8(path))
    except json.JSONDecodeError as exc:
        raise RealDataError(path, f"not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise RealDataError(path, f"must be a JSON object of metadata, got {type(data).__name__}")
    return data


def _format(path: Path) -> str | None:
    return FORMATS.get(path.suffix.lower())


def is_hidden(rel: Path) -> bool:
    return any(part.startswith(".") for part in rel.parts)


def _reject(rejects: RejectLog, rel: Path, file: Path, reason: str) -> None:
    log.warning("rejected %s", reason)
    rejects.add(rel.as_posix(), reason, source=str(file))
