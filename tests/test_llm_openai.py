"""The openai backend through the real SDK against a local server that fails on cue."""
import logging
from pathlib import Path

from fault_server import FaultServer
from pydantic import BaseModel

from tasks.common.io import write_json
from tasks.llm import ChatRequest, make_client

FAULTS = {
    "slow-down": ["429"],
    "flaky": ["500", "500"],
    "broken-body": ["malformed"],
    "html-page": ["html"],
    "always-500": ["500"] * 10,
    "always-hangs": ["hang"] * 10,
    "bad-request": ["400"],
}
HEALTHY = [f"item-{i}" for i in range(6)]


def settings(server: FaultServer, cache: Path | None, **extra) -> dict:
    return {
        "backend": "openai", "model": "test-model", "base_url": server.base_url,
        "cache": str(cache) if cache else None, "max_concurrency": 4, "timeout_s": 0.5, "max_retries": 2,
        "backoff_base_s": 0.05, "backoff_max_s": 2.0, "requests_per_minute": None, "max_tokens": 16, **extra,
    }


def ask(markers: list[str]) -> list[ChatRequest]:
    return [ChatRequest([{"role": "user", "content": m}], key=m) for m in markers]


def test_faults_are_retried_recorded_and_resumed(tmp_path):
    cache = tmp_path / "llm.sqlite"
    markers = HEALTHY + list(FAULTS)
    with FaultServer(FAULTS, hang_s=1.5, retry_after="1") as server:
        with make_client(settings(server, cache)) as client:
            first = {r.key: r for r in client.complete_many(ask(markers))}

        for marker in HEALTHY + ["slow-down", "flaky", "broken-body", "html-page"]:
            assert first[marker].error is None and first[marker].text == f"reply to: {marker}"
        assert first["flaky"].attempts == 3 and first["html-page"].attempts == 2
        for marker, expected in [("always-500", "500"), ("always-hangs", "Timeout"), ("bad-request", "400")]:
            assert first[marker].text == "" and expected in first[marker].error
        # 429 and 5xx and timeouts use every attempt; a 400 is not worth repeating.
        assert (server.hits["always-500"], server.hits["always-hangs"], server.hits["bad-request"]) == (3, 3, 1)
        # The second try of the 429 waited for the server's Retry-After (1 s), not the 0.05 s backoff.
        times = [t for t, m in server.arrivals if m == "slow-down"]
        assert times[1] - times[0] >= 0.95

        hits_before = server.hits.copy()
        server.set_script({})  # the server has recovered
        with make_client(settings(server, cache)) as client:
            second = {r.key: r for r in client.complete_many(ask(markers))}
            assert client.usage.report()["total"]["cached"] == len(markers) - 3
        sent_again = server.hits - hits_before
        assert set(sent_again) == {"always-500", "always-hangs", "bad-request"}
        assert all(n == 1 for n in sent_again.values())
        assert all(r.error is None for r in second.values())
        assert all(second[m].text == first[m].text and second[m].cached for m in HEALTHY)


def test_second_run_is_served_from_the_cache(tmp_path):
    cache = tmp_path / "llm.sqlite"
    with FaultServer() as server:
        with make_client(settings(server, cache)) as client:
            first = client.complete_many(ask(HEALTHY))
        assert sum(server.hits.values()) == len(HEALTHY)
        assert server.bodies[0]["max_tokens"] == 16 and server.bodies[0]["temperature"] == 0.0
        with make_client(settings(server, cache)) as client:
            second = client.complete_many(ask(HEALTHY))
        assert sum(server.hits.values()) == len(HEALTHY)  # not one more request
    assert [(r.text, r.usage, r.model) for r in second] == [(r.text, r.usage, r.model) for r in first]
    assert not any(r.cached for r in first) and all(r.cached for r in second)


def test_identical_requests_in_one_batch_are_sent_once(tmp_path):
    with FaultServer() as server, make_client(settings(server, None)) as client:
        results = client.complete_many(ask(["same", "same", "other"]))
    assert server.hits == {"same": 1, "other": 1}
    assert [r.text for r in results] == ["reply to: same", "reply to: same", "reply to: other"]
    assert [r.cached for r in results] == [False, True, False]


