"""The real SmolLM2: GGUF conversion, the embedded backend, and the openai backend via llm-katan.

Set MMFLYWHEEL_LLM_DIR to an already converted folder to skip the ~25 s conversion.
"""
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel

from tasks.llm import ChatRequest, make_client
from tasks.llm.convert import packaged_gguf
from tasks.llm.embedded import EmbeddedBackend

PROMPTS = [
    "Describe walking in one sentence.",
    "In one sentence, what muscles does a person use when they climb a steep flight of stairs quickly?",
    "Name one sport.",
    "Describe a jump.",
]


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


@pytest.fixture(scope="module")
def embedded(smollm_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    cache = tmp_path_factory.mktemp("cache") / "llm.sqlite"
    settings = {"backend": "embedded", "model_dir": str(smollm_dir), "cache": str(cache), "batch_size": 8}
    with make_client(settings) as client:
        yield client


def test_packaged_gguf_is_found_and_the_cli_reports_a_bad_file(tmp_path):
    assert packaged_gguf().suffix == ".gguf"
    run = subprocess.run(
        [sys.executable, "-m", "tasks.llm.convert", str(tmp_path / "out"), "--gguf", str(tmp_path / "none.gguf")],
        capture_output=True, text=True,
    )
    assert run.returncode == 1 and "none.gguf: no such GGUF file" in run.stderr
    assert not (tmp_path / "out").exists()


def test_embedded_greedy_answer_then_cache(embedded):
    (first,) = embedded.complete_many([ChatRequest(user(PROMPTS[0]), key="walk", max_tokens=16)])
    assert first.error is None and "walk" in first.text.lower()
    assert first.usage.prompt_tokens > 10 and 0 < first.usage.completion_tokens <= 16
    assert (first.backend, first.finish_reason in ("stop", "length"), first.cached) == ("embedded", True, False)
    (again,) = embedded.complete_many([ChatRequest(user(PROMPTS[0]), key="walk-again", max_tokens=16)])
    assert again.cached and again.text == first.text and again.key == "walk-again"


def generate(backend: EmbeddedBackend, requests: list[ChatRequest]) -> list[str]:
    texts: dict[int, str] = {}
    backend.generate(requests, lambda i, result: texts.__setitem__(i, result.text))
    return [texts[i] for i in range(len(requests))]


def test_batched_equals_one_at_a_time(embedded):
    """Prompts of different lengths force left padding; the sampled rows check per-row seeding."""
    backend = embedded.backend  # straight to the model, past the cache; one batch of 5
    requests = [ChatRequest(user(p), key=str(i), max_tokens=8, temperature=0.0, seed=0)
                for i, p in enumerate(PROMPTS[1:])]
    requests += [
        ChatRequest(user(PROMPTS[2]), key="sampled-1", max_tokens=8, temperature=0.9, seed=1),
        ChatRequest(user(PROMPTS[2]), key="sampled-2", max_tokens=8, temperature=0.9, seed=2),
    ]
    batched = generate(backend, requests)
    alone = [generate(backend, [r])[0] for r in requests]
    assert batched == alone
    assert all(batched) and batched[-1] != batched[-2]  # a seed really changes a sampled answer


class Activity(BaseModel):
    activity: str


def worked_example(text: str) -> list[dict[str, str]]:
    """Zero-shot SmolLM2 ignores JSON instructions; a system prompt plus one example works."""
    return [
        {"role": "system",
         "content": 'You label motion descriptions. Reply with one JSON object with the key "activity".'},
        {"role": "user", "content": "A person jogs around the park."},
        {"role": "assistant", "content": '{"activity": "jogging"}'},
        {"role": "user", "content": text},
    ]


def test_embedded_structured_output_with_a_worked_example(embedded):
    texts = ["A man walks forward slowly.", "A woman sits down on a chair."]
    requests = [ChatRequest(worked_example(t), key=str(i), max_tokens=24) for i, t in enumerate(texts)]
    results = embedded.generate_structured(requests, Activity, max_attempts=2, stage="qa")
    assert all(r.ok for r in results), [(r.raw, r.reason) for r in results]
    assert "walk" in results[0].value.activity.lower() and "sit" in results[1].value.activity.lower()
    assert embedded.usage.report()["stages"]["qa"]["completion_tokens"] > 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def katan(smollm_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """llm-katan serving the converted folder in full precision (its int8 default garbles output)."""
    port, stats = free_port(), tmp_path_factory.mktemp("katan") / "stats.json"
    log = (stats.parent / "server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "llm_katan.cli", "--model", str(smollm_dir), "--no-quantize", "--host", "127.0.0.1",
         "--port", str(port), "--stats-file", str(stats), "--name", "SmolLM2-135M-Instruct", "--disable-dashboard"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"llm-katan did not start: {(stats.parent / 'server.log').read_text()[-2000:]}")
                time.sleep(0.5)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def katan_requests_served(base_url: str) -> int:
    metrics = urllib.request.urlopen(base_url.removesuffix("/v1") + "/metrics", timeout=5).read().decode()
    line = next(line for line in metrics.splitlines() if line.startswith("llm_katan_requests_total"))
    return int(float(line.split()[-1]))


def test_openai_backend_against_llm_katan_matches_embedded(katan, embedded, tmp_path):
    base_url = katan
    # The first request repeats the greedy test's, so the embedded side is partly served from its cache.
    requests = [ChatRequest(user(p), key=str(i), max_tokens=16) for i, p in enumerate(PROMPTS[::2])]
    settings = {"backend": "openai", "model": "SmolLM2-135M-Instruct", "base_url": base_url,
                "cache": str(tmp_path / "llm.sqlite"), "max_concurrency": 2, "timeout_s": 60}
    with make_client(settings) as client:
        remote = client.complete_many(requests)
    assert katan_requests_served(base_url) == 2
    local = embedded.complete_many(requests)
    for r, e in zip(remote, local):
        assert r.error is None and r.backend == "openai" and r.model == "SmolLM2-135M-Instruct"
        assert r.usage.prompt_tokens == e.usage.prompt_tokens > 10 and r.usage.completion_tokens > 0
        assert r.text == e.text  # same weights, same chat template, greedy on both sides
    with make_client(settings) as client:
        again = client.complete_many(requests)
    assert [a.text for a in again] == [r.text for r in remote] and all(a.cached for a in again)
    assert katan_requests_served(base_url) == 2  # the re-run never reached the server
