"""The LLM layer's pure parts: JSON extraction, feedback retries, config, pacing, cache, usage."""
import logging
import random
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pydantic import BaseModel

from tasks.common.config import validate_section
from tasks.common.params import ParamsError
from tasks.llm.cache import ResponseCache, cache_key, request_fingerprint
from tasks.llm.config import LLMConfig, LLMConfigError, Prices
from tasks.llm.embedded import EmbeddedBackend
from tasks.llm.records import ChatRequest, ChatResult, TokenUsage
from tasks.llm.retry import Backoff, RateLimiter, retry_after_seconds
from tasks.llm.structured import NoJSON, extract_json, parse_reply, with_feedback
from tasks.llm.usage import UsageMeter


class Label(BaseModel):
    activity: str


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": 1}', {"a": 1}),
        ('Sure! Here it is:\n```json\n{"a": [1, 2]}\n```\nAnything else?', {"a": [1, 2]}),
        ('[{"a": 1}, {"a": 2}] trailing words', [{"a": 1}, {"a": 2}]),
        ('an aside {not json} then {"a": "x"}', {"a": "x"}),
    ],
)
def test_extract_json_finds_the_first_value(text, expected):
    assert extract_json(text) == expected


@pytest.mark.parametrize(("text", "reason"), [("no braces here", "no JSON"), ('{"a": 1,}', "invalid JSON")])
def test_extract_json_says_why_it_failed(text, reason):
    with pytest.raises(NoJSON, match=reason):
        extract_json(text)


def test_parse_reply_validates_against_the_schema():
    value, reason = parse_reply('```json\n{"activity": "walking"}\n```', Label)
    assert value == Label(activity="walking") and reason is None
    value, reason = parse_reply('{"action": "walking"}', Label)
    assert value is None and "activity" in reason and "schema" in reason


def test_feedback_retry_carries_the_reject_and_a_new_seed():
    first = ChatRequest(user("label: a man walks"), key="k", max_tokens=20, temperature=0.0, seed=7)
    retry = with_feedback(first, "walking!", "no JSON object or array in the reply", attempt=2)
    assert retry.messages[:1] == first.messages
    assert retry.messages[1] == {"role": "assistant", "content": "walking!"}
    assert retry.messages[2]["role"] == "user" and "no JSON object" in retry.messages[2]["content"]
    assert (retry.seed, retry.key, retry.max_tokens) == (8, "k", 20)
    assert len(first.messages) == 1  # the original is untouched


def test_request_rejects_unknown_roles():
    with pytest.raises(ValueError, match="role"):
        ChatRequest([{"role": "robot", "content": "hi"}], key="x")


def test_config_rejects_typos_and_keys_in_place_of_variable_names():
    with pytest.raises(ParamsError) as err:
        validate_section(LLMConfig, {"max_tokenz": 5}, "llm")
    assert str(err.value) == "params.yaml: llm.max_tokenz: unknown key (did you mean 'max_tokens'?)"
    with pytest.raises(ParamsError, match=r"^params.yaml: llm.prices_per_mtok.promt: unknown key \(did you mean"):
        validate_section(LLMConfig, {"prices_per_mtok": {"promt": 1.0}}, "llm")
    secret = "sk-proj-abc123"
    with pytest.raises(ParamsError) as err:
        validate_section(LLMConfig, {"api_key_env": secret}, "llm")
    assert "llm.api_key_env: Value error, must be the NAME of an environment variable" in str(err.value)
    assert secret not in str(err.value) and err.value.__cause__ is None
    assert issubclass(LLMConfigError, ParamsError)  # a stage reports either on one line


OPENAI = {"base_url": "http://127.0.0.1:8000/v1", "token_limit_param": "max_tokens"}


def test_cache_key_covers_every_setting_but_not_the_item_key():
    base = ChatRequest(user("hi"), key="a", max_tokens=8, temperature=0.0, seed=0)
    key = cache_key(request_fingerprint("openai", "m", OPENAI, base))
    assert cache_key(request_fingerprint("openai", "m", OPENAI, ChatRequest(user("hi"), "b", 8, 0.0, 0))) == key
    variants = [
        request_fingerprint("embedded", "m", OPENAI, base),
        request_fingerprint("openai", "m2", OPENAI, base),
        request_fingerprint("openai", "m", {**OPENAI, "base_url": "http://10.0.0.2:8000/v1"}, base),
        request_fingerprint("openai", "m", {**OPENAI, "token_limit_param": "max_completion_tokens"}, base),
        request_fingerprint("embedded", "m", {"model_digest": "ab12"}, base),
        request_fingerprint("openai", "m", OPENAI, ChatRequest(user("hi!"), "a", 8, 0.0, 0)),
        request_fingerprint("openai", "m", OPENAI, ChatRequest(user("hi"), "a", 9, 0.0, 0)),
        request_fingerprint("openai", "m", OPENAI, ChatRequest(user("hi"), "a", 8, 0.5, 0)),
        request_fingerprint("openai", "m", OPENAI, ChatRequest(user("hi"), "a", 8, 0.0, 1)),
    ]
    assert len({key, *map(cache_key, variants)}) == 1 + len(variants)


