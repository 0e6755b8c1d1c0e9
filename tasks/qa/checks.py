"""Form checks of a generated question-answer pair, and the one entry point that adds the claim checks.

The form: the question has ``min_question_words`` words and asks something; the answer has
``min_answer_words``; the answer is not the question again, nor the worked example's answer.  A pair of
good form is then read as claims and each claim matched against the facts (tasks/qa/claims.py): any false
or unsupported claim rejects it, with the claim and the fact as the reason.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tasks.qa.claims import Check, check
from tasks.qa.facts import SheetConfig

QUESTION_STARTS = {"what", "which", "how", "why", "when", "where", "who", "whom", "whose", "does", "did", "do", "is",
                   "are", "was", "were", "can", "could", "would", "will", "should", "has", "have", "describe",
                   "explain", "name", "tell", "in", "during", "from", "based", "according", "at", "after", "before"}


@dataclass(frozen=True)
class CheckConfig:
    min_question_words: int = 4
    min_answer_words: int = 2


def _norm(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def check_form(question: str, answer: str, example: tuple[str, str] | None, cfg: CheckConfig) -> str | None:
    q, a = _norm(question), _norm(answer)
    if len(q.split()) < cfg.min_question_words:
        return f"short question: {len(q.split())} words"
    if len(a.split()) < cfg.min_answer_words:
        return f"short answer: {len(a.split())} words"
    if "?" not in question and q.split()[0] not in QUESTION_STARTS:
        return "not a question"
    if a == q or (len(q.split()) >= 4 and q in a and len(a.split()) < len(q.split()) + 3):
        return "echo: the answer repeats the question"
    # the example's question is a fine question for any motion; its answer is not an answer about this one
    if example is not None and a == _norm(example[1]):
        return "copied example"
    return None


def check_qa(question: str, answer: str, facts: dict[str, Any], example: tuple[str, str] | None = None,
             cfg: CheckConfig = CheckConfig(), shown: str | None = None, sheet: SheetConfig = SheetConfig()) -> Check:
    """The form check, then (for a pair of good form) every claim's verdict; ``.reason`` is why to reject."""
    form = check_form(question, answer, example, cfg)
    return Check([], form) if form else check(question, answer, facts, shown, sheet)


def check_pair(question: str, answer: str, facts: dict[str, Any], example: tuple[str, str] | None = None,
               cfg: CheckConfig = CheckConfig(), shown: str | None = None) -> str | None:
    """Why the pair must be rejected, or None when every claim is true (``shown``: the fact sheet the model
    saw; default every fact line)."""
    return check_qa(question, answer, facts, example, cfg, shown).reason
