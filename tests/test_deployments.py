"""End to end: the project's prefect.yaml on a real Prefect server, a process worker and a toy DVC project.

Starts `prefect server` (SQLite in a temporary PREFECT_HOME), creates the work pool, deploys with
`prefect --no-prompt deploy --all`, starts a worker, triggers the on-demand deployment and checks
the nightly schedule. Everything it starts is stopped again, the worker before the server.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
from prefect.settings import PREFECT_API_URL, temporary_settings

PROJECT_ROOT = Path(__file__).resolve().parents[1]
POOL = "mmflywheel-process"
SERVER_START_S = 90
RUN_DONE_S = 180
SCHEDULE_S = 60


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


def _start(command: list[str], log: Path, env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    """Start a process in its own process group, so that stopping it also stops its children."""
    with open(log, "wb") as out:
        return subprocess.Popen(
            command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def _stop(proc: subprocess.Popen[bytes], grace_s: float = 15) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(grace_s)


def _prefect(env: dict[str, str], cwd: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "prefect", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"`prefect {' '.join(args)}` failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _wait_until(condition: Callable[[], Any], timeout_s: float, failure: Callable[[], str]) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    pytest.fail(failure())


@pytest.fixture
def prefect_server(tmp_path: Path, quiet_env: dict[str, str]) -> Iterator[dict[str, str]]:
    """A real Prefect server on a free port; yields the environment its clients need."""
    port = _free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        **quiet_env,
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_API_URL": api_url,
        "PREFECT_UI_ENABLED": "false",
    }
    log = tmp_path / "server.log"
    server = _start(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        log, env, tmp_path,
    )

    def healthy() -> bool:
        assert server.poll() is None, f"prefect server exited early:\n{_tail(log)}"
        try:
            with urllib.request.urlopen(f"{api_url}/health", timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, ConnectionError):
            return False

    try:
        _wait_until(healthy, SERVER_START_S, lambda: f"server not healthy in {SERVER_START_S} s:\n{_tail(log)}")
        yield env
    finally:
        _stop(server)


@pytest.fixture
def deployed_project(tmp_path: Path, toy_project: Path, prefect_server: dict[str, str],
                     commit_all: Callable[[Path, str], None]) -> Path:
    """The toy DVC project with the real prefect.yaml and flows/, deployed from its own folder."""
    shutil.copy2(PROJECT_ROOT / "prefect.yaml", toy_project / "prefect.yaml")
    shutil.copytree(PROJECT_ROOT / "flows", toy_project / "flows", ignore=shutil.ignore_patterns("__pycache__"))
    commit_all(toy_project, "deployments")
    _prefect(prefect_server, toy_project, "work-pool", "create", POOL, "--type", "process")
    # One run at a time across deployments too: they share the checkout and DVC's lock.
    _prefect(prefect_server, toy_project, "work-pool", "set-concurrency-limit", POOL, "1")
    # `prefect deploy` records $PWD as the project folder; a shell sets it, a subprocess does not.
    _prefect({**prefect_server, "PWD": str(toy_project)}, toy_project, "--no-prompt", "deploy", "--all")
    return toy_project


@pytest.fixture
def worker(tmp_path: Path, prefect_server: dict[str, str]) -> Iterator[Path]:
    """A process worker started outside the project (so the pull step must find it); yields its log."""
    elsewhere = tmp_path / "worker-cwd"
    elsewhere.mkdir()
    log = tmp_path / "worker.log"
    proc = _start(
        [sys.executable, "-m", "prefect", "worker", "start", "--pool", POOL],
        log, {**prefect_server, "PREFECT_WORKER_QUERY_SECONDS": "1"}, elsewhere,
    )
    try:
        yield log
    finally:
        _stop(proc)


def test_on_demand_deployment_runs_the_pipeline_and_nightly_is_scheduled(
    prefect_server: dict[str, str], deployed_project: Path, worker: Path
) -> None:
    started = time.monotonic()
    triggered = _prefect(
        prefect_server, deployed_project,
        "deployment", "run", "flywheel-pipeline/on-demand", "--param", 'stages=["first"]', "--param", "retries=0",
    )
    flow_run_id = UUID(re.search(r"UUID: ([0-9a-f-]{36})", triggered).group(1))

    with temporary_settings({PREFECT_API_URL: prefect_server["PREFECT_API_URL"]}):
        with get_client(sync_client=True) as client:

            def finished() -> Any:
                state = client.read_flow_run(flow_run_id).state
                return state if state is not None and state.is_final() else None

            state = _wait_until(
                finished, RUN_DONE_S, lambda: f"flow run not finished in {RUN_DONE_S} s:\n{_tail(worker)}"
            )
            elapsed = time.monotonic() - started
            assert state.is_completed(), f"flow run ended {state.name}: {state.message}\n{_tail(worker)}"
            print(f"on-demand deployment: trigger to completion in {elapsed:.1f} s")

            # The stages parameter reached the flow: `first` ran, `second` did not.
            assert (deployed_project / "out/first.txt").read_text() == "hihihi"
            assert (deployed_project / "runs.log").read_text().split() == ["first"]
            assert not (deployed_project / "metrics/toy.json").exists()

            on_demand = client.read_deployment_by_name("flywheel-pipeline/on-demand")
            nightly = client.read_deployment_by_name("flywheel-pipeline/nightly")
            assert not on_demand.schedules
            for deployment in (on_demand, nightly):
                assert deployment.global_concurrency_limit is not None
                assert deployment.global_concurrency_limit.limit == 1
                assert deployment.job_variables["env"]["MMFLYWHEEL_HOME"] == str(deployed_project)

            def upcoming() -> list[Any]:
                runs = client.read_flow_runs(
                    deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[nightly.id]))
                )
                return [run for run in runs if run.state is not None and run.state.is_scheduled()]

            scheduled = _wait_until(
                upcoming, SCHEDULE_S, lambda: f"no scheduled nightly runs after {SCHEDULE_S} s"
            )
            assert all(
                (run.expected_start_time.hour, run.expected_start_time.minute) == (2, 0)
                and run.expected_start_time.utcoffset().total_seconds() == 0
                for run in scheduled
            ), [run.expected_start_time for run in scheduled]
