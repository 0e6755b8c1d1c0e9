"""The sim-to-real report: sim -> Recording, placement-independent features, the classifier's honesty, the CLI."""
from __future__ import annotations

import json
import math
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from real_fixtures import scene, scene_signals, write_csv, write_signals_dir
from sklearn.metrics import accuracy_score, f1_score
from test_simulate_stage import SECTION

from tasks.cli import main as flywheel
from tasks.real import load_real_dir, split_windows
from tasks.real.classify import confusion, metrics, score
from tasks.real.compare import CompareOptions, compare
from tasks.real.export import write_recordings
from tasks.real.features import FEATURES, window_features
from tasks.real.simulated import load_signals_dir, signals_to_recording

DEFAULT_POSE = (0.0, 1.0, 3.0, 0.0, 0.0)
FAST = CompareOptions(bootstrap=200)
KINDS = {"walk": "big", "wave": "small"}


def _sim_items(per_class: int, seed: int, **placement) -> list[tuple[str, str, str, dict]]:
    """(id, label, split, signals) of toy scenes: the first half of each class train, a quarter val, the rest test."""
    rng = np.random.default_rng(seed)
    items = []
    for label, kind in KINDS.items():
        for k in range(per_class):
            split = "train" if k < per_class // 2 else ("val" if k < 3 * per_class // 4 else "test")
            items.append((f"{label}_{k:02d}", label, split, scene_signals(scene(kind, rng), **placement)))
    return items


def _sim(items) -> tuple[list, dict[str, str]]:
    recs = [signals_to_recording(s, i, label, DEFAULT_POSE) for i, label, _, s in items]
    return recs, {i: split for i, _, split, _ in items}


@pytest.fixture(scope="module")
def stand_in(tmp_path_factory) -> Path:
    """A 'real' set written by the exporter: other people (seed), radar height, distance, pitch, axes and sign."""
    items = _sim_items(6, seed=11, height_m=1.6, distance_m=4.0, lateral_m=0.5, pitch_deg=-12.0)
    out = tmp_path_factory.mktemp("standin") / "real"
    assert write_recordings(((i, label, s) for i, label, _, s in items), out, DEFAULT_POSE, axes="ti",
                            velocity_positive="towards") == 12
    return out


def test_a_simulated_motion_becomes_a_recording_with_its_points_and_frames():
    times = np.array([0.25, 0.3, 0.35, 0.4, 0.45])
    sc = {"level": np.array([[0.0, 0.0, 1.5], [0.1, 0.0, 1.0], [0.0, 0.2, 0.4], [0.0, 0.0, 1.2]]),
          "velocity": np.array([-1.0, 0.5, 0.0, 2.0]), "intensity": np.array([10.0, 12.0, 9.0, 30.0]),
          "points_frame": np.array([0, 0, 2, 4], np.int32), "frame_time_s": times}
    signals = scene_signals(sc, height_m=1.2, distance_m=2.0, pitch_deg=-10.0)
    rec = signals_to_recording(signals, "m1", "walk", (0.0, 1.2, 2.0, 0.0, -10.0))
    assert rec.n_frames == 5 and rec.clock_start_s == pytest.approx(0.25)  # the empty frames 1 and 3 are kept
    np.testing.assert_allclose(rec.frame_time_s, times - 0.25, atol=1e-7)
    np.testing.assert_array_equal(rec.points, signals["points"])
    assert rec.points_frame.tolist() == [0, 0, 2, 4] and rec.format == "npz"
    assert rec.sensor.axes == "radar" and rec.sensor.radar_height_m == 1.2 and rec.sensor.pitch_deg == -10.0
    np.testing.assert_allclose(rec.heights_m(), [1.5, 1.0, 0.4, 1.2], atol=1e-5)  # height and pitch undo the view


