import json

import pytest

from tasks.common.io import RejectLog, atomic_dir, write_json
from tasks.common.params import ParamsError, load_params


def test_atomic_dir_replaces_whole_or_not_at_all(tmp_path):
    final = tmp_path / "out"
    with atomic_dir(final) as tmp:
        (tmp / "a.txt").write_text("first")
    assert (final / "a.txt").read_text() == "first"

    with pytest.raises(RuntimeError):
        with atomic_dir(final) as tmp:
            (tmp / "a.txt").write_text("half-written")
            raise RuntimeError("crash mid-way")
    assert (final / "a.txt").read_text() == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no scratch left behind


def test_reject_log_writes_one_json_per_line(tmp_path):
    log = RejectLog("motion")
    log.add("a", "bad shape", source="x.npy")
    log.add("b", "NaN", source="y.npy")
    log.write(tmp_path / "rejects.jsonl")
    lines = [json.loads(line) for line in (tmp_path / "rejects.jsonl").read_text().splitlines()]
    assert [r["item"] for r in lines] == ["a", "b"] and lines[1]["reason"] == "NaN"


def test_params_errors_name_the_file(tmp_path):
    with pytest.raises(ParamsError, match="no such params file"):
        load_params(tmp_path / "missing.yaml")
    p = tmp_path / "params.yaml"
    p.write_text("motion: {seed: 1}\n")
    assert load_params(p, "motion") == {"seed": 1}
    with pytest.raises(ParamsError, match="has no 'qa' section"):
        load_params(p, "qa")
    write_json(tmp_path / "m.json", {"x": 1})
    assert json.loads((tmp_path / "m.json").read_text()) == {"x": 1}
