"""The evaluate stage's LLM judge: rubric prompts, strictly parsed verdicts, and checks on the judge itself.

Each rubric asks for one JSON object and nothing else:

- ``score5`` (mmWalk-style): ``{"score": s}``, s an integer 1-5: how well the answer matches the reference
  answer to the question (5 = the same facts, nothing wrong or missing; 1 = wrong, contradictory or no answer).
- ``correct_halluc`` (mmExpert-style): ``{"correctness": c, "hallucination": h}``, integers 0-2.
  correctness: 0 = wrong or contradicts the reference, 1 = partly right, 2 = every fact of the reference right.
  hallucination counts what the answer adds that the reference does not support: 0 = nothing invented,
  1 = some invented detail, 2 = mostly invented. Higher is worse here, unlike a scale where 2 means "none".
- ``same_facts``: ``{"same_facts": true | false}``: does the answer state the same facts as the reference?
  Scored 1.0 for yes, 0.0 for no.

Every request goes through tasks.llm (embedded model or an OpenAI-compatible server, whichever params
name) at temperature 0. Every reply is cached, unparsable ones too, so a rerun reproduces each verdict and
sends only the requests that failed. Replies are validated by pydantic models (extra keys forbidden; strict
types: no "4", 2.5 or true for an integer, no 1 or "yes" for a bool; integers in range) through
``LLMClient.generate_structured``, which re-asks a reply that does not validate, with the reason, up to
``max_attempts`` times; then the verdict is "unparsable", never a score. The only leniency is the project's
JSON extraction: a complete object inside prose or a ```json fence is read as written. No digit is fished
out of free text. A request the infrastructure could not answer (timeout, 5xx, refused connection) is
"failed" and carries no scores.

The question, reference and answer reach the prompt verbatim: nothing is normalised, so "left" and "right"
(which the motion facts depend on) are judged as written. Each prompt holds one short worked example, in
the same layout as the real item, because a small judge model needs one to answer in JSON.

The "swapped" variant puts the answer before the reference and words the instructions differently; judging
the same items with both variants and comparing (:func:`flip_rate`, :func:`cohen_kappa`) measures how much
the verdicts depend on the prompt's format rather than on the answers. :func:`same_family` flags a judge
from the same model family as the model that wrote the answers (preference leakage).
"""
from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tasks.llm.client import LLMClient
from tasks.llm.records import ChatRequest
from tasks.llm.structured import StructuredResult

log = logging.getLogger(__name__)

RUBRICS = ("score5", "correct_halluc", "same_facts")
_VARIANTS = ("plain", "swapped")
_MAX_TOKENS = 40  # the longest reply, {"correctness": 2, "hallucination": 0}, is about 15 tokens


@dataclass(frozen=True)
class JudgeItem:
    key: str  # unique id of (system, item), e.g. "tuned/test_qa_007"
    question: str
    reference: str  # the reference answer (for captions: one reference caption)
    answer: str  # the answer being judged


@dataclass
class Verdict:
    key: str
    rubric: str
    variant: str
    status: str  # "ok" | "unparsable" | "failed"
    scores: dict[str, float]  # "ok" only, e.g. {"score": 4.0}; empty otherwise
    attempts: int
    raw: str  # the last reply ("" on failure)
    error: str | None  # the infrastructure error, for "failed"


