"""The pretrain stage end to end on a small simulated set: its outputs, the saved encoder reproducing its own
metrics, a ``kill -9`` in the middle continued to the weights of an uninterrupted run, and two torchrun
processes training as one."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from safetensors.torch import load_file
from test_qa_stage import simulated

from tasks.common.config import load_section
from tasks.common.stage import StageError
from tasks.motion.procedural import generate
from tasks.motion.stage import finish_item
from tasks.pretrain.config import DataConfig, PretrainConfig
from tasks.pretrain.data import load_dataset
from tasks.pretrain.export import load_encoder
from tasks.pretrain.metrics import retrieval
from tasks.pretrain.stage import encode
from tasks.pretrain.stage import main as pretrain_main
from tasks.pretrain.train import CHECKPOINT, text_features

CLASSES = ["clap", "squat", "walk"]
SPLITS = ["train", "train", "train", "val", "test", "test"]  # per class: 9 train, 3 val, 6 test motions


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    items = []
    for c, label in enumerate(CLASSES):
        for k, split in enumerate(SPLITS):
            item = finish_item(generate(label, k, 10 * c + k, duration_s=(3.0, 3.5)))
            item.split = split
            items.append(item)
    return simulated(tmp_path_factory.mktemp("pretrain_data"), items)


def params(work: Path, hard: dict | None = None, **train) -> Path:
    section = {"seed": 0, "checkpoint_dir": str(work / "ckpt"),
               "data": {"window_s": 3.0, "max_points": 16, "hard": hard or {}},
               "train": {"device": "cpu", "batch_size": 4, "epochs": 6, "lr": 3e-3, "warmup_steps": 2,
                         "checkpoint_every": 3, "eval_every": 3, "torch_threads": 1, **train},
               "eval": {"bootstrap": 100, "batch_size": 8}}
    path = work / "params.yaml"
    path.write_text(yaml.safe_dump({"pretrain": section}))
    return path


def args(data: Path, work: Path) -> list[str]:
    return ["--params", str(work / "params.yaml"), "--signals", str(data / "signals"), "--motion",
            str(data / "motion"), "--out", str(work / "encoder"), "--embeddings", str(work / "embeddings"),
            "--metrics", str(work / "metrics/pretrain.json"), "--live", str(work / "metrics/pretrain")]


def child_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(Path.cwd()), "OMP_NUM_THREADS": "1"}


def test_the_stage_writes_an_encoder_that_reproduces_its_metrics(data, tmp_path):
    params(tmp_path)
    threads = torch.get_num_threads()
    assert pretrain_main(args(data, tmp_path)) == 0
    assert torch.get_num_threads() == threads  # train.torch_threads is 1: the caller's count comes back
    metrics = json.loads((tmp_path / "metrics/pretrain.json").read_text())
    assert metrics["motions"] == {"train": 9, "val": 3, "test": 6, "hard": 0}
    for key in ("retrieval/signal_to_text/r1", "retrieval/text_to_signal/mrr", "zero_shot/top1", "probe/accuracy",
                "control/retrieval/signal_to_text/r1", "chance/zero_shot/top1", "modality/imu/zero_shot/top1"):
        lo, hi = metrics[f"test/{key}"]["ci95"]
        assert lo <= metrics[f"test/{key}"]["value"] <= hi, key
    assert metrics["test/chance/zero_shot/top1"]["value"] == pytest.approx(1 / 3, abs=1e-3)
    assert not any(key.startswith("hard/") for key in metrics)  # no held-out conditions given
    loss = pd.read_csv(tmp_path / "metrics/pretrain/plots/metrics/train/loss.tsv", sep="\t")
    assert loss["step"].tolist() == list(range(1, 13))  # 9 train motions, batch 4: 2 steps x 6 epochs
    confusion = pd.read_csv(tmp_path / "metrics/pretrain_confusion_test.csv")
    assert len(confusion) == 6 and set(confusion["actual"]) == set(CLASSES)
    assert (tmp_path / "metrics/pretrain_confusion_test.png").stat().st_size > 1000

    # the saved encoder alone (a user's view): the test split's retrieval equals the stage's own number
    model, info = load_encoder(tmp_path / "encoder")
    cfg = load_section(PretrainConfig, tmp_path / "params.yaml", "pretrain")
    ds = load_dataset(data / "signals", data / "motion", cfg.data)
    test = ds.split("test")
    assert info["shapes"]["n_frames"] == ds.shapes.n_frames and info["imu_sites"] == ds.sites
    texts = sorted({c for m in test for c in m.captions})
    owner = np.array([[t in m.captions for t in texts] for m in test])
    signal = encode(model, test, ds, 8)["fused"]
    r = retrieval(signal, text_features(model, texts, 8).numpy(), owner)
    assert r["signal_to_text"]["r1"] == pytest.approx(metrics["test/retrieval/signal_to_text/r1"]["value"], abs=1e-4)
    assert info["classes"] == CLASSES

    # the tune stage's export: every motion in index order, the same embeddings, a token sequence per tower
    index = pd.read_parquet(tmp_path / "embeddings/index.parquet")
    exported = load_file(str(tmp_path / "embeddings/signals.safetensors"))
    assert index["id"].tolist() == [m.id for m in ds.motions] and len(index) == 18
    rows = np.flatnonzero(index["split"] == "test")
    assert np.allclose(exported["embedding"][rows].numpy(), signal, atol=1e-5)
    tokens, mask = exported["tokens/range_time"], exported["token_mask/range_time"]
    assert tokens.shape == (18, 15, 64) and mask.dtype == torch.bool  # 60 frames / 4 per patch, tiny width
    assert mask.sum(dim=1).min() >= 1


def test_motions_outside_the_training_conditions_are_held_out_as_the_hard_split(data, tmp_path):
    index = pd.read_parquet(data / "signals/index.parquet")
    manifest = pd.read_parquet(data / "motion/manifest.parquet").set_index("id")
    far = index["radar_distance_m"] > index["radar_distance_m"].median()
    tall = manifest.loc[index["id"], "facts"].map(lambda f: f["body_height_m"]).to_numpy() > 1.9
    expected = set(index["id"][far.to_numpy() | tall])
    hard = {"radar_distance_m": [0.0, float(index["radar_distance_m"].median())], "body_height_m": [1.0, 1.9]}
    cfg = load_section(PretrainConfig, params(tmp_path, hard), "pretrain")
    ds = load_dataset(data / "signals", data / "motion", cfg.data)
    assert {m.id for m in ds.split("hard")} == expected and 0 < len(expected) < 18
    assert not expected & {m.id for s in ("train", "val", "test") for m in ds.split(s)}

    with pytest.raises(StageError, match="pretrain.data.hard.radar_hieght_m: neither a scene column"):
        load_dataset(data / "signals", data / "motion", DataConfig(hard={"radar_hieght_m": (0, 1)}))


def test_a_killed_run_continues_to_the_weights_of_an_uninterrupted_one(data, tmp_path):
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    for work in (whole, killed):
        work.mkdir()
        params(work, epochs=15, checkpoint_every=2, eval_every=1)
    assert pretrain_main(args(data, whole)) == 0

    command = [sys.executable, "-m", "tasks.pretrain", *args(data, killed)]
    proc = subprocess.Popen(command, env=child_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoint = killed / "ckpt" / CHECKPOINT
    deadline = time.monotonic() + 120
    while not checkpoint.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    stopped_at = torch.load(checkpoint, weights_only=False)["step"]
    assert 0 < stopped_at < 30

    resumed = subprocess.run(command, env=child_env(), capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"continuing from step {stopped_at} of 30" in resumed.stdout
    a, b = load_file(str(whole / "encoder/model.safetensors")), load_file(str(killed / "encoder/model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    curve = pd.read_csv(killed / "metrics/pretrain/plots/metrics/train/loss.tsv", sep="\t")
    assert curve["step"].tolist() == list(range(1, 31))  # whole: no gap, no repeat
    same = pd.read_csv(whole / "metrics/pretrain/plots/metrics/train/loss.tsv", sep="\t")
    assert np.allclose(curve["loss"], same["loss"])


def test_two_torchrun_processes_train_like_one(data, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    for work in (one, two):
        work.mkdir()
        params(work, epochs=3)
    assert pretrain_main(args(data, one)) == 0
    # as a user runs it, from a project folder with the default paths (torchrun would take --signals as its own
    # --signals-to-handle)
    (two / "data").mkdir()
    for name in ("signals", "motion"):
        (two / "data" / name).symlink_to(data / name)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               "-m", "tasks.pretrain"]
    ran = subprocess.run(command, cwd=two, env=child_env(), capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stderr[-3000:]
    a = pd.read_csv(one / "metrics/pretrain/plots/metrics/train/loss.tsv", sep="\t")["loss"]
    b = pd.read_csv(two / "metrics/pretrain/plots/metrics/train/loss.tsv", sep="\t")["loss"]
    assert len(a) == len(b) == 6
    # the same batches and the loss of the whole batch: the first update is the same up to float summation order
    # (step 2's loss agrees to 1e-6); after it, Adam's division by tiny second moments lets rounding grow a little
    assert np.allclose(a[:2], b[:2], rtol=1e-5) and np.allclose(a, b, rtol=2e-3)
    wa, wb = load_file(str(one / "encoder/model.safetensors")), load_file(str(two / "models/encoder/model.safetensors"))
    assert wa.keys() == wb.keys()
    # every weight within a third of one Adam step (lr 3e-3) of the one-process run's, after 6 steps
    assert max(float((wa[k] - wb[k]).abs().max()) for k in wa) < 1e-3
