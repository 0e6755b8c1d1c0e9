"""The evaluate stage end to end on a few simulated motions, a random encoder and a tiny random LLM (as the tuned
model and as the judge): every system answers every test item, the outputs have their documented form, the
report is offline, and a rerun asks the judge nothing new (the LLM cache)."""
from __future__ import annotations

import json
import re

import pandas as pd
import pytest
import torch
import yaml
from test_qa_stage import simulated
from tune_fixtures import tiny_base, untrained_tuned

from tasks.evaluate.stage import main as evaluate_main
from tasks.motion.procedural import generate
from tasks.motion.stage import finish_item
from tasks.pretrain.config import DataConfig, PretrainModelConfig
from tasks.pretrain.data import load_dataset
from tasks.pretrain.export import save_embeddings, save_encoder
from tasks.pretrain.model import build_model as build_encoder

SPLITS = {"train": 1, "val": 1, "test": 2}  # per class


@pytest.fixture(scope="module")
def project(smollm_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("evaluate")
    items = []
    for c, label in enumerate(["wave", "squat"]):
        k = 0
        for split, n in SPLITS.items():
            for _ in range(n):
                item = finish_item(generate(label, k, 10 * c + k, duration_s=(3.0, 3.5)))
                item.split = split
                items.append(item)
                k += 1
    simulated(root, items)
    data = load_dataset(root / "signals", root / "motion", DataConfig(window_s=3.0, max_points=16))
    torch.manual_seed(0)
    encoder_cfg = PretrainModelConfig()
    encoder = build_encoder(encoder_cfg, data.shapes)
    norm = json.loads((root / "signals/norm_stats.json").read_text())
    save_encoder(encoder, root / "encoder", encoder_cfg, DataConfig(window_s=3.0), data.shapes, data.sites,
                 ["squat", "wave"], norm)
    save_embeddings(encoder, data, root / "embeddings", 8)
    base = tiny_base(smollm_dir, root / "llama")
    untrained_tuned(base, root / "tune", encoder_cfg.encoder.width)
    qa = [{"motion_id": m.id, "split": m.split, "category": "activity", "question": "What is the person doing?",
           "answer": f"The person is doing a {m.label}.", "source": "llm:embedded:SmolLM2-135M-Instruct",
           "prompt_version": "t", "facts": "{}"} for m in data.motions]
    (root / "qa").mkdir()
    pd.DataFrame(qa).to_parquet(root / "qa/qa.parquet", index=False)
    llm = {"model_dir": str(base), "model": "tiny-llama", "cache": str(root / "llm.sqlite"), "torch_threads": 1}
    shipped = yaml.safe_load(open("params.yaml"))
    (root / "params.yaml").write_text(yaml.safe_dump({"llm": llm, "qa": shipped["qa"], "evaluate": {
        "bootstrap": 100, "max_new_tokens": 6, "torch_threads": 1, "judge": {"max_tokens": 8}}}))
    return root


def args(root) -> list[str]:
    return ["--params", str(root / "params.yaml"), "--model", str(root / "tune"), "--encoder", str(root / "encoder"),
            "--embeddings", str(root / "embeddings"), "--motion", str(root / "motion"), "--signals",
            str(root / "signals"), "--qa", str(root / "qa"), "--out", str(root / "evaluate"), "--metrics",
            str(root / "metrics/evaluate.json")]


def test_every_system_answers_every_test_item_and_the_outputs_have_their_form(project, caplog):
    assert evaluate_main(args(project)) == 0
    metrics = json.loads((project / "metrics/evaluate.json").read_text())
    assert metrics["items"] == {"total": 8, "per_category": {"activity": 4, "caption": 4}}  # 4 test motions
    answers = pd.read_parquet(project / "evaluate/answers.parquet")
    counts = answers["system"].value_counts().to_dict()
    assert counts == {"tuned": 8, "text_only": 8, "shuffled": 8, "zero_shot": 4}  # zero-shot: activity only
    assert set(answers["split"]) == {"test"}
    zero = answers[answers["system"] == "zero_shot"]
    assert all(a.startswith("The person is doing ") for a in zero["answer"])
    assert set(metrics["gaps"]) == {"text_only", "shuffled"}
    entry = metrics["systems"]["tuned"]["overall"]["similarity"]
    assert entry["n"] == 8 and entry["ci95"][0] <= entry["value"] <= entry["ci95"][1]
    assert "spice" in metrics["skipped"]
    judge = metrics["judge"]
    assert judge["identity"]["model"] == "tiny-llama" and judge["preference_leakage"] is False
    assert set(judge["status"]) == {"score5", "correct_halluc", "same_facts"}
    assert all(sum(s.values()) == 24 for s in judge["status"].values())  # 3 judged systems x 8 items
    har = metrics["encoder_har"]
    assert har["motions"] == 4 and 0 <= har["accuracy"]["value"] <= 1
    weak = json.loads((project / "evaluate/weaknesses.json").read_text())
    assert weak["version"] == 1 and [g["rank"] for g in weak["per_class"]] == [1, 2]
    assert {g["label"] for g in weak["per_class"]} == {"wave", "squat"}
    page = (project / "metrics/evaluate_report.html").read_text()
    assert not re.search(r"(?:src|href)\s*=\s*['\"]?(?:https?:)?//", page)
    assert (project / "metrics/evaluate_confusion.csv").read_text().startswith("actual,predicted\n")
    categories = pd.read_csv(project / "metrics/evaluate_categories.csv")
    assert set(categories["system"]) == {"tuned", "text_only", "shuffled", "zero_shot"}

    caplog.clear()
    with caplog.at_level("INFO"):
        assert evaluate_main(args(project)) == 0
    summaries = [r.getMessage() for r in caplog.records if "requests" in r.getMessage() and "sent" in r.getMessage()]
    assert summaries and all(", 0 sent" in s for s in summaries)  # the judge answered everything from the cache
