"""`flywheel qa-audit`: a seeded sample of the qa stage's pairs on one offline page, graded by a person.

``write_audit`` draws ``n`` accepted pairs and, separately, ``n`` rejected replies (seeded, independent of
row order) and writes a self-contained HTML page (no external URL: it opens offline) showing each pair's
question, answer, the fact lines it was grounded on and the claim verdicts of the checker, with a
right / wrong choice per pair.  The page saves the choices as a small JSON grades file (the same schema as
the ``<page>.grades.json`` template written beside it, which can be filled in by hand instead).
``score`` reads a grades file: the precision of the accepted pairs (share graded right) and the share of
rejects that were in fact right, each with a Wilson 95 % interval.
"""
from __future__ import annotations

import hashlib
import html
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tasks.common.io import write_atomic, write_json
from tasks.common.stage import StageError
from tasks.qa.claims import claim_verdicts
from tasks.qa.facts import LINES, fact_lines, fact_sheet
from tasks.qa.prompts import salvage

GRADES = ("right", "wrong")
SCHEMA = "mmflywheel-qa-audit/1"


def pair_key(motion_id: str, category: str, question: str, answer: str) -> str:
    """A stable name for one pair: its motion, category and a hash of its text."""
    digest = hashlib.blake2b(f"{question}\0{answer}".encode(), digest_size=4).hexdigest()
    return f"{motion_id}/{category}/{digest}"


