"""One real recording in memory, its sensor metadata, and the conversion into the project's radar frame.

Every loader (CSV/Parquet tables, ROS dumps) ends in ``assemble``, so all recordings share one type whose
points compare directly with the simulated ``points`` [N, 5] / ``points_frame`` [N] of the signals contract
(docs/contracts.md, "Real recordings"): x = the radar's right, y = up, z = boresight (metres), radial
velocity positive = moving away (m/s), intensity in dB.

Axes conventions a file may declare (``axes``):
  ``radar``  the project's radar frame: x right, y up, z boresight;
  ``ti``     TI mmWave SDK point cloud: x right, y forward (boresight), z up;
  ``ros``    ROS REP 103 body frame, as ti_mmwave_rospkg publishes it: x forward, y left, z up.
"""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, ValidationError

from tasks.common.config import Section
from tasks.common.stage import describe_os_error

AXES = ("radar", "ti", "ros")
# Rows: where the project's x (right), y (up) and z (boresight) come from, as +-1 times a file axis.
_TO_RADAR = {
    "radar": np.eye(3),
    "ti": np.array([[1.0, 0, 0], [0, 0, 1], [0, 1, 0]]),
    "ros": np.array([[0, -1.0, 0], [0, 0, 1], [1, 0, 0]]),
}
MAX_FRAMES = 1_000_000  # a frame counter that jumps further than this is a broken file, not a long pause


class RealDataError(ValueError):
    """A recording, sidecar or mapping file that cannot be used; the message starts with the file's name."""

    def __init__(self, where: str | Path, problem: str) -> None:
        super().__init__(f"{where}: {problem}")

    @classmethod
    def unreadable(cls, where: str | Path, exc: OSError) -> RealDataError:
        """'<where>: unreadable: <problem>' (the OSError's own file name would repeat ``where``)."""
        return cls(where, f"unreadable: {describe_os_error(OSError(exc.errno, exc.strerror))}")


