"""The qa stage end to end: scripted replies through an OpenAI-compatible fault server (every check and
bookkeeping path, deterministically), then the real embedded SmolLM2 and a re-run served from the cache.

Set MMFLYWHEEL_LLM_DIR to an already converted SmolLM2 folder to skip the ~25 s conversion.
"""
from __future__ import annotations

import errno
import json
import logging
import os
import re
import shutil
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from fault_server import FaultServer

import tasks.qa.stage
from tasks.common.config import validate_section
from tasks.common.io import RejectLog
from tasks.motion.procedural import generate
from tasks.motion.stage import MANIFEST_SCHEMA, finish_item, write_dataset
from tasks.qa.config import QAConfig
from tasks.qa.prompts import Prompts
from tasks.qa.stage import QA_COLUMNS, motion_rows
from tasks.qa.stage import main as qa_main
from tasks.simulate.stage import main as simulate_main

SIMULATE = {"seed": 0, "device": "cpu", "radar": {"n_chirps": 16, "n_samples": 64, "max_range_m": 4.0, "n_angle": 32,
                                                   "scatterers_per_m": 5}, "imu": {"rate_hz": 50}}
CATEGORIES = ["activity", "description", "sequence_and_counts", "intention", "body_part_laterality",
              "direction_trajectory", "speed_intensity", "signal_trend"]


def wave(hand: str, reps: int, k: int):
    for seed in range(300):
        item = generate("wave", k, seed, duration_s=(3.2, 4.5))
        if item.facts["hand"] == hand and item.facts["repetitions"] == reps:
            item = finish_item(item)
            item.split = "train"
            return item
    raise AssertionError(f"no {hand}-handed {reps}-wave in 300 seeds")


def simulated(root: Path, items: list) -> Path:
    """A motion data set of ``items`` in ``root``/motion and its signals in ``root``/signals."""
    write_dataset(items, RejectLog("motion"), root / "motion")
    (root / "sim.yaml").write_text(yaml.safe_dump({"simulate": SIMULATE}))
    assert simulate_main(["--params", str(root / "sim.yaml"), "--motion", str(root / "motion"),
                          "--out", str(root / "signals"), "--metrics", str(root / "metrics")]) == 0
    return root


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """Two simulated procedural waves: proc_wave_000 left hand 3 times, proc_wave_001 right hand twice."""
    return simulated(tmp_path_factory.mktemp("qa_data"), [wave("left", 3, 0), wave("right", 2, 1)])


@pytest.fixture(scope="module")
def four(tmp_path_factory) -> Path:
    """Four simulated procedural motions of four classes."""
    items = []
    for k, label in enumerate(["clap", "squat", "wave", "walk"]):
        item = finish_item(generate(label, k, k, duration_s=(3.0, 3.5)))
        item.split = "train"
        items.append(item)
    return simulated(tmp_path_factory.mktemp("qa_four"), items)


def run_qa_mode(data: Path, work: Path, llm: dict, mode: list[str], out: Path, **qa) -> int:
    """The qa stage on ``data`` with params written to ``work`` (cache and metrics there too), into ``out``."""
    section = {"prompts": "prompts/qa/qa.yaml", "categories": dict.fromkeys(CATEGORIES, 1.0), **qa}
    (work / "params.yaml").write_text(yaml.safe_dump({"llm": {"cache": str(work / "llm.sqlite"), **llm},
                                                      "qa": section}))
    return qa_main(["--params", str(work / "params.yaml"), "--motion", str(data / "motion"), "--signals",
                    str(data / "signals"), "--out", str(out), "--metrics", str(work / "metrics"), *mode])


def run_qa(data: Path, work: Path, llm: dict, **qa) -> int:
    return run_qa_mode(data, work, llm, [], work / "qa", **qa)


def say(question: str, answer: str, extra: str = "") -> str:
    return "say:" + json.dumps({"question": question, "answer": answer})[:-1] + extra + "}"