def test_the_file_pose_wins_over_the_params_default(tmp_path):
    sc = scene("big", np.random.default_rng(0), frames=10)
    folder = write_signals_dir(tmp_path / "signals", [
        ("a", "walk", "train", scene_signals(sc, height_m=2.0)), ("b", "walk", "test", scene_signals(sc, pose=False)),
        ("c", None, "train", scene_signals(sc))])
    asked = []
    recs, splits = load_signals_dir(folder, lambda: asked.append(1) or (0.0, 0.8, 3.0, 0.0, 5.0))
    assert [(r.id, r.sensor.radar_height_m, r.sensor.pitch_deg) for r in recs] == [("a", 2.0, 0.0), ("b", 0.8, 5.0)]
    assert splits == {"a": "train", "b": "test"} and asked == [1]  # the unlabelled motion is left out
    no_pose = scene_signals(sc, pose=False)
    write_recordings([("b1", "walk", no_pose), ("b2", "walk", no_pose)], tmp_path / "real",
                     lambda: asked.append(2) or (0.0, 0.8, 3.0, 0.0, 5.0))
    assert asked == [1, 2] and json.loads((tmp_path / "real/walk/b2.json").read_text())["pitch_deg"] == 5.0


def test_features_do_not_depend_on_where_the_radar_stands():
    sc = scene("big", np.random.default_rng(3), frames=30)
    views = [scene_signals(sc), scene_signals(sc, height_m=1.7, distance_m=4.5, lateral_m=0.6, pitch_deg=-15.0),
             scene_signals(sc, height_m=0.5, distance_m=2.0, pitch_deg=12.0)]
    recs = [signals_to_recording(s, "x", "walk", tuple(s["radar_pose"])) for s in views]
    feats = [window_features(r) for r in recs]
    assert np.isfinite(feats[0]).all()
    for other in feats[1:]:
        np.testing.assert_allclose(other, feats[0], rtol=1e-4, atol=1e-4)
    assert abs(recs[1].points[:, 2].mean() - recs[0].points[:, 2].mean()) > 1.0  # the raw ranges do differ


def test_window_features_known_answers():
    sc = {"level": np.array([[0.0, 0.0, 1.0], [0.2, 0.0, 1.4], [0.0, 0.5, 1.0], [0.0, 1.0, 1.0]]),
          "velocity": np.array([-1.0, 0.0, 1.0, 2.0]), "intensity": np.array([10.0, 20.0, 30.0, 14.0]),
          "points_frame": np.array([0, 0, 2, 3], np.int32), "frame_time_s": np.arange(4) / 10}
    f = dict(zip(FEATURES, window_features(signals_to_recording(scene_signals(sc), "x", "walk", DEFAULT_POSE))))
    assert f["points_per_frame_mean"] == 1.0 and f["empty_frame_share"] == 0.25
    assert f["points_per_frame_std"] == pytest.approx(math.sqrt(0.5))
    assert f["zero_velocity_share"] == 0.25 and f["approaching_share"] == 0.25 and f["receding_share"] == 0.5
    assert f["abs_velocity_mean"] == pytest.approx(1.0) and f["height_q50"] == pytest.approx(1.0, abs=1e-6)
    # one frame with 2+ points: lateral std 0.1, height std 0.2
    assert f["lateral_spread"] == pytest.approx(0.1, abs=1e-6) and f["height_spread"] == pytest.approx(0.2, abs=1e-6)
    # centroids (0.1, 0, 1.2) at 0 s, (0, 0.5, 1) at 0.2 s, (0, 1, 1) at 0.3 s: steps 0.548/0.2 and 0.5/0.1 m/s
    assert f["centroid_speed"] == pytest.approx(np.median([math.sqrt(0.01 + 0.25 + 0.04) / 0.2, 5.0]), rel=1e-4)
    # relative intensity: the window's median is 17 dB; frame peaks 3, 13, -3 dB
    assert f["intensity_peak"] == pytest.approx((3 + 13 - 3) / 3, abs=1e-4)


