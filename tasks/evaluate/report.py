"""The evaluate stage's self-contained HTML report (no external URL: plots are inline PNGs, no script, no CDN)
and its plots: per-category bars per system, and the activity confusion of the tuned model's answers."""
from __future__ import annotations

import base64
import html
import io
import json
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

SYSTEM_NAMES = {"tuned": "tuned + signal", "text_only": "base LLM, question only",
                "shuffled": "tuned + another's signal", "zero_shot": "encoder zero-shot"}
CSS = ("body{font-family:sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse;margin:1em 0}"
       "td,th{border:1px solid #ccc;padding:4px 8px;font-size:13px;vertical-align:top}th{background:#f4f4f4}"
       ".ci{color:#777;font-size:11px}.warn{color:#a40}")


def _fmt(entry: dict[str, Any] | None) -> str:
    if not entry:
        return "–"
    lo, hi = entry["ci95"]
    return f"{entry['value']:.3f} <span class='ci'>[{lo:.3f}, {hi:.3f}] n={entry['n']}</span>"


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return f"<img alt='plot' src='data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}'>"


def category_bars(summary: dict[str, Any], metric: str) -> str:
    """Grouped bars: per category, each system's mean of ``metric`` with its CI."""
    systems = [s for s in summary if any(summary[s]["per_category"].get(c, {}).get(metric)
                                         for c in summary[s]["per_category"])]
    categories = sorted({c for s in systems for c in summary[s]["per_category"]})
    if not systems or not categories:
        return ""
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(categories)), 3.2))
    width = 0.8 / len(systems)
    for k, s in enumerate(systems):
        entries = [summary[s]["per_category"].get(c, {}).get(metric) for c in categories]
        x = np.arange(len(categories)) + k * width
        values = [e["value"] if e else np.nan for e in entries]
        err = np.array([[e["value"] - e["ci95"][0], e["ci95"][1] - e["value"]] if e else [0, 0] for e in entries]).T
        ax.bar(x, values, width, yerr=err, capsize=2, label=SYSTEM_NAMES.get(s, s))
    ax.set_xticks(np.arange(len(categories)) + 0.4 - width / 2, categories, rotation=30, ha="right")
    ax.set_ylabel(metric)
    ax.legend(fontsize=7)
    return _png(fig)


def confusion_png(rows: list[dict[str, str]]) -> str:
    """Row-normalised counts of (label, named activity) of the tuned model's answers."""
    if not rows:
        return ""
    frame = pd.crosstab(pd.Series([r["actual"] for r in rows], name="label"),
                        pd.Series([r["predicted"] for r in rows], name="named"))
    norm = frame.div(frame.sum(axis=1), axis=0)
    fig, ax = plt.subplots(figsize=(0.4 * norm.shape[1] + 3, 0.3 * norm.shape[0] + 2))
    ax.imshow(norm.to_numpy(), cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(norm.shape[1]), norm.columns, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(norm.shape[0]), norm.index, fontsize=7)
    ax.set_xlabel("activity the answer names")
    ax.set_ylabel("label")
    return _png(fig)


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def render(metrics: dict[str, Any], table: pd.DataFrame, confusion: list[dict[str, str]],
           examples_per_category: int) -> str:
    """The whole page."""
    e = html.escape
    systems = metrics["systems"]
    columns = [c for c in metrics["headline"] if any(systems[s]["overall"].get(c) for s in systems)]
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>mmFlywheel evaluation</title>"
             f"<style>{CSS}</style></head><body><h1>Evaluation</h1>",
             f"<p>Splits {e(', '.join(metrics['splits']))}: {metrics['items']['total']} items "
             f"({e(json.dumps(metrics['items']['per_category']))}). Every value: mean over the items that have it, "
             "bootstrap 95 % CI, n.</p>"]
    for name, why in metrics["skipped"].items():
        parts.append(f"<p class='warn'>{e(name)} not computed: {e(why)}</p>")
    parts.append("<h2>Systems</h2>")
    parts.append(_table(["system", *columns], [[e(SYSTEM_NAMES.get(s, s)), *(_fmt(systems[s]["overall"].get(c))
                                                                          for c in columns)] for s in systems]))
    parts.append("<h2>Does the model use the signal? (paired differences, tuned minus baseline)</h2>")
    gaps = metrics["gaps"]
    parts.append(_table(["baseline", *columns], [[e(SYSTEM_NAMES.get(b, b)), *(_fmt(gaps[b].get(c)) for c in columns)]
                                                 for b in gaps]))
    for metric in ("similarity", "fact_accuracy", "judge_same_facts"):
        parts.append(f"<h3>{metric} per category</h3>{category_bars(systems, metric)}")
    har = metrics.get("encoder_har")
    if har:
        parts.append("<h2>Activity</h2><p>Encoder zero-shot on the evaluated motions: accuracy "
                     f"{_fmt(har['accuracy'])}, macro-F1 {_fmt(har['macro_f1'])}.</p>")
    parts.append(f"<h3>Activities the tuned model names, per label</h3>{confusion_png(confusion)}")
    judge = metrics.get("judge")
    if judge:
        parts.append("<h2>The judge</h2>")
        parts.append(f"<p>Model: <code>{e(json.dumps(judge['identity']))}</code>. Verdicts: "
                     f"{e(json.dumps(judge['status']))}.</p>")
        if judge["preference_leakage"]:
            parts.append("<p class='warn'>The judge is of the same model family as the QA writer "
                         f"({e(judge['writer'])}): its scores may favour answers in its own style.</p>")
        cal = judge["calibration"]
        parts.append(f"<p>Agreement with the fact checker (same_facts vs fact accuracy, {cal['n']} items): "
                     f"{cal['agreement']}, Cohen's kappa {cal['kappa']}. Stability (swapped prompt): "
                     f"{e(json.dumps(judge['stability']))}.</p>")
    parts.append("<h2>Examples</h2>")
    pivot = table.pivot_table(index="key", columns="system", values="answer", aggfunc="first")
    first = table.drop_duplicates("key").set_index("key")
    for category, keys in first.groupby("category").groups.items():
        picked = list(keys)[:examples_per_category]
        rows = []
        for key in picked:
            item = first.loc[key]
            refs = "<br>".join(e(r) for r in json.loads(item["references"]))
            answers = "<br>".join(f"<b>{e(SYSTEM_NAMES[s])}:</b> {e(str(pivot.loc[key, s]))}"
                                  for s in SYSTEM_NAMES if s in pivot.columns and isinstance(pivot.loc[key, s], str))
            facts = e(str(item.get("facts", ""))).replace("\n", "<br>")
            rows.append([e(key), e(str(item["label"])), e(item["question"]), refs, answers, facts])
        parts.append(f"<h3>{e(category)}</h3>" + _table(["item", "label", "question", "references", "answers",
                                                          "facts"], rows))
    parts.append("</body></html>")
    return "\n".join(parts)
