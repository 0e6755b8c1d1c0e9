"""The tune stage's parts against known answers: token pooling, the splice, the chat-template prompt and its
answer-only labels, padding, micro-batches adding up to one batch, what each phase trains, the params."""
from __future__ import annotations

import pytest
import torch
from transformers import AutoTokenizer
from tune_fixtures import tiny_base

from tasks.common.config import validate_section
from tasks.common.params import ParamsError
from tasks.common.stage import StageError
from tasks.tune.config import TuneConfig
from tasks.tune.data import Prompter, Sample, SignalBank, collate, make_batch, pool_tokens, shuffled_bank, signal_block
from tasks.tune.model import (
    IGNORE,
    SIGNAL_END,
    SIGNAL_PATCH,
    SIGNAL_START,
    SignalTokenIds,
    add_signal_tokens,
    answer_loss,
    splice_signal_tokens,
)
from tasks.tune.train import build_model, set_phase


@pytest.fixture(scope="module")
def base(smollm_dir, tmp_path_factory):
    return tiny_base(smollm_dir, tmp_path_factory.mktemp("tiny") / "llama")


@pytest.fixture(scope="module")
def tokenizer(base):
    tok = AutoTokenizer.from_pretrained(str(base))
    return tok, add_signal_tokens(tok)


def cfg(base, **train) -> TuneConfig:
    return validate_section(TuneConfig, {"model": {"base": str(base), "modalities": ["doppler_time", "imu"],
                                                   "tokens_per_modality": 2},
                                         "train": {"device": "cpu", **train}}, "tune")


def test_pooling_averages_consecutive_groups_of_real_tokens():
    tokens = torch.arange(6, dtype=torch.float32).reshape(1, 6, 1).repeat(2, 1, 1)  # values 0..5
    mask = torch.tensor([[True] * 6, [True, True, True, False, False, False]])
    pooled, real = pool_tokens(tokens, mask, 3)
    assert pooled[0, :, 0].tolist() == [0.5, 2.5, 4.5]
    assert pooled[1, :, 0].tolist() == [0.5, 2.0, 0.0]  # group 2 holds token 2 only; group 3 none
    assert real.tolist() == [[True] * 3, [True, True, False]]


def test_splice_puts_each_rows_real_soft_tokens_in_order_and_the_boundary_vectors():
    ids = SignalTokenIds(start=90, end=91, patch=92, pad=0)
    input_ids = torch.tensor([[5, 90, 92, 92, 91, 6], [90, 92, 91, 7, 0, 0]])
    embeds = torch.zeros(2, 6, 3)
    soft = torch.arange(2 * 3 * 3, dtype=torch.float32).reshape(2, 3, 3)
    soft_mask = torch.tensor([[True, False, True], [False, True, False]])
    boundary = torch.tensor([[-1.0] * 3, [-2.0] * 3])
    out = splice_signal_tokens(embeds, input_ids, soft, soft_mask, boundary, ids)
    assert torch.equal(out[0, 2], soft[0, 0]) and torch.equal(out[0, 3], soft[0, 2])
    assert torch.equal(out[1, 1], soft[1, 1])
    assert out[0, 1].tolist() == [-1.0] * 3 and out[0, 4].tolist() == [-2.0] * 3 and out[1, 2].tolist() == [-2.0] * 3
    assert out[0, 0].abs().sum() == 0 and out[1, 3].abs().sum() == 0  # text positions untouched
    with pytest.raises(ValueError, match="signal patches"):
        splice_signal_tokens(embeds, input_ids, soft, torch.ones(2, 3, dtype=torch.bool), boundary, ids)


def test_signal_markers_round_trip_through_the_tokenizer_and_chat_template(tokenizer):
    tok, ids = tokenizer
    assert len({ids.start, ids.end, ids.patch}) == 3
    prompter = Prompter(tok, "System.", ids, 48)
    prompt = prompter.prompt("What is the person doing?", 5)
    assert prompt.count(ids.patch) == 5 and prompt.count(ids.start) == 1 and prompt.count(ids.end) == 1
    text = tok.decode(prompt)
    assert signal_block(5) in text and SIGNAL_START + SIGNAL_PATCH in text and SIGNAL_PATCH + SIGNAL_END in text
    # the prompt is exactly the template's conversation up to the assistant's reply
    full = tok.apply_chat_template([{"role": "system", "content": "System."},
                                    {"role": "user", "content": f"{signal_block(5)}\nWhat is the person doing?"},
                                    {"role": "assistant", "content": "A walk."}], tokenize=False)
    assert full.startswith(tok.decode(prompt))
    no_signal = prompter.prompt("What is the person doing?", None)
    assert ids.patch not in no_signal and ids.start not in no_signal


