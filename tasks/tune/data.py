"""The tune stage's data: signal tokens per motion, the samples (captions and QA pairs) and their batches.

Signals come from the pretrain stage's export (``data/embeddings``, docs/contracts.md "Pretrain"): each tower's
token sequence is pooled to K tokens (consecutive groups, masked mean; a group with no real token is not
real), giving ``signal`` [N, M, K, W] and ``signal_mask`` [N, M, K] per motion.  The split is the export's:
train and val are trained on and selected on; test and hard (conditions the encoder never trained on) are
never seen here.

A sample is (motion, question, answer): every caption of a motion (``data/motion``) asked as
``tune.data.caption_prompt``, and every accepted QA pair (``data/qa``).  ``encode`` writes it in the base
model's chat template (tasks/tune/model.py) with labels on the answer tokens and the end token only.
Batches are a seeded permutation per phase and epoch, so a resumed run takes the batches of a plain one.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from safetensors.torch import load_file

from tasks.common.motions import load_manifest
from tasks.common.seeds import item_seed
from tasks.common.stage import StageError
from tasks.tune.model import IGNORE, SIGNAL_END, SIGNAL_PATCH, SIGNAL_START, SignalTokenIds

CAPTION = "caption"  # the category of a caption sample


def pool_tokens(tokens: torch.Tensor, mask: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """[N, T, W] tokens with mask [N, T] -> [N, k, W] masked means of k consecutive groups, mask [N, k]."""
    n, t, _ = tokens.shape
    group = torch.div(torch.arange(t) * k, t, rounding_mode="floor")  # token i -> group floor(i k / T)
    onehot = (group[None, :, None] == torch.arange(k)[None, None, :]) & mask[:, :, None]  # [N, T, k]
    weight = onehot.float()
    count = weight.sum(1)  # [N, k]
    pooled = torch.einsum("ntk,ntw->nkw", weight, tokens.float()) / count.clamp(min=1)[..., None]
    return pooled, count > 0


def signal_tokens(tokens: dict[str, torch.Tensor], masks: dict[str, torch.Tensor], modalities: tuple[str, ...],
                  k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The towers' token sequences (``tokens/<m>`` [N, T_m, W], ``token_mask/<m>``) as [N, M, k, W], [N, M, k]."""
    missing = [m for m in modalities if m not in tokens]
    if missing:
        raise StageError(f"the encoder has no {', '.join(missing)} tower (it has {', '.join(tokens)}): "
                         "tune.model.modalities must be among the encoder's")
    pooled = [pool_tokens(tokens[m], masks[m], k) for m in modalities]
    return torch.stack([p[0] for p in pooled], 1), torch.stack([p[1] for p in pooled], 1)


@dataclass
class SignalBank:
    """Every motion's pooled signal tokens, rows in ``ids`` order."""

    ids: list[str]
    split: dict[str, str]
    label: dict[str, str | None]
    signal: torch.Tensor  # [N, M, K, W] float32
    signal_mask: torch.Tensor  # [N, M, K] bool

    def take(self, samples: list[Sample]) -> tuple[torch.Tensor, torch.Tensor]:
        """The signal tokens and masks of ``samples``' motions, in order."""
        index = torch.tensor([self._rows[s.motion] for s in samples])
        return self.signal[index], self.signal_mask[index]

    def __post_init__(self) -> None:
        self._rows = {m: i for i, m in enumerate(self.ids)}


def load_bank(embeddings_dir: str | Path, modalities: tuple[str, ...], k: int) -> SignalBank:
    """``data/embeddings`` (the pretrain stage's export) pooled for the LLM."""
    root = Path(embeddings_dir)
    for name in ("index.parquet", "signals.safetensors"):
        if not (root / name).is_file():
            raise StageError(f"{root / name}: not found (run the pretrain stage first: dvc repro pretrain)")
    index = pd.read_parquet(root / "index.parquet")
    arrays = load_file(str(root / "signals.safetensors"))
    tokens = {key.split("/", 1)[1]: v for key, v in arrays.items() if key.startswith("tokens/")}
    masks = {key.split("/", 1)[1]: v for key, v in arrays.items() if key.startswith("token_mask/")}
    signal, mask = signal_tokens(tokens, masks, modalities, k)
    ids = index["id"].astype(str).tolist()
    labels = [None if pd.isna(v) else str(v) for v in index["label"]]
    return SignalBank(ids, dict(zip(ids, index["split"].astype(str))), dict(zip(ids, labels)), signal, mask)


def shuffled_bank(bank: SignalBank, seed: int) -> SignalBank:
    """The same signals with every motion given another motion's (a seeded cycle: none keeps its own): the
    control that shows whether a model reads the signal."""
    order = np.random.default_rng(item_seed(seed, "shuffle")).permutation(len(bank.ids))
    ids = list(bank.ids)
    for a, b in zip(order, np.roll(order, -1)):
        ids[b] = bank.ids[a]  # motion a now reads row b
    return SignalBank(ids, bank.split, bank.label, bank.signal, bank.signal_mask)


@dataclass(frozen=True)
class Sample:
    motion: str
    category: str  # "caption" or the QA pair's category
    question: str
    answer: str


