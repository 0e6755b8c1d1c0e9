"""The LLM layer: one client for every stage that talks to a language model.

    client = make_client(load_params(section="llm"))
    results = client.complete_many([ChatRequest([{"role": "user", "content": "Hi"}], key="a")])
"""
from tasks.llm.client import LLMClient, make_client
from tasks.llm.config import LLMConfig, LLMConfigError
from tasks.llm.records import ChatRequest, ChatResult, TokenUsage
from tasks.llm.structured import StructuredResult, extract_json, parse_reply
from tasks.llm.usage import UsageMeter

__all__ = [
    "ChatRequest", "ChatResult", "LLMClient", "LLMConfig", "LLMConfigError", "StructuredResult",
    "TokenUsage", "UsageMeter", "extract_json", "make_client", "parse_reply",
]
