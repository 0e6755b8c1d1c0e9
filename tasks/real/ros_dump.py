"""``rostopic echo`` text dumps of ti_mmwave_rospkg's radar-scan topic (``ti_mmwave_rospkg/RadarScan``).

The driver publishes one message per detected point: ``header`` (``stamp`` as ``secs``/``nsecs``, or ROS 2's
``sec``/``nanosec``), ``point_id`` (the point's index within its radar frame), ``x``, ``y``, ``z`` (m),
``range``, ``velocity`` (m/s), ``doppler_bin``, ``bearing`` and ``intensity`` (the SNR in dB).  ``rostopic
echo`` prints each as an indented ``key: value`` block and a ``---`` line after it.  The parser reads any
field order and extra fields; it needs x, y, z, velocity, intensity and a stamp in every record.

Axes: the driver turns TI's point cloud (x right, y forward, z up) into the ROS body frame, x forward
(TI's y), y left (TI's -x), z up, so a dump's ``axes`` default is ``ros`` (ROS_DEFAULTS).  Its velocity is
TI's, passed through unchanged; ROS_DEFAULTS assumes positive = away (a Doppler index times the velocity
resolution).  Both belong to the driver, not the sensor, so they win over any ``sensor.json``; a dump's own
sidecar or the caller (``ros_defaults``) can override them.  Check a recording of someone walking towards
the radar: its moving points must come out mostly negative.

Frames: each point is its own message, so frames are found by ``point_id`` starting again (a point id that
is not larger than the one before starts a new frame; the driver may drop points outside its field of view,
so a frame need not start at 0) or by the header stamp changing (``group_by``).  A frame's time is its first
message's stamp.  Frames without points publish nothing; with ``frame_period_s`` in the metadata they are
put back (``renumber_by_period``), otherwise a dump has no empty frames.
"""
from __future__ import annotations

import dataclasses
import logging
import math
from pathlib import Path

import numpy as np

from tasks.real.schema import Columns, RealDataError

log = logging.getLogger(__name__)

ROS_DEFAULTS = {"axes": "ros", "velocity_positive": "away"}  # what ti_mmwave_rospkg publishes (see above)
GROUP_BY = ("auto", "point_id", "stamp")
FIELDS = ("x", "y", "z", "velocity", "intensity")
# (seconds key, nanoseconds key) of the stamp, ROS 1 first; a bare number under ``stamp`` also counts
STAMP_KEYS = (("header.stamp.secs", "header.stamp.nsecs"), ("header.stamp.sec", "header.stamp.nanosec"),
              ("stamp.secs", "stamp.nsecs"), ("stamp.sec", "stamp.nanosec"))
POINTCLOUD2_KEYS = ("point_step", "row_step", "fields")


@dataclasses.dataclass
class _Record:
    line: int  # the record's first line, from 1
    values: dict[str, str]


