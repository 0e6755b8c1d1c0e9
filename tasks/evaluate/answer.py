"""The evaluated items and every system's answers to them.

An item is a test caption task (one per motion: "Describe the motion.", every caption of the motion a
reference) or a test QA pair (its answer the reference).  The systems:
  tuned      the tuned model with the motion's signal tokens;
  text_only  the base LLM (adapters off) with the question alone, in the same chat template;
  shuffled   the tuned model with another motion's signal tokens (a seeded cycle: never its own);
  zero_shot  activity questions only: the encoder's zero-shot class (nearest class prompt to the fused
             signal embedding), said as "The person is doing <class>."
The gaps between tuned and text_only / shuffled are what show that the model uses the signal.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from safetensors.torch import load_file

from tasks.pretrain.config import TEMPLATES
from tasks.pretrain.export import load_encoder
from tasks.pretrain.metrics import class_embeddings
from tasks.pretrain.train import text_features
from tasks.tune.data import CAPTION, Sample, SignalBank, shuffled_bank
from tasks.tune.export import TunedModel

ACTIVITY = "activity"  # the QA category whose question asks for the activity


@dataclass(frozen=True)
class Item:
    key: str  # "<split>/<motion>/caption" or "<split>/<motion>/qa<k>"
    motion: str
    split: str
    category: str  # "caption" or the QA pair's category
    question: str
    references: tuple[str, ...]
    label: str | None


def build_items(samples: dict[str, dict[str, list[Sample]]], bank: SignalBank, splits: tuple[str, ...],
                caption_prompt: str) -> list[Item]:
    """Every caption task and QA pair of ``splits`` (tasks/tune/data.load_samples' samples)."""
    items = []
    for split in splits:
        kinds = samples.get(split, {"caption": [], "qa": []})
        refs: dict[str, list[str]] = {}
        for s in kinds["caption"]:
            refs.setdefault(s.motion, []).append(s.answer)
        items += [Item(f"{split}/{m}/caption", m, split, CAPTION, caption_prompt, tuple(r), bank.label.get(m))
                  for m, r in refs.items()]
        for k, s in enumerate(kinds["qa"]):
            items.append(Item(f"{split}/{s.motion}/qa{k}", s.motion, split, s.category, s.question, (s.answer,),
                              bank.label.get(s.motion)))
    return items


def _samples(items: list[Item]) -> list[Sample]:
    return [Sample(i.motion, i.category, i.question, "") for i in items]


def answer_systems(tuned: TunedModel, bank: SignalBank, items: list[Item], seed: int, max_new_tokens: int,
                   batch_size: int) -> dict[str, list[str]]:
    """tuned, text_only and shuffled answers to every item, in item order."""
    questions = [i.question for i in items]
    out = {"tuned": tuned.answer(questions, *bank.take(_samples(items)), max_new_tokens, batch_size, "tuned")}
    with tuned.model.lm.disable_adapter():  # the base LLM as it was before tuning
        out["text_only"] = tuned.answer(questions, None, None, max_new_tokens, batch_size, "text only")
    control = shuffled_bank(bank, seed)
    out["shuffled"] = tuned.answer(questions, *control.take(_samples(items)), max_new_tokens, batch_size,
                                   "shuffled")
    return out


@torch.no_grad()
def zero_shot_labels(encoder_dir: Path, embeddings_dir: Path, motions: list[str]) -> tuple[list[str], list[str]]:
    """(the encoder's classes, its zero-shot class per motion): the fused embedding's nearest class prompt
    (the pretrain stage's templates, averaged)."""
    model, info = load_encoder(encoder_dir)
    classes = list(info["classes"])
    if not classes:
        raise ValueError(f"{encoder_dir}: the encoder was trained without activity classes: no zero-shot system")
    index = {m: i for i, m in enumerate(_ids(embeddings_dir))}
    emb = load_file(str(embeddings_dir / "signals.safetensors"))["embedding"].double().numpy()
    class_emb = class_embeddings(lambda texts: text_features(model, texts, 64).float().numpy(), classes,
                                 list(TEMPLATES))
    rows = np.array([index[m] for m in motions], int)
    picks = (emb[rows] @ class_emb.T).argmax(axis=1) if len(rows) else np.array([], int)
    return classes, [classes[k] for k in picks]


def _ids(embeddings_dir: Path) -> list[str]:
    return pd.read_parquet(embeddings_dir / "index.parquet")["id"].astype(str).tolist()


def zero_shot_answer(label: str) -> str:
    return f"The person is doing {label.replace('_', ' ')}."
