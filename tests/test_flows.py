"""The pipeline flow against toy git + DVC projects, and the real project's motion stage.

Flows run against a throwaway Prefect server (`prefect_test_harness`); DVC runs for real.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hydra.core.override_parser.overrides_parser import OverridesParser
from prefect.artifacts import Artifact

from flows.dvc_stages import DvcCommandError, pipeline_stages, set_param_args, stage_message
from flows.pipeline import ARTIFACT_KEY, IN_EXPERIMENT, RAN, UP_TO_DATE, flywheel_pipeline

FLAKY_STAGE = (
    "  flaky:\n"
    "    cmd: python flaky.py\n"
    "    deps: [flaky.py]\n"
)
FLAKY_SCRIPT = (  # fails on its first attempt only, and counts attempts
    "import pathlib, sys\n"
    "open('attempts.log', 'a').write('attempt\\n')\n"
    "marker = pathlib.Path('.flaky-ok')\n"
    "if not marker.exists():\n"
    "    marker.touch()\n"
    "    sys.exit('flaky: first attempt fails')\n"
)


def runs(repo: Path) -> list[str]:
    log = repo / "runs.log"
    return log.read_text().split() if log.exists() else []


def experiments(dvc: Callable[..., str], repo: Path) -> dict[str, dict[str, Any]]:
    """Experiment name -> its `dvc exp show --json` data (params, metrics)."""
    found = {}
    for baseline in json.loads(dvc(repo, "exp", "show", "--json")):
        for experiment in baseline.get("experiments") or []:
            for rev in experiment["revs"]:
                found[rev["name"]] = rev["data"]
    return found


def test_stage_order_comes_from_dvc(toy_project: Path) -> None:
    assert pipeline_stages(toy_project) == ["first", "second"]
    assert pipeline_stages(toy_project, ["first"]) == ["first"]
    assert pipeline_stages(toy_project, ["second"]) == ["first", "second"]
    # An independent stage keeps its place in dvc.yaml after the dependency order is satisfied.
    with open(toy_project / "dvc.yaml", "a") as fh:
        fh.write("  lint:\n    cmd: python -c pass\n")
    assert pipeline_stages(toy_project) == ["first", "second", "lint"]
    with pytest.raises(ValueError, match="no DVC stage named nope .*stages: first, lint, second"):
        pipeline_stages(toy_project, ["nope"])


def test_param_overrides_parse_back_to_the_same_values() -> None:
    params = {
        "toy": {"n": 2, "rate": 0.5, "flag": True, "word": 'say "hi": a=b'},
        "toy.opt": None,
        "toy.list": [1, "two", 3.5],
    }
    args = set_param_args(params)
    assert args[::2] == ["-S"] * 6
    parsed = {o.key_or_group: o.value() for o in OverridesParser.create().parse_overrides(args[1::2])}
    assert parsed == {
        "toy.n": 2,
        "toy.rate": 0.5,
        "toy.flag": True,
        "toy.word": 'say "hi": a=b',
        "toy.opt": None,
        "toy.list": [1, "two", 3.5],
    }
    # DVC takes a params file prefix off the key before it parses the rest.
    assert set_param_args({"other.yaml:opt": 1}) == ["-S", "other.yaml:opt=1"]
    with pytest.raises(ValueError, match="backslashes"):
        set_param_args({"path": "C:\\data"})
    with pytest.raises(TypeError, match="use a number"):
        set_param_args({"empty": {}})


def test_pipeline_runs_stages_in_dvc_order_then_only_what_changed(
    prefect_api: None, toy_project: Path, dvc: Callable[..., str], caplog: pytest.LogCaptureFixture
) -> None:
    first = flywheel_pipeline(project_dir=str(toy_project))
    assert first["stages"] == {"first": RAN, "second": RAN}
    assert runs(toy_project) == ["first", "second"]
    assert "first wrote 3 words" in caplog.text  # a stage's own output reaches the run's logs
    assert first["metrics"] == {"metrics/toy.json": {"chars": 6, "shape.words": 3}}
    report = Artifact.get(ARTIFACT_KEY)
    assert report is not None and "| chars | 6 |" in report.data
    assert f"Report: `{toy_project / 'metrics'}`" in report.data

    outputs = [toy_project / "out/first.txt", toy_project / "metrics/toy.json"]
    mtimes = [path.stat().st_mtime_ns for path in outputs]
    again = flywheel_pipeline(project_dir=str(toy_project))
    assert again["stages"] == {"first": UP_TO_DATE, "second": UP_TO_DATE}
    assert runs(toy_project) == ["first", "second"]
    assert [path.stat().st_mtime_ns for path in outputs] == mtimes
    assert "up to date" in dvc(toy_project, "status")

    with open(toy_project / "second.py", "a") as fh:
        fh.write("# an edit DVC notices\n")
    edited = flywheel_pipeline(project_dir=str(toy_project))
    assert edited["stages"] == {"first": UP_TO_DATE, "second": RAN}
    assert runs(toy_project) == ["first", "second", "second"]


def test_failed_stage_is_retried(prefect_api: None, toy_project: Path) -> None:
    with open(toy_project / "dvc.yaml", "a") as fh:
        fh.write(FLAKY_STAGE)
    (toy_project / "flaky.py").write_text(FLAKY_SCRIPT)
    result = flywheel_pipeline(project_dir=str(toy_project), stages=["flaky"], retries=1, retry_delay_seconds=0)
    assert result["stages"] == {"flaky": RAN}
    assert (toy_project / "attempts.log").read_text().split() == ["attempt", "attempt"]


def test_stage_that_keeps_failing_fails_the_flow_with_its_output(prefect_api: None, toy_project: Path) -> None:
    with open(toy_project / "dvc.yaml", "a") as fh:
        fh.write("  broken:\n    cmd: python broken.py\n    deps: [broken.py]\n")
    (toy_project / "broken.py").write_text("import sys\nprint('boom: no input data')\nsys.exit(3)\n")
    with pytest.raises(DvcCommandError, match="(?s)repro --single-item broken.*boom: no input data") as failed:
        flywheel_pipeline(project_dir=str(toy_project), stages=["broken"], retries=0)
    # Not the one-line form of tasks.common.stage: the error starts with the command.
    assert str(failed.value).startswith("`")


# A stage through the project's one stage edge: a line of progress, then a missing input.
EDGE_SCRIPT = (
    "import sys\n"
    "from tasks.common.stage import run_stage\n"
    "def body():\n"
    "    print('edge: reading inputs', flush=True)\n"
    "    open('inputs.csv')\n"
    "sys.exit(run_stage('edge', body))\n"
)


def test_stage_failure_leads_with_the_stages_one_line_message(prefect_api: None, toy_project: Path) -> None:
    with open(toy_project / "dvc.yaml", "a") as fh:
        fh.write("  edge:\n    cmd: python edge.py\n    deps: [edge.py]\n")
    (toy_project / "edge.py").write_text(EDGE_SCRIPT)
    with pytest.raises(DvcCommandError) as failed:
        flywheel_pipeline(project_dir=str(toy_project), stages=["edge"], retries=0)
    lines = str(failed.value).splitlines()
    assert lines[0] == "edge: inputs.csv: no such file or folder"
    assert lines[1].endswith(f"repro --single-item edge` in {toy_project} exited with 255; last output:")  # DVC's
    assert "edge: reading inputs" in lines[2:]


def test_stage_message_is_the_last_line_before_dvcs_own() -> None:
    ran = ["edge: 100%|##| 3/3", "edge: data/x.npz: no such file or folder"]
    dvc_error = "ERROR: failed to reproduce 'edge': failed to run: python edge.py, exited with 1"
    assert stage_message("edge", [*ran, dvc_error]) == "edge: data/x.npz: no such file or folder"
    assert stage_message("other", [*ran, dvc_error]) is None
    # a crash ends in a traceback, not the stage's line: no headline (the tail has it all)
    assert stage_message("edge", [*ran, "Traceback (most recent call last):", "KeyError: 'x'", dvc_error]) is None
    assert stage_message("edge", []) is None


def test_params_override_runs_as_a_dvc_experiment(
    prefect_api: None, toy_project: Path, dvc: Callable[..., str]
) -> None:
    result = flywheel_pipeline(
        project_dir=str(toy_project), params={"toy": {"n": 5}}, experiment_name="five-words", retries=0
    )
    assert result["experiment"] == "five-words"
    assert result["stages"] == {"first": IN_EXPERIMENT, "second": IN_EXPERIMENT}
    assert result["metrics"] == {"metrics/toy.json": {"chars": 10, "shape.words": 5}}
    report = Artifact.get(ARTIFACT_KEY)
    assert report is not None and "| chars | 10 |" in report.data and "dvc exp apply five-words" in report.data

    recorded = experiments(dvc, toy_project)["five-words"]
    assert recorded["params"]["params.yaml"]["data"]["toy"]["n"] == 5
    assert recorded["metrics"]["metrics/toy.json"]["data"]["chars"] == 10
    # The experiment ran in a scratch copy: the workspace is still the committed baseline.
    assert yaml.safe_load((toy_project / "params.yaml").read_text())["toy"]["n"] == 3
    assert runs(toy_project) == []


def test_real_project_motion_stage_as_experiment(
    prefect_api: None, tmp_path: Path, project_copy: Callable[..., Path], dvc: Callable[..., str]
) -> None:
    project = project_copy(tmp_path / "project", {})  # the code and committed inputs, nothing generated
    result = flywheel_pipeline(
        project_dir=str(project),
        stages=["motion"],
        params={"motion.procedural.motions_per_class": 1},
        experiment_name="motion-smoke",
        retries=0,
    )
    assert result["stages"] == {"motion": IN_EXPERIMENT}
    assert result["metrics"].get("metrics/motion.json"), result["metrics"]
    recorded = experiments(dvc, project)["motion-smoke"]
    assert recorded["params"]["params.yaml"]["data"]["motion"]["procedural"]["motions_per_class"] == 1
