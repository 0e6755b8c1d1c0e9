"""The evaluate stage's LLM judge with scripted LLMs: strict parsing and re-asks, infrastructure failures kept
apart and retried from the cache, texts passed verbatim, the swapped variant, and the agreement helpers."""
from __future__ import annotations

import math
import socket
from typing import Any

import pytest
from fault_server import FaultServer

from tasks.evaluate.judge import (
    RUBRICS,
    JudgeItem,
    Verdict,
    cohen_kappa,
    flip_rate,
    judge,
    judge_identity,
    judge_requests,
    model_family,
    same_family,
)
from tasks.llm import ChatRequest, ChatResult, LLMClient, LLMConfig, make_client

QUESTION = "Which hand does the person wave?"
REFERENCE = "The person waves the left hand twice."


class ScriptedBackend:
    """Answers each request key with its next scripted reply and records every request it receives."""

    name = "scripted"
    model = "judge-model"

    def __init__(self, replies: dict[str, list[str]]) -> None:
        self.replies = {key: list(texts) for key, texts in replies.items()}
        self.received: list[ChatRequest] = []

    @property
    def identity(self) -> dict[str, Any]:
        return {"script": "test"}

    def generate(self, requests, on_result) -> None:
        for i, request in enumerate(requests):
            self.received.append(request)
            on_result(i, ChatResult(request.key, self.replies[request.key].pop(0), self.model, self.name))

    def close(self) -> None:
        pass

    def sent(self, key: str) -> list[ChatRequest]:
        return [r for r in self.received if r.key == key]


def scripted(replies: dict[str, list[str]], **config: Any) -> tuple[LLMClient, ScriptedBackend]:
    backend = ScriptedBackend(replies)
    return LLMClient(backend, LLMConfig(cache=None, **config)), backend


def item(key: str, answer: str | None = None, reference: str = REFERENCE) -> JudgeItem:
    """By default each item's answer names its key: identical requests would share one reply."""
    return JudgeItem(key, QUESTION, reference, f"The person waves the left hand ({key})." if answer is None else answer)


class ItemTurnServer(FaultServer):
    """A FaultServer that tells judge requests apart by the item's turn, the second user message: the first
    one is the rubric's worked example, the same in every request. (``bodies`` keep only that turn.)"""

    def _next_action(self, body: dict[str, Any]) -> tuple[str, str]:
        item_turn = [m for m in body["messages"] if m["role"] == "user"][1]
        return super()._next_action({"messages": [item_turn]})


def http_settings(base_url: str, cache: Any = None) -> dict[str, Any]:
    return {"backend": "openai", "model": "test-model", "base_url": base_url, "cache": str(cache) if cache else None,
            "timeout_s": 0.5, "max_retries": 1, "backoff_base_s": 0.02, "backoff_max_s": 0.05,
            "requests_per_minute": None}


WELL_FORMED = [
    ("score5", '{"score": 4}', {"score": 4.0}),
    ("score5", '{"score":1}', {"score": 1.0}),
    ("score5", '```json\n{"score": 5}\n```', {"score": 5.0}),  # a complete object in a fence is read as written
    ("correct_halluc", '{"correctness": 2, "hallucination": 0}', {"correctness": 2.0, "hallucination": 0.0}),
    ("correct_halluc", '{"hallucination": 2, "correctness": 0}', {"correctness": 0.0, "hallucination": 2.0}),
    ("same_facts", '{"same_facts": true}', {"same_facts": 1.0}),
    ("same_facts", '{"same_facts": false}', {"same_facts": 0.0}),
]
MALFORMED = [
    ("score5", 'My verdict: {"score": 4, because it matches'),  # text around broken JSON
    ("score5", '{"score": 6}'),
    ("score5", '{"score": 0}'),
    ("score5", '{"score": 2.5}'),
    ("score5", '{"score": 4.0}'),
    ("score5", '{"score": "4"}'),
    ("score5", '{"score": true}'),
    ("score5", '{"score": 4, "reason": "close enough"}'),
    ("score5", '{"rating": 4}'),
    ("score5", "I cannot judge this."),
    ("score5", "4"),  # a bare digit is not the JSON asked for
    ("correct_halluc", '{"correctness": 2}'),
    ("correct_halluc", '{"correctness": 3, "hallucination": 0}'),
    ("correct_halluc", '{"correctness": 2, "hallucination": -1}'),
    ("same_facts", '{"same_facts": "yes"}'),
    ("same_facts", '{"same_facts": 1}'),
    ("same_facts", "Yes, the same facts."),
]


