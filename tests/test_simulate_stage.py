"""The simulate stage end to end: the signals contract, rejects, train-only statistics, shards, the CLI."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from motion_bodies import STANDING, moving

from tasks.cli import main as flywheel
from tasks.common.io import RejectLog
from tasks.common.params import ParamsError
from tasks.common.seeds import item_seed
from tasks.common.signals import CONTRACT, REQUIRED_SITES, SignalsError, load_signals, save_signals, to_db
from tasks.motion.item import MotionItem
from tasks.motion.stage import write_dataset
from tasks.simulate.config import SimulateConfig
from tasks.simulate.scene import RECORDED
from tasks.simulate.stage import main as simulate_main

# a small radar (16 Doppler x 21 range x 32 angle bins, few scatterers) keeps each motion well under a second
SECTION = {
    "seed": 3, "strict": False, "method": "fast", "device": "cpu",
    "radar": {"preset": "default", "n_chirps": 16, "n_samples": 64, "max_range_m": 4.0, "n_angle": 32,
              "scatterers_per_m": 5},
    "imu": {"rate_hz": 50},
}
FRAMES = 40  # 2 s at 20 fps


def line(dx: float, dz: float) -> np.ndarray:
    """A pelvis path [FRAMES, 2] (x, z) from the origin, moving (dx, dz) metres at a steady speed."""
    s = np.linspace(0.0, 1.0, FRAMES)[:, None]
    return s * [dx, dz]


# id -> (split, pelvis path); the person faces +z, the radar stands at z = 3 m looking back at them
MOTIONS = {
    "walk_to": ("train", line(0.0, 1.0)),  # 0.5 m/s towards the radar
    "side": ("train", line(0.6, 0.0)),
    "stand": ("val", line(0.0, 0.0)),
    "broken": ("test", line(0.0, 0.0)),  # its joints file is overwritten with garbage
}


def write_params(folder: Path, **changes) -> Path:
    path = folder / "params.yaml"
    path.write_text(yaml.safe_dump({"simulate": {**SECTION, **changes}}))
    return path


@pytest.fixture(scope="module")
def motion_dir(tmp_path_factory) -> Path:
    items = [MotionItem(name, "procedural", moving(STANDING, path), [name], label=name, split=split)
             for name, (split, path) in MOTIONS.items()]
    out = tmp_path_factory.mktemp("data") / "motion"
    write_dataset(items, RejectLog("motion"), out)
    (out / "joints/broken.npy").write_bytes(b"not a numpy file")
    return out


def run_stage(motion_dir: Path, root: Path, *extra: str, **params) -> int:
    return simulate_main(["--params", str(write_params(root, **params)), "--motion", str(motion_dir),
                          "--metrics", str(root / "metrics"), *extra])


@pytest.fixture(scope="module")
def plain(motion_dir, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("plain")
    assert run_stage(motion_dir, root, "--out", str(root / "signals")) == 0
    return root


def test_every_motion_follows_the_contract(plain):
    out = plain / "signals"
    index = pd.read_parquet(out / "index.parquet")
    assert index["id"].tolist() == ["side", "stand", "walk_to"]
    assert sorted(p.name for p in out.iterdir()) == [
        "index.parquet", "norm_stats.json", "rejects.jsonl", "side.npz", "stand.npz", "walk_to.npz"]
    for row in index.itertuples():
        s = load_signals(out / row.path)
        assert set(CONTRACT) <= set(s)
        f = len(s["frame_time_s"])
        assert f == row.n_radar_frames == 39  # 10 ms bursts every 50 ms in 1.95 s
        assert s["range_time"].shape == (len(s["range_m"]), f) == (21, 39)
        assert s["doppler_time"].shape == (16, f) and s["azimuth_time"].shape == (32, f)
        assert s["points"].shape == (row.n_points, 5) and s["points_frame"].shape == (row.n_points,)
        assert np.all(s["points_frame"] < f) and np.all(np.diff(s["frame_time_s"]) > 0)
        assert s["imu"].shape == (row.imu_samples, len(s["imu_sites"]), 6) == (98, 9, 6)
        assert set(REQUIRED_SITES) <= set(s["imu_sites"].tolist())
        assert row.split == MOTIONS[row.id][0] and row.label == row.id and row.duration_s == 2.0
        # the scene: recorded in the index and the file alike (the default: 3 m ahead, 1 m up, facing them)
        np.testing.assert_allclose([getattr(row, name) for name in RECORDED], s["scene"])
        np.testing.assert_allclose(s["radar_pose"], [0.0, 1.0, 3.0, 0.0, 0.0], atol=1e-6)


def test_signals_describe_the_motion(plain):
    """Known answers: walking from 3 m to 2 m away at 0.5 m/s; standing still reads 1 g."""
    walk = load_signals(plain / "signals/walk_to.npz")
    peak = walk["range_m"][walk["range_time"].argmax(axis=0)]
    assert abs(peak[:5].mean() - 3.0) < 0.25 and abs(peak[-5:].mean() - 2.0) < 0.25
    # negative: towards the radar; within half a 0.76 m/s Doppler bin (16 chirps: the clutter filter's
    # notch at 0 m/s pushes a slow target's peak outwards)
    assert np.median(walk["points"][:, 3]) == pytest.approx(-0.5, abs=0.38)
    stand = load_signals(plain / "signals/stand.npz")
    assert np.linalg.norm(stand["imu"][..., :3], axis=-1) == pytest.approx(9.81, abs=0.2)
    assert np.abs(stand["imu"][..., 3:]).max() < 0.05


def test_broken_joints_are_rejected_by_name(plain, motion_dir):
    rejects = [json.loads(r) for r in (plain / "signals/rejects.jsonl").read_text().splitlines()]
    assert [r["item"] for r in rejects] == ["broken"]
    # not numpy's advice to load the file "unsafely" as a pickle
    broken = motion_dir / "joints/broken.npy"
    assert rejects[0]["reason"] == f"broken: unreadable joints file {broken} (not a NumPy .npy file)"
    metrics = json.loads((plain / "metrics/simulate.json").read_text())
    assert metrics["motions"] == 3 and metrics["rejects"] == 1 and metrics["radar_frames"] == 3 * 39
    assert metrics["signal_seconds"] == 6.0 and metrics["splits"] == {"train": 2, "val": 1}


def test_norm_stats_come_from_the_train_split_only(plain):
    out = plain / "signals"
    stats = json.loads((out / "norm_stats.json").read_text())
    assert stats["motions"] == 2 and stats["imu"]["sites"][0] == "pelvis"
    train = [load_signals(out / f"{name}.npz") for name in ("side", "walk_to")]
    stand = load_signals(out / "stand.npz")
    for key in ("range_time", "doppler_time", "azimuth_time"):
        db = np.concatenate([to_db(s[key]).ravel() for s in train])
        assert stats[key]["mean"] == pytest.approx(db.mean(), rel=1e-9)
        assert stats[key]["std"] == pytest.approx(db.std(), rel=1e-9)
        assert stats[key]["count"] == db.size
    imu = np.concatenate([s["imu"] for s in train]).astype(np.float64)
    np.testing.assert_allclose(stats["imu"]["mean"], imu.mean(axis=0), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(stats["imu"]["std"], imu.std(axis=0), rtol=1e-9)
    points = np.concatenate([s["points"] for s in train]).astype(np.float64)
    np.testing.assert_allclose(stats["points"]["mean"], points.mean(axis=0), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(stats["points"]["std"], points.std(axis=0), rtol=1e-9)
    with_val = np.concatenate([imu, stand["imu"]])
    assert not np.allclose(stats["imu"]["mean"], with_val.mean(axis=0), rtol=1e-6, atol=0)


def test_two_shards_merged_equal_the_plain_run(plain, motion_dir, tmp_path):
    shards = [tmp_path / f"shard{i}" for i in range(2)]
    for i, shard in enumerate(shards):
        assert run_stage(motion_dir, tmp_path, "--shard", f"{i}/2", "--out", str(shard)) == 0
    # rows i::2 of the id-sorted manifest (broken, side, stand, walk_to); shards get no statistics
    assert sorted(p.name for p in shards[0].iterdir()) == ["index.parquet", "rejects.jsonl", "stand.npz"]
    assert sorted(p.name for p in shards[1].iterdir()) == ["index.parquet", "rejects.jsonl", "side.npz", "walk_to.npz"]
    merged = tmp_path / "merged"
    assert run_stage(motion_dir, tmp_path, "--merge", *map(str, shards), "--out", str(merged)) == 0

    expected = plain / "signals"
    assert sorted(p.name for p in merged.iterdir()) == sorted(p.name for p in expected.iterdir())
    for name in ("side", "stand", "walk_to"):
        a, b = load_signals(merged / f"{name}.npz"), load_signals(expected / f"{name}.npz")
        assert a.keys() == b.keys()
        for key in a:
            np.testing.assert_array_equal(a[key], b[key], err_msg=f"{name}: {key}")
    # the data set's index holds no wall time, so the files are identical byte for byte
    assert (merged / "index.parquet").read_bytes() == (expected / "index.parquet").read_bytes()
    for name in ("norm_stats.json", "rejects.jsonl"):
        assert (merged / name).read_text() == (expected / name).read_text()
    assert run_stage(motion_dir, tmp_path, "--merge", str(shards[1]), str(shards[1]), "--out", str(tmp_path / "x")) == 1


def test_strict_mode_fails_and_keeps_earlier_output(motion_dir, tmp_path, capsys):
    out = tmp_path / "signals"
    out.mkdir()
    (out / "keep.txt").write_text("earlier output")
    assert run_stage(motion_dir, tmp_path, "--out", str(out), strict=True) == 1
    err = capsys.readouterr().err
    assert "simulate: rejected broken: unreadable joints file" in err and "strict mode" in err
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_bad_params_fail_in_one_line(motion_dir, tmp_path, capsys):
    assert run_stage(motion_dir, tmp_path, "--out", str(tmp_path / "s"), method="exact") == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        "simulate: params.yaml: simulate.method: Input should be 'fast' or 'reference'"]
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("changes, message", [
    ({"radius": 3},
     "simulate.radius: unknown key (valid: device, imu, method, radar, scene, seed, strict, torch_threads)"),
    ({"methd": "fast"}, "simulate.methd: unknown key (did you mean 'method'?)"),
    ({"seed": "abc"}, "simulate.seed: Input should be a valid integer, unable to parse string as an integer"),
    ({"torch_threads": 0}, "simulate.torch_threads: Input should be greater than or equal to 1"),
    ({"radar": {"seed": 1}}, "simulate.radar: seed is set once for the stage: use simulate.seed"),
    ({"radar": {"device": "cpu"}}, "simulate.radar: device is set once for the stage: use simulate.device"),
    ({"radar": {"carrier_hz": "77GHz"}},
     "simulate.radar.carrier_hz: Input should be a valid number, unable to parse string as a number"),
    ({"radar": {"carier_hz": 77e9}}, "simulate.radar.carier_hz: unknown key (did you mean 'carrier_hz'?)"),
    ({"radar": {"n_chirps": 16.5}}, "simulate.radar.n_chirps: Input should be a valid integer, got a number with"),
    ({"radar": {"position_m": [0, 1, 3]}}, "simulate.radar: position_m is set per motion, relative to the person: "
     "use simulate.scene"),
    ({"scene": {"height_m": [1.5, 0.8]}}, "simulate.scene: height_m must be a number or [low, high] with low <= high"),
    ({"scene": {"yaw_deg": [0, 120]}}, "simulate.scene: yaw_deg must lie within [-89.0, 89.0], got [0.0, 120.0]"),
    ({"scene": {"distance": 3}}, "simulate.scene.distance: unknown key (did you mean 'distance_m'?)"),
    ({"radar": {"max_range_m": 20.0}}, "simulate.radar: max_range_m 20.0 exceeds the IF band's 12.49 m"),
    ({"radar": {"preset": "x"}}, "simulate.radar.preset: Input should be 'udoppler', 'ti1843', 'default', "
     "'iwr1443_short_range', 'iwr1843_best_range_res' or 'iwr6843_people_counting'"),
    ({"imu": {"sites": ["pelvis", "head"]}},
     "simulate.imu: sites must include ['left_wrist', 'right_wrist', 'left_ankle', 'right_ankle'] too"),
    ({"imu": {"noise": {"accel": {"whte": 1}}}}, "simulate.imu.noise.accel.whte: unknown key (did you mean 'white'?)"),
])
def test_config_errors_name_the_key(changes, message):
    with pytest.raises(ParamsError) as info:
        SimulateConfig.from_params({**SECTION, **changes})
    assert str(info.value).startswith(f"params.yaml: {message}"), str(info.value)


def test_config_values_are_typed_and_booleans_read_as_yaml_does():
    for spelling in ("false", "no", "0", "off", False):
        assert SimulateConfig.from_params({**SECTION, "strict": spelling}).strict is False
    assert SimulateConfig.from_params({**SECTION, "strict": "yes"}).strict is True
    overrides = {"static_clutter_removal": "off", "n_chirps": "32", "noise_db": None}
    radar = SimulateConfig.from_params({**SECTION, "radar": {"preset": "udoppler", **overrides}}).radar
    # the RadarConfig built from the preset and the overrides
    assert (radar.static_clutter_removal, radar.n_chirps, radar.noise_db) == (False, 32, None)
    scene = SimulateConfig.from_params({**SECTION, "scene": {"height_m": 1.2, "yaw_deg": [-10, 10]}}).scene
    assert (scene.height_m, scene.yaw_deg, scene.distance_m) == ((1.2, 1.2), (-10.0, 10.0), (3.0, 3.0))
    assert (radar.carrier_hz, radar.angle_method, radar.device) == (77e9, "capon", "cpu")  # the preset's, the stage's
    assert SimulateConfig.from_params(SECTION, method="reference").method == "reference"
    assert SimulateConfig.from_params(None) == SimulateConfig()


def test_item_seeds_are_stable_and_distinct():
    # pinned: a salted hash() or an order-dependent draw would break sharding and reproducibility
    assert item_seed(0, "walk", "radar") == 5951965986160601874
    assert len({item_seed(0, "walk", "radar"), item_seed(0, "walk", "imu"), item_seed(1, "walk", "radar"),
                item_seed(0, "walk2", "radar")}) == 4


def test_load_signals_names_the_file_and_the_problem(plain, tmp_path):
    good = load_signals(plain / "signals/stand.npz")
    cases = {
        "missing.npz": ({k: v for k, v in good.items() if k != "velocity_mps"}, "missing signal(s) ['velocity_mps']"),
        "frames.npz": ({**good, "frame_time_s": good["frame_time_s"][:-1]}, "frame_time_s has F = 38"),
        "points.npz": ({**good, "points": good["points"][:, :4]}, "points has 5 = 4"),
        "sites.npz": ({**good, "imu_sites": np.array(["pelvis"] * 9)}, "imu_sites lacks ['left_wrist'"),
    }
    for name, (signals, message) in cases.items():
        save_signals(tmp_path / name, signals)
        with pytest.raises(SignalsError, match=rf"^{tmp_path / name}: .*") as info:
            load_signals(tmp_path / name)
        assert message in str(info.value)
    (tmp_path / "junk.npz").write_text("junk")
    with pytest.raises(SignalsError, match="junk.npz: not a readable .npz"):
        load_signals(tmp_path / "junk.npz")


def test_flywheel_simulate_matches_the_stage(plain, motion_dir, tmp_path, capsys):
    """The CLI on a .npy named like a data-set id gives that id's signals, bit for bit."""
    npy = tmp_path / "walk_to.npy"
    np.save(npy, np.load(motion_dir / "joints/walk_to.npy"))
    out = tmp_path / "one.npz"
    assert flywheel(["simulate", str(npy), "--out", str(out), "--params", str(write_params(tmp_path))]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == str(out) and printed[1].startswith("walk_to: 2.0 s of motion -> 39 radar frames")
    mine, stage = load_signals(out), load_signals(plain / "signals/walk_to.npz")
    for key in stage:
        np.testing.assert_array_equal(mine[key], stage[key], err_msg=key)

    assert flywheel(["simulate", str(npy), "--params", str(tmp_path / "nope.yaml")]) == 1
    assert "nope.yaml: no such params file" in capsys.readouterr().err
