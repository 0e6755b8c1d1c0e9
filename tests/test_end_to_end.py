"""The real pipeline, every stage, in git + DVC copies of the project.

One run of `dvc repro` over a mix of procedural, HumanML3D-format and BVH motions (null labels, mirrored clips,
trimmed captions, one broken file) checks every stage's outputs against docs/contracts.md. A second copy
checks what `persist: true` in dvc.yaml promises: a stage that fails or is killed leaves the previous data set
and metrics byte for byte, and stays stale until a run succeeds.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from motion_sources import write_bvh, write_humanml3d

from flows.dvc_stages import DvcCommandError
from flows.pipeline import flywheel_pipeline
from tasks.common.signals import load_signals
from tasks.motion.humanml3d import swap_sides

MIX = {  # 2 procedural, 2 HumanML3D clips (each whole, trimmed and mirrored: 8), 2 BVH: seconds per stage
    "motion": {
        "sources": ["procedural", "humanml3d", "bvh"],
        "procedural": {"motions_per_class": 1, "classes": ["walk", "wave"]},
        "humanml3d": {"mirrored": True},
    },
    "simulate": {"radar": {"n_chirps": 16}},
    "qa": {"questions_per_motion": 2, "max_tokens": 64},
    "llm": {"batch_size": 8, "max_concurrency": 1, "torch_threads": 1},  # 1: steady on a busy machine
    # params.yaml's hard ranges are merged with these: only the tallest people are held out here
    "pretrain": {"data": {"window_s": 3.0, "hard": {"radar_distance_m": [0, 100], "radar_bearing_deg": [-180, 180],
                                                    "radar_height_m": [0, 10], "body_height_m": [1.0, 1.8]}},
                 "train": {"batch_size": 2, "epochs": 1}, "eval": {"bootstrap": 100}},
    "tune": {"data": {"val_limit": 4}, "generate_max_tokens": 8,
             "train": {"torch_threads": 1, "align": {"batch_size": 4}, "instruct": {"epochs": 1, "batch_size": 4}}},
    # this mix has no test motion: the held-out (hard) one is evaluated
    "evaluate": {"splits": ["test", "hard"], "bootstrap": 100, "max_new_tokens": 12, "torch_threads": 1,
                 "judge": {"max_tokens": 24}},
}
STAGES = ["motion", "simulate", "llm_model", "qa", "pretrain", "tune", "evaluate"]
# A file the BVH parser cannot read: rejected, the rest goes on.
BROKEN_BVH = "HIERARCHY\nROOT Hips\n{\n  OFFSET 0 0 0\n"


def repro(repo: Path, *targets: str) -> str:
    """`dvc repro [TARGETS]`; its output, or a test failure that shows the output's end."""
    done = subprocess.run([sys.executable, "-m", "dvc", "repro", *targets], cwd=repo, capture_output=True, text=True)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"dvc repro failed:\n{output[-6000:]}"
    return output


def captions_of(texts: Path) -> list[str]:
    """The captions of a HumanML3D text file, in file order."""
    return [line.split("#")[0] for line in texts.read_text().splitlines()]


