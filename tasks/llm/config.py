"""The ``llm:`` section of params.yaml, validated once (tasks/common/config.py) so typos fail before any request."""
from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from tasks.common.config import Section
from tasks.common.params import ParamsError


class LLMConfigError(ParamsError):
    """The backend cannot be set up from the ``llm:`` section (e.g. no converted model where it points)."""


class Prices(Section):
    """Price per 1M tokens (any currency, used consistently)."""

    prompt: float = Field(0.0, ge=0)
    completion: float = Field(0.0, ge=0)


class LLMConfig(Section):
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