def read_ros_dump(path: Path, where: str, group_by: str = "auto") -> Columns:
    """The points of the dump ``path`` grouped into frames; RealDataError naming ``where`` otherwise."""
    if group_by not in GROUP_BY:
        raise ValueError(f"group_by must be one of {', '.join(GROUP_BY)}, got '{group_by}'")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RealDataError.unreadable(where, exc) from exc
    if not data.strip():
        raise RealDataError(where, "empty file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RealDataError(where, f"not UTF-8 text (byte 0x{data[exc.start]:02x} at position {exc.start})") from None
    records, complete = parse_records(text, where)
    if not records:
        raise RealDataError(where, "no records (a rostopic echo dump has blocks of 'key: value' lines ending in ---)")
    if any(key in records[0].values for key in POINTCLOUD2_KEYS):
        raise RealDataError(where, "a sensor_msgs/PointCloud2 dump (binary point data); echo the RadarScan topic "
                                   "(e.g. /ti_mmwave/radar_scan) instead")
    if not complete and _missing(records[-1]):  # a dump stopped with Ctrl-C ends in half a record
        log.info("%s: dropped the unfinished last record (line %d)", where, records[-1].line)
        records = records[:-1]
    return _columns(records, where, group_by)


def parse_records(text: str, where: str) -> tuple[list[_Record], bool]:
    """Each ``---``-terminated block as flat dotted keys (``header.stamp.secs``); True if the text ends in ---."""
    records: list[_Record] = []
    values: dict[str, str] = {}
    stack: list[tuple[int, str]] = []  # (indent, key) of the open nested blocks
    start, complete = 0, False
    for number, line in enumerate(text.splitlines(), start=1):
        content = line.strip()
        if content == "---":
            if values:
                records.append(_Record(start, values))
            values, stack, complete = {}, [], True
            continue
        if not content:
            continue
        complete = False
        if not values and not stack:
            start = number
        if content.startswith("-"):  # a list item (a PointCloud2's fields): no RadarScan has one
            content = content[1:].strip()
            if not content:
                continue
        key, sep, value = content.partition(":")
        if not sep:
            raise RealDataError(where, f"line {number}: not a 'key: value' line: {content[:60]!r}")
        indent = len(line) - len(line.lstrip())
        while stack and stack[-1][0] >= indent:
            stack.pop()
        path = ".".join([k for _, k in stack] + [key.strip()])
        value = value.strip()
        if value:
            values[path] = value.strip("'\"")
        else:
            stack.append((indent, key.strip()))
            values.setdefault(path, "")
    if values:
        records.append(_Record(start, values))
    return records, complete


def _missing(record: _Record) -> list[str]:
    """The required fields ``record`` lacks (a stamp under any of its spellings counts)."""
    values = record.values
    stamped = any(values.get(s) and values.get(n) for s, n in STAMP_KEYS) or values.get("stamp") \
        or values.get("header.stamp")
    return [f for f in FIELDS if not values.get(f)] + ([] if stamped else ["header.stamp"])


def _stamp_ns(record: _Record, where: str) -> int | None:
    """The record's stamp in integer nanoseconds (exact, so equal stamps compare equal), or None."""
    for secs, nsecs in STAMP_KEYS:
        if record.values.get(secs) and record.values.get(nsecs):
            return _integer(record, secs, where) * 1_000_000_000 + _integer(record, nsecs, where)
    bare = record.values.get("stamp") or record.values.get("header.stamp")
    return round(_number(record, "stamp", where, bare) * 1e9) if bare else None


def _number(record: _Record, key: str, where: str, text: str | None = None) -> float:
    text = record.values[key] if text is None else text
    try:
        value = float(text)
    except ValueError:
        raise RealDataError(where, f"record at line {record.line}: {key}: '{text}' is not a number") from None
    if not math.isfinite(value):
        raise RealDataError(where, f"record at line {record.line}: {key}: NaN or inf")
    return value


def _integer(record: _Record, key: str, where: str) -> int:
    try:
        return int(record.values[key])
    except ValueError:
        raise RealDataError(where, f"record at line {record.line}: {key}: '{record.values[key]}' is not a whole "
                                   f"number") from None


def _columns(records: list[_Record], where: str, group_by: str) -> Columns:
    for record in records:
        missing = _missing(record)
        if missing:
            raise RealDataError(where, f"record at line {record.line}: no {', '.join(missing)}")
    if group_by == "auto":
        group_by = "point_id" if all(r.values.get("point_id") for r in records) else "stamp"
    values = np.array([[_number(r, f, where) for f in FIELDS] for r in records], dtype=np.float64)
    stamps = [_stamp_ns(r, where) for r in records]
    if group_by == "point_id":
        for r in records:
            if not r.values.get("point_id"):
                raise RealDataError(where, f"record at line {r.line}: no point_id (needed by group_by='point_id')")
        ids = np.array([_integer(r, "point_id", where) for r in records])
        starts = np.concatenate([[True], np.diff(ids) <= 0])
    else:
        starts = np.concatenate([[True], [a != b for a, b in zip(stamps[:-1], stamps[1:])]]).astype(bool)
    frame_no = np.cumsum(starts) - 1
    first = [s for s, new in zip(stamps, starts) if new]  # each frame's time: its first message's stamp
    origin = first[0]
    frame_time = np.array([(s - origin) / 1e9 for s in first])
    return Columns(frame_no=frame_no, time_s=frame_time[frame_no], xyz=values[:, :3], velocity=values[:, 3],
                   intensity=values[:, 4], clock_start_s=origin / 1e9)


def renumber_by_period(cols: Columns, frame_period_s: float, where: str) -> Columns:
    """Frame counters from the frame times and the device's frame period, so silent frames count as empty."""
    times = np.unique(cols.time_s)
    slots = np.round(times / frame_period_s).astype(np.int64)
    clash = np.flatnonzero(np.diff(slots) == 0)
    if len(clash):
        a, b = times[clash[0]], times[clash[0] + 1]
        raise RealDataError(where, f"frames at {a:.4f} s and {b:.4f} s fall within one frame period "
                                   f"(frame_period_s {frame_period_s:g}); is frame_period_s right?")
    return dataclasses.replace(cols, frame_no=slots[np.searchsorted(times, cols.time_s)])