def test_every_reply_is_checked_and_accounted_for(data, tmp_path):
    prompts = Prompts.load("prompts/qa/qa.yaml")
    marker = {c: prompts.messages(c, {})[1]["content"] for c in CATEGORIES}  # the server keys on the first user turn
    count_q = "How many times does the person wave?"
    script = {
        "activity": ["500", "500"],  # an infrastructure failure: never the model's fault
        "description": [say("Can you describe the motion?", "The person waves while standing.", ', "t": 4 s')] * 2,
        "sequence_and_counts": [say(count_q, "The person waves three times.")] * 2,
        "intention": [say(count_q, "They wave to greet someone.")] * 2,
        "body_part_laterality": [say("Which hand does the person use?", "The person uses the right hand.")] * 2,
        "direction_trajectory": [say("Where does the person go?", "The person moves toward the radar.")] * 2,
        "signal_trend": [say("Trend?", "It rises.")] * 2,
        # speed_intensity is unscripted: the server answers with prose, which does not parse
    }
    with FaultServer({marker[c]: actions for c, actions in script.items()}) as server:
        llm = {"backend": "openai", "model": "scripted", "base_url": server.base_url, "max_retries": 0,
               "max_concurrency": 1, "requests_per_minute": 0}
        assert run_qa(data, tmp_path, llm, questions_per_motion=8, max_error_rate=0.5) == 0  # 2 errors in 16

    qa = pd.read_parquet(tmp_path / "qa/qa.parquet")
    assert list(qa.columns) == QA_COLUMNS
    assert sorted(zip(qa.motion_id, qa.category)) == [
        ("proc_wave_000", "description"), ("proc_wave_000", "sequence_and_counts"),  # left hand, 3 times
        ("proc_wave_001", "body_part_laterality"), ("proc_wave_001", "description"), ("proc_wave_001", "intention"),
    ]
    assert set(qa.source) == {"llm:openai:scripted"} and set(qa.prompt_version) == {prompts.version}
    grounded = json.loads(qa.loc[qa.category == "sequence_and_counts", "facts"].iloc[0])
    assert grounded["repetitions"] == "3" and list(grounded) == ["activity", "caption", "repetitions"]

    rejects = pd.read_parquet(tmp_path / "qa/rejects.parquet").set_index(["motion_id", "category"])["reason"]
    assert rejects["proc_wave_001", "sequence_and_counts"] == "count: says three times, facts say 2"
    assert rejects["proc_wave_000", "body_part_laterality"] == "laterality: says right hand, facts say left hand"
    assert rejects["proc_wave_000", "intention"].startswith("duplicate: cosine 1.00 with the sequence_and_counts")
    assert rejects["proc_wave_000", "direction_trajectory"].startswith("direction: says toward the radar")
    assert rejects["proc_wave_000", "activity"].startswith("llm error: ")

    metrics = json.loads((tmp_path / "metrics/qa.json").read_text())
    assert metrics["rejects_by_reason"] == {"count": 1, "direction": 2, "duplicate": 1, "laterality": 1,
                                           "llm error": 2, "short question": 2, "unparsable": 2}
    assert (metrics["requests"], metrics["accepted"], metrics["rejected"], metrics["llm_errors"]) == (16, 5, 9, 2)
    assert metrics["rejection_rate"] == round(9 / 14, 4)  # the two LLM errors are not the model's fault
    assert metrics["salvaged_replies"] == 2 and metrics["per_category"]["activity"]["llm_errors"] == 2
    assert metrics["usage"]["total"]["failed"] == 2
    sample = (tmp_path / "qa/sample.md").read_text()
    assert "## body_part_laterality" in sample and "**laterality**" in sample
    facts = pd.read_parquet(tmp_path / "qa/facts.parquet")
    assert json.loads(facts.set_index("motion_id").loc["proc_wave_000", "facts"])["motion"]["hand"] == "left"


def test_when_every_request_fails_nothing_is_written(data, tmp_path, capsys):
    llm = {"backend": "openai", "model": "none", "base_url": "http://127.0.0.1:9/v1", "max_retries": 0,
           "timeout_s": 2, "requests_per_minute": 0}
    assert run_qa(data, tmp_path, llm, questions_per_motion=1) == 1
    assert "every one of 2 LLM requests failed" in capsys.readouterr().err
    assert not (tmp_path / "qa").exists() and not (tmp_path / "metrics").exists()


