"""The motion stage end to end: sources combined, bad input rejected with reasons, outputs atomic, params
validated before anything runs."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from motion_sources import write_bvh, write_humanml3d

from tasks.motion.procedural import generate
from tasks.motion.stage import main as motion_main

ROOT = Path(__file__).resolve().parents[1]


def write_mixed_humanml3d(root: Path) -> None:
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


def run_stage(tmp_path: Path, params: Path) -> int:
    return motion_main(["--params", str(params), "--out", str(tmp_path / "motion"), "--metrics", str(tmp_path / "m")])


def read_rejects(out: Path) -> dict[str, str]:
    return {r["item"]: r["reason"] for r in map(json.loads, (out / "rejects.jsonl").read_text().splitlines())}


def test_sources_combine_and_bad_items_are_rejected(tmp_path):
    write_mixed_humanml3d(tmp_path / "hml")
    params = stage_params(
        tmp_path, sources=["procedural", "humanml3d"],
        humanml3d={"root": str(tmp_path / "hml"), "splits": ["train", "val", "test"], "mirrored": False},
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

    rejects = read_rejects(out)
    assert set(rejects) == {"000003", "000004", "000005", "000006"}
    assert "NaN" in rejects["000003"] and "shape" in rejects["000004"]
    assert "caption" in rejects["000005"] and "empty" in rejects["000006"]
    summary = json.loads((metrics / "motion.json").read_text())
    assert summary["motions"] == 5 and summary["rejects"] == 4


def test_strict_mode_and_all_rejected_write_nothing(tmp_path, capsys):
    write_mixed_humanml3d(tmp_path / "hml")
    out = tmp_path / "motion"
    out.mkdir()
    (out / "keep.txt").write_text("earlier output")
    hml = {"root": str(tmp_path / "hml"), "splits": ["train", "val"], "subset": None, "mirrored": False}
    capsys.readouterr()
    assert run_stage(tmp_path, stage_params(tmp_path, sources=["humanml3d"], strict=True, humanml3d=hml)) == 1
    assert capsys.readouterr().err.splitlines()[-1] == "motion: strict mode and 4 rejects; nothing written"
    assert (out / "keep.txt").read_text() == "earlier output"  # nothing half-replaced

    for f in (tmp_path / "hml/new_joints").glob("00000[12].npy"):
        f.unlink()
    assert run_stage(tmp_path, stage_params(tmp_path, sources=["humanml3d"], strict=False, humanml3d=hml)) == 1
    assert capsys.readouterr().err.splitlines()[-1] == "motion: every item was rejected (6); nothing written"
    assert (out / "keep.txt").exists()


@pytest.mark.parametrize("motion, line", [
    ({"procedural": {"motions_per_clas": 1}},
     "motion: params.yaml: motion.procedural.motions_per_clas: unknown key (did you mean 'motions_per_class'?)"),
    ({"procedual": {"motions_per_class": 1}}, "motion: params.yaml: motion.procedual: unknown key "
                                              "(did you mean 'procedural'?)"),
    ({"seed": "abc"}, "motion: params.yaml: motion.seed: Input should be a valid integer, unable to parse string "
                      "as an integer"),
    ({"sources": ["procedural", "hml3d"]}, "motion: params.yaml: motion.sources.1: Input should be 'procedural', "
                                           "'humanml3d' or 'bvh'"),
    ({"sources": []}, "motion: params.yaml: motion.sources: list at least one of procedural, humanml3d, bvh"),
    ({"strict": "maybe"}, "motion: params.yaml: motion.strict: Input should be a valid boolean, unable to "
                          "interpret input"),
    ({"split_fractions": {"train": 0, "val": 0}}, "motion: params.yaml: motion.split_fractions: the fractions must "
                                                  "add up to more than 0"),
    ({"bvh": {"scale": "feet"}}, "motion: params.yaml: motion.bvh.scale: expected a number, 'auto' or one of m, cm, "
                                 "mm, in, cmu; got 'feet'"),
])
def test_bad_params_fail_on_one_line_before_anything_runs(tmp_path, capsys, motion, line):
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    for key, value in motion.items():
        params["motion"].pop(key.replace("procedual", "procedural"), None)
        params["motion"][key] = value
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    assert run_stage(tmp_path, tmp_path / "params.yaml") == 1
    assert capsys.readouterr().err.splitlines() == [line]
    assert not (tmp_path / "motion").exists()


@pytest.mark.parametrize("spelling", ["false", "no", "0", "off"])
def test_quoted_false_is_not_strict(tmp_path, spelling):
    write_mixed_humanml3d(tmp_path / "hml")
    hml = {"root": str(tmp_path / "hml"), "splits": ["train", "val"]}
    assert run_stage(tmp_path, stage_params(tmp_path, sources=["humanml3d"], strict=spelling, humanml3d=hml)) == 0
    assert len(read_rejects(tmp_path / "motion")) == 4


def test_own_data_from_the_example_writers(tmp_path):
    """HumanML3D (trimmed captions, mirrors on disk and made) and BVH (CMU collars, with and without captions)
    beside procedural motions: labels stay null, the metrics and the class plot count them as '(none)'."""
    assert write_humanml3d(tmp_path / "hml", n=3) == ["000001", "000002", "000003"]
    write_bvh(tmp_path / "bvh")
    params = stage_params(tmp_path, sources=["procedural", "humanml3d", "bvh"],
                          humanml3d={"root": str(tmp_path / "hml"), "mirrored": True},
                          bvh={"root": str(tmp_path / "bvh")})
    assert run_stage(tmp_path, params) == 0
    manifest = pd.read_parquet(tmp_path / "motion/manifest.parquet").set_index("id")
    hml = [f"{m}{i}{part}" for i in ("000001", "000002", "000003") for m in ("", "M") for part in ("", "_0")]
    assert sorted(manifest.index) == sorted(hml + ["cmu_walk", "wave", "proc_squat_000", "proc_walk_000",
                                                   "proc_wave_000"])
    assert read_rejects(tmp_path / "motion") == {}
    own = manifest[manifest["source"] != "procedural"]
    assert own["label"].isna().all() and manifest.loc["proc_walk_000", "label"] == "walk"
    assert list(manifest.loc[["000001", "M000001", "000002", "M000002", "000003"], "split"]) == \
        ["train", "train", "val", "val", "test"]
    assert manifest.loc["000001_0", "n_frames"] == 40  # captioned #1.0#3.0: frames [20, 60)
    assert len(manifest.loc["wave", "captions"]) == 0 and len(manifest.loc["cmu_walk", "captions"]) == 2
    assert manifest.loc["cmu_walk", "facts"]["direction"] == "forward"
    summary = json.loads((tmp_path / "m/motion.json").read_text())
    assert summary["motions"] == 17 and summary["classes"] == 3
    assert summary["sources"] == {"procedural": 3, "humanml3d": 12, "bvh": 2}
    plot = pd.read_csv(tmp_path / "m/motion_classes.csv").set_index("label")["motions"].to_dict()
    assert plot == {"(none)": 14, "squat": 1, "walk": 1, "wave": 1}


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
