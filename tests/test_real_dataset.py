"""A folder of real recordings: labels from folders and labels.yaml, metadata layers, rejects, windows."""
from __future__ import annotations

import json

import numpy as np
import pytest
from real_fixtures import TI_META, frames_csv, point, write_csv, write_parquet, write_ros_dump, write_sidecar

from tasks.real import RealDataError, load_real_dir, split_windows

CLASSES = ("walk", "jog", "boxing", "wave")


def _csv(frames: int = 3, fps: float = 10.0) -> list[str]:
    return frames_csv({k: (k / fps, [point(0.0, 2.0 + 0.1 * k, 0.0), point(0.5, 2.0, 0.3)]) for k in range(frames)})


@pytest.fixture
def real_dir(tmp_path):
    root = tmp_path / "real"
    write_csv(root / "walking" / "s1" / "rec1.csv", _csv())
    write_csv(root / "walking" / "s1" / "rec2.csv", _csv(5))
    write_parquet(root / "jog" / "rec1.parquet", {
        "frame": [0, 1], "time_s": [0.0, 0.05], "x": [0.0, 0.0], "y": [1.0, 1.0], "z": [0.0, 0.0],
        "velocity": [1.0, 2.0], "snr": [5.0, 6.0]}, embedded={"axes": "ti", "velocity_positive": "towards"})
    write_ros_dump(root / "boxing" / "rec1.txt", [[point(2.0, 0.0, 0.0)], [point(2.0, 0.1, 0.0)]])
    (root / "labels.yaml").write_text("walking: walk\n")
    (root / "sensor.json").write_text(json.dumps({**TI_META, "radar_height_m": 0.9}))
    (root / "walking" / "sensor.json").write_text(json.dumps({"radar_height_m": 1.1, "device": "IWR1443"}))
    (root / ".DS_Store").write_text("hidden files are skipped")
    return root


def test_labels_ids_and_metadata_layers(real_dir):
    recordings, rejects = load_real_dir(real_dir, classes=CLASSES)
    assert len(rejects) == 0
    assert [(r.id, r.label, r.folder, r.format) for r in recordings] == [
        ("boxing/rec1", "boxing", "boxing", "ros"), ("jog/rec1", "jog", "jog", "parquet"),
        ("walking/s1/rec1", "walk", "walking", "csv"), ("walking/s1/rec2", "walk", "walking", "csv")]
    boxing, jog, walk1, walk2 = recordings
    assert boxing.sensor.axes == "ros" and boxing.sensor.radar_height_m == 0.9  # ROS default axes, root height
    assert jog.sensor.axes == "ti" and jog.sensor.velocity_positive == "towards"  # the Parquet schema's
    assert jog.points[:, 3].tolist() == [-1.0, -2.0]
    assert walk1.sensor.radar_height_m == 1.1 and walk1.sensor.device == "IWR1443"  # the label folder's
    assert walk2.n_frames == 5 and walk1.source == real_dir / "walking" / "s1" / "rec1.csv"
    write_sidecar(walk1.source, {"radar_height_m": 1.3})  # the recording's own sidecar wins
    assert load_real_dir(real_dir, classes=CLASSES)[0][2].sensor.radar_height_m == 1.3


def test_bad_files_are_rejected_one_line_each_and_the_rest_carries_on(real_dir, caplog):
    (real_dir / "walking" / "empty.csv").write_text("")
    write_csv(real_dir / "wave" / "cols.csv", "frame,time_s,x,y\n0,0,0,1\n")
    write_csv(real_dir / "wave" / "nan.csv", _csv()[:1] + ["0,0,0,nan,0,0,5"])
    write_csv(real_dir / "dancing" / "rec.csv", _csv())
    write_csv(real_dir / "jog" / "rec1.csv", _csv())  # the same id as jog/rec1.parquet
    (real_dir / "jog" / "notes.md").write_text("session notes")
    (real_dir / "jog" / "orphan.json").write_text("{}")
    (real_dir / "loose.csv").write_text("\n".join(_csv()))
    ros = write_ros_dump(real_dir / "boxing" / "rec2.txt", [[point(1.0, 0.0, 0.0)]])
    write_sidecar(ros, {"axes": "enu"})
    with caplog.at_level("WARNING", logger="tasks.real.dataset"):
        recordings, rejects = load_real_dir(real_dir, classes=CLASSES)
    assert len(recordings) == 4
    root = str(real_dir)
    reasons = {r["item"]: r["reason"].replace(root, "REAL") for r in rejects.records}
    assert reasons == {
        "boxing/rec2.txt": "REAL/boxing/rec2.txt: sensor metadata: axes: Input should be 'radar', 'ti' or 'ros'",
        "dancing/rec.csv": "REAL/dancing/rec.csv: label folder 'dancing' is neither a class nor mapped in labels.yaml "
                           "(valid: walk, jog, boxing, wave)",
        "jog/notes.md": "REAL/jog/notes.md: not a recording (expected .csv, .parquet, .pq, .txt, .log, or a .json "
                        "sidecar)",
        "jog/orphan.json": "REAL/jog/orphan.json: a sidecar without a recording (no orphan.csv, .parquet or .txt "
                           "beside it)",
        "jog/rec1.parquet": "REAL/jog/rec1.parquet: duplicate recording id 'jog/rec1' (also rec1.csv)",
        "loose.csv": "REAL/loose.csv: not in a label folder (put recordings in REAL_DIR/<label>/)",
        "walking/empty.csv": "REAL/walking/empty.csv: empty file",
        "wave/cols.csv": "REAL/wave/cols.csv: missing column(s) z, velocity, intensity or snr (has: frame, time_s, x, "
                         "y)",
        "wave/nan.csv": "REAL/wave/nan.csv: column y: NaN or inf in 1 of 1 values (first at line 2)",
    }
    assert [m.replace(root, "REAL") for m in caplog.messages] == [f"rejected {reasons[k]}" for k in sorted(reasons)]
    rejects.write(real_dir.parent / "rejects.jsonl")
    rows = [json.loads(line) for line in (real_dir.parent / "rejects.jsonl").read_text().splitlines()]
    assert rows[0] == {"stage": "real", "item": "boxing/rec2.txt", "source": str(ros), "reason": reasons[
        "boxing/rec2.txt"].replace("REAL", root)}


