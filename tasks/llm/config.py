"""The ``llm:`` section of params.yaml, validated once so typos fail loudly before any request."""
from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


class LLMConfigError(ValueError):
    """The ``llm:`` params section is invalid or the backend cannot be set up."""


class Prices(BaseModel):
    """Price per 1M tokens (any currency, used consistently)."""

    model_config = ConfigDict(extra="forbid")
    prompt: float = Field(0.0, ge=0)
    completion: float = Field(0.0, ge=0)


class LLMConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: Literal["embedded", "openai"] = "embedded"
    model: str = "SmolLM2-135M-Instruct"
    # embedded backend
    model_dir: str = "models/smollm2-135m-instruct"
    batch_size: int = Field(8, ge=1)
    torch_threads: int = Field(2, ge=1)
    # openai backend
    base_url: str = "http://127.0.0.1:8000/v1"
    api_key_env: str = "OPENAI_API_KEY"
    token_limit_param: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"
    max_concurrency: int = Field(4, ge=1)
    timeout_s: float = Field(60.0, gt=0)
    max_retries: int = Field(4, ge=0)
    backoff_base_s: float = Field(0.5, ge=0)
    backoff_max_s: float = Field(30.0, ge=0)
    requests_per_minute: float | None = Field(600.0, ge=0)
    # sampling defaults for requests that do not set their own
    temperature: float = Field(0.0, ge=0)
    max_tokens: int = Field(256, ge=1)
    seed: int = 0
    # bookkeeping
    cache: str | None = "data/cache/llm.sqlite"
    prices_per_mtok: Prices | None = None

    @field_validator("api_key_env")
    @classmethod
    def _is_variable_name(cls, value: str) -> str:
        # Guards against a key pasted into params.yaml; the message must not echo the value.
        if not re.fullmatch(r"[A-Z_][A-Z0-9_]*", value):
            raise ValueError("must be the NAME of an environment variable (upper case), never the key itself")
        return value

    @classmethod
    def from_params(cls, section: dict[str, Any]) -> LLMConfig:
        try:
            return cls.model_validate(section or {})
        except ValidationError as exc:
            problems = "; ".join(
                f"llm.{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_input=False)
            )
            raise LLMConfigError(f"params.yaml: {problems}") from None