@pytest.mark.parametrize("rubric", RUBRICS)
def test_only_well_formed_replies_score_and_malformed_ones_are_re_asked_then_unparsable(rubric):
    good = {f"good-{i}": (reply, scores) for i, (r, reply, scores) in enumerate(WELL_FORMED) if r == rubric}
    bad = {f"bad-{i}": reply for i, (r, reply) in enumerate(MALFORMED) if r == rubric}
    script = {f"{key}/{rubric}/plain": [reply] for key, (reply, _) in good.items()}
    # the re-ask is refused again, with another reply: the verdict keeps the last one
    script |= {f"{key}/{rubric}/plain": [reply, f"I cannot judge this ({key})."] for key, reply in bad.items()}
    client, backend = scripted(script)
    verdicts = {v.key: v for v in judge(client, [item(k) for k in [*good, *bad]], [rubric], max_attempts=2)}

    for key, (reply, scores) in good.items():
        assert (verdicts[key].status, verdicts[key].scores, verdicts[key].attempts) == ("ok", scores, 1), reply
        assert verdicts[key].raw == reply and len(backend.sent(f"{key}/{rubric}/plain")) == 1
    for key, reply in bad.items():
        v = verdicts[key]
        assert (v.status, v.scores, v.attempts, v.error) == ("unparsable", {}, 2, None), reply
        assert v.raw == f"I cannot judge this ({key})."
        first, second = backend.sent(f"{key}/{rubric}/plain")
        assert second.messages[:-2] == first.messages  # the same conversation, then the rejected reply and why
        assert second.messages[-2] == {"role": "assistant", "content": reply}
        assert second.messages[-1]["role"] == "user" and "could not be used" in second.messages[-1]["content"]
    assert {v.rubric for v in verdicts.values()} == {rubric} and {v.variant for v in verdicts.values()} == {"plain"}


def test_a_reply_good_on_the_second_attempt_scores_and_one_attempt_means_no_re_ask():
    key = "tuned/test_qa_007"
    client, backend = scripted({f"{key}/score5/plain": ["The score is 4.", '{"score": 4}']})
    (verdict,) = judge(client, [item(key)], ["score5"])
    assert (verdict.key, verdict.status, verdict.scores, verdict.attempts) == (key, "ok", {"score": 4.0}, 2)
    assert verdict.raw == '{"score": 4}' and len(backend.received) == 2

    client, backend = scripted({f"{key}/score5/plain": ["The score is 4.", '{"score": 4}']})
    (verdict,) = judge(client, [item(key)], ["score5"], max_attempts=1)
    assert (verdict.status, verdict.attempts, verdict.raw) == ("unparsable", 1, "The score is 4.")
    assert len(backend.received) == 1


def test_requests_are_keyed_per_item_rubric_and_variant_at_temperature_zero_with_few_tokens():
    items = [item("tuned/a"), item("base/a")]
    replies = {'score5': '{"score": 3}', "correct_halluc": '{"correctness": 1, "hallucination": 1}',
               "same_facts": '{"same_facts": false}'}
    script = {f"{i.key}/{r}/swapped": [reply] for i in items for r, reply in replies.items()}
    client, backend = scripted(script, temperature=0.7, max_tokens=256, seed=3)
    verdicts = judge(client, items, variant="swapped", max_tokens=24)
    assert [(v.key, v.rubric) for v in verdicts] == [(i.key, r) for r in RUBRICS for i in items]
    assert all(v.status == "ok" and v.variant == "swapped" for v in verdicts)
    assert sorted(r.key for r in backend.received) == sorted(script)
    assert {(r.temperature, r.max_tokens, r.seed) for r in backend.received} == {(0.0, 24, 3)}
    keys = [r.key for r in judge_requests(items, "same_facts")]
    assert keys == ["tuned/a/same_facts/plain", "base/a/same_facts/plain"]
    assert {(r.temperature, r.max_tokens) for r in judge_requests(items, "score5")} == {(0.0, 40)}


@pytest.mark.parametrize("variant", ["plain", "swapped"])
@pytest.mark.parametrize("rubric", RUBRICS)
def test_each_prompt_s_worked_example_is_a_reply_the_judge_accepts(rubric, variant):
    (request,) = judge_requests([item("k")], rubric, variant)
    assert [m["role"] for m in request.messages] == ["system", "user", "assistant", "user"]
    example_reply = request.messages[2]["content"]
    client, _ = scripted({request.key: [example_reply]})
    (verdict,) = judge(client, [item("k")], [rubric], variant=variant)
    assert verdict.status == "ok" and verdict.attempts == 1


