"""A simple classifier of windows, trained on simulated windows only, and its scores with recording-level CIs.

Fixed choices, made before any real data was looked at and never tuned on it: missing features (a window
too sparse for one) are filled with the training median, features standardised, then a class-balanced
logistic regression (``logreg``) or a random forest (``forest``), both seeded.  The scores are
accuracy and macro-F1 over windows; their 95 % intervals come from a bootstrap over *recordings* (windows
of one recording are not independent), with per-recording confusion matrices resampled and summed.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

MODELS = ("logreg", "forest")


def train(x: np.ndarray, y: Sequence[str], model: str = "logreg", seed: int = 0) -> Pipeline:
    """Fit the pipeline on windows ``x`` [W, K] with labels ``y``."""
    if model == "logreg":
        head = LogisticRegression(C=1.0, class_weight="balanced", max_iter=5000, random_state=seed)
    elif model == "forest":
        head = RandomForestClassifier(n_estimators=300, min_samples_leaf=2, class_weight="balanced",
                                      random_state=seed, n_jobs=1)
    else:
        raise ValueError(f"model must be one of {', '.join(MODELS)}, got '{model}'")
    # keep_empty_features: a feature no training window has stays a column of zeros instead of vanishing
    pipe = make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler(), head)
    return pipe.fit(x, np.asarray(y))


def confusion(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str]) -> np.ndarray:
    """Counts [K, K]: rows the true class, columns the predicted one, in the order of ``labels``."""
    where = {label: k for k, label in enumerate(labels)}
    cm = np.zeros((len(labels), len(labels)), dtype=np.int64)
    np.add.at(cm, ([where[t] for t in y_true], [where[p] for p in y_pred]), 1)
    return cm


def metrics(cm: np.ndarray) -> tuple[float, float]:
    """Accuracy and macro-F1 of a confusion matrix; F1 averages the classes that are true or predicted."""
    tp = np.diag(cm).astype(np.float64)
    true, pred = cm.sum(axis=1), cm.sum(axis=0)
    total = cm.sum()
    present = (true + pred) > 0
    f1 = 2 * tp[present] / (true + pred)[present]
    return (float(tp.sum() / total) if total else float("nan"), float(f1.mean()) if present.any() else float("nan"))


def score(y_true: Sequence[str], y_pred: Sequence[str], groups: Sequence[str], labels: Sequence[str],
          n_boot: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Accuracy, macro-F1 (each with a bootstrap 95 % CI over ``groups``), per-class recall and the confusion.

    ``groups`` names each window's recording; a bootstrap sample draws recordings with replacement.
    """
    labels = list(labels)
    cm = confusion(y_true, y_pred, labels)
    accuracy, macro_f1 = metrics(cm)
    names = sorted(set(groups))
    index = {g: k for k, g in enumerate(names)}
    per_group = np.zeros((len(names), len(labels), len(labels)), dtype=np.int64)
    where = {label: k for k, label in enumerate(labels)}
    np.add.at(per_group, ([index[g] for g in groups], [where[t] for t in y_true], [where[p] for p in y_pred]), 1)
    rng = np.random.default_rng(seed)
    boots = np.array([metrics(per_group[rng.integers(0, len(names), len(names))].sum(axis=0))
                      for _ in range(n_boot)]) if n_boot and len(names) else np.empty((0, 2))
    support = cm.sum(axis=1)
    return {
        "windows": int(cm.sum()), "recordings": len(names),
        "accuracy": accuracy, "accuracy_ci95": _interval(boots[:, 0]),
        "macro_f1": macro_f1, "macro_f1_ci95": _interval(boots[:, 1]),
        "per_class_recall": {label: (float(cm[k, k] / support[k]) if support[k] else None)
                             for k, label in enumerate(labels)},
        "support": {label: int(support[k]) for k, label in enumerate(labels)},
        "confusion": {"labels": labels, "matrix": cm.tolist()},
    }


def _interval(values: np.ndarray) -> list[float] | None:
    values = values[np.isfinite(values)]
    return [float(v) for v in np.quantile(values, [0.025, 0.975])] if len(values) else None