def test_every_stage_on_procedural_humanml3d_and_bvh_motions(
    tmp_path: Path, smollm_dir: Path, project_copy: Callable[..., Path], commit_all: Callable[[Path, str], None],
    dvc: Callable[..., str],
) -> None:
    repo = project_copy(tmp_path / "repo", MIX, smollm_dir)
    clips = write_humanml3d(repo / "data/raw/humanml3d", n=2)
    write_bvh(repo / "data/raw/bvh")
    (repo / "data/raw/bvh/truncated.bvh").write_text(BROKEN_BVH)
    commit_all(repo, "own data")

    started = time.monotonic()
    repro(repo)
    print(f"dvc repro of every stage: {time.monotonic() - started:.0f} s")
    assert sorted(yaml.safe_load((repo / "dvc.lock").read_text())["stages"]) == sorted(STAGES)
    assert "Data and pipelines are up to date." in dvc(repo, "status")

    # motion: every source, labels only where a source has classes, trimmed and mirrored clips
    manifest = pd.read_parquet(repo / "data/motion/manifest.parquet").set_index("id")
    humanml3d = [f"{m}{c}{k}" for c in clips for m in ("", "M") for k in ("", "_0")]
    assert Counter(manifest["source"]) == {"procedural": 2, "humanml3d": 8, "bvh": 2}
    assert sorted(manifest.index) == sorted(["proc_walk_000", "proc_wave_000", "cmu_walk", "wave", *humanml3d])
    assert manifest.loc[["proc_walk_000", "proc_wave_000"], "label"].tolist() == ["walk", "wave"]
    assert manifest.loc[manifest["source"] != "procedural", "label"].isna().all()
    for clip in clips:
        whole, trimmed = captions_of(repo / f"data/raw/humanml3d/texts/{clip}.txt")
        assert list(manifest.loc[clip, "captions"]) == [whole]
        assert list(manifest.loc[f"{clip}_0", "captions"]) == [trimmed]
        assert manifest.loc[f"{clip}_0", "n_frames"] == 40  # the caption's 1.0-3.0 s at 20 fps
        for suffix in ("", "_0"):
            mirrored = manifest.loc[f"M{clip}{suffix}"]
            assert list(mirrored["captions"]) == [swap_sides(c) for c in manifest.loc[f"{clip}{suffix}", "captions"]]
            assert mirrored["n_frames"] == manifest.loc[f"{clip}{suffix}", "n_frames"]
    assert list(manifest.loc["cmu_walk", "captions"]) == [
        "a person walks forward.", "someone walks straight ahead at an easy pace."]
    assert list(manifest.loc["wave", "captions"]) == []  # a BVH without a caption file
    rejects = [json.loads(line) for line in (repo / "data/motion/rejects.jsonl").read_text().splitlines()]
    assert [(r["stage"], r["item"], r["source"]) for r in rejects] == [
        ("motion", "truncated", "data/raw/bvh/truncated.bvh")]
    assert "truncated.bvh" in rejects[0]["reason"]
    motion_metrics = json.loads((repo / "metrics/motion.json").read_text())
    assert (motion_metrics["motions"], motion_metrics["rejects"]) == (12, 1)
    assert motion_metrics["sources"] == {"procedural": 2, "humanml3d": 8, "bvh": 2}
    assert (repo / "metrics/motion_classes.csv").read_text().splitlines()[0] == "label,motions"

    # simulate: signals for every motion, each file within the contract
    index = pd.read_parquet(repo / "data/signals/index.parquet").set_index("id")
    assert sorted(index.index) == sorted(manifest.index)
    assert index["label"].isna().sum() == 10
    for motion_id, row in index.iterrows():
        signals = load_signals(repo / "data/signals" / row["path"])
        assert signals["frame_time_s"][-1] < manifest.loc[motion_id, "duration_s"], motion_id
        assert len(signals["imu_time_s"]) == row["imu_samples"] > 0
    assert (repo / "data/signals/rejects.jsonl").read_text() == ""
    assert json.loads((repo / "data/signals/norm_stats.json").read_text())["split"] == "train"
    simulate_metrics = json.loads((repo / "metrics/simulate.json").read_text())
    assert (simulate_metrics["motions"], simulate_metrics["rejects"]) == (12, 0)

    # qa: facts for every motion, accepted pairs about motions of every source, every reply accounted for
    facts = pd.read_parquet(repo / "data/qa/facts.parquet")
    assert sorted(facts["motion_id"]) == sorted(manifest.index)
    pairs = pd.read_parquet(repo / "data/qa/qa.parquet")
    qa_rejects = pd.read_parquet(repo / "data/qa/rejects.parquet")
    assert set(manifest.loc[pairs["motion_id"], "source"]) == {"procedural", "humanml3d", "bvh"}
    assert set(pairs["split"]) <= {"train", "val", "test"}
    qa_metrics = json.loads((repo / "metrics/qa.json").read_text())
    assert qa_metrics["motions"] == 12 and qa_metrics["requests"] == 2 * 12
    assert qa_metrics["accepted"] == len(pairs) and qa_metrics["accepted"] + len(qa_rejects) == qa_metrics["requests"]
    assert qa_metrics["llm_errors"] == 0
    assert (repo / "data/qa/sample.md").read_text().startswith("# QA sample\n")

    # pretrain: every motion with a caption through the encoder, the caption-less BVH left out and counted
    embedded = pd.read_parquet(repo / "data/embeddings/index.parquet").set_index("id")
    assert sorted(embedded.index) == sorted(set(manifest.index) - {"wave"})
    pretrain_metrics = json.loads((repo / "metrics/pretrain.json").read_text())
    assert pretrain_metrics["left_out"] == {"no caption": 1}
    assert sum(pretrain_metrics["motions"].values()) == 11
    tall = {i for i, f in manifest["facts"].items() if (f.get("body_height_m") or 0) > 1.8} - {"wave"}
    assert set(embedded.index[embedded["split"] == "hard"]) == tall
    info = json.loads((repo / "models/encoder/encoder.json").read_text())
    assert info["classes"] == ["walk", "wave"] and (repo / "models/encoder/model.safetensors").stat().st_size > 0

    # tune: the real SmolLM2 tuned on the train split's captions and pairs, validated on val, test never read
    tune_metrics = json.loads((repo / "metrics/tune.json").read_text())
    train_ids = set(embedded.index[embedded["split"] == "train"])
    train_captions = sum(len(set(manifest.loc[i, "captions"])) for i in train_ids)
    assert tune_metrics["samples"]["train"] == {"caption": train_captions,
                                                "qa": int(pairs["motion_id"].isin(train_ids).sum())}
    assert tune_metrics["phases"]["align"]["steps"] >= 1 and tune_metrics["phases"]["instruct"]["steps"] >= 1
    tuned = json.loads((repo / "models/tune/tune.json").read_text())
    assert tuned["base"] == "models/smollm2-135m-instruct"
    assert (repo / "models/tune/adapter/adapter_model.safetensors").stat().st_size > 0
    assert (repo / "metrics/tune/plots/metrics/train/loss.tsv").is_file()

    # evaluate: every system on the evaluated splits' caption tasks and pairs, the embedded model as judge
    evaluated = json.loads((repo / "metrics/evaluate.json").read_text())
    test_ids = set(embedded.index[embedded["split"].isin(["test", "hard"])])
    assert evaluated["items"]["total"] == len(test_ids) + int(pairs["motion_id"].isin(test_ids).sum())
    assert {"tuned", "text_only", "shuffled"} <= set(evaluated["systems"])
    assert evaluated["judge"]["identity"]["model"] == "SmolLM2-135M-Instruct"
    assert evaluated["judge"]["preference_leakage"] is True  # the same model wrote the QA pairs
    assert json.loads((repo / "data/evaluate/weaknesses.json").read_text())["version"] == 1
    assert "http" not in (repo / "metrics/evaluate_report.html").read_text()