@pytest.mark.parametrize("text, problem", [
    ("walking: walkin\n", "walking: unknown class 'walkin' (valid: walk, jog, boxing, wave)"),
    ("walking: [walk]\n", "walking: unknown class ['walk'] (valid: walk, jog, boxing, wave)"),
    ("01: walk\n", "1: folder names must be text (quote a name such as '01')"),
    ("- walking\n", "must map folder names to class names, got list"),
    ("walking: [walk\n", "not valid YAML: while parsing a flow sequence"),
])
def test_a_bad_label_map_is_an_error_naming_file_and_key(real_dir, text, problem):
    (real_dir / "labels.yaml").write_text(text)
    with pytest.raises(RealDataError) as err:
        load_real_dir(real_dir, classes=CLASSES)
    assert str(err.value).startswith(f"{real_dir / 'labels.yaml'}: {problem}")


def test_default_classes_are_the_procedural_ones_and_folder_errors(real_dir, tmp_path):
    recordings, rejects = load_real_dir(real_dir)  # walk, jog and boxing are procedural classes
    assert len(recordings) == 4 and len(rejects) == 0
    with pytest.raises(RealDataError, match="no such folder of real recordings"):
        load_real_dir(tmp_path / "absent")
    with pytest.raises(ValueError, match="group_by must be one of auto, point_id, stamp, got 'seq'"):
        load_real_dir(real_dir, group_by="seq")
    (real_dir / "sensor.json").write_text("{")
    with pytest.raises(RealDataError, match=r"sensor.json: not valid JSON"):
        load_real_dir(real_dir)


def test_defaults_fill_what_no_file_declares(tmp_path):
    root = tmp_path / "real"
    write_csv(root / "walk" / "a.csv", _csv())
    recordings, rejects = load_real_dir(root, classes=CLASSES)
    assert not recordings and "sensor metadata: axes: missing" in rejects.records[0]["reason"]
    recordings, _ = load_real_dir(root, classes=CLASSES, defaults=TI_META)
    assert recordings[0].points[0, :3].tolist() == [0.0, 0.0, 2.0]


def test_windows(tmp_path):
    root = tmp_path / "real"
    write_csv(root / "walk" / "a.csv", _csv(frames=30), TI_META)  # 30 frames at 10 fps: 3.0 s
    [rec], _ = load_real_dir(root, classes=CLASSES)
    assert rec.duration_s == pytest.approx(3.0)
    windows = split_windows(rec, 1.0)
    assert [w.id for w in windows] == ["walk/a@0", "walk/a@1", "walk/a@2"]
    assert all(w.n_frames == 10 and len(w.points) == 20 and w.label == "walk" for w in windows)
    assert np.allclose(windows[1].frame_time_s, np.arange(10) / 10) and windows[1].offset_s == pytest.approx(1.0)
    assert windows[2].points_frame.tolist() == np.repeat(np.arange(10), 2).tolist()
    assert windows[2].points[0, 2] == pytest.approx(2.0 + 0.1 * 20)  # frame 20's point, 2.0 + 0.1 k ahead
    assert [w.offset_s for w in split_windows(rec, 2.0, hop_s=0.5)] == pytest.approx([0.0, 0.5, 1.0])
    assert split_windows(rec, 3.5) == []
    with pytest.raises(ValueError, match="window_s and hop_s must be positive seconds"):
        split_windows(rec, 0.0)