def test_labels_are_minus_100_exactly_on_prompt_signal_and_padding(tokenizer):
    tok, ids = tokenizer
    prompter = Prompter(tok, "System.", ids, 48)
    answer = tok("The person walks.", add_special_tokens=False)["input_ids"]
    samples = [Sample("a", "caption", "Describe the motion.", "The person walks."),
               Sample("b", "activity", "What is it?", "A long answer about a motion that has many words in it.")]
    signal, mask = torch.zeros(2, 2, 2, 8), torch.tensor([[[True, True], [True, False]], [[True, True]] * 2])
    batch = make_batch(samples, prompter, signal, mask)
    row, labels = batch["input_ids"][0], batch["labels"][0]
    n_prompt = len(prompter.prompt("Describe the motion.", 3))
    assert int((row == ids.patch).sum()) == 3 and int((batch["input_ids"][1] == ids.patch).sum()) == 4
    assert (labels[:n_prompt] == IGNORE).all()  # system, question, signal markers and patches
    assert labels[n_prompt:n_prompt + len(answer)].tolist() == answer
    assert labels[n_prompt + len(answer)] == tok.eos_token_id  # the model learns to stop
    real = int(batch["attention_mask"][0].sum())
    assert real == n_prompt + len(answer) + 1 and (labels[real:] == IGNORE).all() and (row[real:] == ids.pad).all()
    assert int(batch["attention_mask"][1].sum()) == batch["input_ids"].shape[1]  # the longest row: no padding


def test_left_padding_for_generation_puts_the_prompts_at_the_end():
    batch = collate([([1, 2, 3], [IGNORE] * 3), ([4], [IGNORE])], pad_id=0, left=True)
    assert batch["input_ids"].tolist() == [[1, 2, 3], [0, 0, 4]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [0, 0, 1]]


def test_micro_batches_give_the_gradient_of_one_batch(base):
    model, _, prompter = build_model(cfg(base), 8, torch.device("cpu"), torch.float32)
    model.eval()  # LoRA dropout off: both runs see the same network
    params = set_phase(model, "instruct")
    samples = [Sample(str(i), "qa", "Which word is it?", w) for i, w in enumerate(["apple", "a stone river", "cloud"])]
    signal, mask = torch.randn(3, 2, 2, 8), torch.ones(3, 2, 2, dtype=torch.bool)

    def grads(parts: list[slice]) -> list[torch.Tensor]:
        batches = [make_batch(samples[p], prompter, signal[p], mask[p]) for p in parts]
        n = sum(int((b["labels"][:, 1:] != IGNORE).sum()) for b in batches)
        model.zero_grad()
        for b in batches:
            answer_loss(*model(b), n).backward()
        return [p.grad.clone() for p in params]

    whole, split = grads([slice(0, 3)]), grads([slice(0, 1), slice(1, 3)])
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(whole, split))


def test_align_trains_only_the_projector_and_the_fresh_adapters_leave_the_base_model_as_it_was(base):
    model, _, prompter = build_model(cfg(base), 8, torch.device("cpu"), torch.float32)
    set_phase(model, "align")
    align = {n for n, p in model.named_parameters() if p.requires_grad}
    assert align and all(n.startswith("projector.") for n in align)
    set_phase(model, "instruct")
    instruct = {n for n, p in model.named_parameters() if p.requires_grad}
    assert align < instruct and all(n.startswith("projector.") or "lora_" in n for n in instruct)
    batch = make_batch([Sample("a", "qa", "Which word?", "apple")], prompter)
    with model.lm.disable_adapter():
        plain = model(batch)[0]
    assert torch.allclose(model(batch)[0], plain)  # LoRA's B starts at zero


def test_lora_presets_and_overrides_and_bad_params():
    assert TuneConfig().model.lora.rank_alpha == (8, 16.0)
    lora = validate_section(TuneConfig, {"model": {"lora": {"preset": "r16a32", "alpha": 8}}}, "tune").model.lora
    assert lora.rank_alpha == (16, 8.0)
    with pytest.raises(ParamsError, match="tune.model.lora.rnk"):
        validate_section(TuneConfig, {"model": {"lora": {"rnk": 4}}}, "tune")
    with pytest.raises(ParamsError, match="grad_accum"):
        validate_section(TuneConfig, {"train": {"align": {"batch_size": 6, "grad_accum": 4}}}, "tune")
    with pytest.raises(StageError, match="no Hugging Face model folder"):
        build_model(validate_section(TuneConfig, {"model": {"base": "/nowhere"}}, "tune"), 8, torch.device("cpu"),
                    torch.float32)


def test_the_shuffled_control_gives_every_motion_another_motions_signal():
    signal = torch.arange(5, dtype=torch.float32).reshape(5, 1, 1, 1)
    bank = SignalBank([f"m{i}" for i in range(5)], {}, {}, signal, torch.ones(5, 1, 1, dtype=torch.bool))
    control = shuffled_bank(bank, seed=0)
    samples = [Sample(f"m{i}", "", "", "") for i in range(5)]
    got = control.take(samples)[0].flatten().tolist()
    assert sorted(got) == [0, 1, 2, 3, 4] and all(g != i for i, g in enumerate(got))
