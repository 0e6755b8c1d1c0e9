"""`flywheel qa-audit`: a seeded, offline audit page whose grades file round-trips into a precision with a CI."""
import json
import re
from html.parser import HTMLParser

import pandas as pd
import pytest

from tasks.cli import main as flywheel
from tasks.motion.facts import measure_facts
from tasks.motion.procedural import generate
from tasks.qa.audit import SCHEMA, score, wilson, write_audit
from tasks.qa.facts import ground_facts
from tasks.simulate.config import SimulateConfig
from tasks.simulate.signals import simulate_motion


@pytest.fixture(scope="module")
def facts():
    """The structured facts of one real (small-radar) procedural wave, as facts.parquet holds them."""
    item = generate("wave", 0, 3)
    cfg = SimulateConfig.from_params({"device": "cpu", "radar": {"n_chirps": 16, "n_samples": 64, "max_range_m": 4.0,
                                                                 "n_angle": 32, "scatterers_per_m": 5}})
    row = {"id": item.id, "label": item.label, "fps": 20, "captions": item.captions,
           "facts": {**measure_facts(item.joints, 20), **item.facts}}
    return ground_facts(row, item.joints, simulate_motion(item.joints, 20, cfg.radar, cfg.imu, 0, item.id))


def write_qa(folder, facts, n_pairs=12, n_rejects=6):
    folder.mkdir(parents=True, exist_ok=True)
    pairs = [{"motion_id": f"m{i:02d}", "split": "train", "category": "activity",
              "question": f"What does person {i} do?", "answer": f"They wave {i} times.", "source": "llm:x",
              "prompt_version": "1-abc",
              "facts": json.dumps({"activity": "waving"})} for i in range(n_pairs)]
    rejects = [{"motion_id": f"m{i:02d}", "category": "activity", "reason": "count: says 5, facts say 3",
                "raw": json.dumps({"question": f"How often does {i} wave?", "answer": "Five times."})}
               for i in range(n_rejects)]
    rejects.append({"motion_id": "m00", "category": "activity", "reason": "llm error: timeout", "raw": ""})
    table = [{"motion_id": f"m{i:02d}", "split": "train", "label": "wave", "facts": json.dumps(facts)}
             for i in range(n_pairs)]
    pd.DataFrame(pairs).to_parquet(folder / "qa.parquet")
    pd.DataFrame(rejects).to_parquet(folder / "rejects.parquet")
    pd.DataFrame(table).to_parquet(folder / "facts.parquet")
    return folder


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.urls, self.radios = [], set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.urls += [v for k, v in attrs.items() if k in ("src", "href") and v]
        if tag == "input" and attrs.get("type") == "radio":
            self.radios.add(attrs["name"])


def test_the_page_is_offline_and_holds_every_drawn_pair(tmp_path, facts):
    qa = write_qa(tmp_path / "qa", facts)
    page, grades = write_audit(qa, tmp_path / "out/audit.html", n=5, seed=1)
    text = page.read_text()
    parser = Links()
    parser.feed(text)
    assert parser.urls == [] and not re.search(r"https?://", text)
    template = json.loads(grades.read_text())
    assert template["schema"] == SCHEMA and len(template["groups"]["accepted"]) == 5
    assert len(template["groups"]["rejected"]) == 5  # the LLM error is not a pair to grade
    assert parser.radios == set(template["grades"])  # one right/wrong choice per drawn pair
    # seeded: the same draw from the rows in another order; another seed draws others
    assert "hand used" in text and "rejected: count: says 5, facts say 3" in text  # the facts and reasons shown
    assert re.search(r"class='v-(true|false|unsupported)'>[a-z]+</td><td>answer: wave", text)  # the checker's verdicts
    again = write_qa(tmp_path / "shuffled", facts)
    pd.read_parquet(again / "qa.parquet").iloc[::-1].to_parquet(again / "qa.parquet")
    _, other = write_audit(again, tmp_path / "out/again.html", n=5, seed=1)
    assert json.loads(other.read_text())["groups"] == template["groups"]
    _, third = write_audit(qa, tmp_path / "out/third.html", n=5, seed=2)
    assert json.loads(third.read_text())["groups"]["accepted"] != template["groups"]["accepted"]


def test_grades_round_trip_into_precision_with_a_wilson_interval(tmp_path, capsys, facts):
    qa = write_qa(tmp_path / "qa", facts)
    _, grades = write_audit(qa, tmp_path / "audit.html", n=10, seed=0)
    data = json.loads(grades.read_text())
    accepted, rejected = data["groups"]["accepted"], data["groups"]["rejected"]
    data["grades"].update({k: "right" for k in accepted[:8]} | {k: "wrong" for k in accepted[8:]})
    data["grades"].update({rejected[0]: "right", rejected[1]: "wrong"})
    grades.write_text(json.dumps(data))
    result = score(grades)
    assert result["accepted"] == {"pairs": 10, "graded": 10, "right": 8, "share_right": 0.8,
                                  "ci95": [round(v, 4) for v in wilson(8, 10)]}
    assert wilson(8, 10) == pytest.approx((0.4902, 0.9433), abs=1e-4)  # the textbook values
    assert result["rejected"]["graded"] == 2 and result["rejected"]["right"] == 1
    assert flywheel(["qa-audit", "--score", str(grades)]) == 0
    assert "accepted: 8 of 10 graded right (80.0%, 95% CI 49.0%-94.3%)" in capsys.readouterr().out


def test_a_bad_grades_file_or_a_missing_qa_folder_is_one_line(tmp_path, capsys):
    bad = tmp_path / "g.json"
    bad.write_text(json.dumps({"schema": SCHEMA, "grades": {"a": "maybe"}, "groups": {"accepted": ["a"]}}))
    assert flywheel(["qa-audit", "--score", str(bad)]) == 1
    assert "grades must be right or wrong (or null), got ['maybe']" in capsys.readouterr().err
    bad.write_text("{")
    assert flywheel(["qa-audit", "--score", str(bad)]) == 1
    assert "not a readable grades file" in capsys.readouterr().err
    assert flywheel(["qa-audit", "--qa", str(tmp_path / "none"), "--out", str(tmp_path / "a.html")]) == 1
    assert "qa.parquet: not found (run the qa stage first: dvc repro qa)" in capsys.readouterr().err
