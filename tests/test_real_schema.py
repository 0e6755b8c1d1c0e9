"""Real recordings: axes and velocity-sign conversion into the project's radar frame, metadata, frame timing."""
from __future__ import annotations

import numpy as np
import pytest
from real_fixtures import TI_META, frames_csv, point, write_csv

from tasks.real import RealDataError, read_recording
from tasks.real.schema import Columns, assemble, parse_meta, to_radar_frame, velocity_away


def test_a_point_ahead_coming_closer_has_z_2_and_negative_velocity(tmp_path):
    # 2 m straight ahead (TI: y = boresight), +1 m/s in a file whose positive velocity means "towards"
    path = write_csv(tmp_path / "a.csv", frames_csv({0: (0.0, [point(0.0, 2.0, 0.0, velocity=1.0)])}),
                     {**TI_META, "velocity_positive": "towards"})
    rec = read_recording(path, "walk")
    assert rec.points.tolist() == [[0.0, 0.0, 2.0, -1.0, 10.0]]
    assert rec.points.dtype == np.float32 and rec.points_frame.dtype == np.int32


@pytest.mark.parametrize("axes, xyz", [
    ("radar", (1.0, 0.5, 3.0)),  # x right, y up, z boresight
    ("ti", (1.0, 3.0, 0.5)),  # x right, y forward, z up
    ("ros", (3.0, -1.0, 0.5)),  # x forward, y left, z up
])
def test_every_axes_convention_gives_the_same_point_in_the_radar_frame(axes, xyz):
    # one point 1 m to the radar's right, 0.5 m above its boresight, 3 m ahead
    assert to_radar_frame(np.array([xyz]), axes).tolist() == [[1.0, 0.5, 3.0]]


def test_velocity_signs():
    v = np.array([1.5, 0.0, -2.0])
    assert velocity_away(v, "away").tolist() == [1.5, 0.0, -2.0]
    towards = velocity_away(v, "towards")
    assert towards.tolist() == [-1.5, 0.0, 2.0] and not np.signbit(towards[1])


def test_metadata_errors_name_the_file_and_every_key():
    with pytest.raises(RealDataError) as err:
        parse_meta({"axes": "enu", "radar_heigth_m": 1.0}, "walk/a.csv")
    assert str(err.value) == (
        "walk/a.csv: sensor metadata: axes: Input should be 'radar', 'ti' or 'ros'; velocity_positive: missing; "
        "radar_height_m: missing; radar_heigth_m: unknown key")
    with pytest.raises(RealDataError, match=r"radar_height_m: Input should be less than or equal to 10"):
        parse_meta({**TI_META, "radar_height_m": 120.0}, "a.csv")  # centimetres, not metres


def test_heights_follow_radar_height_and_pitch(tmp_path):
    lines = frames_csv({0: (0.0, [point(0.0, 2.0, 0.5), point(0.0, 2.0, 0.0)])})
    flat = read_recording(write_csv(tmp_path / "a.csv", lines, {**TI_META, "radar_height_m": 1.2}), "walk")
    assert np.allclose(flat.heights_m(), [1.7, 1.2])
    # boresight tilted 30 degrees up: a point 2 m along it is 2 sin 30 = 1 m above the radar
    tilted = read_recording(write_csv(tmp_path / "b.csv", lines, {**TI_META, "pitch_deg": 30.0}), "walk")
    assert np.allclose(tilted.heights_m(), [1.0 + 0.5 * np.cos(np.radians(30)) + 1.0, 2.0])


def _cols(frames, times):
    n = len(frames)
    return Columns(frame_no=np.array(frames), time_s=np.array(times, dtype=float), xyz=np.zeros((n, 3)),
                   velocity=np.zeros(n), intensity=np.zeros(n))


def _assemble(cols):
    return assemble(cols, parse_meta(TI_META, "f"), "f", id="f", label="walk", folder="walk", source=None,
                    format="csv")


def test_missing_frame_numbers_are_empty_frames_with_interpolated_times():
    rec = _assemble(_cols([12, 10, 10, 13], [5.3, 5.0, 5.0, 5.4]))  # unsorted rows; frame 11 has no points
    assert np.allclose(rec.frame_time_s, [0.0, 0.15, 0.3, 0.4])
    assert rec.points_frame.tolist() == [0, 0, 2, 3]
    assert rec.clock_start_s == 5.0 and rec.n_frames == 4
    assert rec.frame_period_s == pytest.approx(0.15) and rec.duration_s == pytest.approx(0.55)  # median step


def test_frame_timing_errors():
    with pytest.raises(RealDataError) as err:
        _assemble(_cols([0, 0, 1], [0.0, 0.05, 0.1]))
    assert str(err.value) == "f: frame 0: its points have different time_s (0 and 0.05)"
    with pytest.raises(RealDataError) as err:
        _assemble(_cols([0, 1, 2], [0.0, 0.2, 0.1]))
    assert str(err.value) == "f: time_s does not increase from frame 1 to 2 (0.2 -> 0.1)"
    with pytest.raises(RealDataError) as err:
        _assemble(_cols([0, 4_000_000], [0.0, 1.0]))
    assert str(err.value) == "f: frame numbers span 4000001 frames (0 to 4000000), more than 1000000"
