"""rostopic echo dumps of ti_mmwave_rospkg's RadarScan topic: parsing, frame grouping, axes, bad dumps."""
from __future__ import annotations

import numpy as np
import pytest
from real_fixtures import point, ros_record, write_ros_dump, write_sidecar

from tasks.real import ROS_DEFAULTS, RealDataError, read_recording

HEIGHT = {"radar_height_m": 1.0}
# three radar frames 0.1 s apart in the ROS frame (x forward, y left, z up)
FRAMES = [
    [point(2.0, 0.0, 0.0, velocity=-1.0, intensity=12.0), point(3.0, -1.0, 0.5, velocity=0.0, intensity=8.0)],
    [point(1.5, 0.5, -0.25, velocity=0.5, intensity=20.0)],
    [point(2.0, 0.0, 0.0), point(2.5, 0.0, 0.0), point(3.0, 0.0, 0.0)],
]


def test_three_frames_by_point_id(tmp_path):
    rec = read_recording(write_ros_dump(tmp_path / "a.txt", FRAMES), "walk", HEIGHT)
    assert rec.format == "ros" and rec.sensor.axes == "ros" and rec.sensor.velocity_positive == "away"
    assert rec.n_frames == 3 and np.allclose(rec.frame_time_s, [0.0, 0.1, 0.2])
    assert rec.clock_start_s == 1_600_000_000.0
    assert rec.points_frame.tolist() == [0, 0, 1, 2, 2, 2]
    # straight ahead 2 m, coming closer at 1 m/s: z = 2, velocity -1; (3, -1, 0.5) is 1 m to the radar's right
    assert rec.points[:3].tolist() == [[0, 0, 2, -1, 12], [1, 0.5, 3, 0, 8], [-0.5, -0.25, 1.5, 0.5, 20]]


def test_frames_whose_first_points_were_dropped_still_split(tmp_path):
    # the driver drops points outside its field of view, so a frame may start at point_id 1 or 2
    path = write_ros_dump(tmp_path / "a.txt", FRAMES, first_ids=[1, 2, 0])
    assert read_recording(path, "walk", HEIGHT).points_frame.tolist() == [0, 0, 1, 2, 2, 2]


def test_frames_by_stamp_and_ros2_spelling(tmp_path):
    text = "".join(ros_record(0, p, 100 + k, 0, 0, ros2=True).replace("point_id: 0\n", "")
                   for k, frame in enumerate(FRAMES) for p in frame)  # one stamp per frame, no point_id
    path = tmp_path / "a.txt"
    path.write_text(text)
    rec = read_recording(path, "walk", HEIGHT)
    assert rec.points_frame.tolist() == [0, 0, 1, 2, 2, 2] and np.allclose(rec.frame_time_s, [0, 1, 2])
    with pytest.raises(RealDataError) as err:
        read_recording(path, "walk", HEIGHT, group_by="point_id")
    assert str(err.value) == f"{path}: record at line 1: no point_id (needed by group_by='point_id')"
    # stamps differ per message: grouping by stamp makes each point its own frame
    each = read_recording(write_ros_dump(tmp_path / "b.txt", FRAMES), "walk", HEIGHT, group_by="stamp")
    assert each.points_frame.tolist() == [0, 1, 2, 3, 4, 5]


def test_silent_frames_come_back_with_the_frame_period(tmp_path):
    frames = [*FRAMES, [point(1.0, 0.0, 0.0)]]
    path = write_ros_dump(tmp_path / "a.txt", frames, skip_frames=[2])  # frame 2 published nothing
    assert read_recording(path, "walk", HEIGHT).n_frames == 3  # without a period nothing shows the gap
    rec = read_recording(path, "walk", {**HEIGHT, "frame_period_s": 0.1})
    assert rec.n_frames == 4 and np.allclose(rec.frame_time_s, [0, 0.1, 0.2, 0.3])
    assert rec.points_frame.tolist() == [0, 0, 1, 3]
    with pytest.raises(RealDataError) as err:
        read_recording(path, "walk", {**HEIGHT, "frame_period_s": 0.5})
    assert str(err.value) == (f"{path}: frames at 0.0000 s and 0.1000 s fall within one frame period "
                              "(frame_period_s 0.5); is frame_period_s right?")


def test_axes_and_sign_can_be_overridden_by_a_sidecar(tmp_path):
    path = write_ros_dump(tmp_path / "a.txt", FRAMES[:1])
    write_sidecar(path, {"axes": "ti", "velocity_positive": "towards", "radar_height_m": 0.5})
    rec = read_recording(path, "walk", HEIGHT)
    assert rec.sensor.radar_height_m == 0.5  # the sidecar wins over the caller's metadata
    assert rec.points[:, :4].tolist() == [[2, 0, 0, 1], [3, 0.5, -1, 0]]
    assert ROS_DEFAULTS == {"axes": "ros", "velocity_positive": "away"}


def test_an_unfinished_last_record_is_dropped(tmp_path):
    path = write_ros_dump(tmp_path / "a.txt", FRAMES, tail="header: \n  seq: 6\n  stamp: \n    secs: 1600000000\n")
    assert len(read_recording(path, "walk", HEIGHT).points) == 6


def _error(path) -> str:
    with pytest.raises(RealDataError) as err:
        read_recording(path, "walk", HEIGHT)
    assert str(err.value).startswith(f"{path}: ")
    return str(err.value)[len(f"{path}: "):]


def test_bad_dumps(tmp_path):
    good = write_ros_dump(tmp_path / "good.txt", FRAMES).read_text()
    cases = {
        "empty": ("\n\n", "empty file"),
        "prose": ("this is not a dump\n", "line 1: not a 'key: value' line: 'this is not a dump'"),
        "nan": (good.replace("intensity: 8.0", "intensity: nan"), "record at line 17: intensity: NaN or inf"),
        "word": (good.replace("x: 1.5", "x: far"), "record at line 33: x: 'far' is not a number"),
        "hole": (good.replace("velocity: 0.5\n", ""), "record at line 33: no velocity"),
        "stamp": (good.replace("    nsecs: 100000000\n", ""), "record at line 33: no header.stamp"),
        "secs": (good.replace("secs: 1600000000\n    nsecs: 0\n", "secs: soon\n    nsecs: 0\n", 1),
                 "record at line 1: header.stamp.secs: 'soon' is not a whole number"),
        "backwards": (good.replace("nsecs: 200000000", "nsecs: 50"),
                      "time_s does not increase from frame 1 to 2 (0.1 -> 5e-08)"),
        "pointcloud2": ("header: \n  seq: 1\nheight: 1\nwidth: 2\nfields: \n  - \n    name: \"x\"\n    offset: 0\n"
                        "point_step: 16\ndata: [0, 0, 128, 63]\n---\n",
                        "a sensor_msgs/PointCloud2 dump (binary point data); echo the RadarScan topic "
                        "(e.g. /ti_mmwave/radar_scan) instead"),
    }
    for name, (text, reason) in cases.items():
        path = tmp_path / f"{name}.txt"
        path.write_text(text)
        assert _error(path) == reason, name
    latin = tmp_path / "latin.txt"
    latin.write_bytes(b"x: caf\xe9\n")
    assert _error(latin) == "not UTF-8 text (byte 0xe9 at position 6)"