def draw(rows: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """``n`` rows (all if fewer), the same whatever order ``rows`` come in."""
    rows = rows.sort_values("key", kind="stable").reset_index(drop=True)
    pick = np.random.default_rng(seed).permutation(len(rows))[:n]
    return rows.iloc[np.sort(pick)].reset_index(drop=True)


def _accepted(qa_dir: Path) -> pd.DataFrame:
    pairs = pd.read_parquet(qa_dir / "qa.parquet")
    pairs["lines"] = [json.loads(f) if f else {} for f in pairs["facts"]]
    pairs["reason"] = ""
    return pairs


def _rejected(qa_dir: Path) -> pd.DataFrame:
    """Rejected replies that still read as a question and an answer (LLM errors and unparsable replies are
    not pairs to grade), with every fact line of their motion."""
    rejects = pd.read_parquet(qa_dir / "rejects.parquet")
    facts = pd.read_parquet(qa_dir / "facts.parquet").set_index("motion_id")["facts"].map(json.loads)
    rows = []
    for r in rejects.itertuples():
        pair = salvage(r.raw) if r.raw else None
        if pair is None or r.motion_id not in facts.index:
            continue
        rows.append({"motion_id": r.motion_id, "category": r.category, "question": pair.question,
                     "answer": pair.answer, "reason": r.reason, "lines": fact_lines(facts[r.motion_id]),
                     "structured": facts[r.motion_id]})
    return pd.DataFrame(rows, columns=["motion_id", "category", "question", "answer", "reason", "lines", "structured"])


def _with_keys(rows: pd.DataFrame) -> pd.DataFrame:
    rows = rows.copy()
    rows["key"] = [pair_key(r.motion_id, r.category, r.question, r.answer) for r in rows.itertuples()]
    return rows.drop_duplicates("key")


def sample(qa_dir: str | Path, n: int = 50, seed: int = 0) -> dict[str, pd.DataFrame]:
    """The seeded samples of accepted and rejected pairs of the qa output folder ``qa_dir``."""
    qa_dir = Path(qa_dir)
    for name in ("qa.parquet", "rejects.parquet", "facts.parquet"):
        if not (qa_dir / name).is_file():
            raise StageError(f"{qa_dir / name}: not found (run the qa stage first: dvc repro qa)")
    accepted = _accepted(qa_dir)
    structured = pd.read_parquet(qa_dir / "facts.parquet").set_index("motion_id")["facts"].map(json.loads)
    accepted["structured"] = [structured.get(m, {}) for m in accepted["motion_id"]]
    return {"accepted": draw(_with_keys(accepted), n, seed), "rejected": draw(_with_keys(_rejected(qa_dir)), n, seed)}


def write_audit(qa_dir: str | Path, out: str | Path, n: int = 50, seed: int = 0) -> tuple[Path, Path]:
    """Write the audit page ``out`` and its grades template ``<out stem>.grades.json``; return both paths."""
    out = Path(out)
    drawn = sample(qa_dir, n, seed)
    items = {group: [_item(r) for r in rows.itertuples()] for group, rows in drawn.items()}
    template = {"schema": SCHEMA, "qa_dir": str(qa_dir), "n": n, "seed": seed,
                "grades": {it["key"]: None for group in items.values() for it in group},
                "groups": {group: [it["key"] for it in group_items] for group, group_items in items.items()}}
    grades_path = out.with_name(f"{out.stem}.grades.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json(grades_path, template)
    write_atomic(out, _page(items, template))
    return out, grades_path


def _item(row: Any) -> dict[str, Any]:
    """One pair for the page, with the claim verdicts of the qa stage's checker (the sheet it was shown)."""
    verdicts = [{"claim": f"{v['source']}: {v['said']} ({v['kind']}: {v['what']})", "verdict": v["verdict"],
                 "fact": v["fact"]}
                for v in claim_verdicts(row.question, row.answer, row.structured, fact_sheet(row.lines))]
    return {"key": row.key, "motion_id": row.motion_id, "category": row.category, "question": row.question,
            "answer": row.answer, "reason": row.reason, "lines": row.lines, "verdicts": verdicts}


_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:62em;color:#222}
.pair{border:1px solid #ccc;border-radius:6px;padding:.7em 1em;margin:1em 0}
.q{font-weight:600}.a{margin:.3em 0 .5em}.meta{color:#666;font-size:12px}
.facts{font-size:12px;color:#333;margin:.3em 0}.facts td{padding:0 .6em 0 0;vertical-align:top}
.v-true{color:#176b2c}.v-false{color:#b00020;font-weight:600}.v-unsupported{color:#9a6700;font-weight:600}
.reason{color:#b00020;font-size:12px}label{margin-right:1.2em}#bar{position:sticky;top:0;background:#fff;padding:.5em 0}
"""

_SCRIPT = """
const template = JSON.parse(document.getElementById('template').textContent);
function grades() {
  const out = Object.assign({}, template);
  out.grades = {};
  for (const key of Object.keys(template.grades)) {
    const picked = document.querySelector(`input[name="${CSS.escape(key)}"]:checked`);
    out.grades[key] = picked ? picked.value : null;
  }
  return out;
}
function update() {
  const g = grades().grades, done = Object.values(g).filter(v => v !== null).length;
  document.getElementById('count').textContent = `${done} of ${Object.keys(g).length} graded`;
}
function save() {
  const blob = new Blob([JSON.stringify(grades(), null, 1)], {type: 'application/json'});
  const link = document.createElement('a');
  link.href = URL.createObjectURL(blob);
  link.download = 'qa_audit.grades.json';
  link.click();
}
document.addEventListener('change', update);
update();
"""


def _verdict_rows(verdicts: list[dict[str, str]]) -> str:
    if not verdicts:
        return ""
    cells = "".join(
        f"<tr><td class='v-{html.escape(v['verdict'])}'>{html.escape(v['verdict'])}</td>"
        f"<td>{html.escape(v['claim'])}</td><td>{html.escape(v.get('fact') or '')}</td></tr>" for v in verdicts)
    return f"<table class='facts'><tr><th>verdict</th><th>claim</th><th>fact</th></tr>{cells}</table>"


def _pair_html(it: dict[str, Any]) -> str:
    key = html.escape(it["key"], quote=True)
    facts = "".join(f"<tr><td>{html.escape(LINES[k][0] if k in LINES else k)}</td><td>{html.escape(v)}</td></tr>"
                    for k, v in it["lines"].items())
    reason = f"<div class='reason'>rejected: {html.escape(it['reason'])}</div>" if it["reason"] else ""
    choices = "".join(f"<label><input type='radio' name='{key}' value='{g}'> {g}</label>" for g in GRADES)
    return (f"<div class='pair'><div class='meta'>{key}</div><div class='q'>{html.escape(it['question'])}</div>"
            f"<div class='a'>{html.escape(it['answer'])}</div>{reason}<details><summary>facts</summary>"
            f"<table class='facts'>{facts}</table></details>{_verdict_rows(it['verdicts'])}<div>{choices}</div></div>")


def _page(items: dict[str, list[dict[str, Any]]], template: dict[str, Any]) -> str:
    sections = "".join(
        f"<h2>{group} ({len(group_items)})</h2>" + "".join(_pair_html(it) for it in group_items)
        for group, group_items in items.items())
    # '</' inside the embedded JSON would end the script element
    data = json.dumps(template).replace("</", "<\\/")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>qa audit</title><style>{_STYLE}</style>"
            f"</head><body><h1>QA audit: seed {template['seed']}, n {template['n']}</h1>"
            "<p>Grade each pair against its facts: <b>right</b> when every statement of the question and the answer "
            "is true of the motion as the facts describe it, <b>wrong</b> otherwise. Then save the grades and run "
            "<code>flywheel qa-audit --score FILE</code>.</p>"
            f"<div id='bar'><button onclick='save()'>Save grades</button> <span id='count'></span></div>{sections}"
            f"<script type='application/json' id='template'>{data}</script><script>{_SCRIPT}</script></body></html>")


def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval of k successes in n trials (95 % by default)."""
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    centre, half = (p + z * z / (2 * n)), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return ((centre - half) / (1 + z * z / n), (centre + half) / (1 + z * z / n))


def score(path: str | Path) -> dict[str, Any]:
    """Precision of the accepted pairs and the right share of the rejected ones in a grades file."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StageError(f"{path}: not a readable grades file ({' '.join(str(exc).split())})") from exc
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise StageError(f"{path}: not a qa-audit grades file (schema {SCHEMA!r} expected)")
    grades = data.get("grades", {})
    bad = sorted({str(v) for v in grades.values() if v is not None and v not in GRADES})
    if bad:
        raise StageError(f"{path}: grades must be {' or '.join(GRADES)} (or null), got {bad}")
    out: dict[str, Any] = {"file": str(path)}
    for group in ("accepted", "rejected"):
        given = [grades.get(k) for k in data.get("groups", {}).get(group, [])]
        graded = [g for g in given if g is not None]
        right = sum(g == "right" for g in graded)
        lo, hi = wilson(right, len(graded))
        out[group] = {"pairs": len(given), "graded": len(graded), "right": right,
                      "share_right": round(right / len(graded), 4) if graded else None,
                      "ci95": [round(lo, 4), round(hi, 4)]}
    return out