def read_utf8(path: Path) -> str:
    """The text of a small metadata file (sidecar, labels); RealDataError naming it if unreadable or not UTF-8."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RealDataError.unreadable(path, exc) from exc
    except UnicodeDecodeError:
        raise RealDataError(path, "not UTF-8 text") from None


class SensorMeta(Section):
    """File-level metadata of one recording (sidecar ``<stem>.json``, ``sensor.json`` or Parquet metadata)."""

    axes: Literal["radar", "ti", "ros"]
    velocity_positive: Literal["away", "towards"]  # what a positive velocity in the file means
    radar_height_m: float = Field(ge=0.0, le=10.0, allow_inf_nan=False)  # antenna centre above the floor
    pitch_deg: float = Field(0.0, ge=-90.0, le=90.0, allow_inf_nan=False)  # + tilts boresight up (simulate's sign)
    frame_period_s: float | None = Field(None, gt=0.0, allow_inf_nan=False)  # lets a ROS dump show empty frames
    device: str = ""  # free text, e.g. "IWR1443BOOST, 1443es1_short_range_3d"


def parse_meta(data: dict[str, Any], where: str | Path) -> SensorMeta:
    """``data`` validated as SensorMeta; RealDataError naming ``where`` and each bad or missing key."""
    try:
        return SensorMeta.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_input=False):
            key = ".".join(str(part) for part in err["loc"])
            msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
            problems.append(f"{key}: {'missing' if err['type'] == 'missing' else msg}")
        raise RealDataError(where, "sensor metadata: " + "; ".join(problems)) from None


def to_radar_frame(xyz: np.ndarray, axes: str) -> np.ndarray:
    """Positions [N, 3] in the file's ``axes`` -> the project's radar frame (x right, y up, z boresight)."""
    return np.asarray(xyz, dtype=np.float64) @ _TO_RADAR[axes].T


def velocity_away(velocity: np.ndarray, positive: str) -> np.ndarray:
    """Radial velocities in the file's sign -> the project's (+ = moving away from the radar)."""
    velocity = np.asarray(velocity, dtype=np.float64)
    return velocity if positive == "away" else 0.0 - velocity  # 0.0 - v: a still point stays +0.0, not -0.0


@dataclasses.dataclass(frozen=True, eq=False)
class Recording:
    """A labelled real recording (or a window of one), in the project's radar frame.

    ``frame_time_s`` [F] starts at 0 (seconds from this item's first frame) and holds every frame, those
    without points included; ``points`` [N, 5] float32 x, y, z (m), velocity (m/s, + = away), intensity (dB);
    ``points_frame`` [N] int32 indexes ``frame_time_s``.  ``offset_s`` is where the item starts within its
    recording (0 unless it is a window); ``clock_start_s`` the first frame's time on the file's own clock.
    """

    id: str
    label: str
    folder: str
    source: Path
    format: str
    sensor: SensorMeta
    frame_time_s: np.ndarray
    points: np.ndarray
    points_frame: np.ndarray
    clock_start_s: float = 0.0
    offset_s: float = 0.0

    @property
    def n_frames(self) -> int:
        return len(self.frame_time_s)

    @property
    def frame_period_s(self) -> float:
        """The declared frame period, else the median step between frames (0 for a single frame)."""
        if self.sensor.frame_period_s is not None:
            return self.sensor.frame_period_s
        return float(np.median(np.diff(self.frame_time_s))) if self.n_frames > 1 else 0.0

    @property
    def duration_s(self) -> float:
        """From the first frame's start to the last frame's end."""
        return float(self.frame_time_s[-1]) + self.frame_period_s if self.n_frames else 0.0

    def heights_m(self) -> np.ndarray:
        """Each point's height above the floor (m): the radar's height plus the world-up part of its position."""
        pitch = math.radians(self.sensor.pitch_deg)
        y, z = self.points[:, 1].astype(np.float64), self.points[:, 2].astype(np.float64)
        return self.sensor.radar_height_m + y * math.cos(pitch) + z * math.sin(pitch)

    def signals(self) -> dict[str, np.ndarray]:
        """The keys this recording shares with a simulated signals ``.npz``."""
        return {"frame_time_s": self.frame_time_s, "points": self.points, "points_frame": self.points_frame}


@dataclasses.dataclass(frozen=True, eq=False)
class Columns:
    """Per-point columns [N] as a file holds them (its axes and velocity sign), before any conversion.

    ``frame_no`` are frame counters (a gap is a frame without points), ``time_s`` each point's frame time,
    relative to ``clock_start_s`` on the file's own clock; ``embedded_meta`` is metadata the file carries
    itself (a Parquet schema's), or None.
    """

    frame_no: np.ndarray
    time_s: np.ndarray
    xyz: np.ndarray
    velocity: np.ndarray
    intensity: np.ndarray
    clock_start_s: float = 0.0
    embedded_meta: dict[str, Any] | None = None


def assemble(cols: Columns, sensor: SensorMeta, where: str | Path, *, id: str, label: str, folder: str,
             source: Path, format: str) -> Recording:
    """A Recording in the project's radar frame from a file's ``cols`` and its ``sensor`` metadata.

    Every point of a frame must share its time, times must increase with the frame counter, and the
    frames missing between two counters get times interpolated between their neighbours'.
    """
    frame_no = np.asarray(cols.frame_no, dtype=np.int64)
    time_s = np.asarray(cols.time_s, dtype=np.float64)
    if len(frame_no) == 0:
        raise RealDataError(where, "no points")
    numbers, first = np.unique(frame_no, return_index=True)
    times = time_s[first]
    index = np.searchsorted(numbers, frame_no)
    spread = np.abs(time_s - times[index])
    if spread.max() > 1e-6:
        k = int(np.argmax(spread))
        raise RealDataError(where, f"frame {frame_no[k]}: its points have different time_s ({times[index[k]]:g} "
                                   f"and {time_s[k]:g})")
    back = np.flatnonzero(np.diff(times) <= 0)
    if len(back):
        a, b = back[0], back[0] + 1
        raise RealDataError(where, f"time_s does not increase from frame {numbers[a]} to {numbers[b]} "
                                   f"({times[a]:g} -> {times[b]:g})")
    span = int(numbers[-1] - numbers[0]) + 1
    if span > MAX_FRAMES:
        raise RealDataError(where, f"frame numbers span {span} frames ({numbers[0]} to {numbers[-1]}), "
                                   f"more than {MAX_FRAMES}")
    frame_time = np.interp(np.arange(numbers[0], numbers[-1] + 1), numbers, times) - times[0]
    points = np.column_stack([to_radar_frame(cols.xyz, sensor.axes),
                              velocity_away(cols.velocity, sensor.velocity_positive),
                              np.asarray(cols.intensity, dtype=np.float64)]).astype(np.float32)
    order = np.argsort(frame_no, kind="stable")
    return Recording(id=id, label=label, folder=folder, source=source, format=format, sensor=sensor,
                     frame_time_s=frame_time, points=points[order],
                     points_frame=(frame_no[order] - numbers[0]).astype(np.int32),
                     clock_start_s=cols.clock_start_s + float(times[0]))