def test_rate_limit_spaces_request_starts():
    with FaultServer() as server:
        with make_client(settings(server, None, requests_per_minute=1200)) as client:  # one per 50 ms
            client.complete_many(ask(HEALTHY))
        starts = sorted(t for t, _ in server.arrivals)
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert len(gaps) == len(HEALTHY) - 1 and min(gaps) >= 0.04


def test_api_key_is_used_but_never_written(tmp_path, monkeypatch, caplog):
    secret = "sk-mmflywheel-TEST-9f3c2e7d41"
    monkeypatch.setenv("MMFLYWHEEL_TEST_KEY", secret)
    caplog.set_level(logging.DEBUG)
    # the HTTP libraries' own debug lines too (a stage run quiets them, and that setting outlives the run)
    for name in ("httpx", "httpcore", "httpx2", "httpcore2", "openai._base_client"):
        caplog.set_level(logging.DEBUG, logger=name)
    cache = tmp_path / "out" / "llm.sqlite"
    with FaultServer({"fails": ["500"] * 5}) as server:
        with make_client(settings(server, cache, api_key_env="MMFLYWHEEL_TEST_KEY")) as client:
            results = client.complete_many(ask(["hello", "fails"]))
            write_json(tmp_path / "out" / "usage.json", client.usage.report())
        assert server.auth_headers == {f"Bearer {secret}"}  # the key did reach the server
    write_json(tmp_path / "out" / "results.json", [r.__dict__ | {"usage": r.usage.__dict__} for r in results])
    assert results[1].error and len(caplog.records) > 5
    assert secret not in caplog.text
    written = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert {p.name for p in written} >= {"llm.sqlite", "usage.json", "results.json"}
    for path in written:
        assert secret.encode() not in path.read_bytes(), path


class Label(BaseModel):
    activity: str


def test_structured_retries_with_feedback_then_rejects(tmp_path):
    script = {
        "a man walks": ["say:It is walking.", 'say:```json\n{"activity": "walking"}\n```'],
        "a man jumps": ["say:jumping", 'say:{"activity": 3}'],
    }
    with FaultServer(script) as server, make_client(settings(server, tmp_path / "c.sqlite", seed=5)) as client:
        results = client.generate_structured(ask(list(script)), Label, max_attempts=2, stage="qa")
        report = client.usage.report()
    walk, jump = results
    assert walk.ok and walk.value == Label(activity="walking") and walk.attempts == 2
    assert not jump.ok and jump.raw == '{"activity": 3}' and "schema" in jump.reason and jump.error is None
    retry = [b for b in server.bodies if b["messages"][0]["content"] == "a man walks"][1]
    assert retry["seed"] == 6
    assert retry["messages"][1] == {"role": "assistant", "content": "It is walking."}
    assert "no JSON object" in retry["messages"][2]["content"]
    assert walk.usage.completion_tokens == 3 + 4  # both attempts counted (the server counts words)
    assert report["stages"]["qa"]["requests"] == 4


def test_structured_keeps_infrastructure_failures_apart(tmp_path):
    with FaultServer({"down": ["500"] * 5}) as server, make_client(settings(server, None)) as client:
        (result,) = client.generate_structured(ask(["down"]), Label, max_attempts=3)
    assert not result.ok and result.reason is None and "500" in result.error
    assert server.hits["down"] == 3  # transport retries only; no parse retries on top



