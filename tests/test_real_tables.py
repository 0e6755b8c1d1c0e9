"""Real recordings as CSV / Parquet tables: the schema read right, and each bad file refused with its reason."""
from __future__ import annotations

import numpy as np
import pytest
from real_fixtures import HEADER, TI_META, frames_csv, point, write_csv, write_parquet, write_sidecar

from tasks.real import RealDataError, read_recording

GOOD = {"frame": [7, 7, 8], "time_s": [0.5, 0.5, 0.6], "x": [0.0, 1.0, -1.0], "y": [2.0, 3.0, 1.0],
        "z": [0.0, 0.5, -0.2], "velocity": [1.0, 0.0, -0.5], "snr": [12.0, 9.5, 20.0]}


def test_csv_with_snr_column_and_extra_columns(tmp_path):
    lines = ["frame, time_s, x, y, z, velocity, snr, range", "3,10.0,0,2,0,1,12.5,2", "3,10.0,1,3,0.5,0,9,3.2",
             "5,10.2,0,1,0,-2,15,1"]
    rec = read_recording(write_csv(tmp_path / "a.csv", lines, TI_META), "walk")
    assert rec.points.tolist() == [[0, 0, 2, 1, 12.5], [1, 0.5, 3, 0, 9], [0, 0, 1, -2, 15]]
    assert rec.points_frame.tolist() == [0, 0, 2] and np.allclose(rec.frame_time_s, [0, 0.1, 0.2])
    assert rec.format == "csv" and rec.clock_start_s == 10.0 and rec.id == "a"


def test_parquet_with_metadata_in_its_schema(tmp_path):
    embedded = {"axes": "ti", "velocity_positive": "towards", "radar_height_m": 0.8, "device": "IWR6843ISK"}
    rec = read_recording(write_parquet(tmp_path / "a.parquet", GOOD, embedded=embedded), "walk")
    np.testing.assert_allclose(rec.points, [[0, 0, 2, -1, 12], [1, 0.5, 3, 0, 9.5], [-1, -0.2, 1, 0.5, 20]], rtol=1e-6)
    assert rec.sensor.device == "IWR6843ISK" and rec.sensor.radar_height_m == 0.8
    assert rec.format == "parquet" and np.allclose(rec.frame_time_s, [0.0, 0.1])


def test_parquet_with_a_sidecar_and_csv_equal_parquet(tmp_path):
    pq_rec = read_recording(write_parquet(tmp_path / "a.parquet", GOOD, meta=TI_META), "walk")
    lines = [HEADER.replace("intensity", "snr")] + [",".join(str(GOOD[c][k]) for c in GOOD) for k in range(3)]
    csv_rec = read_recording(write_csv(tmp_path / "b.csv", lines, TI_META), "walk")
    assert np.array_equal(pq_rec.points, csv_rec.points) and np.array_equal(pq_rec.points_frame, csv_rec.points_frame)


def _csv_error(tmp_path, text: str, meta: dict | None = TI_META) -> str:
    path = write_csv(tmp_path / "bad.csv", text, meta)
    with pytest.raises(RealDataError) as err:
        read_recording(path, "walk")
    prefix = f"{path}: "
    assert str(err.value).startswith(prefix)
    return str(err.value)[len(prefix):]


