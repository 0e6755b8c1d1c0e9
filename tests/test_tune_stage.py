"""The tune stage end to end on stand-in data with a tiny random Llama: its outputs, the saved adapter and
projector reloading to identical logits, the split respected, and a ``kill -9`` continued to the weights of an
uninterrupted run."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml
from safetensors.torch import load_file
from tune_fixtures import tiny_base, toy_data

import tasks.tune.train as tune_train
from tasks.common.config import load_section
from tasks.tune.config import TuneConfig
from tasks.tune.data import load_bank, load_samples, make_batch
from tasks.tune.export import TunedModel, load_tuned, save_tuned
from tasks.tune.stage import main as tune_main
from tasks.tune.train import CHECKPOINT, train

SPLITS = {"train": 12, "val": 4, "test": 4, "hard": 4}


@pytest.fixture(scope="module")
def base(smollm_dir, tmp_path_factory):
    return tiny_base(smollm_dir, tmp_path_factory.mktemp("tiny") / "llama")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return toy_data(tmp_path_factory.mktemp("tune_data"), SPLITS)


def params(work: Path, base: Path, align: int = 2, instruct: int = 2, every: int = 5) -> Path:
    section = {"seed": 0, "checkpoint_dir": str(work / "ckpt"),
               "model": {"base": str(base), "modalities": ["doppler_time", "imu"], "tokens_per_modality": 2},
               "train": {"device": "cpu", "torch_threads": 1, "checkpoint_every": every,
                         "align": {"epochs": align, "batch_size": 4, "lr": 1e-2, "captions_per_motion": None},
                         "instruct": {"epochs": instruct, "batch_size": 4, "grad_accum": 2, "lr": 1e-2,
                                      "captions_per_motion": 1}},
               "generate_max_tokens": 4}
    path = work / "params.yaml"
    path.write_text(yaml.safe_dump({"tune": section}))
    return path


def args(data: Path, work: Path) -> list[str]:
    return ["--params", str(work / "params.yaml"), "--embeddings", str(data / "embeddings"), "--motion",
            str(data / "motion"), "--qa", str(data / "qa"), "--out", str(work / "tune"), "--metrics",
            str(work / "metrics/tune.json"), "--live", str(work / "metrics/tune"), "--examples",
            str(work / "metrics/tune_examples.md")]


def test_the_stage_writes_the_model_metrics_curves_and_examples(data, base, tmp_path):
    params(tmp_path, base)
    assert tune_main(args(data, tmp_path)) == 0
    out = tmp_path / "tune"
    assert {p.name for p in out.iterdir()} == {"adapter", "projector.safetensors", "tokenizer", "tune.json"}
    assert (out / "adapter/adapter_model.safetensors").is_file()
    metrics = json.loads((tmp_path / "metrics/tune.json").read_text())
    assert metrics["samples"]["train"] == {"caption": 24, "qa": 12}  # two captions and one pair per motion
    # align: 24 captions / 4 = 6 steps an epoch; instruct: 12 pairs + 12 captions (one per motion) = 6
    assert metrics["phases"]["align"]["steps"] == 12 and metrics["phases"]["instruct"]["steps"] == 12
    assert set(metrics["val"]) == {"signal", "shuffled_signal", "no_signal"}
    loss = pd.read_csv(tmp_path / "metrics/tune/plots/metrics/train/loss.tsv", sep="\t")
    assert loss["step"].tolist() == list(range(1, 25))
    val = pd.read_csv(tmp_path / "metrics/tune/plots/metrics/val/loss.tsv", sep="\t")
    assert val["step"].tolist() == [6, 12, 18, 24]  # every epoch's end, both phases on one axis
    assert loss["loss"].iloc[-3:].mean() < loss["loss"].iloc[:3].mean()
    text = (tmp_path / "metrics/tune_examples.md").read_text()
    assert "with signal:" in text and "without signal:" in text and "val_" in text


def test_training_reads_train_and_val_only(data, base, tmp_path, monkeypatch):
    seen: list[str] = []
    real = tune_train.make_batch

    def spy(samples, *a, **k):
        seen.extend(s.motion for s in samples)
        return real(samples, *a, **k)

    monkeypatch.setattr(tune_train, "make_batch", spy)
    cfg = load_section(TuneConfig, params(tmp_path, base, align=1, instruct=1), "tune")
    bank = load_bank(data / "embeddings", cfg.model.modalities, 2)
    samples = load_samples(bank, data / "motion", data / "qa", cfg.data.caption_prompt)
    assert set(samples) == set(SPLITS)
    train(cfg, bank, samples, tmp_path / "ckpt")
    assert {m.split("_")[0] for m in seen} == {"train", "val"}


def test_a_saved_adapter_and_projector_reload_to_identical_logits(data, base, tmp_path):
    cfg = load_section(TuneConfig, params(tmp_path, base, align=1, instruct=1), "tune")
    bank = load_bank(data / "embeddings", cfg.model.modalities, 2)
    samples = load_samples(bank, data / "motion", data / "qa", cfg.data.caption_prompt)
    result = train(cfg, bank, samples, tmp_path / "ckpt")
    save_tuned(result.model, result.tokenizer, tmp_path / "tune", cfg, bank.signal.shape[-1])
    loaded = load_tuned(tmp_path / "tune")
    picked = samples["val"]["qa"] + samples["val"]["caption"][:2]
    batch = make_batch(picked, result.prompter, *bank.take(picked))
    with torch.no_grad():
        a, b = result.model(batch)[0], loaded.model(batch)[0]
    assert torch.equal(a, b)
    # the adapter did learn: it is not the base model
    with torch.no_grad(), loaded.model.lm.disable_adapter():
        assert not torch.allclose(loaded.model(batch)[0], a)
    memory = TunedModel(result.model, result.prompter, {})
    questions = [s.question for s in picked]
    assert loaded.answer(questions, *bank.take(picked), max_new_tokens=4) == \
        memory.answer(questions, *bank.take(picked), max_new_tokens=4)


def test_a_killed_run_continues_to_the_weights_of_an_uninterrupted_one(data, base, tmp_path):
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    for work in (whole, killed):
        work.mkdir()
        params(work, base, align=8, instruct=8, every=3)
    assert tune_main(args(data, whole)) == 0

    env = {**os.environ, "PYTHONPATH": str(Path.cwd()), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "tasks.tune", *args(data, killed)]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoint = killed / "ckpt" / CHECKPOINT
    deadline = time.monotonic() + 120
    while not checkpoint.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    state = torch.load(checkpoint, weights_only=False)
    assert state["phase"] == "align" and 0 < state["step"] < 48

    resumed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"continuing align from step {state['step']}" in resumed.stdout
    for name in ("projector.safetensors", "adapter/adapter_model.safetensors"):
        a, b = load_file(str(whole / "tune" / name)), load_file(str(killed / "tune" / name))
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), name
    curve = pd.read_csv(killed / "metrics/tune/plots/metrics/train/loss.tsv", sep="\t")
    assert curve["step"].tolist() == list(range(1, 97))  # 48 + 48 steps, no gap, no repeat