def test_metrics_agree_with_sklearn_and_the_interval_covers_the_recordings():
    rng = np.random.default_rng(0)
    labels = ["a", "b", "c"]
    y_true, y_pred = rng.choice(labels, 200).tolist(), rng.choice(labels[:2], 200).tolist()  # 'c' never predicted
    acc, f1 = metrics(confusion(y_true, y_pred, labels))
    assert acc == pytest.approx(accuracy_score(y_true, y_pred)) and f1 == pytest.approx(f1_score(y_true, y_pred,
                                                                                                 average="macro"))
    one = score(y_true, y_pred, ["r1"] * 200, labels, n_boot=50)
    assert one["accuracy_ci95"] == pytest.approx([acc, acc])  # one recording: every resample is the same
    many = score(y_true, y_pred, [f"r{k % 20}" for k in range(200)], labels, n_boot=300)
    lo, hi = many["accuracy_ci95"]
    assert lo < acc < hi and hi - lo < 0.3 and many["recordings"] == 20


def test_separable_classes_are_separated_on_a_stand_in(stand_in):
    real, rejects = load_real_dir(stand_in)
    assert len(real) == 12 and not len(rejects) and {r.sensor.axes for r in real} == {"ti"}
    sim, splits = _sim(_sim_items(8, seed=1))
    report = compare(real, sim, splits, FAST)
    clf = report["classifier"]
    assert report["common_classes"] == ["walk", "wave"] and clf["train_windows"] > 0
    assert clf["real"]["accuracy"] >= 0.95 and clf["real"]["macro_f1"] >= 0.95
    assert clf["sim_test"]["accuracy"] >= 0.95 and clf["real"]["recordings"] == 12
    assert clf["real"]["windows"] == sum(len(split_windows(r, 2.0, 1.0)) for r in real)
    assert report["feature_shift"]["median"]["height_q50"] < 1.0  # the radar moved, the heights did not


def test_labels_that_carry_no_information_give_chance(stand_in):
    real, _ = load_real_dir(stand_in)
    items = _sim_items(30, seed=2)
    labels = [label for _, label, _, _ in items]
    shuffled = np.random.default_rng(5).permutation(labels)
    sim, splits = _sim([(i, new, split, s) for (i, _, split, s), new in zip(items, shuffled)])
    for model in ("logreg", "forest"):
        report = compare(real, sim, splits, CompareOptions(bootstrap=0, model=model))
        assert report["classifier"]["real"]["accuracy"] < 0.8, model


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.urls += [v for k, v in attrs if k in ("src", "href") and v]


def _signals_dir(root: Path) -> Path:
    return write_signals_dir(root / "signals", _sim_items(8, seed=1))


