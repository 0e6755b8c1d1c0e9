"""`flywheel classify`: a tiny encoder's own simulated motions, exported as real point clouds (export-real) and
IMU CSVs, scored zero-shot; the windows known-answer against data.py's; the report's bookkeeping and rejects."""
from __future__ import annotations

import json
import logging
import math
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import yaml
from sklearn.metrics import f1_score
from test_qa_stage import simulated

from tasks.cli import main as flywheel
from tasks.common.signals import load_signals
from tasks.motion.procedural import generate
from tasks.motion.stage import finish_item
from tasks.pretrain.classify import Inputs, embed, imu_windows, point_windows, window_starts
from tasks.pretrain.config import DataConfig, SignalShapes
from tasks.pretrain.data import VIEWS, Normaliser, load_dataset
from tasks.pretrain.export import load_encoder
from tasks.pretrain.stage import main as pretrain_main
from tasks.real import read_recording
from tasks.real.imu_csv import COLUMNS, read_imu_recording
from tasks.real.schema import Recording, SensorMeta

CLASSES = ["clap", "squat", "walk"]
SITE = "left_wrist"
SI = {"acc_units": "m/s2", "gyro_units": "rad/s"}


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A simulated set (per class 6 train, 1 test motion) and a tiny encoder trained on it (30 steps)."""
    items = []
    for c, label in enumerate(CLASSES):
        for k in range(7):
            item = finish_item(generate(label, k, 10 * c + k, duration_s=(3.0, 3.5)))
            item.split = "train" if k < 6 else "test"
            items.append(item)
    root = simulated(tmp_path_factory.mktemp("classify"), items)
    section = {"seed": 0, "checkpoint_dir": str(root / "ckpt"), "data": {"window_s": 3.0, "max_points": 16},
               "train": {"device": "cpu", "batch_size": 6, "epochs": 10, "lr": 3e-3, "warmup_steps": 2,
                         "checkpoint_every": 100, "eval_every": 100, "torch_threads": 1},
               "eval": {"bootstrap": 100, "batch_size": 16}}
    (root / "params.yaml").write_text(yaml.safe_dump({"pretrain": section}))
    assert pretrain_main(["--params", str(root / "params.yaml"), "--signals", str(root / "signals"), "--motion",
                          str(root / "motion"), "--out", str(root / "encoder"), "--embeddings", str(root / "emb"),
                          "--metrics", str(root / "metrics/pretrain.json"), "--live", str(root / "live")]) == 0
    return root


@pytest.fixture(scope="module")
def encoder(trained) -> tuple:
    return load_encoder(trained / "encoder")


def imu_csv(path: Path, time_s: np.ndarray, data: np.ndarray, site: str = SITE, units: dict | None = None,
            columns: tuple[str, ...] = COLUMNS) -> Path:
    """An IMU recording as a device would write it, with its sidecar."""
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savetxt(path, np.column_stack([time_s, data]), delimiter=",", fmt="%.10g", header=",".join(columns),
               comments="")
    path.with_suffix(".json").write_text(json.dumps({**(units or SI), "site": site, "axes": "segment"}))
    return path


def site_imu(signals: dict) -> tuple[np.ndarray, np.ndarray]:
    return signals["imu_time_s"] + 12.5, signals["imu"][:, list(signals["imu_sites"]).index(SITE)]  # any clock


@pytest.fixture(scope="module")
def real(trained, tmp_path_factory) -> Path:
    """The training set itself as real recordings (points in TI axes, the left wrist's IMU), a class the encoder
    does not know, and bad files of each kind."""
    out = tmp_path_factory.mktemp("real") / "real"
    assert flywheel(["export-real", str(trained / "signals"), str(out)]) == 0
    for path in sorted((trained / "signals").glob("*.npz")):
        label = next(c for c in CLASSES if f"_{c}_" in path.name)
        imu_csv(out / label / f"{path.stem}_imu.csv", *site_imu(load_signals(path)))
    (out / "wave").mkdir()  # a walk filed under wave, a class the encoder was not trained on, in both modalities
    for name in ("", "_imu"):
        for suffix in (".csv", ".json"):
            shutil.copy(out / "walk" / f"proc_walk_000{name}{suffix}", out / "wave" / f"walk_as_wave{name}{suffix}")
    shutil.copy(out / "walk" / "proc_walk_000.json", out / "walk" / "no_velocity.json")
    (out / "walk" / "no_velocity.csv").write_text("frame,time_s,x,y,z,intensity\n0,0.0,0,2,0,10\n")
    t, d = np.arange(100) / 50.0, np.ones((100, 6))
    imu_csv(out / "clap" / "nan_imu.csv", t, np.where(np.arange(100)[:, None] == 7, np.nan, d))
    imu_csv(out / "squat" / "mg_imu.csv", t, d, units={"acc_units": "mg", "gyro_units": "rad/s"})
    imu_csv(out / "squat" / "wrist_imu.csv", t, d, site="wrist")
    imu_csv(out / "walk" / "backwards_imu.csv", np.r_[t[:50], t[49:99]], d)
    imu_csv(out / "walk" / "no_gyro_z_imu.csv", t, d[:, :5], columns=COLUMNS[:-1])
    return out


@pytest.fixture(scope="module")
def report(trained, real, tmp_path_factory) -> tuple[dict, Path, list[str]]:
    """`flywheel classify` on the stand-in: its classify.json, its out folder and the lines it logged."""
    out = tmp_path_factory.mktemp("classified")
    log = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            log.append(record.getMessage())

    handler = Keep()
    logging.getLogger().addHandler(handler)
    try:
        assert flywheel(["classify", str(real), "--encoder", str(trained / "encoder"), "--out", str(out),
                         "--batch-size", "8"]) == 0
    finally:
        logging.getLogger().removeHandler(handler)
    return json.loads((out / "classify.json").read_text()), out, log


def test_every_file_is_scored_or_rejected_and_bad_ones_are_named(real, report):
    rep, _, log = report
    scored = {p["source"] for m in rep["modalities"].values() for p in m["predictions"]}
    rejected = {r["source"]: r["reason"] for r in rep["rejects"]}
    recordings = {str(p) for p in real.rglob("*.csv")}
    assert scored | set(rejected) == recordings and not scored & set(rejected)
    assert len(rep["modalities"]["points"]["predictions"]) == len(rep["modalities"]["imu"]["predictions"]) == 22
    reasons = {Path(source).name: reason for source, reason in rejected.items()}
    assert all(reason.startswith(source + ": ") for source, reason in rejected.items())
    assert reasons["no_velocity.csv"].endswith("missing column(s) velocity (has: frame, time_s, x, y, z, intensity)")
    assert reasons["nan_imu.csv"].endswith("column acc_x, line 9: nan (NaN or inf)")
    assert reasons["mg_imu.csv"].endswith(": sidecar mg_imu.json: acc_units: 'mg' is not one of m/s2, g")
    assert reasons["wrist_imu.csv"].endswith("sidecar wrist_imu.json: site 'wrist' is not one of the encoder's IMU "
                                             "sites (valid: pelvis, chest, head, left_wrist, left_thigh, "
                                             "left_ankle, right_wrist, right_thigh, right_ankle)")
    assert reasons["backwards_imu.csv"].endswith("time_s does not increase from line 51 to 52 (0.98 -> 0.98)")
    assert reasons["no_gyro_z_imu.csv"].endswith("missing column(s) gyro_z (has: time_s, acc_x, acc_y, acc_z, "
                                                 "gyro_x, gyro_y)")
    assert len(rejected) == 6
    # the point loader's complaint about IMU files is not logged; each bad file's own verdict is, once
    assert not any("missing column(s) frame" in line for line in log)
    assert sum("nan_imu.csv" in line for line in log) == 1


def test_a_class_the_encoder_lacks_is_reported_not_scored(report):
    rep = report[0]
    assert rep["classes"] == CLASSES and rep["chance"] == pytest.approx(1 / 3)
    for modality in ("points", "imu"):
        m = rep["modalities"][modality]
        assert m["not_in_library"] == {"recordings": 1, "classes": {"wave": 1}}
        assert m["recordings"] == 21 and len(m["confusion"]) == 21
        wave = [p for p in m["predictions"] if p["label"] == "wave"]
        assert len(wave) == 1 and not wave[0]["in_library"] and wave[0]["windows_right"] is None
        assert "wave" not in {r["actual"] for r in m["confusion"]} | set(m["per_class"])


def test_scores_agree_with_the_confusion_rows(report):
    rep, out, _ = report
    for modality, m in rep["modalities"].items():
        actual = [r["actual"] for r in m["confusion"]]
        predicted = [r["predicted"] for r in m["confusion"]]
        assert m["accuracy"]["value"] == pytest.approx(np.mean(np.array(actual) == np.array(predicted)))
        assert m["macro_f1"]["value"] == pytest.approx(f1_score(actual, predicted, labels=sorted(set(actual)),
                                                                average="macro"))
        for key in ("accuracy", "macro_f1"):
            lo, hi = m[key]["ci95"]
            assert 0 <= lo <= m[key]["value"] <= hi <= 1, (modality, key)
        assert {c: v["recordings"] for c, v in m["per_class"].items() if v["recordings"]} == Counter(actual)
        assert {c: v["correct"] for c, v in m["per_class"].items()} == {
            c: sum(a == p == c for a, p in zip(actual, predicted)) for c in m["per_class"]}
        assert m["windows"] == 21  # 3.0-3.5 s recordings, 3 s windows: the remainder is under half a window
        assert (out / f"confusion_{modality}.png").stat().st_size > 1000
    assert "| points | 21 | 21 |" in (out / "classify.md").read_text()


def test_the_training_set_scores_well_above_chance_through_the_points_tower(report):
    points = report[0]["modalities"]["points"]
    assert points["accuracy"]["value"] >= 0.5 and points["accuracy"]["ci95"][0] > points["chance"]


def test_exported_windows_equal_the_training_windows(trained, real, encoder):
    """What the encoder trained on (data.py) and what classify feeds it from the exported files, frame by frame."""
    info = encoder[1]
    inputs = Inputs.of(info)
    data = load_dataset(trained / "signals", trained / "motion", DataConfig(window_s=3.0, max_points=16))
    checked = 0
    for m in data.motions[::4]:
        signals = load_signals(trained / "signals" / f"{m.id}.npz")
        rec = read_recording(real / m.label / f"{m.id}.csv", m.label)
        [w] = point_windows(rec, inputs)
        first = int(signals["points_frame"].min())  # empty frames before the first point are not exported
        take = int(w["frame_mask"].sum())
        assert take == min(60, int(signals["points_frame"].max()) - first + 1)
        mask = np.arange(16) < m.n_points[first:first + take, None]
        assert (w["points_mask"][:take] == mask).all() and not w["points_mask"][take:].any()
        assert np.allclose(w["points"][:take][mask], m.norm.points(m.points[first:first + take])[mask], atol=1e-3)
        t, acc_gyro = site_imu(signals)
        [w] = imu_windows(read_imu_recording(real / m.label / f"{m.id}_imu.csv", inputs.sites, m.label), inputs)
        site = inputs.sites.index(SITE)
        assert w["site_mask"].tolist() == [s == SITE for s in inputs.sites] and not w["frame_mask"].any()
        n = int(w["imu_mask"].sum())
        assert n == min(150, len(t)) and np.allclose(w["imu"][:n, site], m.imu[:n, site], atol=1e-5)
        assert not w["imu"][:, np.arange(len(inputs.sites)) != site].any()
        checked += 1
    assert checked == 6


def test_units_in_g_and_degrees_give_the_embedding_of_si_units(trained, encoder, tmp_path):
    model, info = encoder
    inputs = Inputs.of(info)
    t, acc_gyro = site_imu(load_signals(next((trained / "signals").glob("proc_squat_*.npz"))))
    si = imu_csv(tmp_path / "squat" / "si.csv", t, acc_gyro)
    other = imu_csv(tmp_path / "squat" / "g.csv", t, np.column_stack([acc_gyro[:, :3] / 9.80665,
                                                                       np.degrees(acc_gyro[:, 3:])]),
                    units={"acc_units": "g", "gyro_units": "deg/s"})
    a, b = (imu_windows(read_imu_recording(p, inputs.sites, "squat"), inputs) for p in (si, other))
    assert np.allclose(a[0]["imu"], b[0]["imu"], atol=1e-6)
    ea, eb = embed(model, a, "imu", 4), embed(model, b, "imu", 4)
    assert ea.shape == (1, 384) and np.allclose(ea, eb, atol=1e-5)
    walk = load_signals(next((trained / "signals").glob("proc_walk_*.npz")))
    walk_path = imu_csv(tmp_path / "walk" / "si.csv", *site_imu(walk))
    assert not np.allclose(ea, embed(model, imu_windows(read_imu_recording(walk_path, inputs.sites, "walk"), inputs),
                                     "imu", 4), atol=1e-3)  # another motion's is another embedding


# ------------------------------------------------------------- windows and frame mapping, hand-computed

def _inputs() -> Inputs:
    """A 3 s window, 20 frames/s of 2 points, 50 IMU samples/s at two sites; points (v - 1) / 2, intensity
    (i - 10) / 5, z without spread; accelerometer / 2, gyroscope / 0.5."""
    stats = {**{v: {"mean": 0.0, "std": 1.0} for v in VIEWS},
             "points": {"mean": [0.0, 0.0, 0.0, 1.0, 10.0], "std": [1.0, 1.0, 0.0, 2.0, 5.0]},
             "imu": {"sites": ["pelvis", "left_wrist"], "std": [[2.0] * 3 + [0.5] * 3] * 2}}
    shapes = SignalShapes(range_bins=3, doppler_bins=2, angle_bins=2, n_frames=60, max_points=2, imu_steps=150,
                          n_sites=2)
    return Inputs(shapes, 3.0, Normaliser(stats, ["pelvis", "left_wrist"]), ["pelvis", "left_wrist"])


def _recording(times: list[float], points: list[list[float]], frames: list[int]) -> Recording:
    sensor = SensorMeta(axes="radar", velocity_positive="away", radar_height_m=1.0)
    return Recording(id="r", label="walk", folder="walk", source=Path("r.csv"), format="csv", sensor=sensor,
                     frame_time_s=np.array(times), points=np.array(points, np.float32),
                     points_frame=np.array(frames, np.int32))


def test_window_starts_keep_a_half_window_and_pad_a_short_recording():
    assert window_starts(7.5, 3.0) == [0.0, 3.0, 6.0]
    assert window_starts(7.4, 3.0) == [0.0, 3.0]
    assert window_starts(6.0, 3.0) == [0.0, 3.0]
    assert window_starts(1.0, 3.0) == window_starts(0.0, 3.0) == [0.0]


def test_a_slower_radar_holds_each_frame_and_a_faster_one_skips_frames():
    inputs = _inputs()
    # 10 frames/s, 0.7 s: frame k has one point of velocity k at 0.1 k s; frame 6 has none
    slow = _recording([0.1 * k for k in range(7)], [[0.0, 1.0, 2.0, k, 10.0] for k in range(6)], list(range(6)))
    [w] = point_windows(slow, inputs)
    assert w["frame_mask"].sum() == 14 and w["points_mask"][:, 1].sum() == 0
    held = np.repeat(np.arange(7), 2)  # slots 0-13 at 0.05 s: frames 0, 0, 1, 1, ..., 6, 6
    assert w["points_mask"][:14, 0].tolist() == (held < 6).tolist()
    assert np.allclose(w["points"][:12, 0, 3], (held[:12] - 1.0) / 2.0)
    assert (w["points"][:12, 0, 2] == 0).all() and np.allclose(w["points"][:12, 0, 4], 0.0)
    # 40 frames/s for 5 s: two windows, the second 2 s long; slots 0.05 s apart take every other frame
    fast = _recording([k / 40 for k in range(200)], [[0.0, 1.0, 2.0, k, 10.0] for k in range(200)], list(range(200)))
    first, second = point_windows(fast, inputs)
    assert first["frame_mask"].all() and np.allclose(first["points"][:, 0, 3], (2 * np.arange(60) - 1.0) / 2.0)
    assert second["frame_mask"].sum() == 40 and np.allclose(second["points"][:40, 0, 3],
                                                            (120 + 2 * np.arange(40) - 1.0) / 2.0)
    assert len(point_windows(_recording(fast.frame_time_s[:179], fast.points[:179], range(179)), inputs)) == 1


def test_the_strongest_points_of_a_frame_are_kept_strongest_first():
    [w] = point_windows(_recording([0.0], [[0.0, 0.0, 0.0, 1.0, 12.0], [0.0, 0.0, 0.0, 3.0, 30.0],
                                            [0.0, 0.0, 0.0, 5.0, 20.0]], [0, 0, 0]), _inputs())
    assert w["frame_mask"].sum() == 1  # one frame of unknown period: one slot
    assert np.allclose(w["points"][0, :, 3:], [[1.0, 4.0], [2.0, 2.0]]) and w["points_mask"][0].all()


def test_imu_is_interpolated_scaled_and_put_in_its_site(tmp_path):
    inputs = _inputs()
    t = np.arange(26) / 25.0  # 25 Hz for 1 s: a ramp, 1 g up, a quarter turn per second about z
    data = np.column_stack([t, np.ones_like(t), np.zeros_like(t), np.zeros_like(t), np.zeros_like(t),
                            np.full_like(t, 90.0)])
    path = imu_csv(tmp_path / "walk" / "ramp.csv", t, data, site="left_wrist",
                   units={"acc_units": "g", "gyro_units": "deg/s"})
    [w] = imu_windows(read_imu_recording(path, inputs.sites, "walk"), inputs)
    assert w["imu_mask"].sum() == 51 and w["site_mask"].tolist() == [False, True]  # 0 to 1 s at 50 Hz
    t50 = np.arange(51) / 50.0
    assert np.allclose(w["imu"][:51, 1, 0], t50 * 9.80665 / 2.0)
    assert np.allclose(w["imu"][:51, 1, 1], 9.80665 / 2.0) and np.allclose(w["imu"][:51, 1, 5], math.pi / 2 / 0.5)
    assert not w["imu"][51:].any() and not w["imu"][:, 0].any()


def test_a_folder_without_usable_recordings_is_a_one_line_error(trained, tmp_path, capsys):
    imu_csv(tmp_path / "real" / "walk" / "bad_imu.csv", np.zeros(3), np.ones((3, 6)))
    assert flywheel(["classify", str(tmp_path / "real"), "--encoder", str(trained / "encoder"), "--out",
                     str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith(f"flywheel classify: {tmp_path / 'real'}: no usable recordings (1 rejected: ") and \
        "time_s does not increase" in err


def test_the_stage_scores_real_recordings_when_params_point_at_them(trained, real, tmp_path):
    section = yaml.safe_load((trained / "params.yaml").read_text())["pretrain"]
    section.update(checkpoint_dir=str(tmp_path / "ckpt"), real_eval=str(real))
    section["train"]["epochs"] = 2
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"pretrain": section}))
    assert pretrain_main(["--params", str(tmp_path / "params.yaml"), "--signals", str(trained / "signals"),
                          "--motion", str(trained / "motion"), "--out", str(tmp_path / "encoder"), "--embeddings",
                          str(tmp_path / "emb"), "--metrics", str(tmp_path / "metrics/pretrain.json"),
                          "--live", str(tmp_path / "live")]) == 0
    metrics = json.loads((tmp_path / "metrics/pretrain.json").read_text())
    scored = json.loads((tmp_path / "metrics/pretrain_real/classify.json").read_text())
    for modality in ("points", "imu"):
        assert metrics[f"real/{modality}/accuracy"] == scored["modalities"][modality]["accuracy"]
        assert metrics[f"real/{modality}/recordings"] == scored["modalities"][modality]["recordings"] > 0
    assert metrics["real/rejected_files"] == len(scored["rejects"]) > 0
