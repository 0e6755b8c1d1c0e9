"""`flywheel ask`: one item (an .npz, a data-set id, or a motion simulated first) through the saved encoder and
the saved tuned model, the same answer as the library calls give; --no-signal answers from the question alone;
signals of another radar are refused in one line."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import yaml
from test_qa_stage import SIMULATE, simulated
from tune_fixtures import tiny_base, untrained_tuned

from tasks.cli import main as flywheel
from tasks.common.signals import load_signals, save_signals
from tasks.motion.procedural import generate
from tasks.motion.stage import finish_item
from tasks.pretrain.config import DataConfig, PretrainModelConfig
from tasks.pretrain.data import load_dataset
from tasks.pretrain.export import save_encoder
from tasks.pretrain.model import build_model as build_encoder
from tasks.tune.ask import encode_item
from tasks.tune.export import load_tuned

QUESTION = "What is the person doing?"


@pytest.fixture(scope="module")
def setup(smollm_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("ask")
    item = finish_item(generate("clap", 0, 0, duration_s=(3.0, 3.5)))
    item.split = "train"
    simulated(root, [item])
    data = load_dataset(root / "signals", root / "motion", DataConfig(window_s=3.0, max_points=16))
    torch.manual_seed(0)
    encoder_cfg = PretrainModelConfig()
    norm = json.loads((root / "signals/norm_stats.json").read_text())
    save_encoder(build_encoder(encoder_cfg, data.shapes), root / "encoder", encoder_cfg, DataConfig(window_s=3.0),
                 data.shapes, data.sites, ["clap"], norm)
    base = tiny_base(smollm_dir, root / "llama")
    untrained_tuned(base, root / "tune", encoder_cfg.encoder.width)
    (root / "params.yaml").write_text(yaml.safe_dump({"simulate": SIMULATE}))
    return root, item.id


def ask(root, item, *extra) -> int:
    return flywheel(["ask", str(item), QUESTION, "--model", str(root / "tune"), "--encoder", str(root / "encoder"),
                     "--signals-dir", str(root / "signals"), "--data", str(root / "motion"), "--params",
                     str(root / "params.yaml"), "--max-tokens", "6", *extra])


def test_an_npz_an_id_and_the_library_give_one_answer(setup, capsys):
    root, motion = setup
    tuned = load_tuned(root / "tune")
    signals = load_signals(root / "signals" / f"{motion}.npz")
    signal, mask = encode_item(signals, motion, root / "encoder", tuple(tuned.info["modalities"]), 4)
    assert signal.shape == (1, 5, 4, 64) and mask.any()
    expected = tuned.answer([QUESTION], signal, mask, 6)[0]
    assert ask(root, root / "signals" / f"{motion}.npz") == 0
    by_file = capsys.readouterr().out.strip()
    assert ask(root, motion) == 0
    by_id = capsys.readouterr().out.strip()
    assert by_file == by_id == expected and expected
    assert ask(root, motion, "--no-signal") == 0
    text_only = capsys.readouterr().out.strip()
    assert text_only == tuned.answer([QUESTION], None, None, 6)[0]


def test_a_motion_file_is_simulated_first(setup, tmp_path, capsys):
    root, motion = setup
    joints = np.load(root / "motion/joints" / f"{motion}.npy")
    np.save(tmp_path / "mine.npy", joints)
    assert ask(root, tmp_path / "mine.npy") == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[0].startswith("ask: simulating mine") and out[-1]


def test_signals_of_another_radar_are_refused_in_one_line(setup, tmp_path, capsys):
    root, motion = setup
    signals = load_signals(root / "signals" / f"{motion}.npz")
    signals["range_time"] = signals["range_time"][:10]
    signals["range_m"] = signals["range_m"][:10]
    save_signals(tmp_path / "other.npz", signals)
    assert ask(root, tmp_path / "other.npz") == 1
    assert "range_time has 10 bins" in capsys.readouterr().err
