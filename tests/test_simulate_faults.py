"""The simulate stage on data it used to fail on, and on a disk that fills up: null labels, merged collars, seeds."""
from __future__ import annotations

import errno
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from motion_bodies import STANDING, moving
from test_simulate_stage import SECTION, write_params

from tasks.common.io import RejectLog
from tasks.common.signals import load_signals
from tasks.common.skeleton import JOINT
from tasks.motion.item import MotionItem
from tasks.motion.stage import write_dataset
from tasks.simulate.config import SimulateConfig
from tasks.simulate.radar.multipath import reflectors
from tasks.simulate.signals import simulate_motion
from tasks.simulate.stage import main as simulate_main

WALK = moving(STANDING, np.linspace(0.0, 1.0, 40)[:, None] * [0.0, 1.0])


def merged_collars(joints: np.ndarray) -> np.ndarray:
    """As a CMU BVH gives them: both collars on the chest joint (spine3)."""
    joints = joints.copy()
    for side in ("left", "right"):
        joints[:, JOINT[f"{side}_collar"]] = joints[:, JOINT["spine3"]]
    return joints


@pytest.fixture(scope="module")
def own_data(tmp_path_factory) -> Path:
    """HumanML3D- and BVH-like motions (label null), one with merged collars, beside a labelled procedural one."""
    still = np.repeat(STANDING[None], 40, axis=0).astype(np.float32)
    items = [
        MotionItem("000021", "humanml3d", WALK, ["a person walks forward"], split="train"),
        MotionItem("131_01", "bvh", merged_collars(still), [], split="train"),
        MotionItem("proc_walk_000", "procedural", WALK, ["walks"], label="walk", split="val"),
    ]
    out = tmp_path_factory.mktemp("own") / "motion"
    write_dataset(items, RejectLog("motion"), out)
    assert pd.read_parquet(out / "manifest.parquet")["label"].isna().sum() == 2
    return out


def test_null_labels_and_merged_collars_simulate(own_data, tmp_path):
    out = tmp_path / "signals"
    assert simulate_main(["--params", str(write_params(tmp_path)), "--motion", str(own_data), "--out", str(out),
                          "--metrics", str(tmp_path / "metrics")]) == 0
    index = pd.read_parquet(out / "index.parquet")
    assert index["id"].tolist() == ["000021", "131_01", "proc_walk_000"]
    assert index["label"].isna().tolist() == [True, True, False] and index["label"].iloc[2] == "walk"
    assert (out / "rejects.jsonl").read_text() == ""
    still = load_signals(out / "131_01.npz")  # standing still with CMU collars: 1 g everywhere, no rotation
    assert np.linalg.norm(still["imu"][..., :3], axis=-1) == pytest.approx(9.81, abs=0.2)
    assert np.abs(still["imu"][..., 3:]).max() < 0.05


def quiet_walls(seed: int, multipath: bool = True) -> dict[str, np.ndarray]:
    """The walk's signals with noise off, so only the multipath walls can depend on the seed."""
    # 12 m of range: the ghosts behind the walls are 5-9 m away
    radar = {**SECTION["radar"], "max_range_m": 12.0, "noise_db": None, "multipath": multipath,
             "multipath_reflectors": 3}
    cfg = SimulateConfig.from_params({**SECTION, "seed": seed, "radar": radar, "imu": {"noise": {"enabled": False}}})
    return simulate_motion(WALK, 20, cfg.radar, cfg.imu, cfg.seed, "walk")


def test_the_multipath_walls_follow_simulate_seed():
    one, again, other = quiet_walls(0), quiet_walls(0), quiet_walls(1)
    for key in one:
        np.testing.assert_array_equal(one[key], again[key], err_msg=key)
    far = one["range_m"] > 4.5  # beyond the person: only the ghosts behind the walls
    ghosts, others = one["range_time"][far].mean(axis=1), other["range_time"][far].mean(axis=1)
    assert np.argmax(ghosts) != np.argmax(others) or np.abs(ghosts - others).max() > 0.5 * ghosts.max()
    # without walls nothing lies beyond the person, whatever the seed (it still sets the body's speckle)
    quiet = max(quiet_walls(s, multipath=False)["range_time"][far].max() for s in (0, 1))
    assert quiet < 0.01 * ghosts.max()
    # the walls themselves: derived per motion from simulate.seed, not RadarConfig's fixed default
    cfg = SimulateConfig.from_params({**SECTION, "radar": {"multipath": True, "multipath_reflectors": 3}}).radar
    assert cfg.seed == 0
    walls = [reflectors(cfg.replace(seed=s)) for s in (11, 12)]
    assert [d for _, d in walls[0]] != [d for _, d in walls[1]]


def test_a_full_disk_mid_run_fails_in_one_line_and_keeps_the_previous_data(own_data, tmp_path, monkeypatch, capsys):
    out, args = tmp_path / "signals", ["--motion", str(own_data), "--metrics", str(tmp_path / "metrics")]
    assert simulate_main(["--params", str(write_params(tmp_path)), *args, "--out", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    real, calls = np.savez_compressed, []

    def fills_the_disk(fh, **arrays):
        calls.append(fh)
        if len(calls) == 2:  # the second motion's write: as the kernel reports it, without a file name
            fh.write(b"PK partial")
            raise OSError(errno.ENOSPC, "No space left on device")
        real(fh, **arrays)

    monkeypatch.setattr(np, "savez_compressed", fills_the_disk)
    capsys.readouterr()
    assert simulate_main(["--params", str(write_params(tmp_path, seed=4)), *args, "--out", str(out)]) == 1
    scratch = tmp_path / ".signals.partial"
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"simulate: {scratch / '131_01.npz'}: no space left on the device (free some disk space, then rerun)")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # the previous data set, untouched
    assert sorted(p.name for p in scratch.iterdir()) == ["000021.npz"]  # kept for the rerun, no half file
    monkeypatch.undo()
    assert simulate_main(["--params", str(write_params(tmp_path, seed=4)), *args, "--out", str(out)]) == 0
    assert json.loads((tmp_path / "metrics/simulate.json").read_text())["reused"] == 1
