"""The pipeline flow against toy git + DVC projects, and the real project's motion stage.

Flows run against a throwaway Prefect server (`prefect_test_harness`); DVC runs for real.
"""
from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hydra.core.override_parser.overrides_parser import OverridesParser
from prefect.artifacts import Artifact

from flows.dvc_stages import DvcCommandError, pipeline_stages, set_param_args
from flows.pipeline import ARTIFACT_KEY, IN_EXPERIMENT, RAN, UP_TO_DATE, flywheel_pipeline

PROJECT_ROOT = Path(__file__).resolve().parents[1]

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


def dvc(repo: Path, *args: str) -> str:
    return subprocess.run(
        [sys.executable, "-m", "dvc", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout


def runs(repo: Path) -> list[str]:
    log = repo / "runs.log"
    return log.read_text().split() if log.exists() else []


def experiments(repo: Path) -> dict[str, dict[str, Any]]:
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
    prefect_api: None, toy_project: Path, caplog: pytest.LogCaptureFixture
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
    with pytest.raises(DvcCommandError, match="(?s)repro --single-item broken.*boom: no input data"):
        flywheel_pipeline(project_dir=str(toy_project), stages=["broken"], retries=0)


def test_params_override_runs_as_a_dvc_experiment(prefect_api: None, toy_project: Path) -> None:
    result = flywheel_pipeline(
        project_dir=str(toy_project), params={"toy": {"n": 5}}, experiment_name="five-words", retries=0
    )
    assert result["experiment"] == "five-words"
    assert result["stages"] == {"first": IN_EXPERIMENT, "second": IN_EXPERIMENT}
    assert result["metrics"] == {"metrics/toy.json": {"chars": 10, "shape.words": 5}}
    report = Artifact.get(ARTIFACT_KEY)
    assert report is not None and "| chars | 10 |" in report.data and "dvc exp apply five-words" in report.data

    recorded = experiments(toy_project)["five-words"]
    assert recorded["params"]["params.yaml"]["data"]["toy"]["n"] == 5
    assert recorded["metrics"]["metrics/toy.json"]["data"]["chars"] == 10
    # The experiment ran in a scratch copy: the workspace is still the committed baseline.
    assert yaml.safe_load((toy_project / "params.yaml").read_text())["toy"]["n"] == 3
    assert runs(toy_project) == []


def _motion_stage() -> dict[str, Any] | None:
    dvc_yaml = PROJECT_ROOT / "dvc.yaml"
    if not dvc_yaml.is_file():
        return None
    return (yaml.safe_load(dvc_yaml.read_text()) or {}).get("stages", {}).get("motion")


@pytest.mark.skipif(_motion_stage() is None, reason="dvc.yaml has no `motion` stage yet")
def test_real_project_motion_stage_as_experiment(
    prefect_api: None,
    tmp_path: Path,
    init_git_dvc_repo: Callable[[Path], None],
    commit_all: Callable[[Path, str], None],
    copy_project_files: Callable[[Path, list[str]], None],
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    init_git_dvc_repo(project)
    # The code and the stage's committed inputs (such as data/raw/), nothing generated.
    copy_project_files(project, ["tasks", "flows", "dvc.yaml", "params.yaml", *_motion_stage()["deps"]])
    commit_all(project, "project copy")

    result = flywheel_pipeline(
        project_dir=str(project),
        stages=["motion"],
        params={"motion.procedural.motions_per_class": 1},
        experiment_name="motion-smoke",
        retries=0,
    )
    assert result["stages"] == {"motion": IN_EXPERIMENT}
    assert result["metrics"].get("metrics/motion.json"), result["metrics"]
    recorded = experiments(project)["motion-smoke"]
    assert recorded["params"]["params.yaml"]["data"]["motion"]["procedural"]["motions_per_class"] == 1
