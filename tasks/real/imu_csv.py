"""Real IMU recordings: one CSV per recording and one sensor, with a sidecar saying its units, site and axes.

Layout (docs/contracts.md, "Real recordings", "IMU recordings"): in the same label folders as the point clouds,

    REAL_DIR/<label>/[...]/<stem>.csv    columns time_s, acc_x, acc_y, acc_z, gyro_x, gyro_y, gyro_z
    REAL_DIR/<label>/[...]/<stem>.json   its sidecar (required): acc_units, gyro_units, site, axes

A ``.csv`` whose header names any ``acc_*`` or ``gyro_*`` column is an IMU recording (the point-cloud loader
leaves it to this one).  Readings come out in the simulated IMU's units, the accelerometer in m/s² (specific
force, gravity included) and the gyroscope in rad/s, in the site's sensor frame (``axes: segment``: the axes
of tasks/simulate/imu.py).  A bad file is one reject naming it and the reason; the rest carries on.
"""
from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tasks.common.io import RejectLog
from tasks.real.dataset import is_hidden
from tasks.real.labels import LABELS_FILE, read_label_map, resolve_label
from tasks.real.schema import RealDataError, read_utf8
from tasks.real.tables import csv_rows

log = logging.getLogger(__name__)

COLUMNS = ("time_s", "acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z")
STANDARD_GRAVITY = 9.80665  # m/s² per g: what a device reporting in g divides by
ACC_UNITS = {"m/s2": 1.0, "g": STANDARD_GRAVITY}  # -> m/s²
GYRO_UNITS = {"rad/s": 1.0, "deg/s": math.pi / 180.0}  # -> rad/s
AXES = ("segment",)  # the only frame the encoder was trained in: each site's sensor axes of tasks/simulate/imu.py
META_KEYS = ("acc_units", "gyro_units", "site", "axes")
STAGE = "real"


@dataclass(frozen=True, eq=False)
class ImuRecording:
    """One labelled IMU recording: ``time_s`` [T] from 0, increasing; ``data`` [T, 6] acc (m/s²) then gyro
    (rad/s) in the ``site``'s sensor frame."""

    id: str
    label: str
    folder: str
    source: Path
    site: str
    time_s: np.ndarray
    data: np.ndarray

    @property
    def duration_s(self) -> float:
        """From the first sample to one median step after the last."""
        return float(self.time_s[-1] + np.median(np.diff(self.time_s)))


def is_imu_csv(path: Path) -> bool:
    """Whether ``path`` is a .csv whose header (its first non-blank line) names an acc_* or gyro_* column."""
    if path.suffix.lower() != ".csv":
        return False
    try:
        with path.open(encoding="utf-8-sig", errors="replace") as fh:
            header = next((line for line in fh if line.strip()), "")
    except OSError:
        return False
    return any(cell.strip().lower().startswith(("acc_", "gyro_")) for cell in header.split(","))