# Six short procedural motions and a small radar: a few seconds per run.
SMALL = {
    "motion": {"procedural": {"motions_per_class": 1, "classes": ["walk", "wave", "squat", "clap", "jog", "bow"]}},
    "simulate": {"radar": {"n_chirps": 16}},
}
OUTPUTS = ("data/motion", "data/signals", "metrics")


def outputs(repo: Path) -> dict[str, bytes]:
    """Every file of the stages' outputs and metrics, by path."""
    return {
        str(path.relative_to(repo)): path.read_bytes()
        for folder in OUTPUTS for path in sorted((repo / folder).rglob("*")) if path.is_file()
    }


def edit_params(repo: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    params = yaml.safe_load((repo / "params.yaml").read_text())
    edit(params)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def scratch(repo: Path) -> list[Path]:
    """Finished signals files in simulate's scratch folders (beside data/signals)."""
    return sorted((repo / "data").glob(".signals*/*.npz"))


def test_failed_or_killed_stage_keeps_the_previous_outputs_and_stays_stale(
    prefect_api: None, tmp_path: Path, project_copy: Callable[..., Path], commit_all: Callable[[Path, str], None],
    dvc: Callable[..., str],
) -> None:
    repo = project_copy(tmp_path / "repo", SMALL)
    repro(repo, "simulate")
    commit_all(repo, "first run")
    before, lock = outputs(repo), (repo / "dvc.lock").read_bytes()
    stale = {"simulate": [{"changed deps": {"params.yaml": {"simulate": "modified"}}}]}

    # A typo in params: the stage fails at its boundary, and so does the flow, with the stage's one line.
    edit_params(repo, lambda p: p["simulate"].update(methd="fast"))
    with pytest.raises(DvcCommandError) as failed:
        flywheel_pipeline(project_dir=str(repo), stages=["simulate"], retries=0)
    assert str(failed.value).splitlines()[0] == (
        "simulate: params.yaml: simulate.methd: unknown key (did you mean 'method'?)")
    assert outputs(repo) == before and (repo / "dvc.lock").read_bytes() == lock
    assert json.loads(dvc(repo, "status", "simulate", "--json")) == stale

    # Fixed, with the preset's radar again, and killed (-9) once it has simulated a motion.
    def fixed(params: dict[str, Any]) -> None:
        del params["simulate"]["methd"], params["simulate"]["radar"]["n_chirps"]

    edit_params(repo, fixed)
    with open(tmp_path / "killed.log", "wb") as log:
        run = subprocess.Popen([sys.executable, "-m", "dvc", "repro", "simulate"], cwd=repo, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 120
    while not scratch(repo) and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    assert scratch(repo), f"killed before it simulated a motion:\n{(tmp_path / 'killed.log').read_text()}"
    assert outputs(repo) == before and (repo / "dvc.lock").read_bytes() == lock
    assert json.loads(dvc(repo, "status", "simulate", "--json")) == stale
    # what the kill left behind is scratch to git (and DVC): only the params edit shows
    changed = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=repo, check=True,
                             capture_output=True, text=True).stdout.splitlines()
    assert changed == [" M params.yaml"]

    # The next `dvc repro` runs the stage (only it) and replaces the data set.
    output = repro(repo, "simulate")
    assert "Stage 'motion' didn't change, skipping" in output and "Running stage 'simulate'" in output
    assert json.loads(dvc(repo, "status", "simulate", "--json")) == {}
    after = outputs(repo)
    assert {k: v for k, v in after.items() if k.startswith("data/motion")} == {
        k: v for k, v in before.items() if k.startswith("data/motion")}
    walk = load_signals(repo / "data/signals/proc_walk_000.npz")
    assert walk["velocity_mps"].shape == (64,)  # the preset's 64 chirp loops, no longer 16
    assert sorted(p.name for p in (repo / "data").iterdir()) == [".gitignore", "motion", "raw", "signals"]
