"""The records that cross the LLM layer: what a stage asks for and what it gets back."""
from __future__ import annotations

from dataclasses import dataclass, field

ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class TokenUsage:
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass
class ChatRequest:
    """One chat completion to run.

    ``None`` sampling settings take the ``llm:`` params defaults; ``key`` is the caller's item id and
    is only bookkeeping (it is not part of the cache key, so identical prompts share one answer).
    """

    messages: list[dict[str, str]]
    key: str = ""
    max_tokens: int | None = None
    temperature: float | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        if not self.messages:
            raise ValueError(f"request {self.key!r}: no messages")
        for msg in self.messages:
            if msg.get("role") not in ROLES or not isinstance(msg.get("content"), str):
                raise ValueError(
                    f"request {self.key!r}: each message needs a role in {ROLES} and string content, got {msg!r}"
                )


@dataclass
class ChatResult:
    """The answer to one request, or why there is none.

    ``error`` is an infrastructure failure that survived every retry (timeout, 5xx, bad body); such
    a result has empty ``text`` and must never be scored as if the model had answered.
    """

    key: str
    text: str
    model: str
    backend: str
    usage: TokenUsage = field(default_factory=TokenUsage)
    finish_reason: str | None = None
    cached: bool = False
    attempts: int = 1
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None