def test_unknown_category_fails_in_one_line(data, tmp_path, capsys):
    assert run_qa(data, tmp_path, {"backend": "openai"}, categories={"gossip": 1.0}) == 1
    assert "qa.categories: ['gossip'] not in prompts/qa/qa.yaml" in capsys.readouterr().err


def test_the_embedded_model_end_to_end_and_a_rerun_from_the_cache(data, smollm_dir, tmp_path):
    llm = {"backend": "embedded", "model_dir": str(smollm_dir), "batch_size": 8, "torch_threads": 2}
    qa = {"questions_per_motion": 1, "max_tokens": 48}
    assert run_qa(data, tmp_path, llm, **qa) == 0
    first = json.loads((tmp_path / "metrics/qa.json").read_text())
    assert first["requests"] == 2 and first["llm_errors"] == 0
    assert first["accepted"] + first["rejected"] == 2
    assert first["usage"]["total"]["completion_tokens"] > 0 and first["source"] == "llm:embedded:SmolLM2-135M-Instruct"
    pairs = pd.read_parquet(tmp_path / "qa/qa.parquet")
    assert list(pairs.columns) == QA_COLUMNS and pairs["question"].str.len().gt(0).all()

    assert run_qa(data, tmp_path, llm, **qa) == 0
    again = json.loads((tmp_path / "metrics/qa.json").read_text())["usage"]["total"]
    assert (again["cached"], again["prompt_tokens"], again["completion_tokens"]) == (2, 0, 0)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "qa/qa.parquet"), pairs)


def test_shards_merged_equal_the_plain_run_with_the_embedded_model(four, smollm_dir, tmp_path, capsys):
    # Two motions per chunk, so four requests in two batches of two: shard 0 of 3 asks about the first
    # two motions, shard 1 about the last two, shard 2 about nothing. Each run has its own response
    # cache, so every reply is generated afresh.
    data = four
    llm = {"backend": "embedded", "model_dir": str(smollm_dir), "batch_size": 2, "max_concurrency": 1,
           "torch_threads": 2}
    qa = {"questions_per_motion": 2, "max_tokens": 40, "dedup_threshold": 0.5}
    plain, sharded = tmp_path / "plain", tmp_path / "sharded"
    for work in (plain, sharded):
        work.mkdir()
    assert run_qa_mode(data, plain, llm, [], plain / "qa", **qa) == 0
    shards = [sharded / f"shard{i}" for i in range(3)]
    for i, out in enumerate(shards):
        (sharded / "llm.sqlite").unlink(missing_ok=True)
        assert run_qa_mode(data, sharded, llm, ["--shard", f"{i}/3"], out, **qa) == 0
    assert pd.read_parquet(shards[2] / "asked.parquet").empty
    assert list(pd.read_parquet(shards[0] / "facts.parquet").motion_id) == ["proc_clap_000", "proc_squat_001"]
    assert run_qa_mode(data, sharded, llm, ["--merge", *map(str, shards)], sharded / "qa", **qa) == 0

    for name in ("qa.parquet", "rejects.parquet", "facts.parquet", "sample.md"):
        assert (sharded / "qa" / name).read_bytes() == (plain / "qa" / name).read_bytes(), name
    metrics = [json.loads((work / "metrics/qa.json").read_text()) for work in (sharded, plain)]
    for m in metrics:
        del m["seconds"], m["motions_per_s"], m["requests_per_s"], m["accepted_per_s"]
    assert metrics[0] == metrics[1] and metrics[1]["requests"] == 8
    assert metrics[1]["usage"]["total"]["completion_tokens"] > 0 and metrics[1]["usage"]["total"]["cached"] == 0
    # the low duplicate threshold makes sure the per-motion duplicate removal ran in the shards too
    assert metrics[1]["accepted"] + metrics[1]["rejected"] == 8


    # A shard given twice, a missing shard, or a folder that is no shard fails in one line and writes nothing.
    capsys.readouterr()
    bad = tmp_path / "bad"
    assert run_qa_mode(data, sharded, llm, ["--merge", str(shards[0]), str(shards[0]), str(shards[2])], bad,
                       **qa) == 1
    assert "qa: need each shard 0/N ... N-1/N exactly once, got 0/3, 0/3, 2/3" in capsys.readouterr().err
    assert run_qa_mode(data, sharded, llm, ["--merge", str(shards[0]), str(shards[1])], bad, **qa) == 1
    assert "got 0/3, 1/3" in capsys.readouterr().err
    assert run_qa_mode(data, sharded, llm, ["--merge", str(shards[0]), str(plain)], bad, **qa) == 1
    assert f"qa: {plain}: not a qa shard folder (missing qa.parquet" in capsys.readouterr().err
    assert not bad.exists()


