"""The motion stage end to end: sources combined, bad input rejected with reasons, outputs atomic."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from tasks.motion.procedural import generate
from tasks.motion.stage import main as motion_main

ROOT = Path(__file__).resolve().parents[1]


def write_humanml3d(root: Path) -> None:
    """Two good clips and one of each kind of bad input."""
    (root / "new_joints").mkdir(parents=True)
    (root / "texts").mkdir()
    good = generate("walk", 0, seed=1).joints
    np.save(root / "new_joints/000001.npy", good)
    (root / "texts/000001.txt").write_text("a person walks forward.#a/DET person/NOUN#0.0#0.0\n")
    np.save(root / "new_joints/000002.npy", generate("wave", 0, seed=2).joints)
    (root / "texts/000002.txt").write_text("someone waves.#someone/PRON wave/VERB#0.0#0.0\n")
    bad = good.copy()
    bad[3, 4, 1] = np.nan
    np.save(root / "new_joints/000003.npy", bad)  # NaN
    (root / "texts/000003.txt").write_text("a person walks.#x#0.0#0.0\n")
    np.save(root / "new_joints/000004.npy", good[:, :21])  # wrong shape
    (root / "texts/000004.txt").write_text("a person walks.#x#0.0#0.0\n")
    np.save(root / "new_joints/000005.npy", good)  # no caption file
    np.save(root / "new_joints/000006.npy", good)
    (root / "texts/000006.txt").write_text("")  # empty caption file
    ids = [f"00000{i}" for i in range(1, 7)]
    (root / "train.txt").write_text("\n".join(ids[:4]) + "\n")
    (root / "val.txt").write_text("\n".join(ids[4:]) + "\n")
    (root / "test.txt").write_text("")


def stage_params(tmp_path: Path, **motion) -> Path:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["motion"]["procedural"].update(motions_per_class=1, classes=["walk", "squat", "wave"])
    params["motion"].update(motion)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def test_sources_combine_and_bad_items_are_rejected(tmp_path):
    write_humanml3d(tmp_path / "hml")
    params = stage_params(
        tmp_path, sources=["procedural", "humanml3d"],
        humanml3d={"root": str(tmp_path / "hml"), "splits": ["train", "val", "test"], "subset": None, "mirrored": False},
    )
    out, metrics = tmp_path / "motion", tmp_path / "metrics"
    assert motion_main(["--params", str(params), "--out", str(out), "--metrics", str(metrics)]) == 0

    manifest = pd.read_parquet(out / "manifest.parquet")
    assert sorted(manifest["id"]) == ["000001", "000002", "proc_squat_000", "proc_walk_000", "proc_wave_000"]
    for row in manifest.itertuples():
        joints = np.load(out / row.joints_path)
        assert joints.dtype == np.float32 and joints.shape == (row.n_frames, 22, 3)
        assert row.split in {"train", "val", "test"} and len(row.captions) >= 1
    assert manifest.set_index("id").loc["000001", "split"] == "train"
    assert manifest.set_index("id").loc["proc_wave_000", "facts"]["hand"] in {"left", "right", "both"}

    rejects = {r["item"]: r["reason"] for r in map(json.loads, (out / "rejects.jsonl").read_text().splitlines())}
    assert set(rejects) == {"000003", "000004", "000005", "000006"}
    assert "NaN" in rejects["000003"] and "shape" in rejects["000004"]
    assert "caption" in rejects["000005"] and "empty" in rejects["000006"]
    summary = json.loads((metrics / "motion.json").read_text())
    assert summary["motions"] == 5 and summary["rejects"] == 4


def test_strict_mode_and_all_rejected_write_nothing(tmp_path):
    write_humanml3d(tmp_path / "hml")
    out = tmp_path / "motion"
    out.mkdir()
    (out / "keep.txt").write_text("earlier output")
    hml = {"root": str(tmp_path / "hml"), "splits": ["train", "val"], "subset": None, "mirrored": False}
    strict = stage_params(tmp_path, sources=["humanml3d"], strict=True, humanml3d=hml)
    assert motion_main(["--params", str(strict), "--out", str(out), "--metrics", str(tmp_path / "m")]) == 1
    assert (out / "keep.txt").read_text() == "earlier output"  # nothing half-replaced

    for f in (tmp_path / "hml/new_joints").glob("00000[12].npy"):
        f.unlink()
    lenient = stage_params(tmp_path, sources=["humanml3d"], strict=False, humanml3d=hml)
    assert motion_main(["--params", str(lenient), "--out", str(out), "--metrics", str(tmp_path / "m")]) == 1
    assert (out / "keep.txt").exists()


def test_dvc_repro_then_noop(tmp_path):
    """The real dvc.yaml in a fresh git repo: one repro builds the data set, a second does nothing."""
    repo = tmp_path / "repo"
    repo.mkdir()
    for name in ("tasks", "data/raw", ".dvc"):
        shutil.copytree(ROOT / name, repo / name, ignore=shutil.ignore_patterns("__pycache__", "tmp", "cache"))
    for name in ("dvc.yaml", ".dvcignore"):
        shutil.copy(ROOT / name, repo / name)
    stage_params(repo)
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    dvc = [sys.executable, "-m", "dvc"]

    def sh(*cmd):
        return subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True, check=True).stdout

    sh("git", "init", "-q")
    sh("git", "add", "-A")
    sh("git", "commit", "-qm", "init")
    first = sh(*dvc, "repro", "motion")
    assert "Running stage 'motion'" in first
    manifest = pd.read_parquet(repo / "data/motion/manifest.parquet")
    assert len(manifest) == 3 and json.loads((repo / "metrics/motion.json").read_text())["motions"] == 3
    second = sh(*dvc, "repro", "motion")
    assert "Running stage" not in second and "didn't change" in second
