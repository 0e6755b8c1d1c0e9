"""Test-split metrics of a contrastive signal-text encoder, each with a bootstrap 95 % CI.

Everything is measured on the whole split at once (a batch would make retrieval easier the smaller it is):
retrieval both ways, zero-shot activity recognition from class prompts, a linear probe, each modality alone,
the same numbers with the signals shuffled across motions (the control, which must fall to chance) and
chance itself.  Only numpy, scikit-learn and matplotlib: the embeddings come in as arrays.

Rank rule (retrieval and zero-shot alike): a query's rank is 1 + the number of *non-positive* candidates
whose score is at least that of its best-scoring positive.  Ties go against the query, so a collapsed
encoder that gives every candidate the same score ranks last, not first; positives tied with each other
do not push each other down.  Scores are float64 dot products, and a score within ``TIE_TOL`` of the
positive's counts as a tie (the same two vectors can differ in the last bits with the summation order).
"""
from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from tasks.common.io import write_atomic
from tasks.common.seeds import item_seed

TIE_TOL = 1e-9
KS = (1, 5, 10)


def ranks(scores: np.ndarray, positives: np.ndarray) -> np.ndarray:
    """The 1-based rank of each row's best positive among the row's candidates (the rule above)."""
    scores = np.asarray(scores, np.float64)
    positives = np.asarray(positives, bool)
    if scores.shape != positives.shape or scores.ndim != 2:
        raise ValueError(f"scores {scores.shape} and positives {positives.shape} must be the same 2-D shape")
    lonely = np.flatnonzero(~positives.any(axis=1))
    if lonely.size:
        raise ValueError(f"{lonely.size} queries have no positive (first: row {lonely[0]})")
    best = np.where(positives, scores, -np.inf).max(axis=1, keepdims=True)
    return 1 + ((scores >= best - TIE_TOL) & ~positives).sum(axis=1)


def _direction(r: np.ndarray) -> dict[str, Any]:
    return {**{f"r{k}": float(np.mean(r <= k)) for k in KS}, "mrr": float(np.mean(1.0 / r)),
            "median_rank": float(np.median(r)), "ranks": r}


def retrieval(signal: np.ndarray, text: np.ndarray, positives: np.ndarray) -> dict[str, dict[str, Any]]:
    """Recall@1/5/10, MRR, median rank and the ranks, motions -> captions and captions -> motions.

    ``signal`` [N, E] and ``text`` [M, E] are L2-normalised; ``positives[i, j]``: caption j describes motion i.
    """
    signal, text, positives = np.asarray(signal), np.asarray(text), np.asarray(positives, bool)
    if signal.ndim != 2 or text.ndim != 2 or signal.shape[1] != text.shape[1]:
        raise ValueError(f"signal {signal.shape} and text {text.shape} must be [N, E] and [M, E]")
    if positives.shape != (len(signal), len(text)):
        raise ValueError(f"positives {positives.shape} must be [N, M] = {(len(signal), len(text))}")
    scores = signal.astype(np.float64) @ text.astype(np.float64).T
    return {"signal_to_text": _direction(ranks(scores, positives)),
            "text_to_signal": _direction(ranks(scores.T, positives.T))}


def bootstrap_ci(values: np.ndarray, n_boot: int, seed: int,
                 stat: Callable[[np.ndarray], float] = np.mean) -> tuple[float, float]:
    """Percentile 95 % CI of ``stat`` over items (rows of ``values``) resampled with replacement."""
    values = np.asarray(values)
    if len(values) == 0 or n_boot < 1:
        raise ValueError(f"bootstrap needs items and n_boot >= 1, got {len(values)} items, n_boot {n_boot}")
    draws = np.random.default_rng(seed).integers(0, len(values), (n_boot, len(values)))
    stats = np.array([stat(values[d]) for d in draws], np.float64)
    lo, hi = np.percentile(stats, [2.5, 97.5])
    return float(lo), float(hi)


def class_prompts(label: str, templates: list[str]) -> list[str]:
    """The prompts of one class: its label with spaces for underscores, in each template's "{}"."""
    name = " ".join(label.replace("_", " ").split())
    missing = [t for t in templates if "{}" not in t]
    if missing:
        raise ValueError(f"templates without a '{{}}' for the class: {missing}")
    return [t.replace("{}", name) for t in templates]


def class_embeddings(encode_texts: Callable[[list[str]], np.ndarray], classes: list[str],
                     templates: list[str]) -> np.ndarray:
    """[C, E]: the mean of each class's prompt embeddings, renormalised (one encode call for all prompts)."""
    prompts = [p for c in classes for p in class_prompts(c, templates)]
    emb = np.asarray(encode_texts(prompts), np.float64).reshape(len(classes), len(templates), -1).mean(axis=1)
    return _normalise(emb)


