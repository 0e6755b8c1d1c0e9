"""Re-running simulate after a kill: stale temporaries go, finished motions are kept, the result is a cold run's."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from motion_bodies import STANDING, moving

from tasks.common.io import RejectLog
from tasks.motion.item import MotionItem
from tasks.motion.stage import write_dataset
from tasks.simulate.resume import PROVENANCE, stored_key
from tasks.simulate.stage import main as simulate_main

ROOT = Path(__file__).resolve().parents[1]
# The default radar: ~0.15 s per 2 s motion, slow enough to kill the stage half way through ten of them.
SECTION = {"seed": 5, "device": "cpu", "torch_threads": 1, "imu": {"rate_hz": 50}}
MOTIONS = 10


@pytest.fixture(scope="module")
def motion_dir(tmp_path_factory) -> Path:
    s = np.linspace(0.0, 1.0, 40)[:, None]
    items = [MotionItem(f"walk_{k:02d}", "procedural", moving(STANDING, s * [0.1 * k - 0.5, 0.8]), ["a walk"],
                        label="walk", split="train" if k % 3 else "val") for k in range(MOTIONS)]
    out = tmp_path_factory.mktemp("data") / "motion"
    write_dataset(items, RejectLog("motion"), out)
    return out


def stage_args(root: Path, motion_dir: Path, out: Path, **changes) -> list[str]:
    params = root / "params.yaml"
    params.write_text(yaml.safe_dump({"simulate": {**SECTION, **changes}}))
    return ["--params", str(params), "--motion", str(motion_dir), "--out", str(out), "--metrics", str(root / "m")]


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def cold(motion_dir, tmp_path_factory) -> dict[str, bytes]:
    root = tmp_path_factory.mktemp("cold")
    assert simulate_main(stage_args(root, motion_dir, root / "signals")) == 0
    assert not (root / ".signals.partial").exists()  # the scratch folder became the output
    return files(root / "signals")


def test_a_killed_run_resumes_and_ends_as_a_cold_run(motion_dir, cold, tmp_path, capsys):
    out, scratch = tmp_path / "data/signals", tmp_path / "data/.signals.partial"
    args = stage_args(tmp_path, motion_dir, out)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "tasks.simulate", *args], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while len(list(scratch.glob("*.npz"))) < 3 and proc.poll() is None:
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the stage ended before it could be killed"
    done = sorted(p.name for p in scratch.glob("*.npz"))
    assert 3 <= len(done) < MOTIONS and not out.exists()
    # what older runs and a kill in mid-write leave: a random scratch folder beside the output, a temporary inside
    (tmp_path / "data/.signals.k2j4x.tmp").mkdir()
    (tmp_path / "data/.signals.k2j4x.tmp/walk_00.npz").write_bytes(b"half")
    (scratch / ".walk_09.npz.u8a1.tmp").write_bytes(b"half")

    capsys.readouterr()
    assert simulate_main(args) == 0
    assert f"{len(done)} reused from an earlier run" in capsys.readouterr().err
    assert json.loads((tmp_path / "m/simulate.json").read_text())["reused"] == len(done)
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["signals"]  # no scratch, no leftovers
    assert files(out) == cold  # byte for byte

    # the next run keeps every motion of the previous output; a changed param keeps none
    assert simulate_main(args) == 0
    assert f"{MOTIONS} reused from an earlier run" in capsys.readouterr().err
    assert files(out) == cold
    assert simulate_main(stage_args(tmp_path, motion_dir, out, seed=6)) == 0
    assert "; 0 reused from an earlier run" in capsys.readouterr().err
    assert files(out)["walk_00.npz"] != cold["walk_00.npz"]


def test_each_file_records_its_own_provenance_key(cold, tmp_path):
    keys = set()
    for name, data in cold.items():
        (tmp_path / name).write_bytes(data)
        if name.endswith(".npz"):
            with np.load(tmp_path / name) as npz:
                assert npz[PROVENANCE].dtype.kind == "U"
            keys.add(stored_key(tmp_path / name))
    assert len(keys) == MOTIONS and all(len(k) == 32 for k in keys)  # one per motion: ids and joints differ
    (tmp_path / "empty.npz").write_bytes(b"")
    assert stored_key(tmp_path / "missing.npz") is None and stored_key(tmp_path / "empty.npz") is None
    assert stored_key(tmp_path / "index.parquet") is None


def test_shards_resume_their_own_folder_and_reuse_the_data_set(motion_dir, cold, tmp_path, capsys):
    args = stage_args(tmp_path, motion_dir, tmp_path / "shard0")
    assert simulate_main([*args, "--shard", "0/2"]) == 0
    assert "shard 0/2: 5 motions (0 reused), 0 rejected" in capsys.readouterr().err
    assert simulate_main([*args, "--shard", "0/2"]) == 0
    assert "shard 0/2: 5 motions (5 reused), 0 rejected" in capsys.readouterr().err
    for name in ("walk_00.npz", "walk_02.npz", "walk_08.npz"):
        assert (tmp_path / "shard0" / name).read_bytes() == cold[name]
    previous = tmp_path / "previous"  # e.g. data/signals of the last run
    previous.mkdir()
    for name, data in cold.items():
        (previous / name).write_bytes(data)
    args = stage_args(tmp_path, motion_dir, tmp_path / "shard1")
    assert simulate_main([*args, "--shard", "1/2", "--reuse", str(previous)]) == 0
    assert "shard 1/2: 5 motions (5 reused), 0 rejected" in capsys.readouterr().err