def test_the_embedded_key_changes_with_the_weights_not_with_the_folder_name(tmp_path):
    def identity(folder: Path, weights: bytes) -> dict:
        folder.mkdir()
        (folder / "config.json").write_text("{}")
        (folder / "model.safetensors").write_bytes(weights)
        return EmbeddedBackend(LLMConfig(model_dir=str(folder))).identity  # the model itself is never loaded

    first = identity(tmp_path / "a", b"weights")
    assert first == identity(tmp_path / "b", b"weights")
    assert first != identity(tmp_path / "c", b"weights, fine-tuned")
    assert list(first) == ["model_digest"] and len(first["model_digest"]) == 64


def test_cache_persists_successes_and_refuses_failures(tmp_path):
    path = tmp_path / "llm.sqlite"
    request = ChatRequest(user("hi"), key="a", max_tokens=8, temperature=0.0, seed=0)
    fingerprint = request_fingerprint("openai", "m", OPENAI, request)
    ok = ChatResult("a", "hello", "m-served", "openai", TokenUsage(3, 2), "stop")
    cache = ResponseCache(path)
    cache.put(cache_key(fingerprint), fingerprint, ok)
    with pytest.raises(ValueError, match="refusing to cache"):
        cache.put("other", fingerprint, ChatResult("b", "", "m", "openai", error="timeout"))
    cache.close()

    reopened = ResponseCache(path)
    hit = reopened.get(cache_key(fingerprint), "item-7")
    assert (hit.key, hit.text, hit.model, hit.usage) == ("item-7", "hello", "m-served", TokenUsage(3, 2)) and hit.cached
    assert reopened.get("other", "b") is None and len(reopened) == 1
    reopened.close()
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def answer(i: int, size: int = 10) -> ChatResult:
    return ChatResult(f"k{i}", f"answer {i} " + "x" * size, "m", "openai", TokenUsage(1, 1), "stop")


def test_a_full_cache_warns_once_and_still_serves_what_it_holds(tmp_path, caplog):
    path = tmp_path / "llm.sqlite"
    cache = ResponseCache(path)
    cache.put("key0", {"i": 0}, answer(0))
    # No more pages than it has now: the next growth fails as on a full disk (SQLITE_FULL).
    cache._conn.execute(f"PRAGMA max_page_count = {cache._conn.execute('PRAGMA page_count').fetchone()[0]}")
    with caplog.at_level(logging.WARNING, logger="tasks.llm.cache"):
        for i in range(1, 6):
            cache.put(f"key{i}", {"i": i}, answer(i, size=4000))
    assert [r.getMessage() for r in caplog.records] == [
        f"{path}: cannot write the LLM response cache (database or disk is full); going on without caching new "
        "answers (this run's answers are kept, a rerun asks the uncached ones again)"]
    assert cache.get("key0", "x").text == "answer 0 xxxxxxxxxx" and cache.get("key5", "x") is None
    cache.close()
    assert len(ResponseCache(path)) == 1


def test_a_cache_that_cannot_be_opened_is_skipped_with_one_warning(tmp_path, caplog):
    (tmp_path / "file").write_text("not a folder")
    with caplog.at_level(logging.WARNING, logger="tasks.llm.cache"):
        assert ResponseCache.open(tmp_path / "file" / "llm.sqlite") is None
    (record,) = caplog.records
    assert record.getMessage().startswith(f"{tmp_path}/file/llm.sqlite: cannot open the LLM response cache (")
    assert record.getMessage().endswith("); going on without it")


# One process of the shared-cache test: wait for the common start time, open the cache, store one answer.
OPEN_AND_PUT = """
import sys, time
from tasks.llm.cache import ResponseCache
from tasks.llm.records import ChatResult, TokenUsage
path, start, i = sys.argv[1], float(sys.argv[2]), sys.argv[3]
while time.time() < start:
    pass
cache = ResponseCache(path)
cache.put("key" + i, {"i": i}, ChatResult("k" + i, "answer " + i, "m", "openai", TokenUsage(1, 1), "stop"))
cache.close()
"""