def _normalise(x: np.ndarray) -> np.ndarray:
    # per-modality embeddings need not come normalised; for normalised ones this changes nothing
    x = np.asarray(x, np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _entry(values: np.ndarray, n_boot: int, seed: int, stat: Callable[[np.ndarray], float] = np.mean) -> dict:
    lo, hi = bootstrap_ci(values, n_boot, seed, stat)
    return {"value": round(float(stat(values)), 4), "ci95": [round(lo, 4), round(hi, 4)]}


def _fixed(x: float) -> dict:
    return {"value": round(float(x), 4), "ci95": [round(float(x), 4)] * 2}


def macro_f1_of_pairs(pairs: np.ndarray) -> float:
    """Macro-F1 of (true, predicted) rows over the classes among the true labels of these rows."""
    return float(f1_score(pairs[:, 0], pairs[:, 1], labels=np.unique(pairs[:, 0]), average="macro",
                          zero_division=0))


def _retrieval_entries(prefix: str, r: dict, n_boot: int, seed: int, full: bool) -> dict[str, dict]:
    out = {}
    for direction, d in r.items():
        key, rk = f"{prefix}retrieval/{direction}", d["ranks"]
        out[f"{key}/r1"] = _entry(rk <= 1, n_boot, seed)
        if full:
            out.update({f"{key}/r{k}": _entry(rk <= k, n_boot, seed) for k in KS[1:]})
            out[f"{key}/mrr"] = _entry(1.0 / rk, n_boot, seed)
            out[f"{key}/median_rank"] = _entry(rk, n_boot, seed, np.median)
    return out


def _zero_shot(emb: np.ndarray, class_emb: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The true class's rank among the classes (the rank rule above) and the argmax prediction, per motion."""
    scores = emb @ class_emb.T
    truth = np.zeros(scores.shape, bool)
    truth[np.arange(len(labels)), labels] = True
    return ranks(scores, truth), scores.argmax(axis=1)


def evaluate_embeddings(*, signal: dict[str, np.ndarray], text: np.ndarray, positives: np.ndarray,
                        class_emb: np.ndarray | None, labels: np.ndarray | None, labelled: np.ndarray,
                        probe_train: dict[str, np.ndarray], probe_labels: np.ndarray, class_names: list[str],
                        n_boot: int, seed: int) -> dict[str, Any]:
    """All test metrics as ``{"a/b/c": {"value", "ci95"}}`` plus ``_labels``/``_predictions`` (class names).

    ``signal``: "fused" and one key per modality, [N, E] each; ``labels``/``labelled``: class index and row of
    each labelled test motion; ``probe_train``/``probe_labels``: the train split's embeddings and class
    indices (-1 = unlabelled).  Zero-shot, probe and their controls are left out without ``class_emb``.
    """
    if "fused" not in signal:
        raise ValueError(f"signal needs a 'fused' entry, got {sorted(signal)}")
    text = np.asarray(text, np.float64)
    bad = {m: e.shape for m, e in signal.items() if np.ndim(e) != 2 or e.shape[1] != text.shape[1]}
    if bad:
        raise ValueError(f"signal embeddings must be [N, {text.shape[1]}] like the text's, got {bad}")
    emb = {m: _normalise(e) for m, e in signal.items()}
    fused, n = emb["fused"], len(emb["fused"])
    labelled = np.asarray(labelled, int)
    do_classes = class_emb is not None and labels is not None and len(labelled) > 0
    if do_classes:
        class_emb, labels = _normalise(class_emb), np.asarray(labels, int)
        if labels.shape != labelled.shape or labels.min() < 0 or labels.max() >= len(class_emb):
            raise ValueError(f"labels must be one class index in [0, {len(class_emb)}) per labelled motion")
        if len(class_names) != len(class_emb):
            raise ValueError(f"{len(class_names)} class names for {len(class_emb)} class embeddings")

    out = _retrieval_entries("", retrieval(fused, text, positives), n_boot, seed, full=True)
    result: dict[str, Any] = {"_labels": [], "_predictions": []}
    if do_classes:
        rank, pred = _zero_shot(fused[labelled], class_emb, labels)
        out["zero_shot/top1"] = _entry(rank <= 1, n_boot, seed)
        out["zero_shot/top5"] = _entry(rank <= 5, n_boot, seed)
        out["zero_shot/macro_f1"] = _entry(np.stack([labels, pred], 1), n_boot, seed, macro_f1_of_pairs)
        result = {"_labels": [class_names[i] for i in labels], "_predictions": [class_names[i] for i in pred]}
        out.update(_probe(fused[labelled], labels, probe_train, probe_labels, n_boot, seed))

    for m in sorted(set(emb) - {"fused"}):
        out.update(_retrieval_entries(f"modality/{m}/", retrieval(emb[m], text, positives), n_boot, seed, False))
        if do_classes:
            out[f"modality/{m}/zero_shot/top1"] = _entry(_zero_shot(emb[m][labelled], class_emb, labels)[0] <= 1,
                                                         n_boot, seed)

    # the control: each motion's signal replaced by another's; nothing else changes
    shuffled = fused[np.random.default_rng(item_seed(seed, "control")).permutation(n)]
    out.update(_retrieval_entries("control/", retrieval(shuffled, text, positives), n_boot, seed, False))
    if do_classes:
        out["control/zero_shot/top1"] = _entry(_zero_shot(shuffled[labelled], class_emb, labels)[0] <= 1,
                                               n_boot, seed)

    # a random ranking's R@1 and 1/C; the control can sit above these where captions or classes are shared
    # unevenly (a shuffled perfect classifier scores the sum of squared class shares, 1/C only when balanced)
    pos = np.asarray(positives, bool)
    out["chance/retrieval/signal_to_text/r1"] = _fixed(np.mean(pos.sum(axis=1) / pos.shape[1]))
    out["chance/retrieval/text_to_signal/r1"] = _fixed(np.mean(pos.sum(axis=0) / pos.shape[0]))
    if do_classes:
        out["chance/zero_shot/top1"] = _fixed(1.0 / len(class_emb))
    return {**out, **result}


def _probe(test_x: np.ndarray, test_y: np.ndarray, train: dict[str, np.ndarray], train_labels: np.ndarray,
           n_boot: int, seed: int) -> dict[str, dict]:
    """A standardised logistic regression on the labelled train embeddings ("fused"), tested on test."""
    train_labels = np.asarray(train_labels, int)
    if len(train_labels) != len(train["fused"]):
        raise ValueError(f"{len(train_labels)} probe labels for {len(train['fused'])} train embeddings")
    keep = train_labels >= 0
    if len(np.unique(train_labels[keep])) < 2:
        return {}
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=seed))
    model.fit(_normalise(train["fused"])[keep], train_labels[keep])
    pred = model.predict(test_x)
    return {"probe/accuracy": _entry(pred == test_y, n_boot, seed),
            "probe/macro_f1": _entry(np.stack([test_y, pred], 1), n_boot, seed, macro_f1_of_pairs)}


