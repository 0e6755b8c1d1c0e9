"""The sim-to-real report as one self-contained HTML page, drawn from the report dict alone.

Plots are matplotlib PNGs embedded as base64 ``data:`` images and the style is inline, so the page opens
offline and names no external URL.  Every number on it is in report.json too.
"""
from __future__ import annotations

import base64
import html
import io
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)
import numpy as np  # noqa: E402

SIM, REAL = "#1f77b4", "#d62728"
STYLE = """body{font-family:sans-serif;margin:2em;max-width:75em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.2em .5em;text-align:right}
th{background:#f3f3f3}td.l,th.l{text-align:left}.sim{color:#1f77b4}.real{color:#d62728}
.note{color:#555;font-size:.92em}img{max-width:100%}"""


def render_html(report: dict[str, Any]) -> str:
    """The whole page."""
    clf = report["classifier"]
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Sim-to-real report</title>"
             f"<style>{STYLE}</style></head><body><h1>Sim-to-real report</h1>",
             _sources(report), *(f"<p><b>Note:</b> {html.escape(n)}</p>" for n in report["notes"]),
             "<h2>Classifier: trained on simulated windows only, tested on real ones</h2>",
             _scores(report), _img(_confusion_plot(clf["real"]["confusion"], "real windows"))]
    if clf["sim_test"]:
        parts.append(_img(_confusion_plot(clf["sim_test"]["confusion"], "simulated test windows")))
    parts += ["<h2>Per class, side by side</h2>", _class_table(report),
              "<h2>Feature shift (|real mean - sim mean| / sim std, median over classes)</h2>",
              _img(_shift_plot(report["feature_shift"]["median"])), _rejects(report["real"]["rejects"]),
              "<h2>Distributions per class</h2>",
              "<p class='note'>Shares per bin of each side's pooled frames, points or frames with 2+ points; values "
              "outside the axes are counted in the end bins. <span class='sim'>simulated</span> vs "
              "<span class='real'>real</span>.</p>"]
    for label, sides in report["stats"]["classes"].items():
        parts += [f"<h3>{html.escape(label)}</h3>", _img(_class_plot(sides, report["stats"]["edges"]))]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _sources(report: dict[str, Any]) -> str:
    s, o = report["sources"], report["options"]
    rows = [("real recordings", s.get("real_dir", "")), ("simulated signals", s.get("signals", "")),
            ("params", s.get("params", "")), ("simulated for this report", str(s.get("simulated", ""))),
            ("windows", f"{o['window_s']:g} s every {o['hop_s']:g} s"), ("classifier", o["model"]),
            ("seed", str(o["seed"])), ("bootstrap", f"{o['bootstrap']} resamples of the recordings")]
    body = "".join(f"<tr><th class='l'>{k}</th><td class='l'>{html.escape(str(v))}</td></tr>" for k, v in rows)
    return (f"<table>{body}</table><p class='note'>Real labels are used for scoring only: the classifier, its "
            "settings and the features were fixed on simulated data. Intensity enters the features only relative "
            "to each window's median, since devices define SNR differently.</p>")


def _scores(report: dict[str, Any]) -> str:
    clf = report["classifier"]
    rows = [("real", clf["real"])] + ([("simulated test split", clf["sim_test"])] if clf["sim_test"] else [])
    body = "".join(
        f"<tr><td class='l'>{name}</td><td>{s['recordings']}</td><td>{s['windows']}</td>"
        f"<td>{_f(s['accuracy'])}</td><td>{_ci(s['accuracy_ci95'])}</td><td>{_f(s['macro_f1'])}</td>"
        f"<td>{_ci(s['macro_f1_ci95'])}</td></tr>" for name, s in rows)
    gap = clf["gap"]
    missing = html.escape(", ".join(report["real_only_classes"]) or "none")
    return (f"<p>{html.escape(clf['trained_on'])}: {clf['train_windows']} windows of "
            f"{len(report['common_classes'])} classes (chance {_f(clf['chance_accuracy'])}). "
            f"Real classes without simulated training data: {missing}"
            f" ({report['unscored_real_windows']} windows not scored); real recordings shorter than a window: "
            f"{report['real']['recordings_without_windows']} of {report['real']['recordings']}.</p>"
            "<table><tr><th class='l'>tested on</th><th>recordings</th><th>windows</th><th>accuracy</th>"
            "<th>95 % CI</th><th>macro-F1</th><th>95 % CI</th></tr>" + body + "</table>"
            + (f"<p>Gap (simulated test - real): accuracy {_f(gap['accuracy'])}, macro-F1 {_f(gap['macro_f1'])}."
               "</p>" if gap else ""))


