"""Chat completions from any OpenAI-compatible server (OpenAI, vLLM, Ollama, llama.cpp, llm-katan).

The SDK's own retries are switched off (``max_retries=0``) so that what is retried, how often and
how long we wait is decided here, explicitly: 429, 408/409, 5xx, timeouts, dropped connections and
unparsable bodies are retried with backoff; other 4xx fail at once (each retry is a debug line; the
client's summary counts them). The API key is read from the environment variable named in params and
never leaves the SDK client: it is scrubbed from every error text before the text is shortened.
"""
from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from typing import Any
from urllib.parse import urlparse

import openai
from openai.types.chat import ChatCompletion

from tasks.llm.config import LLMConfig
from tasks.llm.records import ChatRequest, ChatResult, TokenUsage
from tasks.llm.retry import Backoff, RateLimiter, retry_after_seconds

log = logging.getLogger(__name__)

# Local servers (llm-katan, vLLM, Ollama) accept any key but the SDK insists on one.
PLACEHOLDER_KEY = "sk-no-key"
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
_RETRY_STATUS = {408, 409, 429}
ERROR_CHARS = 300  # an error text is cut to this length, after the key is scrubbed from it


class MalformedResponse(RuntimeError):
    """HTTP 200, but the body is not a usable chat completion."""


def api_key_from_env(cfg: LLMConfig) -> str:
    key = os.environ.get(cfg.api_key_env, "").strip()
    if key:
        return key
    if urlparse(cfg.base_url).hostname not in _LOOPBACK:
        log.warning("environment variable %s is not set; calling %s without a real key", cfg.api_key_env, cfg.base_url)
    return PLACEHOLDER_KEY


def _retryable(exc: Exception) -> bool:
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in _RETRY_STATUS or exc.status_code >= 500
    return isinstance(
        exc, (openai.APIConnectionError, openai.APIResponseValidationError, json.JSONDecodeError, MalformedResponse)
    )


def _server_wait(exc: Exception) -> float | None:
    response = getattr(exc, "response", None)
    return retry_after_seconds(response.headers) if response is not None else None


class OpenAIBackend:
    name = "openai"

    def __init__(self, cfg: LLMConfig, api_key: str) -> None:
        self.model = cfg.model
        self._cfg = cfg
        self._secret = api_key
        self._client = openai.OpenAI(api_key=api_key, base_url=cfg.base_url, timeout=cfg.timeout_s, max_retries=0)
        self._backoff = Backoff(cfg.backoff_base_s, cfg.backoff_max_s)
        self._limiter = RateLimiter(cfg.requests_per_minute)

    @property
    def identity(self) -> dict[str, Any]:
        """Another server can serve other weights under the same model name, so the URL is part of the cache key."""
        return {"base_url": self._cfg.base_url.rstrip("/"), "token_limit_param": self._cfg.token_limit_param}

    def generate(self, requests: Sequence[ChatRequest], on_result: Callable[[int, ChatResult], None]) -> None:
        """Run requests concurrently; ``on_result(index, result)`` is called in this thread as each ends."""
        pool = ThreadPoolExecutor(self._cfg.max_concurrency, thread_name_prefix="llm-openai")
        futures: dict[Future[ChatResult], int] = {pool.submit(self._complete, r): i for i, r in enumerate(requests)}
        try:
            for future in as_completed(futures):
                on_result(futures[future], future.result())
        finally:
            # On Ctrl-C or a callback error, do not start the queued requests.
            pool.shutdown(wait=True, cancel_futures=True)

    def close(self) -> None:
        self._client.close()

    def _complete(self, request: ChatRequest) -> ChatResult:
        attempts = self._cfg.max_retries + 1
        for attempt in range(1, attempts + 1):
            self._limiter.wait()
            try:
                return self._to_result(request, self._create(request), attempt)
            except (openai.OpenAIError, json.JSONDecodeError, MalformedResponse) as exc:
                reason = self._describe(exc)
                if not _retryable(exc) or attempt == attempts:
                    break
                wait = self._backoff.delay(attempt, _server_wait(exc))
                log.debug("item %r attempt %d/%d failed (%s); retrying in %.2fs", request.key, attempt, attempts,
                          reason, wait)
                time.sleep(wait)
        return ChatResult(
            key=request.key, text="", model=self.model, backend=self.name, attempts=attempt,
            error=f"{reason} (gave up after {attempt} attempt{'s' if attempt > 1 else ''})",
        )

    def _create(self, request: ChatRequest) -> ChatCompletion:
        limit = {self._cfg.token_limit_param: request.max_tokens}
        return self._client.chat.completions.create(
            model=self.model,
            messages=request.messages,  # type: ignore[arg-type]
            temperature=request.temperature,
            seed=request.seed,
            **limit,  # type: ignore[arg-type]
        )

    def _to_result(self, request: ChatRequest, completion: object, attempt: int) -> ChatResult:
        # Lenient SDK parsing can hand back a string (non-JSON content type) or a half-filled object.
        choices = getattr(completion, "choices", None) if isinstance(completion, ChatCompletion) else None
        if not choices:
            raise MalformedResponse(f"not a chat completion: {str(completion)!r}")  # cut in _describe, after the scrub
        message = getattr(choices[0], "message", None)
        text = getattr(message, "content", None)
        if not isinstance(text, str):
            raise MalformedResponse("chat completion without message content")
        usage = getattr(completion, "usage", None)
        return ChatResult(
            key=request.key,
            text=text,
            model=getattr(completion, "model", None) or self.model,
            backend=self.name,
            usage=TokenUsage(getattr(usage, "prompt_tokens", 0) or 0, getattr(usage, "completion_tokens", 0) or 0),
            finish_reason=getattr(choices[0], "finish_reason", None),
            attempts=attempt,
        )

    def _describe(self, exc: Exception) -> str:
        """The error in one short line, the key scrubbed first: cutting first could leave a key's prefix."""
        status = getattr(exc, "status_code", None)
        text = f"{type(exc).__name__}{f' {status}' if status else ''}: {exc}"
        if self._secret:
            text = text.replace(self._secret, "***")
        return text[:ERROR_CHARS]