@pytest.mark.parametrize("text, reason", [
    ("", "empty file"),
    (HEADER + "\n", "no points (no rows)"),
    ("frame,time_s,x,y,velocity\n0,0,1,2,3\n", "missing column(s) z, intensity or snr (has: frame, time_s, x, y, "
                                               "velocity)"),
    (HEADER + ",snr\n0,0,0,1,0,0,5,5\n", "has both intensity and snr columns; keep the one in dB"),
    (HEADER + "\n0,0,0,1,0,0,5\n1,0.1,0,nan,0,0,5\n1,0.1,0,inf,0,0,5\n",
     "column y: NaN or inf in 2 of 3 values (first at line 3)"),
    (HEADER + "\n0,0,0,1,0,0,5\n1,0.1,0,1,0,fast,5\n", "column velocity, line 3: 'fast' is not a number"),
    (HEADER + "\n0,0,0,1,0,0,5\n1,0.1,0,1,,0,5\n", "column z, line 3: empty value"),
    (HEADER + "\n0.5,0,0,1,0,0,5\n", "column frame, line 2: 0.5 is not a whole number"),
    (HEADER + "\n0,0,0,1,0,0,5,7\n", "line 2: 8 fields, the header has 7"),
    (HEADER + "\n0,0,0,1,0,0,5\n\n1,0.1,0,1,0,0\n", "line 4: 6 fields, the header has 7"),  # blank line 3 skipped
    ("frame,time_s,x,y,z,x,velocity,snr\n0,0,0,1,0,0,5,5\n", "column(s) x appear more than once"),
])
def test_bad_csv_files(tmp_path, text, reason):
    assert _csv_error(tmp_path, text) == reason


def test_csv_not_utf8_and_missing_metadata(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes((HEADER + "\n0,0,0,1,0,0,5\n# caf\xe9\n").encode("latin-1"))
    with pytest.raises(RealDataError, match=r"latin.csv: not UTF-8 text \(byte 0xe9 at position \d+\)"):
        read_recording(path, "walk")
    good = "\n".join(frames_csv({0: (0.0, [point(0, 1, 0)])}))
    assert _csv_error(tmp_path, good, meta=None) == (
        "sensor metadata: axes: missing; velocity_positive: missing; radar_height_m: missing")
    assert _csv_error(tmp_path, good, meta={**TI_META, "axes": "xyz"}) == (
        "sensor metadata: axes: Input should be 'radar', 'ti' or 'ros'")


def _parquet_error(path) -> str:
    with pytest.raises(RealDataError) as err:
        read_recording(path, "walk")
    return str(err.value)


def test_bad_parquet_files(tmp_path):
    text = write_parquet(tmp_path / "text.parquet", {**GOOD, "x": ["0", "1", "2"]}, meta=TI_META)
    assert _parquet_error(text) == f"{text}: column x: type string, not numbers"
    nulls = write_parquet(tmp_path / "nulls.parquet", {**GOOD, "z": [0.0, None, 1.0]}, meta=TI_META)
    assert _parquet_error(nulls) == f"{nulls}: column z, row 2: empty value"
    nan = write_parquet(tmp_path / "nan.parquet", {**GOOD, "snr": [1.0, 2.0, float("nan")]}, meta=TI_META)
    assert _parquet_error(nan) == f"{nan}: column snr: NaN or inf in 1 of 3 values (first at row 3)"
    fake = tmp_path / "fake.parquet"
    fake.write_text(HEADER + "\n")
    assert _parquet_error(fake).startswith(f"{fake}: not a readable Parquet file (")
    empty = tmp_path / "empty.parquet"
    empty.write_bytes(b"")
    assert _parquet_error(empty) == f"{empty}: empty file"
    both = write_parquet(tmp_path / "both.parquet", GOOD, embedded=TI_META, meta=TI_META)
    assert _parquet_error(both) == f"{both}: metadata both in both.json and in the Parquet schema; keep one"


def test_a_bad_sidecar_is_named(tmp_path):
    path = write_csv(tmp_path / "a.csv", frames_csv({0: (0.0, [point(0, 1, 0)])}))
    sidecar = write_sidecar(path, {})
    sidecar.write_text("{axes: ti}")
    with pytest.raises(RealDataError) as err:
        read_recording(path, "walk")
    assert str(err.value).startswith(f"{sidecar}: not valid JSON (Expecting property name enclosed in double quotes")
    sidecar.write_text("[1, 2]")
    with pytest.raises(RealDataError) as err:
        read_recording(path, "walk")
    assert str(err.value) == f"{sidecar}: must be a JSON object of metadata, got list"
