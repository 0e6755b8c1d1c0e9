"""The real SmolLM2 with the real projector and LoRA learns a toy signal -> word task (four signal patterns, four
answer words) far above chance on held-out signals; with the projector's output zeroed the same run stays at
chance, so what it learns comes through the signal tokens."""
from __future__ import annotations

import pytest
import torch
from tune_fixtures import WORDS, toy_data

from tasks.common.config import validate_section
from tasks.tune.config import TuneConfig
from tasks.tune.data import Sample, load_bank
from tasks.tune.export import TunedModel
from tasks.tune.projector import SignalProjector
from tasks.tune.train import train

MODALITIES = ("doppler_time", "imu")


def toy_run(smollm_dir, root, zeroed: bool, monkeypatch) -> float:
    cfg = validate_section(TuneConfig, {
        "seed": 0, "checkpoint_dir": str(root / f"ckpt_{zeroed}"),
        "model": {"base": str(smollm_dir), "modalities": list(MODALITIES), "tokens_per_modality": 2,
                  "system_prompt": "Name the word.", "max_answer_tokens": 4},
        "data": {"val_limit": 8},
        "train": {"device": "cpu", "torch_threads": 2, "checkpoint_every": 1000,
                  "align": {"epochs": 0},
                  "instruct": {"epochs": 4, "lr": 3e-3, "batch_size": 8, "warmup_steps": 2,
                               "captions_per_motion": 0}}}, "tune")
    if zeroed:
        forward = SignalProjector.forward
        monkeypatch.setattr(SignalProjector, "forward", lambda self, tokens: forward(self, tokens) * 0.0)
    bank = load_bank(root / "embeddings", MODALITIES, 2)
    held_out = [i for i, m in enumerate(bank.ids) if bank.split[m] == "test"]
    train_qa = [Sample(m, "activity", "Which word is it?", bank.label[m]) for m in bank.ids if bank.split[m] == "train"]
    samples = {"train": {"caption": [], "qa": train_qa}}
    result = train(cfg, bank, samples, root / f"ckpt_{zeroed}")
    tuned = TunedModel(result.model, result.prompter, {})
    index = torch.tensor(held_out)
    answers = tuned.answer(["Which word is it?"] * len(held_out), bank.signal[index], bank.signal_mask[index], 3)
    truth = [bank.label[bank.ids[i]] for i in held_out]
    return sum(a.strip(" .").lower() == t for a, t in zip(answers, truth)) / len(truth)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return toy_data(tmp_path_factory.mktemp("toy"), {"train": 24, "test": 16}, seed=1)


def test_the_real_smollm2_learns_signal_to_word_and_not_with_the_projector_zeroed(smollm_dir, root, monkeypatch):
    accuracy = toy_run(smollm_dir, root, False, monkeypatch)
    control = toy_run(smollm_dir, root, True, monkeypatch)
    chance = 1 / len(WORDS)
    print(f"toy accuracy {accuracy:.3f}, projector zeroed {control:.3f}, chance {chance:.3f}")
    assert accuracy >= 0.9
    assert control <= chance + 0.125  # 16 held-out signals, 4 of each word: one word for all is 0.25