def confusion_rows(labels: list[str], predictions: list[str], classes: list[str]) -> list[dict[str, str]]:
    """One {"actual", "predicted"} row per motion (the input of `dvc plots`' confusion template)."""
    if len(labels) != len(predictions):
        raise ValueError(f"{len(labels)} labels but {len(predictions)} predictions")
    unknown = sorted((set(labels) | set(predictions)) - set(classes))
    if unknown:
        raise ValueError(f"names not among the classes: {unknown}")
    return [{"actual": a, "predicted": p} for a, p in zip(labels, predictions, strict=True)]


def plot_confusion(rows: list[dict[str, str]], classes: list[str], path: str | Path) -> None:
    """A PNG of the confusion matrix, each true class's row normalised to sum 1, written atomically."""
    if not rows:
        raise ValueError("no confusion rows to plot")
    index = {c: i for i, c in enumerate(classes)}
    unknown = sorted({r[k] for r in rows for k in ("actual", "predicted")} - set(index))
    if unknown:
        raise ValueError(f"names not among the classes: {unknown}")
    counts = np.zeros((len(classes), len(classes)))
    for r in rows:
        counts[index[r["actual"]], index[r["predicted"]]] += 1
    totals = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    accuracy = np.trace(counts) / counts.sum()

    side = max(5.0, 2.5 + 0.32 * len(classes))  # about a third of an inch per class keeps 24 names legible
    fig = Figure(figsize=(side + 1.2, side), layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.02, label="share of the true class")
    ticks = np.arange(len(classes))
    ax.set_xticks(ticks, classes, rotation=60, ha="right", rotation_mode="anchor", fontsize=8)
    ax.set_yticks(ticks, classes, fontsize=8)
    for i, j in zip(*np.nonzero(counts), strict=True):  # percentages on the cells that hold any motion
        ax.text(j, i, f"{100 * share[i, j]:.0f}", ha="center", va="center", fontsize=6 if len(classes) > 12 else 8,
                color="white" if share[i, j] > 0.5 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual")
    ax.set_title(f"zero-shot activity: accuracy {accuracy:.3f} ({int(counts.sum())} motions)")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120)
    write_atomic(path, buf.getvalue())