def test_a_server_that_echoes_the_key_in_a_long_error_never_leaks_any_of_it(monkeypatch, caplog):
    # The error text was cut to 300 characters before the key was scrubbed: with the key at character
    # 276 its first 24 characters got out. Scrubbing first leaves nothing of it to cut.
    secret = "sk-mmflywheel-LEAK-0123456789abcdef0123456789"
    monkeypatch.setenv("MMFLYWHEEL_TEST_KEY", secret)
    head = "BadRequestError 400: Error code: 400 - "  # what the error text holds before the server's message
    start = 276 - len("Bearer ")  # the server's message echoes "Bearer <key>" with the key at character 276
    caplog.set_level(logging.DEBUG)
    with FaultServer({"echo": [f"echo-auth:{start - len(head)}"]}) as server:
        with make_client(settings(server, None, api_key_env="MMFLYWHEEL_TEST_KEY")) as client:
            (result,) = client.complete_many(ask(["echo"]))
    assert result.error.startswith(head + ".") and result.error.index("Bearer ***") == start
    gave_up = " (gave up after 1 attempt)"
    assert result.error.endswith("." + gave_up) and len(result.error) == 300 + len(gave_up)
    for text in (result.error, caplog.text):
        assert secret[:6] not in text and "LEAK" not in text


def test_another_server_under_the_same_model_name_is_asked_not_the_cache(tmp_path):
    cache = tmp_path / "llm.sqlite"
    with FaultServer() as old, FaultServer({"hi": ["say:from the new server"]}) as new:
        with make_client(settings(old, cache)) as client:
            assert client.complete_many(ask(["hi"]))[0].text == "reply to: hi"
        with make_client(settings(new, cache)) as client:
            (moved,) = client.complete_many(ask(["hi"]))
        with make_client(settings(old, cache)) as client:
            (back,) = client.complete_many(ask(["hi"]))
    assert (moved.text, moved.cached, new.hits["hi"]) == ("from the new server", False, 1)
    assert (back.text, back.cached, old.hits["hi"]) == ("reply to: hi", True, 1)


def test_a_reply_that_does_not_parse_never_blocks_a_new_try(tmp_path):
    cache = tmp_path / "llm.sqlite"
    script = {"label it": ["say:not json", "say:still not json", 'say:{"activity": "walking"}']}
    with FaultServer(script) as server:
        def run(structured: bool):
            with make_client(settings(server, cache)) as client:
                if structured:
                    return client.generate_structured(ask(["label it"]), Label, max_attempts=1)[0]
                return client.complete_many(ask(["label it"]))[0]

        assert run(structured=False).text == "not json"  # plain text is a fine answer, and cached
        first = run(structured=True)  # the cached text does not parse: asked again, not cached
        assert (first.ok, first.raw, server.hits["label it"]) == (False, "still not json", 2)
        second = run(structured=True)
        assert (second.ok, second.value, server.hits["label it"]) == (True, Label(activity="walking"), 3)
        assert run(structured=True).ok and server.hits["label it"] == 3  # a parsed reply is cached
        assert run(structured=False).text == '{"activity": "walking"}'


def test_a_reply_the_caller_can_use_is_cached_though_it_does_not_parse(tmp_path):
    with FaultServer({"walk": ["say:It is walking."]}) as server:
        for _ in range(2):
            with make_client(settings(server, tmp_path / "llm.sqlite")) as client:
                (result,) = client.generate_structured(ask(["walk"]), Label, max_attempts=1,
                                                       usable=lambda text: "walking" in text)
            assert not result.ok and result.raw == "It is walking."
    assert server.hits["walk"] == 1


def test_logs_stay_short_one_warning_per_kind_of_failure_and_one_summary(tmp_path, caplog):
    downs = [f"down-{i}" for i in range(5)]
    caplog.set_level(logging.INFO, logger="tasks.llm")
    with FaultServer(dict.fromkeys(downs, ["500"] * 2)) as server:
        with make_client(settings(server, tmp_path / "llm.sqlite", max_retries=1)) as client:
            client.complete_many(ask(["ok-1", "ok-2", *downs]))
            client.complete_many(ask(["ok-1", "ok-2"]))
    lines = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert len(lines) == 2 and lines[0][0] == "WARNING"
    assert lines[0][1].startswith("LLM request 'down-") and "InternalServerError 500" in lines[0][1]
    assert lines[1] == ("INFO", "LLM openai/test-model: 9 requests, 2 from the cache, 7 sent (5 retried), 5 failed")