def markers() -> dict[str, str]:
    """category -> what the fault server keys its script on (the first user turn: the category's example)."""
    prompts = Prompts.load("prompts/qa/qa.yaml")
    return {c: prompts.messages(c, {})[1]["content"] for c in CATEGORIES}


def scripted(server: FaultServer, **llm) -> dict:
    return {"backend": "openai", "model": "scripted", "base_url": server.base_url, "max_retries": 0,
            "max_concurrency": 1, "requests_per_minute": 0, **llm}


PARSABLE = [say("What does the person do in the recording?", "The person moves their arms.")] * 10


def test_llm_errors_above_max_error_rate_fail_after_writing_and_a_rerun_asks_only_them(data, tmp_path, capsys):
    marker = markers()
    script = {m: PARSABLE for m in marker.values()}
    with FaultServer({**script, marker["activity"]: ["500"] * 4}) as server:
        llm = scripted(server)
        # 2 of 16 requests fail: tolerated at max_error_rate 0.2
        assert run_qa(data, tmp_path, llm, questions_per_motion=8, max_error_rate=0.2) == 0
        assert json.loads((tmp_path / "metrics/qa.json").read_text())["llm_errors"] == 2

        capsys.readouterr()
        assert run_qa(data, tmp_path, llm, questions_per_motion=8) == 1  # the default, 0: any error fails
        assert capsys.readouterr().err.splitlines()[-1] == (
            f"qa: 2 of 16 LLM requests failed (more than qa.max_error_rate 0); the rest is written to "
            f"{tmp_path / 'qa'} and every answer is kept in the LLM cache, so a rerun (`dvc repro`) asks only the "
            "failed ones. First error: InternalServerError 500: Error code: 500 - scripted 500 "
            "(gave up after 1 attempt)")
        rejects = pd.read_parquet(tmp_path / "qa/rejects.parquet")
        assert sorted(rejects.loc[rejects.reason.str.startswith("llm error: "), "category"]) == ["activity"] * 2
        assert json.loads((tmp_path / "metrics/qa.json").read_text())["usage"]["total"]["cached"] == 14

        before = server.hits.copy()
        server.set_script(script)  # the server is healthy again
        assert run_qa(data, tmp_path, llm, questions_per_motion=8) == 0
        assert server.hits - before == {marker["activity"]: 2}  # only the two failed requests were asked again
    metrics = json.loads((tmp_path / "metrics/qa.json").read_text())
    assert (metrics["llm_errors"], metrics["requests"], metrics["usage"]["total"]["cached"]) == (0, 16, 14)


@pytest.fixture(scope="module")
def unlabeled(data, tmp_path_factory) -> Path:
    """``data`` as other sources write it: proc_wave_000 like a BVH without a caption file (null label, no
    captions), proc_wave_001 like a HumanML3D clip with null facts (null label, one caption)."""
    root = tmp_path_factory.mktemp("qa_unlabeled")
    shutil.copytree(data / "motion", root / "motion")
    shutil.copytree(data / "signals", root / "signals")
    rows = pq.read_table(root / "motion/manifest.parquet").to_pylist()
    rows[0].update(label=None, captions=[], source="bvh")
    rows[1].update(label=None, captions=["a person waves a hand"], facts=None, source="humanml3d")
    pq.write_table(pa.Table.from_pylist(rows, schema=MANIFEST_SCHEMA), root / "motion/manifest.parquet")
    return root