def test_left_and_right_reach_the_prompt_exactly_as_written():
    answer = "The person raises the LEFT hand,  then the right one (left first)."
    reference = "Right hand first, then left."
    for rubric in RUBRICS:
        for variant in ("plain", "swapped"):
            (request,) = judge_requests([item("k", answer, reference)], rubric, variant)
            turn = request.messages[-1]["content"]
            assert answer in turn and reference in turn and QUESTION in turn
    client, backend = scripted({"k/same_facts/plain": ['{"same_facts": false}']})
    judge(client, [item("k", answer, reference)], ["same_facts"])
    assert answer in backend.received[0].messages[-1]["content"]


def test_the_swapped_variant_puts_the_answer_before_the_reference_and_words_the_task_differently():
    answer, reference = "ANSWER: the right hand.", "REFERENCE: the left hand."
    for rubric in RUBRICS:
        (plain,) = judge_requests([item("k", answer, reference)], rubric, "plain")
        (swapped,) = judge_requests([item("k", answer, reference)], rubric, "swapped")
        p, s = plain.messages[-1]["content"], swapped.messages[-1]["content"]
        assert p.index(reference) < p.index(answer) and s.index(answer) < s.index(reference)
        assert plain.messages[0]["content"] != swapped.messages[0]["content"]  # the instructions
        assert plain.messages[1]["content"] != swapped.messages[1]["content"]  # the example, in the same layout
        assert swapped.key == "k/" + rubric + "/swapped"


def test_server_errors_are_failed_kept_out_of_the_scores_and_a_rerun_sends_only_them(tmp_path):
    items = [item(key) for key in "abcd"]
    turn = {i.key: r.messages[-1]["content"] for i, r in zip(items, judge_requests(items, "score5"))}
    script = {turn["a"]: ['say:{"score": 5}'], turn["b"]: ["say:I cannot judge this.", 'say:{"score": 2}'],
              turn["c"]: ["500", "500"], turn["d"]: ["say:No idea.", "say:Still no idea."]}
    cache = tmp_path / "llm.sqlite"
    with ItemTurnServer(script) as server:
        with make_client(http_settings(server.base_url, cache)) as client:
            first = {v.key: v for v in judge(client, items, ["score5"])}
        assert (first["a"].status, first["a"].scores) == ("ok", {"score": 5.0})
        assert (first["b"].status, first["b"].scores, first["b"].attempts) == ("ok", {"score": 2.0}, 2)
        c = first["c"]
        assert (c.status, c.scores, c.raw) == ("failed", {}, "") and "500" in c.error
        assert [server.hits[turn[k]] for k in "abcd"] == [1, 2, 2, 2]  # c: a transport retry, no parse re-ask
        assert (first["d"].status, first["d"].raw) == ("unparsable", "Still no idea.")

        hits = server.hits.copy()
        server.set_script({turn["c"]: ['say:{"score": 3}']})  # the server has recovered
        with make_client(http_settings(server.base_url, cache)) as client:
            second = {v.key: v for v in judge(client, items, ["score5"])}
        assert server.hits - hits == {turn["c"]: 1}  # every reply but the failure came from the cache
    assert {k: v.scores for k, v in second.items()} == {"a": {"score": 5.0}, "b": {"score": 2.0}, "c": {"score": 3.0},
                                                        "d": {}}
    assert (second["b"].attempts, second["d"].status, second["d"].raw) == (2, "unparsable", "Still no idea.")
    # neither the failed nor the unparsable verdict took part in the comparison
    report = flip_rate(list(first.values()), list(second.values()))["score5"]
    assert (report["compared"], report["flipped"], report["not_compared"]) == (2, 0, 2)


def test_a_refused_connection_is_failed_with_its_error():
    with socket.socket() as probe:  # a port nobody listens on once the probe is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with make_client(http_settings(f"http://127.0.0.1:{port}/v1")) as client:
        verdicts = judge(client, [item("a"), item("b")], ["same_facts", "score5"])
        identity = judge_identity(client)
    assert len(verdicts) == 4
    assert all(v.status == "failed" and v.scores == {} and "Connection" in v.error for v in verdicts)
    assert identity == {"backend": "openai", "model": "test-model", "family": "test-model",
                        "identity": {"base_url": f"http://127.0.0.1:{port}/v1", "token_limit_param": "max_tokens"}}