def test_processes_opening_one_new_cache_at_the_same_moment_all_succeed(tmp_path):
    # qa shards share llm.cache. Before the retry, 4 processes opening a new file together failed with
    # "database is locked" in 10 of 160 openings here (switching to WAL does not wait for the lock).
    root = Path(__file__).resolve().parents[1]
    for trial in range(8):
        path = str(tmp_path / f"shared{trial}.sqlite")
        start = time.time() + 1.0  # after every interpreter has started
        procs = [subprocess.Popen([sys.executable, "-c", OPEN_AND_PUT, path, str(start), str(i)], cwd=root,
                                  stderr=subprocess.PIPE, text=True) for i in range(4)]
        errors = [proc.communicate(timeout=60)[1] for proc in procs]
        assert [proc.returncode for proc in procs] == [0] * 4, f"trial {trial}: {errors}"
        cache = ResponseCache(path)
        assert len(cache) == 4 and cache.get("key3", "x").text == "answer 3"
        cache.close()


def test_backoff_grows_exponentially_with_bounded_jitter():
    backoff = Backoff(base_s=1.0, cap_s=8.0, rng=random.Random(0))
    for retry, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (6, 8.0)]:
        delays = [backoff.delay(retry) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert max(delays) - min(delays) > ceiling / 10  # really jittered
    assert backoff.delay(1, retry_after_s=5.0) == 5.0  # the server asked for longer
    assert backoff.delay(1, retry_after_s=100.0) == 8.0  # but never beyond the cap


def test_retry_after_header_forms():
    assert retry_after_seconds({"Retry-After": "3"}) == 3.0
    assert retry_after_seconds({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert retry_after_seconds({"Retry-After": "Wed, 21 Oct 2015 07:28:10 GMT"}, now=1445412480.0) == 10.0
    assert retry_after_seconds({"Retry-After": "soon"}) is None
    assert retry_after_seconds({}) is None


def test_rate_limiter_spaces_requests():
    now = [100.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)

    limiter = RateLimiter(per_minute=120, clock=lambda: now[0], sleep=sleep)  # one per 0.5 s
    for _ in range(3):
        limiter.wait()
    assert slept == [0.5, 1.0]  # all asked at t=100: they start at 100, 100.5, 101
    now[0] = 105.0
    limiter.wait()
    assert slept == [0.5, 1.0]  # idle long enough: no wait
    unlimited = RateLimiter(per_minute=None, sleep=sleep)
    unlimited.wait()
    assert len(slept) == 2


def test_usage_meter_prices_only_fresh_tokens():
    meter = UsageMeter(Prices(prompt=2.0, completion=10.0))
    meter.add("qa", ChatResult("a", "x", "m", "openai", TokenUsage(1_000_000, 100_000)))
    meter.add("qa", ChatResult("b", "x", "m", "openai", TokenUsage(500, 50), cached=True))
    meter.add("qa", ChatResult("c", "", "m", "openai", error="timeout"))
    meter.add("judge", ChatResult("d", "x", "m", "openai", TokenUsage(250_000, 0)))
    report = meter.report()
    qa = report["stages"]["qa"]
    assert (qa["requests"], qa["cached"], qa["failed"]) == (3, 1, 1)
    assert (qa["prompt_tokens"], qa["completion_tokens"], qa["cached_prompt_tokens"]) == (1_000_000, 100_000, 500)
    assert qa["cost"] == pytest.approx(2.0 + 1.0)
    assert report["stages"]["judge"]["cost"] == pytest.approx(0.5)
    assert report["total"]["cost"] == pytest.approx(3.5) and report["total"]["requests"] == 4
    assert UsageMeter().report()["total"]["cost"] is None


def test_row_sampler_draws_from_the_tempered_softmax_and_leaves_greedy_rows_alone():
    import torch

    from tasks.llm.embedded import RowSampler

    logits = torch.tensor([2.0, 1.0, 0.0, -1.0])
    temperature = 0.7
    draws = 4000
    scores = logits.repeat(draws, 1)
    picks = RowSampler([temperature] * draws, range(draws))(None, scores).argmax(dim=1)
    observed = torch.bincount(picks, minlength=4).float() / draws
    expected = torch.softmax(logits / temperature, dim=0)
    assert torch.allclose(observed, expected, atol=0.025), (observed, expected)

    mixed = torch.stack([logits, logits])
    out = RowSampler([0.0, 1.0], [0, 0])(None, mixed)
    assert torch.equal(out[0], logits) and not torch.equal(out[1], logits)
    assert torch.equal(RowSampler([1.0], [3])(None, logits[None]), RowSampler([1.0], [3])(None, logits[None]))