def test_motions_with_null_labels_captions_and_facts_get_grounded_questions(unlabeled, tmp_path):
    marker = markers()
    with FaultServer({m: PARSABLE for m in marker.values()}) as server:
        assert run_qa(unlabeled, tmp_path, scripted(server), questions_per_motion=8) == 0
    facts = pd.read_parquet(tmp_path / "qa/facts.parquet").set_index("motion_id")
    assert facts["label"].isna().all()
    sheets = [body["messages"][-1]["content"] for body in server.bodies]
    assert not any("activity:" in sheet or re.search(r"\bnan\b", sheet) for sheet in sheets)
    asked = {c: server.hits[m] for c, m in marker.items()}
    # intention shows only the label and the caption: the uncaptioned motion is not asked about it
    assert asked == {**dict.fromkeys(CATEGORIES, 2), "intention": 1}
    wave_001 = json.loads(facts.loc["proc_wave_001", "facts"])["motion"]
    assert (wave_001["duration_s"], wave_001["direction"], wave_001["most_active_limbs"]) == (None, None, None)
    assert "**proc_wave_000** (no label)" in (tmp_path / "qa/sample.md").read_text()


def test_a_full_disk_fails_in_one_line_and_keeps_the_previous_data_set(data, tmp_path, capsys, monkeypatch):
    marker = markers()
    with FaultServer({m: PARSABLE for m in marker.values()}) as server:
        assert run_qa(data, tmp_path, scripted(server)) == 0
        before = {p.name: p.read_bytes() for p in [*(tmp_path / "qa").iterdir(), tmp_path / "metrics/qa.json"]}

        def full(table, where, **kw):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(where))

        monkeypatch.setattr(tasks.qa.stage.pq, "write_table", full)
        capsys.readouterr()
        assert run_qa(data, tmp_path, scripted(server)) == 1
    err = capsys.readouterr().err.splitlines()[-1]
    assert re.fullmatch(rf"qa: {tmp_path}/\.qa\.\w+\.tmp/qa\.parquet: no space left on the device "
                        r"\(free some disk space, then rerun\)", err), err
    after = {p.name: p.read_bytes() for p in [*(tmp_path / "qa").iterdir(), tmp_path / "metrics/qa.json"]}
    assert after == before and not list(tmp_path.glob(".qa.*"))  # no scratch folder left behind


def test_a_cache_that_cannot_be_written_costs_a_warning_not_the_run(data, tmp_path, caplog):
    (tmp_path / "blocked").write_text("a file where the cache folder should be")
    marker = markers()
    with FaultServer({m: PARSABLE for m in marker.values()}) as server, caplog.at_level(logging.WARNING):
        assert run_qa(data, tmp_path, scripted(server, cache=str(tmp_path / "blocked/llm.sqlite"))) == 0
    assert len(pd.read_parquet(tmp_path / "qa/qa.parquet")) + len(pd.read_parquet(tmp_path / "qa/rejects.parquet")) == 6
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == [f"{tmp_path}/blocked/llm.sqlite: cannot open the LLM response cache "
                        f"({tmp_path}/blocked: File exists); going on without it"]


def test_limit_draws_a_seeded_subset_that_does_not_depend_on_the_other_motions(tmp_path):
    labels = ["walk", "wave", "squat", "kick"]
    ids = [f"proc_{label}_{k:03d}" for label in labels for k in range(10)]

    def rows(folder, keep):
        folder.mkdir()
        pd.DataFrame({"id": keep, "split": "train"}).to_parquet(folder / "manifest.parquet")
        return motion_rows(folder, validate_section(QAConfig, {"categories": {"activity": 1.0}, "limit": 8}, "qa"))

    drawn = [r["id"] for r in rows(tmp_path / "all", ids)]
    assert len(drawn) == 8 and drawn == sorted(drawn)
    assert len({i.split("_")[1] for i in drawn}) >= 3  # the first 8 by id would all be kicks
    fewer = [i for i in ids if i not in drawn[:1]]  # drop one drawn motion: the other seven stay drawn
    assert set(drawn[1:]) <= {r["id"] for r in rows(tmp_path / "fewer", fewer)}
