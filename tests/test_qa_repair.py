"""The qa stage's repair re-ask (qa.repair_attempts) with a scripted LLM: what is re-asked, what it is told,
what it salvages, what it costs, and that a rerun is served from the cache."""
from __future__ import annotations

import json

import pandas as pd
import pytest
from fault_server import FaultServer
from test_qa_stage import markers, run_qa, say, scripted, simulated, wave

COUNT_Q = "How many times does the person wave?"


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """proc_wave_000 waves its left hand 3 times, proc_wave_001 its right hand twice."""
    return simulated(tmp_path_factory.mktemp("qa_repair"), [wave("left", 3, 0), wave("right", 2, 1)])


def script() -> dict[str, list[str]]:
    # hits in order: both first asks (wave_000, wave_001), then both re-asks
    five = say(COUNT_Q, "The person waves five times.")
    return {markers()["sequence_and_counts"]: [five, five, say(COUNT_Q, "The person waves three times."), five]}


def test_a_rejected_claim_is_re_asked_once_with_the_claim_and_its_fact(data, tmp_path):
    qa = {"categories": {"sequence_and_counts": 1.0}, "questions_per_motion": 1, "repair_attempts": 1}
    with FaultServer(script()) as server:
        assert run_qa(data, tmp_path, scripted(server), **qa) == 0
        first_bodies = list(server.bodies)
        assert run_qa(data, tmp_path, scripted(server), **qa) == 0  # the rerun: every reply from the cache
        assert len(server.bodies) == len(first_bodies) == 4

    note = first_bodies[2]["messages"]
    assert [m["role"] for m in note[-3:]] == ["user", "assistant", "user"]
    assert "five times" in note[-2]["content"]
    assert note[-1]["content"].startswith('Your answer says "five times", but the facts say: 3.')
    assert first_bodies[2]["messages"][:-2] == first_bodies[0]["messages"]  # the first request, then the turns

    pairs = pd.read_parquet(tmp_path / "qa/qa.parquet")
    assert list(zip(pairs.motion_id, pairs.answer)) == [("proc_wave_000", "The person waves three times.")]
    rejects = pd.read_parquet(tmp_path / "qa/rejects.parquet").set_index("motion_id")
    assert rejects.loc["proc_wave_000", "reason"] == "count: says five times, facts say 3"
    assert rejects.loc["proc_wave_000", "repair"] == "accepted"
    assert rejects.loc["proc_wave_001", "repair"] == "rejected: count: says five times, facts say 2"
    assert "five times" in rejects.loc["proc_wave_001", "raw"]

    metrics = json.loads((tmp_path / "metrics/qa.json").read_text())
    assert (metrics["accepted"], metrics["rejected"], metrics["rejects_by_reason"]) == (1, 1, {"count": 1})
    repair = metrics["repair"]
    assert (repair["asked"], repair["accepted"], repair["accepted_by_first_reason"]) == (2, 1, {"count": 1})
    assert repair["usage"]["requests"] == 2 and repair["usage"]["cached"] == 2  # the rerun's view
    assert metrics["usage"]["stages"]["qa"]["requests"] == 2


def test_without_repair_nothing_is_re_asked(data, tmp_path):
    qa = {"categories": {"sequence_and_counts": 1.0}, "questions_per_motion": 1}
    with FaultServer(script()) as server:
        assert run_qa(data, tmp_path, scripted(server), **qa) == 0
        assert len(server.bodies) == 2
    rejects = pd.read_parquet(tmp_path / "qa/rejects.parquet")
    assert list(rejects.repair) == ["", ""]
    assert json.loads((tmp_path / "metrics/qa.json").read_text())["repair"]["asked"] == 0
