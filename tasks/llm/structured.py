"""Structured answers: pull a JSON value out of a reply, validate it, and retry with feedback.

A retry sends the original conversation plus the rejected reply and a user turn naming what was
wrong (the parse or schema error), with the seed advanced by one per attempt: the feedback changes
greedy output too, and the new seed gives sampled backends a fresh draw.  A reply that does not parse
is never cached (unless the caller can still use it), so a rerun asks again instead of replaying it.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from tasks.llm.records import ChatRequest, TokenUsage

if TYPE_CHECKING:
    from tasks.llm.client import LLMClient

M = TypeVar("M", bound=BaseModel)
_DECODER = json.JSONDecoder()


class NoJSON(ValueError):
    """The reply holds no decodable JSON object or array."""


def extract_json(text: str) -> Any:
    """The first JSON object or array in ``text`` (prose and ```json fences around it are ignored)."""
    first_error: json.JSONDecodeError | None = None
    for pos, char in enumerate(text):
        if char not in "{[":
            continue
        try:
            value, _ = _DECODER.raw_decode(text, pos)
            return value
        except json.JSONDecodeError as exc:
            first_error = first_error or exc
    if first_error is not None:
        raise NoJSON(f"invalid JSON: {first_error.msg} at character {first_error.pos}")
    raise NoJSON("no JSON object or array in the reply")


def parse_reply(text: str, schema: type[M]) -> tuple[M | None, str | None]:
    """``(value, None)`` when ``text`` holds JSON matching ``schema``, else ``(None, reason)``."""
    try:
        return schema.model_validate(extract_json(text)), None
    except NoJSON as exc:
        return None, str(exc)
    except ValidationError as exc:
        problems = [f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}" for e in exc.errors(include_input=False)]
        return None, "JSON does not match the schema: " + "; ".join(problems[:3])


def with_feedback(request: ChatRequest, rejected: str, reason: str, attempt: int) -> ChatRequest:
    """The request for ``attempt`` (2, 3, ...) after ``rejected`` was refused for ``reason``."""
    note = f"That reply could not be used ({reason}). Answer again with only the JSON, nothing else."
    return replace(
        request,
        messages=[*request.messages, {"role": "assistant", "content": rejected}, {"role": "user", "content": note}],
        seed=request.seed + attempt - 1,
    )


@dataclass
class StructuredResult:
    """A parsed answer, or a reject with the last raw reply and why it was refused.

    ``error`` marks an infrastructure failure (no reply at all) as opposed to a bad reply (``reason``).
    """

    key: str
    value: BaseModel | None
    raw: str
    reason: str | None
    attempts: int
    error: str | None = None
    usage: TokenUsage = field(default_factory=TokenUsage)

    @property
    def ok(self) -> bool:
        return self.value is not None


def generate_structured(
    client: LLMClient,
    requests: Sequence[ChatRequest],
    schema: type[BaseModel],
    max_attempts: int = 3,
    stage: str = "default",
    usable: Callable[[str], bool] | None = None,
) -> list[StructuredResult]:
    """Ask until each reply parses into ``schema`` or ``max_attempts`` replies were refused.

    Every attempt is one batched ``complete_many`` over the items still pending. Replies that parse, or
    that ``usable(text)`` accepts (qa salvages broken JSON), are cached like any answer, so a re-run
    reproduces those decisions for free; the others are asked again on the next run.
    """
    if max_attempts < 1:
        raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")

    def keep(text: str) -> bool:
        return parse_reply(text, schema)[0] is not None or (usable is not None and usable(text))

    base = [client.resolve(r) for r in requests]
    current = {i: r for i, r in enumerate(base)}
    results: dict[int, StructuredResult] = {}
    for attempt in range(1, max_attempts + 1):
        pending = sorted(current)
        replies = client.complete_many([current[i] for i in pending], stage=stage, keep=keep)
        current = {}
        for i, reply in zip(pending, replies):
            spent = results[i].usage if i in results else TokenUsage()
            usage = TokenUsage(
                spent.prompt_tokens + reply.usage.prompt_tokens,
                spent.completion_tokens + reply.usage.completion_tokens,
            )
            if reply.error is not None:
                results[i] = StructuredResult(reply.key, None, "", None, attempt, reply.error, usage)
                continue
            value, reason = parse_reply(reply.text, schema)
            results[i] = StructuredResult(reply.key, value, reply.text, reason, attempt, None, usage)
            if value is None and attempt < max_attempts:
                current[i] = with_feedback(base[i], reply.text, reason, attempt + 1)
        if not current:
            break
    return [results[i] for i in range(len(base))]