class _Reply(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _Score5(_Reply):
    score: int = Field(ge=1, le=5)


class _CorrectHalluc(_Reply):
    correctness: int = Field(ge=0, le=2)
    hallucination: int = Field(ge=0, le=2)


class _SameFacts(_Reply):
    same_facts: bool


@dataclass(frozen=True)
class _Rubric:
    schema: type[_Reply]
    instructions: dict[str, str]  # by variant
    ask: dict[str, str]  # the closing line of the user turn, by variant
    example: JudgeItem
    example_reply: dict[str, Any]


_FACTS_NOTE = "Left versus right, counts, order and directions are facts: a wrong one is a wrong fact."

_SPECS: dict[str, _Rubric] = {
    "score5": _Rubric(
        _Score5,
        {
            "plain": (
                "You grade an answer against the reference answer to the same question. Rate how well the answer "
                "matches the reference with one integer from 1 to 5:\n"
                "5 = the same facts as the reference, nothing wrong or missing;\n"
                "4 = the same facts but one small detail missing or vague;\n"
                "3 = partly right: some facts match, others are missing or wrong;\n"
                "2 = mostly wrong or missing;\n"
                "1 = wrong, contradicting the reference, or no answer.\n"
                f"Judge the meaning, not the wording. {_FACTS_NOTE}\n"
                'Reply with only a JSON object whose one key "score" holds that integer.'
            ),
            "swapped": (
                "Score the agreement between a candidate answer and the ground-truth answer to a question, "
                "from 1 (no agreement: wrong, contradictory or no answer) to 5 (full agreement: the same facts, "
                "nothing wrong or missing). 4: one small detail missing or vague. 3: some facts agree, others "
                f"are missing or wrong. 2: mostly wrong or missing. Only meaning counts, not wording. {_FACTS_NOTE}\n"
                'Output nothing but a JSON object with the key "score" set to the integer.'
            ),
        },
        {"plain": "How well does the answer match the reference? Reply with the JSON only.",
         "swapped": "Score the agreement; output the JSON only."},
        JudgeItem("example", "Which hand does the person raise, and how often?",
                  "The person raises the right hand twice.", "The person raises the right hand."),
        {"score": 4},
    ),
    "correct_halluc": _Rubric(
        _CorrectHalluc,
        {
            "plain": (
                "You grade an answer against the reference answer to the same question, on two scales.\n"
                "correctness: 0 = wrong or contradicts the reference; 1 = partly right; "
                "2 = every fact of the reference stated correctly.\n"
                "hallucination (content the reference does not support): 0 = nothing invented; "
                "1 = some invented detail; 2 = mostly invented.\n"
                f"Judge the meaning, not the wording. {_FACTS_NOTE}\n"
                'Reply with only a JSON object with the integer keys "correctness" and "hallucination".'
            ),
            "swapped": (
                "Check a candidate answer against the ground-truth answer to a question.\n"
                "hallucination, for what the candidate claims beyond the ground truth: 0 if it claims nothing "
                "extra, 1 if it adds an unsupported detail, 2 if most of it is made up.\n"
                "correctness, for the ground truth's facts: 2 if all are right, 1 if some are, 0 if it is wrong "
                f"or contradicts the ground truth.\nOnly meaning counts, not wording. {_FACTS_NOTE}\n"
                'Output nothing but a JSON object with integer keys "correctness" and "hallucination".'
            ),
        },
        {"plain": "Grade correctness and hallucination. Reply with the JSON only.",
         "swapped": "Rate correctness and hallucination; output the JSON only."},
        JudgeItem("example", "What does the person do?", "The person raises the right hand twice.",
                  "The person raises the right hand twice, then sits down."),
        {"correctness": 2, "hallucination": 1},
    ),
    "same_facts": _Rubric(
        _SameFacts,
        {
            "plain": (
                "You decide whether an answer states the same facts as the reference answer to the same question. "
                "Wording may differ; a missing, extra or different fact makes it not the same. "
                f"{_FACTS_NOTE}\n"
                'Reply with only a JSON object whose one key "same_facts" is true or false.'
            ),
            "swapped": (
                "Does a candidate answer say what the ground-truth answer says, fact for fact? Different words "
                f"are fine; a fact missing, added or changed is not. {_FACTS_NOTE}\n"
                'Output nothing but a JSON object with the key "same_facts" set to true or false.'
            ),
        },
        {"plain": "Does the answer state the same facts as the reference? Reply with the JSON only.",
         "swapped": "Same facts? Output the JSON only."},
        JudgeItem("example", "Which hand does the person raise, and how often?",
                  "The person raises the right hand twice.", "The person raises the left hand twice."),
        {"same_facts": False},
    ),
}


def _layout(item: JudgeItem, variant: str) -> str:
    """The item as the prompt shows it; the texts are inserted exactly as given."""
    if variant == "plain":
        return f"Question: {item.question}\nReference answer: {item.reference}\nAnswer to grade: {item.answer}"
    return f"Question: {item.question}\nCandidate answer: {item.answer}\nGround-truth answer: {item.reference}"


def _check(rubrics: Sequence[str], variant: str) -> None:
    unknown = [r for r in rubrics if r not in _SPECS]
    if unknown:
        raise ValueError(f"unknown rubric(s) {unknown}; choose from {list(RUBRICS)}")
    if variant not in _VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; choose from {list(_VARIANTS)}")


def judge_requests(items: Sequence[JudgeItem], rubric: str, variant: str = "plain") -> list[ChatRequest]:
    """One request per item: the rubric as the system turn, its worked example as one user/assistant exchange,
    then the item as the last user turn.

    The example is an exchange, not part of the system turn: SmolLM2-135M answered none of 30 requests in JSON
    with the example inside the system turn, and 36 of 36 with it as an exchange.
    """
    _check([rubric], variant)
    spec = _SPECS[rubric]
    ask = spec.ask[variant]
    lead = [
        {"role": "system", "content": spec.instructions[variant]},
        {"role": "user", "content": f"{_layout(spec.example, variant)}\n{ask}"},
        {"role": "assistant", "content": json.dumps(spec.example_reply)},
    ]
    return [
        ChatRequest([*lead, {"role": "user", "content": f"{_layout(item, variant)}\n{ask}"}],
                    key=f"{item.key}/{rubric}/{variant}", max_tokens=_MAX_TOKENS, temperature=0.0)
        for item in items
    ]


def _verdict(item: JudgeItem, rubric: str, variant: str, result: StructuredResult) -> Verdict:
    if result.error is not None:
        return Verdict(item.key, rubric, variant, "failed", {}, result.attempts, "", result.error)
    if result.value is None:
        return Verdict(item.key, rubric, variant, "unparsable", {}, result.attempts, result.raw, None)
    # float(True) == 1.0: a same_facts "yes" scores 1.0, "no" 0.0
    scores = {name: float(value) for name, value in result.value.model_dump().items()}
    return Verdict(item.key, rubric, variant, "ok", scores, result.attempts, result.raw, None)


def _any_reply(text: str) -> bool:
    return True


def judge(client: LLMClient, items: Sequence[JudgeItem], rubrics: Sequence[str] = RUBRICS, *,
          variant: str = "plain", max_attempts: int = 2, max_tokens: int = _MAX_TOKENS) -> list[Verdict]:
    """A verdict for every item under every rubric, rubric by rubric in the order given, items in order."""
    _check(rubrics, variant)
    repeated = [key for key, n in Counter(item.key for item in items).items() if n > 1]
    if repeated:
        raise ValueError(f"item keys must be unique; repeated: {repeated[:5]}")
    verdicts: list[Verdict] = []
    for rubric in rubrics:
        requests = [replace(r, max_tokens=max_tokens) for r in judge_requests(items, rubric, variant)]
        # Every reply is cached, unparsable ones too: at temperature 0 asking again gives the same reply, so a
        # rerun reproduces each verdict and sends only the requests that failed.
        results = client.generate_structured(requests, _SPECS[rubric].schema, max_attempts, stage="evaluate",
                                             usable=_any_reply)
        batch = [_verdict(item, rubric, variant, result) for item, result in zip(items, results)]
        status = Counter(v.status for v in batch)
        log.info("judge %s/%s: %d ok, %d unparsable, %d failed", rubric, variant, status["ok"],
                 status["unparsable"], status["failed"])
        verdicts += batch
    return verdicts


def judge_identity(client: LLMClient) -> dict[str, Any]:
    """Which judge gave the scores: backend, model, its family, and what else decides its answers."""
    backend = client.backend
    return {"backend": backend.name, "model": backend.model, "family": model_family(backend.model),
            "identity": dict(backend.identity)}


_SIZE = re.compile(r"(\d+x)?\d+(\.\d+)?[kmbt]")  # 135m, 7b, 0.5b, 8x7b
_DATE_OR_VERSION = re.compile(r"\d{4,}|v\d+(\.\d+)*")  # 0613, 2024, 20241022, v0.2
_VARIANT_WORDS = frozenset({"instruct", "chat", "base", "it", "hf", "mini", "nano", "turbo", "preview", "latest"})


def model_family(name: str) -> str:
    """The model family a name belongs to, for telling judge and writer apart.

    Rule: drop any ``org/`` prefix, lower-case, split on ``-``, ``_``, ``:`` and spaces, and keep the parts
    before the first size (135m, 7b, 8x7b), date or version tag (0613, 20241022, v0.2) or variant word
    (instruct, chat, base, it, mini, turbo, ...), never fewer than the first part; join them with ``-``.
    "SmolLM2-135M-Instruct" -> "smollm2", "gpt-4o-mini" -> "gpt-4o", "Qwen2.5-7B-Instruct" -> "qwen2.5",
    "llama-3.1-8b" -> "llama-3.1". A vendor word in the name is kept ("Meta-Llama-3.1-8B" -> "meta-llama-3.1"),
    so compare names spelled the same way.
    """
    parts = [p for p in re.split(r"[-_:\s]+", name.rsplit("/", 1)[-1].lower()) if p]
    if not parts:
        raise ValueError(f"no model name in {name!r}")
    family = parts[:1]
    for part in parts[1:]:
        if _SIZE.fullmatch(part) or _DATE_OR_VERSION.fullmatch(part) or part in _VARIANT_WORDS:
            break
        family.append(part)
    return "-".join(family)


def same_family(judge_model: str, writer_model: str) -> bool:
    """True when the judge shares the writer's family: it may favour answers worded like its own."""
    return model_family(judge_model) == model_family(writer_model)


def cohen_kappa(a: Sequence[int], b: Sequence[int]) -> float:
    """Cohen's kappa of two raters' labels (binary or categorical) on the same items.

    (observed agreement - chance agreement) / (1 - chance agreement), chance from each rater's own label
    shares. NaN when chance agreement is already total (both raters gave one and the same label throughout).
    """
    if len(a) != len(b) or not a:
        raise ValueError(f"need two equally long, non-empty label lists, got {len(a)} and {len(b)}")
    n = len(a)
    observed = sum(x == y for x, y in zip(a, b)) / n
    counts_a, counts_b = Counter(a), Counter(b)
    chance = sum(counts_a[label] * counts_b[label] for label in counts_a) / n**2
    if chance == 1.0:
        return float("nan")
    return (observed - chance) / (1.0 - chance)


def _by_key(verdicts: Sequence[Verdict]) -> dict[tuple[str, str], Verdict]:
    indexed: dict[tuple[str, str], Verdict] = {}
    for v in verdicts:
        if (v.rubric, v.key) in indexed:
            raise ValueError(f"two verdicts for {v.key!r} under {v.rubric!r}")
        indexed[v.rubric, v.key] = v
    return indexed


def flip_rate(first: Sequence[Verdict], second: Sequence[Verdict]) -> dict[str, Any]:
    """Per rubric, how often two judgings of the same items disagree.

    Only keys judged "ok" in both count: ``compared`` of them, ``flipped`` with different scores, ``rate`` =
    flipped / compared (None when nothing compares), ``flipped_by_score`` per score name, and ``not_compared``
    for keys either side left unparsable, failed or missing.
    """
    a, b = _by_key(first), _by_key(second)
    report: dict[str, Any] = {}
    for rubric in [r for r in RUBRICS if any(r == k[0] for k in (*a, *b))]:
        keys = sorted({k for r, k in (*a, *b) if r == rubric})
        pairs = [(a.get((rubric, k)), b.get((rubric, k))) for k in keys]
        both = [(x, y) for x, y in pairs if x is not None and y is not None and x.status == y.status == "ok"]
        flipped = [(x, y) for x, y in both if x.scores != y.scores]
        by_score = Counter(name for x, y in flipped for name in x.scores if x.scores[name] != y.scores.get(name))
        report[rubric] = {"compared": len(both), "flipped": len(flipped),
                          "rate": len(flipped) / len(both) if both else None,
                          "flipped_by_score": dict(sorted(by_score.items())), "not_compared": len(keys) - len(both)}
    return report
