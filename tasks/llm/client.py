"""The one interface stages use to talk to an LLM: cache in front, a backend behind, usage on the side."""
from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, Protocol

from pydantic import BaseModel

from tasks.llm.cache import ResponseCache, cache_key, request_fingerprint
from tasks.llm.config import LLMConfig
from tasks.llm.records import ChatRequest, ChatResult
from tasks.llm.structured import StructuredResult, generate_structured
from tasks.llm.usage import UsageMeter

log = logging.getLogger(__name__)


class Backend(Protocol):
    name: str
    model: str

    def generate(self, requests: Sequence[ChatRequest], on_result: Callable[[int, ChatResult], None]) -> None:
        """Answer every request; call ``on_result(index, result)`` once per request as each finishes."""

    def close(self) -> None: ...


class LLMClient:
    def __init__(self, backend: Backend, config: LLMConfig, cache: ResponseCache | None = None) -> None:
        self.backend = backend
        self.config = config
        self.cache = cache
        self.usage = UsageMeter(config.prices_per_mtok)

    def resolve(self, request: ChatRequest) -> ChatRequest:
        """Fill unset sampling settings from params, so the cache key sees the values actually used."""
        return replace(
            request,
            max_tokens=self.config.max_tokens if request.max_tokens is None else request.max_tokens,
            temperature=self.config.temperature if request.temperature is None else request.temperature,
            seed=self.config.seed if request.seed is None else request.seed,
        )

    def complete_many(self, requests: Sequence[ChatRequest], stage: str = "default") -> list[ChatResult]:
        """Answer all requests, in order: cached ones at once, the rest batched/concurrently.

        Each fresh success is cached the moment it arrives; failures come back with ``error`` set and
        are not cached, so the next run retries exactly them.
        """
        resolved = [self.resolve(r) for r in requests]
        fingerprints = [request_fingerprint(self.backend.name, self.backend.model, r) for r in resolved]
        keys = [cache_key(f) for f in fingerprints]
        results: list[ChatResult | None] = [None] * len(resolved)
        # Identical requests in one call are generated once; the copies count as cached.
        to_send: dict[str, list[int]] = {}
        for i, (request, key) in enumerate(zip(resolved, keys)):
            hit = self.cache.get(key, request.key) if self.cache is not None else None
            if hit is not None:
                results[i] = hit
            else:
                to_send.setdefault(key, []).append(i)
        firsts = [indices[0] for indices in to_send.values()]

        def on_result(j: int, result: ChatResult) -> None:
            first = firsts[j]
            if result.error is None and self.cache is not None:
                self.cache.put(keys[first], fingerprints[first], result)
            elif result.error is not None:
                log.warning("LLM request %r failed: %s", result.key, result.error)
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
        failed = sum(r.error is not None for r in results)
        log.info(
            "LLM %s/%s stage %s: %d requests, %d from cache, %d sent, %d failed",
            self.backend.name, self.backend.model, stage, len(results), len(results) - len(firsts), len(firsts), failed,
        )
        return results  # type: ignore[return-value]

    def generate_structured(
        self,
        requests: Sequence[ChatRequest],
        schema: type[BaseModel],
        max_attempts: int = 3,
        stage: str = "default",
    ) -> list[StructuredResult]:
        """Parse each reply into ``schema``; see :func:`tasks.llm.structured.generate_structured`."""
        return generate_structured(self, requests, schema, max_attempts, stage)

    def close(self) -> None:
        self.backend.close()
        if self.cache is not None:
            self.cache.close()

    def __enter__(self) -> LLMClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def make_client(cfg: dict[str, Any]) -> LLMClient:
    """Build the client the ``llm:`` params section describes (relative paths are from the cwd)."""
    config = LLMConfig.from_params(cfg)
    if config.backend == "embedded":
        from tasks.llm.embedded import EmbeddedBackend

        backend: Backend = EmbeddedBackend(config)
    else:
        from tasks.llm.openai_backend import OpenAIBackend, api_key_from_env

        backend = OpenAIBackend(config, api_key_from_env(config))
    cache = ResponseCache(config.cache) if config.cache else None
    return LLMClient(backend, config, cache)
