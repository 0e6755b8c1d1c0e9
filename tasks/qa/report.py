"""What the qa stage reports: metrics/qa.json, and sample.md — a page for people to read with a few accepted
pairs per category and one reject per reason."""
from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any


def reason_kind(reason: str) -> str:
    """'count: says 3, facts say 4' -> 'count'."""
    return reason.split(":", 1)[0]


def summarise(categories: list[str], attempts: list[int], pairs: list[dict[str, Any]], rejects: list[dict[str, Any]],
              salvaged: int, motions: int, seconds: float, about: dict[str, Any],
              repair: dict[str, float] | None = None) -> dict[str, Any]:
    """Counts per category (``categories``: one per request) and per reject reason, the rejection rate,
    throughput, and ``about`` (source, prompt version, token usage).

    The rejection rate counts model-quality rejects over requests that got a reply: an LLM/infrastructure
    error is reported apart and never counted as the model's fault.  A reject whose re-ask was accepted
    (``repair``: asked, accepted, seconds) is no reject: its pair is among ``pairs``; ``repair`` reports
    what the re-asks cost and which first reasons they salvaged.
    """
    repair = repair or {"asked": 0, "accepted": 0, "seconds": 0.0}
    repaired = [r for r in rejects if r.get("repair") == "accepted"]
    rejects = [r for r in rejects if r.get("repair") != "accepted"]
    kinds = Counter(reason_kind(r["reason"]) for r in rejects if r["category"])
    errors = kinds.get("llm error", 0)
    answered = len(categories) - errors
    quality = sum(n for k, n in kinds.items() if k != "llm error")
    per_category = {c: {"requests": n, "accepted": 0, "rejected": 0, "llm_errors": 0}
                    for c, n in sorted(Counter(categories).items())}
    for pair in pairs:
        per_category[pair["category"]]["accepted"] += 1
    for r in rejects:
        if r["category"]:
            per_category[r["category"]]["llm_errors" if reason_kind(r["reason"]) == "llm error" else "rejected"] += 1

    def rate(n: int) -> float | None:
        return round(n / seconds, 4) if seconds else None

    return {
        **about,
        "motions": motions,
        "motions_without_facts": sum(1 for r in rejects if not r["category"]),
        "requests": len(categories),
        "accepted": len(pairs),
        "rejected": quality,
        "llm_errors": errors,
        "rejection_rate": round(quality / answered, 4) if answered else None,
        "rejects_by_reason": dict(sorted(kinds.items())),
        "per_category": per_category,
        "salvaged_replies": salvaged,
        "repair": {"asked": int(repair["asked"]), "accepted": int(repair["accepted"]),
                   "seconds": round(repair["seconds"], 2),
                   "accepted_by_first_reason": dict(sorted(Counter(reason_kind(r["reason"])
                                                                   for r in repaired).items())),
                   "usage": about.get("usage", {}).get("stages", {}).get("qa_repair")},
        "mean_attempts": round(sum(attempts) / max(len(attempts), 1), 3),
        "seconds": round(seconds, 2),
        "motions_per_s": rate(motions),
        "requests_per_s": rate(len(categories)),
        "accepted_per_s": rate(len(pairs)),
    }


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def write_sample(pairs: list[dict[str, Any]], rejects: list[dict[str, Any]], facts: dict[str, dict[str, Any]],
                 summary: dict[str, Any], per_category: int) -> str:
    lines = [
        "# QA sample",
        "",
        f"{summary['accepted']} pairs from {summary['motions']} motions by `{summary['source']}`, prompts "
        f"`{summary['prompt_version']}`; {summary['rejected']} rejected (rate {summary['rejection_rate']}), "
        f"{summary['llm_errors']} LLM errors. Reasons: "
        + (", ".join(f"{k} {n}" for k, n in summary["rejects_by_reason"].items()) or "none") + ".",
    ]
    by_category: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for pair in pairs:
        by_category[pair["category"]].append(pair)
    for category in sorted(by_category):
        lines += ["", f"## {category}", ""]
        chosen = by_category[category]
        # spread over the data set (pairs come in motion-id order, so the first few share a class)
        step = max(1, len(chosen) // max(per_category, 1))
        for pair in chosen[::step][:per_category]:
            label = facts.get(pair["motion_id"], {}).get("label") or "no label"
            lines += [f"- **{pair['motion_id']}** ({label})",
                      f"  - Q: {_one_line(pair['question'])}",
                      f"  - A: {_one_line(pair['answer'])}"]
    first_of_kind: dict[str, dict[str, Any]] = {}
    for r in rejects:
        first_of_kind.setdefault(reason_kind(r["reason"]), r)
    if first_of_kind:
        lines += ["", "## Rejected (one per reason)", ""]
        for kind, r in sorted(first_of_kind.items()):
            where = f"{r['motion_id']}/{r['category']}" if r["category"] else r["motion_id"]
            lines.append(f"- **{kind}** — {where}: {_one_line(r['reason'])}"
                         + (f"\n  - reply: `{_one_line(r['raw'], 240).replace('`', chr(39))}`" if r["raw"] else "")
                         + (f"\n  - re-asked: {_one_line(r['repair'])}" if r.get("repair") else ""))
    return "\n".join(lines) + "\n"
