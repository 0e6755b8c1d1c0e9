"""The one interface stages use to talk to an LLM: cache in front, a backend behind, usage on the side.

Logging stays short however many requests a stage sends: the first failure of each kind is a warning,
the rest (and each call's tally) are debug lines, and closing the client logs one summary line.
"""
from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Protocol

from pydantic import BaseModel

from tasks.common.config import validate_section
from tasks.llm.cache import ResponseCache, cache_key, request_fingerprint
from tasks.llm.config import LLMConfig
from tasks.llm.records import ChatRequest, ChatResult
from tasks.llm.structured import StructuredResult, generate_structured
from tasks.llm.usage import UsageMeter

log = logging.getLogger(__name__)


class Backend(Protocol):
    name: str
    model: str

    @property
    def identity(self) -> dict[str, Any]:
        """What besides the model name decides its answers (server URL, weights digest): part of the cache key."""

    def generate(self, requests: Sequence[ChatRequest], on_result: Callable[[int, ChatResult], None]) -> None:
        """Answer every request; call ``on_result(index, result)`` once per request as each finishes."""

    def close(self) -> None: ...


class LLMClient:
    def __init__(self, backend: Backend, config: LLMConfig, cache: ResponseCache | None = None) -> None:
        self.backend = backend
        self.config = config
        self.cache = cache
        self.usage = UsageMeter(config.prices_per_mtok)
        self._tally: Counter[str] = Counter()
        self._warned: set[str] = set()

    def resolve(self, request: ChatRequest) -> ChatRequest:
        """Fill unset sampling settings from params, so the cache key sees the values actually used."""
        return replace(
            request,
            max_tokens=self.config.max_tokens if request.max_tokens is None else request.max_tokens,
            temperature=self.config.temperature if request.temperature is None else request.temperature,
            seed=self.config.seed if request.seed is None else request.seed,
        )

    def complete_many(self, requests: Sequence[ChatRequest], stage: str = "default",
                      keep: Callable[[str], bool] | None = None) -> list[ChatResult]:
        """Answer all requests, in order: cached ones at once, the rest batched/concurrently.

        Each fresh success is cached the moment it arrives; failures come back with ``error`` set and
        are not cached, so the next run retries exactly them. ``keep(text)`` (if given) says whether a
        reply is usable: one that is not is neither cached nor taken from the cache, so a bad reply
        never blocks a new try.
        """
        resolved = [self.resolve(r) for r in requests]
        identity = self.backend.identity
        fingerprints = [request_fingerprint(self.backend.name, self.backend.model, identity, r) for r in resolved]
        keys = [cache_key(f) for f in fingerprints]
        results: list[ChatResult | None] = [None] * len(resolved)
        # Identical requests in one call are generated once; the copies count as cached.
        to_send: dict[str, list[int]] = {}
        for i, (request, key) in enumerate(zip(resolved, keys)):
            hit = self.cache.get(key, request.key) if self.cache is not None else None
            if hit is not None and (keep is None or keep(hit.text)):
                results[i] = hit
            else:
                to_send.setdefault(key, []).append(i)
        firsts = [indices[0] for indices in to_send.values()]

        def on_result(j: int, result: ChatResult) -> None:
            first = firsts[j]
            if result.error is None and self.cache is not None and (keep is None or keep(result.text)):
                self.cache.put(keys[first], fingerprints[first], result)
            elif result.error is not None:
                self._report_failure(result)
            results[first] = result
            for dup in to_send[keys[first]][1:]:
                results[dup] = replace(result, key=resolved[dup].key, cached=result.error is None)

        if firsts:
            self.backend.generate([resolved[i] for i in firsts], on_result)
        missing = [resolved[i].key for i, r in enumerate(results) if r is None]
        if missing:
            raise RuntimeError(f"backend {self.backend.name} returned no result for {missing[:5]}")
        for result in results:
            self.usage.add(stage, result)
        tally = Counter(requests=len(results), cached=len(results) - len(firsts), sent=len(firsts),
                        retried=sum(results[i].attempts > 1 for i in firsts),
                        failed=sum(r.error is not None for r in results))
        self._tally.update(tally)
        log.debug("LLM %s/%s stage %s: %d requests, %d from cache, %d sent, %d failed", self.backend.name,
                  self.backend.model, stage, tally["requests"], tally["cached"], tally["sent"], tally["failed"])
        return results  # type: ignore[return-value]

    def _report_failure(self, result: ChatResult) -> None:
        """A warning for the first failure of each kind; the same failure again is a debug line."""
        first = result.error not in self._warned
        self._warned.add(result.error)
        log.log(logging.WARNING if first else logging.DEBUG, "LLM request %r failed: %s%s", result.key, result.error,
                " (further failures like this one are counted in the summary)" if first else "")

    def generate_structured(
        self,
        requests: Sequence[ChatRequest],
        schema: type[BaseModel],
        max_attempts: int = 3,
        stage: str = "default",
        usable: Callable[[str], bool] | None = None,
    ) -> list[StructuredResult]:
        """Parse each reply into ``schema``; see :func:`tasks.llm.structured.generate_structured`."""
        return generate_structured(self, requests, schema, max_attempts, stage, usable)

    def summary(self) -> str:
        t = self._tally
        return (f"LLM {self.backend.name}/{self.backend.model}: {t['requests']} requests, {t['cached']} from the "
                f"cache, {t['sent']} sent ({t['retried']} retried), {t['failed']} failed")

    def close(self) -> None:
        if self._tally["requests"]:
            log.info("%s", self.summary())
        self.backend.close()
        if self.cache is not None:
            self.cache.close()

    def __enter__(self) -> LLMClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def make_client(cfg: LLMConfig | Mapping[str, Any] | None) -> LLMClient:
    """Build the client the ``llm:`` params section describes (relative paths are from the cwd)."""
    config = cfg if isinstance(cfg, LLMConfig) else validate_section(LLMConfig, dict(cfg or {}), "llm")
    if config.backend == "embedded":
        from tasks.llm.embedded import EmbeddedBackend

        backend: Backend = EmbeddedBackend(config)
    else:
        from tasks.llm.openai_backend import OpenAIBackend, api_key_from_env

        backend = OpenAIBackend(config, api_key_from_env(config))
    cache = ResponseCache.open(config.cache) if config.cache else None
    return LLMClient(backend, config, cache)