def load_samples(bank: SignalBank, motion_dir: str | Path, qa_dir: str | Path,
                 caption_prompt: str) -> dict[str, dict[str, list[Sample]]]:
    """split -> {"caption": every caption sample, "qa": every QA sample} of the motions in ``bank``
    (a motion without signals has nothing to condition on and is left out)."""
    out: dict[str, dict[str, list[Sample]]] = {}
    manifest = load_manifest(motion_dir)
    for row in manifest.itertuples():
        if row.id not in bank.split:
            continue
        texts = list(dict.fromkeys(str(c).strip() for c in (row.captions if row.captions is not None else [])))
        out.setdefault(bank.split[row.id], {"caption": [], "qa": []})["caption"].extend(
            Sample(row.id, CAPTION, caption_prompt, t) for t in texts if t)
    qa_path = Path(qa_dir) / "qa.parquet"
    if not qa_path.is_file():
        raise StageError(f"{qa_path}: not found (run the qa stage first: dvc repro qa)")
    for row in pd.read_parquet(qa_path).itertuples():
        if row.motion_id in bank.split:
            out.setdefault(bank.split[row.motion_id], {"caption": [], "qa": []})["qa"].append(
                Sample(row.motion_id, row.category, row.question, row.answer))
    return out


def signal_block(n: int) -> str:
    """The user turn's signal: start, ``n`` patches, end."""
    return SIGNAL_START + SIGNAL_PATCH * n + SIGNAL_END


class Prompter:
    """Samples as token ids in the base model's chat template."""

    def __init__(self, tokenizer, system_prompt: str, ids: SignalTokenIds, max_answer_tokens: int):
        self.tokenizer, self.system, self.ids, self.max_answer = tokenizer, system_prompt, ids, max_answer_tokens
        self.eos = tokenizer.eos_token_id

    def prompt(self, question: str, n_signal: int | None) -> list[int]:
        """The prompt up to the assistant's first token; ``n_signal`` None: no signal block (text only)."""
        user = question if n_signal is None else f"{signal_block(n_signal)}\n{question}"
        messages = [{"role": "system", "content": self.system}, {"role": "user", "content": user}]
        text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        # the template writes the special tokens itself: none added a second time
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def encode(self, question: str, answer: str, n_signal: int | None) -> tuple[list[int], list[int]]:
        """(input ids, labels): the prompt unlabelled, the answer (cut to max_answer_tokens) and the end labelled."""
        prompt = self.prompt(question, n_signal)
        reply = self.tokenizer(answer.strip(), add_special_tokens=False)["input_ids"][:self.max_answer] + [self.eos]
        return prompt + reply, [IGNORE] * len(prompt) + reply


def collate(rows: list[tuple[list[int], list[int]]], pad_id: int, left: bool = False) -> dict[str, torch.Tensor]:
    """Pad to the batch's longest: input_ids (``pad_id``), attention_mask, labels (-100 on padding); ``left``
    pads before the prompt (generation), else after (training)."""
    width = max(len(ids) for ids, _ in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    attention = torch.zeros((len(rows), width), dtype=torch.long)
    for i, (ids, lab) in enumerate(rows):
        span = slice(width - len(ids), width) if left else slice(0, len(ids))
        input_ids[i, span], labels[i, span], attention[i, span] = torch.tensor(ids), torch.tensor(lab), 1
    return {"input_ids": input_ids, "attention_mask": attention, "labels": labels}


def make_batch(samples: list[Sample], prompter: Prompter, signal: torch.Tensor | None = None,
               signal_mask: torch.Tensor | None = None, left: bool = False,
               answers: bool = True) -> dict[str, torch.Tensor]:
    """The model's batch of ``samples`` (row i of ``signal`` [B, M, K, W] / ``signal_mask`` is sample i's;
    None: no signal, text only).  ``answers`` False: the prompts alone, for generation."""
    rows = []
    for i, s in enumerate(samples):
        n = None if signal_mask is None else int(signal_mask[i].sum())
        if answers:
            rows.append(prompter.encode(s.question, s.answer, n))
        else:
            ids = prompter.prompt(s.question, n)
            rows.append((ids, [IGNORE] * len(ids)))
    batch = collate(rows, prompter.ids.pad, left)
    if signal is not None:
        batch["signal"], batch["signal_mask"] = signal, signal_mask
    return batch


def phase_samples(samples: dict[str, list[Sample]], phase: str, epoch: int, seed: int,
                  captions_per_motion: int | None) -> list[Sample]:
    """One epoch's samples of a split: ``captions_per_motion`` captions of each motion drawn for this epoch
    (None: all), and in ``instruct`` every QA pair too."""
    drawn = list(samples["caption"])
    if captions_per_motion is not None:
        by_motion: dict[str, list[Sample]] = {}
        for s in samples["caption"]:
            by_motion.setdefault(s.motion, []).append(s)
        drawn = []
        for motion, own in by_motion.items():
            rng = np.random.default_rng(item_seed(seed, "captions", phase, str(epoch), motion))
            picks = rng.choice(len(own), size=min(captions_per_motion, len(own)), replace=False)
            drawn.extend(own[i] for i in sorted(picks))
    return (list(samples["qa"]) if phase == "instruct" else []) + drawn


def epoch_batches(n: int, batch_size: int, seed: int, phase: str, epoch: int) -> list[np.ndarray]:
    """Indices of an epoch's batches: a seeded permutation, the last batch possibly short."""
    order = np.random.default_rng(item_seed(seed, "tune", phase, str(epoch))).permutation(n)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]