def _class_table(report: dict[str, Any]) -> str:
    clf = report["classifier"]
    head = ("<tr><th class='l'>class</th><th>side</th><th>recordings</th><th>frames</th><th>points / frame</th>"
            "<th>empty frames</th><th>zero-velocity share</th><th>|v| mean (m/s)</th><th>height q05-q95 (m)</th>"
            "<th>range q05-q95 (m)</th><th>elevated share</th><th>lateral spread q50 (m)</th>"
            "<th>forward spread q50 (m)</th><th>recall</th></tr>")
    rows = []
    for label, sides in report["stats"]["classes"].items():
        recalls = {"real": clf["real"]["per_class_recall"].get(label),
                   "sim": (clf["sim_test"] or {}).get("per_class_recall", {}).get(label)}
        for side in ("sim", "real"):
            s = sides[side]
            cells = ["-"] * 11 if s is None else [
                s["recordings"], s["frames"], _f(_get(s, "points_per_frame", "mean"), 1), _f(s["empty_frame_share"]),
                _f(s["zero_velocity_share"]), _f(_get(s, "abs_velocity_mps", "mean")), _span(s["height_m"]),
                _span(s["range_m"]), _f(s["elevated_share"]), _f(_get(s["frame_spread_m"], "lateral", "q50")),
                _f(_get(s["frame_spread_m"], "forward", "q50"))]
            cells.append(_f(recalls[side]))
            rows.append(f"<tr><td class='l'>{html.escape(label)}</td><td class='l {side}'>{side}</td>"
                        + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return ("<p class='note'>Recall: sim = on the simulated test split, real = on the real windows.</p><table>"
            + head + "".join(rows) + "</table>")


def _rejects(rejects: list[dict[str, str]]) -> str:
    if not rejects:
        return "<h2>Rejected real files</h2><p>none</p>"
    rows = "".join(f"<tr><td class='l'>{html.escape(r['item'])}</td><td class='l'>{html.escape(r['reason'])}</td></tr>"
                   for r in rejects)
    return (f"<h2>Rejected real files ({len(rejects)})</h2><table><tr><th class='l'>file</th><th class='l'>reason"
            f"</th></tr>{rows}</table>")


def _confusion_plot(confusion: dict[str, Any], title: str) -> plt.Figure:
    labels, cm = confusion["labels"], np.asarray(confusion["matrix"], dtype=np.float64)
    share = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    size = 2.5 + 0.45 * len(labels)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    im = ax.imshow(share, vmin=0, vmax=1, cmap="Blues")
    for (i, j), n in np.ndenumerate(cm):
        if n:
            ax.text(j, i, int(n), ha="center", va="center", fontsize=7, color="white" if share[i, j] > 0.5 else "black")
    ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"Confusion, {title} (row shares; counts)")
    fig.colorbar(im, ax=ax, fraction=0.04)
    fig.tight_layout()
    return fig


def _shift_plot(median: dict[str, float | None]) -> plt.Figure:
    names = list(median)
    values = [np.nan if median[n] is None else median[n] for n in names]
    fig, ax = plt.subplots(figsize=(9, 3.2))
    ax.bar(range(len(names)), values, color="#777")
    for k, v in enumerate(values):
        if np.isnan(v):
            ax.text(k, 0, "n/a", ha="center", va="bottom", fontsize=6, rotation=90)
    ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("sim std")
    ax.axhline(1.0, color="k", lw=0.5, ls="--")
    fig.tight_layout()
    return fig


def _class_plot(sides: dict[str, Any], edges: dict[str, list[float]]) -> plt.Figure:
    panels = [("points_per_frame_hist", "points_per_frame", "points per frame"),
              ("velocity_hist", "velocity_mps", "radial velocity (m/s, + away)"),
              ("height_hist", "height_m", "height above floor (m)"),
              (("frame_spread_hist", "lateral"), "frame_spread_m", "per-frame lateral spread (m)")]
    fig, axes = plt.subplots(1, 4, figsize=(13, 2.6))
    for ax, (key, edge_name, xlabel) in zip(axes, panels):
        for side, colour in (("sim", SIM), ("real", REAL)):
            stats = sides[side]
            if stats is None:
                continue
            shares = stats[key[0]][key[1]] if isinstance(key, tuple) else stats[key]
            if shares:
                ax.stairs(shares, edges[edge_name], color=colour, label=side)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0].set_ylabel("share")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def _img(fig: plt.Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    return f"<p><img alt='plot' src='data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}'></p>"


def _get(d: dict[str, Any] | None, *keys: str) -> Any:
    for key in keys:
        if d is None:
            return None
        d = d.get(key)
    return d


def _f(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _ci(pair: list[float] | None) -> str:
    return "-" if not pair else f"{pair[0]:.3f} - {pair[1]:.3f}"


def _span(d: dict[str, float] | None) -> str:
    return "-" if d is None else f"{d['q05']:.2f} - {d['q95']:.2f}"