def read_imu_meta(recording: Path, sites: Sequence[str]) -> tuple[str, float, float]:
    """(site, acc factor to m/s², gyro factor to rad/s) from the sidecar of ``recording``; RealDataError naming
    the recording and its sidecar."""
    sidecar = recording.with_suffix(".json")

    def bad(problem: str) -> RealDataError:
        return RealDataError(recording, f"sidecar {sidecar.name}: {problem}")

    if not sidecar.is_file():
        raise bad(f"missing (an IMU recording needs one with {', '.join(META_KEYS)})")
    try:
        meta = json.loads(read_utf8(sidecar))
    except json.JSONDecodeError as exc:
        raise bad(f"not valid JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise bad(f"must be a JSON object of IMU metadata, got {type(meta).__name__}")
    unknown = sorted(set(meta) - set(META_KEYS))
    missing = [k for k in META_KEYS if k not in meta]
    if unknown or missing:
        raise bad("; ".join([f"{k}: unknown key" for k in unknown] + [f"{k}: missing" for k in missing]))
    for key, valid in (("acc_units", ACC_UNITS), ("gyro_units", GYRO_UNITS), ("axes", AXES)):
        if meta[key] not in valid:
            raise bad(f"{key}: {meta[key]!r} is not one of {', '.join(valid)}")
    if meta["site"] not in sites:
        raise bad(f"site {meta['site']!r} is not one of the encoder's IMU sites (valid: {', '.join(sites)})")
    return meta["site"], ACC_UNITS[meta["acc_units"]], GYRO_UNITS[meta["gyro_units"]]


def read_imu_table(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(time_s [T] from 0, readings [T, 6] as written) of the CSV ``path``; RealDataError naming it."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise RealDataError.unreadable(path, exc) from exc
    except UnicodeDecodeError:
        raise RealDataError(path, "not UTF-8 text") from None
    header, rows, lines = csv_rows(text, path)
    missing = [c for c in COLUMNS if c not in (header or [])]
    if missing:
        raise RealDataError(path, f"missing column(s) {', '.join(missing)} (has: {', '.join(header or []) or 'none'})")
    if len(rows) < 2:
        raise RealDataError(path, f"{len(rows)} sample(s); an IMU recording needs at least 2")
    values = np.empty((len(rows), len(COLUMNS)))
    for j, name in enumerate(COLUMNS):
        k = header.index(name)
        for i, row in enumerate(rows):
            try:
                values[i, j] = float(row[k])
            except ValueError:
                raise RealDataError(path, f"column {name}, line {lines[i]}: {row[k].strip()!r} is not a number") \
                    from None
            if not math.isfinite(values[i, j]):
                raise RealDataError(path, f"column {name}, line {lines[i]}: {row[k].strip()} (NaN or inf)")
    back = np.flatnonzero(np.diff(values[:, 0]) <= 0)
    if len(back):
        i = back[0]
        raise RealDataError(path, f"time_s does not increase from line {lines[i]} to {lines[i + 1]} "
                                  f"({values[i, 0]:g} -> {values[i + 1, 0]:g})")
    return values[:, 0] - values[0, 0], values[:, 1:]


def read_imu_recording(path: str | Path, sites: Sequence[str], label: str, id: str | None = None,
                       folder: str = "") -> ImuRecording:
    """One IMU recording and its sidecar ``<stem>.json``, in m/s² and rad/s; RealDataError naming the file."""
    path = Path(path)
    site, acc, gyro = read_imu_meta(path, sites)
    time_s, raw = read_imu_table(path)
    data = raw * np.array([acc] * 3 + [gyro] * 3)
    return ImuRecording(id=id or path.stem, label=label, folder=folder, source=path, site=site, time_s=time_s,
                        data=data)


def load_imu_dir(path: str | Path, sites: Sequence[str], classes: Sequence[str],
                 ) -> tuple[list[ImuRecording], RejectLog]:
    """Every IMU recording under ``path`` (sorted by id; labels as load_real_dir's) and a RejectLog of the bad ones.

    ``sites`` are the valid sensor sites (the encoder's ``imu_sites``), ``classes`` the valid labels.
    """
    root = Path(path)
    if not root.is_dir():
        raise RealDataError(root, "no such folder of real recordings")
    mapping = read_label_map(root / LABELS_FILE, classes)
    rejects = RejectLog(STAGE)
    recordings = []
    for file in imu_files(root):
        rel = file.relative_to(root)
        try:
            if len(rel.parts) == 1:
                raise RealDataError(file, "not in a label folder (put recordings in REAL_DIR/<label>/)")
            label = resolve_label(rel.parts[0], mapping, classes, file)
            recordings.append(read_imu_recording(file, sites, label, id=rel.with_suffix("").as_posix(),
                                                 folder=rel.parts[0]))
        except RealDataError as exc:
            log.warning("rejected %s", exc)
            rejects.add(rel.as_posix(), str(exc), source=str(file))
    return sorted(recordings, key=lambda r: r.id), rejects


def imu_files(root: Path) -> list[Path]:
    """The IMU recordings below ``root`` (hidden files and folders skipped), sorted."""
    return sorted(p for p in root.rglob("*") if p.is_file() and not is_hidden(p.relative_to(root)) and is_imu_csv(p))