def test_the_command_writes_json_and_an_offline_page_and_lists_rejects(stand_in, tmp_path, capsys):
    real = tmp_path / "real"
    for src in stand_in.rglob("*.*"):
        (real / src.relative_to(stand_in)).parent.mkdir(parents=True, exist_ok=True)
        (real / src.relative_to(stand_in)).write_bytes(src.read_bytes())
    write_csv(real / "walk" / "broken.csv", ["frame,time_s,x,y,z,velocity,intensity", "0,0.0,1,2,oops,0,1"],
              meta={"axes": "ti", "velocity_positive": "away", "radar_height_m": 1.0})
    out = tmp_path / "report"
    argv = ["compare-real", str(real), "--signals", str(_signals_dir(tmp_path)), "--out", str(out),
            "--bootstrap", "100", "--params", str(tmp_path / "absent.yaml")]  # each file has its radar_pose
    assert flywheel(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == [str(out / "report.html"), str(out / "report.json")]
    assert lines[2].startswith("real: 12 recordings (1 rejected), ") and "real accuracy 1.000" in lines[2]
    report = json.loads((out / "report.json").read_text())
    assert [r["item"] for r in report["real"]["rejects"]] == ["walk/broken.csv"]
    assert "column z, line 2: 'oops' is not a number" in report["real"]["rejects"][0]["reason"]
    assert report["classifier"]["real"]["recordings"] == 12  # the rest is scored
    assert json.loads((out / "rejects.jsonl").read_text())["item"] == "walk/broken.csv"
    sim, splits = load_signals_dir(tmp_path / "signals", DEFAULT_POSE)
    again = compare(load_real_dir(real)[0], sim, splits, CompareOptions(bootstrap=100), load_real_dir(real)[1],
                    report["sources"])
    assert json.loads(json.dumps(again)) == report  # the file holds exactly the report, in strict JSON
    page = (out / "report.html").read_text()
    links = _Links()
    links.feed(page)
    assert links.urls and all(u.startswith("data:image/png;base64,") for u in links.urls)
    assert "://" not in page and "walk/broken.csv" in page and page.count("<img") == 3 + len(report["stats"]["classes"])


def _fails(argv: list[str], capsys) -> str:
    capsys.readouterr()
    assert flywheel(argv) == 1
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1, err
    return err.strip()


def test_no_common_class_and_an_empty_folder_are_one_line_errors(tmp_path, capsys):
    rng = np.random.default_rng(0)
    real = tmp_path / "real"
    write_recordings([("j1", "jog", scene_signals(scene("big", rng)))], real, DEFAULT_POSE)
    signals = str(_signals_dir(tmp_path))
    err = _fails(["compare-real", str(real), "--signals", signals, "--out", str(tmp_path / "o")], capsys)
    assert err == ("flywheel compare-real: no class in both sets: the real recordings have jog; "
                   "the simulated train/val windows have walk, wave")
    (tmp_path / "empty").mkdir()
    err = _fails(["compare-real", str(tmp_path / "empty"), "--signals", signals], capsys)
    assert err.startswith(f"flywheel compare-real: {tmp_path / 'empty'}: no usable recordings")
    assert _fails(["compare-real", str(real), "--signals", str(tmp_path / "nothing")], capsys).endswith(
        "nothing: not a signals folder (no index.parquet; run the simulate stage, or compare-real --simulate)")
    assert not (tmp_path / "o").exists()  # nothing written on failure


def test_export_real_writes_the_schema_and_refuses_a_used_folder(tmp_path, capsys):
    signals = _signals_dir(tmp_path)
    out = tmp_path / "standin"
    assert flywheel(["export-real", str(signals), str(out), "--axes", "ros"]) == 0
    assert capsys.readouterr().out.splitlines() == [str(out), f"16 recordings (axes ros, velocity + = away) from "
                                                               f"{signals}"]
    real, rejects = load_real_dir(out)
    assert len(real) == 16 and not len(rejects)
    sim, _ = load_signals_dir(signals, DEFAULT_POSE)
    back, orig = real[0], next(s for s in sim if s.id == "walk_00")
    assert back.id == "walk/walk_00" and back.sensor.axes == "ros" and back.sensor.radar_height_m == 1.0
    np.testing.assert_allclose(back.points, orig.points, atol=2e-3)  # positions and velocity through ROS axes
    err = _fails(["export-real", str(signals), str(out)], capsys)
    assert err == f"flywheel export-real: {out}: exists and is not an empty folder (choose a new one)"


def test_simulate_makes_the_real_classes_once_and_reuses_them(tmp_path, capsys):
    rng = np.random.default_rng(4)
    real = tmp_path / "real"
    write_recordings([(f"{label}{k}", label, scene_signals(scene(kind, rng, frames=30))) for label, kind in
                      KINDS.items() for k in range(2)], real, DEFAULT_POSE)
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({
        "motion": {"procedural": {"motions_per_class": 2, "classes": ["walk", "wave", "squat"],
                                  "duration_s": [2.5, 3.0]}},
        "simulate": SECTION}))
    argv = ["compare-real", str(real), "--simulate", "--params", str(params), "--out", str(tmp_path / "out"),
            "--bootstrap", "20"]
    assert flywheel(argv) == 0
    cache = tmp_path / "out" / "sim_cache" / "signals"
    index = pd.read_parquet(cache / "index.parquet")
    assert sorted(index["label"]) == ["walk", "walk", "wave", "wave"] and not index["reused"].any()
    assert sorted(index["split"]) == ["train", "train", "val", "val"]  # the motion stage's split of 2 per class
    capsys.readouterr()
    assert flywheel(argv) == 0
    assert pd.read_parquet(cache / "index.parquet")["reused"].all()
    assert json.loads((tmp_path / "out" / "report.json").read_text())["sources"]["simulated"] is True

