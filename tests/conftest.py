"""Shared fixtures: telemetry off for tools the tests start, a tiny git + DVC project, and copies of the real one."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prefect.testing.utilities import prefect_test_harness

QUIET_ENV = {"DVC_NO_ANALYTICS": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}
PROJECT_ROOT = Path(__file__).resolve().parents[1]
MODEL_DIR = "models/smollm2-135m-instruct"  # the llm_model stage's output

# Two stages declared out of order (DVC must sort them): `first` turns params into a text file,
# `second` measures it into a metrics file. Each run appends its name to runs.log (not tracked).
TOY_FILES = {
    "params.yaml": "toy:\n  n: 3\n  word: hi\n",
    "first.py": (
        "import pathlib, yaml\n"
        "p = yaml.safe_load(open('params.yaml'))['toy']\n"
        "pathlib.Path('out').mkdir(exist_ok=True)\n"
        "pathlib.Path('out/first.txt').write_text(p['word'] * p['n'])\n"
        "open('runs.log', 'a').write('first\\n')\n"
        "print('first wrote', p['n'], 'words')\n"
    ),
    "second.py": (
        "import json, pathlib\n"
        "text = pathlib.Path('out/first.txt').read_text()\n"
        "pathlib.Path('metrics').mkdir(exist_ok=True)\n"
        "json.dump({'chars': len(text), 'shape': {'words': text.count('hi')}}, open('metrics/toy.json', 'w'))\n"
        "open('runs.log', 'a').write('second\\n')\n"
    ),
    "dvc.yaml": (
        "stages:\n"
        "  second:\n"
        "    cmd: python second.py\n"
        "    deps: [second.py, out/first.txt]\n"
        "    metrics:\n"
        "      - metrics/toy.json:\n"
        "          cache: false\n"
        "  first:\n"
        "    cmd: python first.py\n"
        "    deps: [first.py]\n"
        "    params: [toy.n, toy.word]\n"
        "    outs: [out/first.txt]\n"
    ),
    ".gitignore": "runs.log\n",
}


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


def _dvc(repo: Path, *args: str) -> str:
    """`dvc ARGS` in ``repo``; its stdout (raises CalledProcessError if it fails)."""
    return subprocess.run(
        [sys.executable, "-m", "dvc", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout


def _init_git_dvc_repo(repo: Path) -> None:
    """`git init` + `dvc init` with a local identity, so commits and `dvc exp` work anywhere."""
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "user.name", "mmflywheel tests")
    _git(repo, "config", "user.email", "tests@mmflywheel.invalid")
    _dvc(repo, "init", "-q")


def _commit_all(repo: Path, message: str) -> None:
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", message)


@pytest.fixture(scope="session")
def quiet_env() -> Iterator[dict[str, str]]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in QUIET_ENV.items():
            patch.setenv(name, value)
        yield QUIET_ENV


@pytest.fixture(scope="session")
def dvc() -> Callable[..., str]:
    """``dvc(repo, *args)``: run `dvc ARGS` in a test's repository and return its stdout."""
    return _dvc


@pytest.fixture(scope="session")
def init_git_dvc_repo() -> Callable[[Path], None]:
    return _init_git_dvc_repo


@pytest.fixture(scope="session")
def commit_all() -> Callable[[Path, str], None]:
    """`git add -A && git commit` in a test's repository."""
    return _commit_all


@pytest.fixture
def toy_project(tmp_path: Path, quiet_env: dict[str, str]) -> Path:
    """A committed git + DVC project holding TOY_FILES, nothing reproduced yet."""
    repo = tmp_path / "toy"
    repo.mkdir()
    _init_git_dvc_repo(repo)
    for name, text in TOY_FILES.items():
        (repo / name).write_text(text)
    _commit_all(repo, "toy pipeline")
    return repo


@pytest.fixture(scope="session")
def prefect_api(quiet_env: dict[str, str]) -> Iterator[None]:
    with prefect_test_harness(server_startup_timeout=90):
        yield


@pytest.fixture(scope="session")
def smollm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The embedded SmolLM2 converted once per test session (or the folder MMFLYWHEEL_LLM_DIR names)."""
    given = os.environ.get("MMFLYWHEEL_LLM_DIR")
    if given and (Path(given) / "config.json").is_file():
        return Path(given)
    out = tmp_path_factory.mktemp("llm") / "smollm2"
    # Through the CLI the llm_model stage uses.
    subprocess.run([sys.executable, "-m", "tasks.llm.convert", str(out)], check=True, capture_output=True)
    return out


def _copy_project_files(destination: Path, paths: list[str]) -> None:
    """Copy the project's files under ``paths`` that git would see (tracked, or untracked but not ignored)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", *paths],
        cwd=PROJECT_ROOT, check=True, capture_output=True, text=True,
    ).stdout
    for relative in filter(None, listed.split("\0")):
        if (PROJECT_ROOT / relative).is_file():
            (destination / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(PROJECT_ROOT / relative, destination / relative)


@pytest.fixture(scope="session")
def copy_project_files() -> Callable[[Path, list[str]], None]:
    """``copy(destination, paths)``: the project's files under ``paths``, as git sees them."""
    return _copy_project_files


def _deep_update(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``changes`` merged in, nested mappings key by key (``base`` is changed in place)."""
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _deep_update(base[key], value)
        else:
            base[key] = value
    return base


def _project_copy(destination: Path, params: dict[str, Any], model_dir: Path | None = None) -> Path:
    """A committed git + DVC copy of the project's code, pipeline and committed inputs, with ``params`` merged in.

    With ``model_dir`` (the converted embedded model) it is copied in and committed as the llm_model stage's
    output, so the copy does not convert it again.
    """
    destination.mkdir()
    _init_git_dvc_repo(destination)
    _copy_project_files(destination, ["tasks", "flows", "prompts", "dvc.yaml", "params.yaml", ".gitignore",
                                      ".dvcignore", "data/raw"])
    params_file = destination / "params.yaml"
    params_file.write_text(yaml.safe_dump(_deep_update(yaml.safe_load(params_file.read_text()), params),
                                          sort_keys=False))
    if model_dir is not None:
        shutil.copytree(model_dir, destination / MODEL_DIR)
        _dvc(destination, "commit", "--force", "llm_model")
    _commit_all(destination, "project copy")
    return destination


@pytest.fixture(scope="session")
def project_copy() -> Callable[..., Path]:
    """``copy(destination, params, model_dir=None)``: a committed git + DVC copy of the real project."""
    return _project_copy