def test_judge_identity_names_backend_model_family_and_what_else_decides_the_answers():
    client, backend = scripted({})
    backend.model = "SmolLM2-135M-Instruct"
    assert judge_identity(client) == {"backend": "scripted", "model": "SmolLM2-135M-Instruct", "family": "smollm2",
                                      "identity": {"script": "test"}}


def test_bad_arguments_are_refused_before_anything_is_sent():
    client, backend = scripted({})
    with pytest.raises(ValueError, match="unknown rubric"):
        judge(client, [item("a")], ["score5", "score10"])
    with pytest.raises(ValueError, match="unknown variant"):
        judge(client, [item("a")], variant="reversed")
    with pytest.raises(ValueError, match="unique"):
        judge(client, [item("a"), item("a")])
    assert backend.received == []


def test_model_family_and_same_family():
    assert model_family("SmolLM2-135M-Instruct") == "smollm2"
    assert model_family("HuggingFaceTB/SmolLM2-360M-Instruct") == "smollm2"
    assert model_family("gpt-4o-mini") == "gpt-4o"
    assert model_family("gpt-4o-mini-2024-07-18") == "gpt-4o"
    assert model_family("Qwen2.5-7B-Instruct") == "qwen2.5"
    assert model_family("llama-3.1-8b") == "llama-3.1"
    assert model_family("Mixtral-8x7B-Instruct-v0.1") == "mixtral"
    assert same_family("gpt-4o", "gpt-4o-mini")
    assert same_family("SmolLM2-135M-Instruct", "HuggingFaceTB/SmolLM2-1.7B-Instruct")
    assert not same_family("gpt-4o-mini", "SmolLM2-135M-Instruct")
    assert not same_family("llama-3.1-8b", "llama-3.2-1b")
    with pytest.raises(ValueError):
        model_family("org/")


def test_cohen_kappa_matches_hand_computed_values():
    # agreement 4/6; each rater says 1 three times in six: chance 0.5*0.5 + 0.5*0.5 = 0.5 -> (2/3 - 1/2) / (1/2)
    assert cohen_kappa([1, 1, 0, 0, 1, 0], [1, 0, 0, 0, 1, 1]) == pytest.approx(1 / 3)
    # three labels: agreement 3/4; chance (1*1 + 1*0 + 2*3) / 16 = 7/16 -> (12/16 - 7/16) / (9/16)
    assert cohen_kappa([0, 1, 2, 2], [0, 2, 2, 2]) == pytest.approx(5 / 9)
    assert cohen_kappa([1, 0, 2, 1, 0], [1, 0, 2, 1, 0]) == 1.0
    assert cohen_kappa([1, 0], [0, 1]) == -1.0
    assert math.isnan(cohen_kappa([1, 1, 1], [1, 1, 1]))  # chance agreement is total: undefined
    with pytest.raises(ValueError):
        cohen_kappa([1, 0], [1])


def verdict(key: str, rubric: str, scores: dict[str, float] | None, status: str = "ok") -> Verdict:
    return Verdict(key, rubric, "plain", status, scores or {}, 1, "", None)


def test_flip_rate_compares_only_keys_judged_ok_in_both():
    first = [
        verdict("k1", "score5", {"score": 4.0}), verdict("k2", "score5", {"score": 4.0}),
        verdict("k3", "score5", {"score": 2.0}), verdict("k4", "score5", None, "failed"),
        verdict("k5", "score5", {"score": 1.0}),
        verdict("k1", "correct_halluc", {"correctness": 2.0, "hallucination": 0.0}),
        verdict("k2", "correct_halluc", {"correctness": 1.0, "hallucination": 1.0}),
    ]
    second = [
        verdict("k1", "score5", {"score": 4.0}), verdict("k2", "score5", {"score": 3.0}),
        verdict("k3", "score5", None, "unparsable"), verdict("k4", "score5", {"score": 5.0}),
        verdict("k1", "correct_halluc", {"correctness": 2.0, "hallucination": 1.0}),
        verdict("k2", "correct_halluc", {"correctness": 1.0, "hallucination": 1.0}),
    ]
    assert flip_rate(first, second) == {
        "score5": {"compared": 2, "flipped": 1, "rate": 0.5, "flipped_by_score": {"score": 1}, "not_compared": 3},
        "correct_halluc": {"compared": 2, "flipped": 1, "rate": 0.5, "flipped_by_score": {"hallucination": 1},
                           "not_compared": 0},
    }
    assert flip_rate(first[3:4], second[3:4])["score5"]["rate"] is None
    with pytest.raises(ValueError, match="two verdicts"):
        flip_rate(first + first[:1], second)
