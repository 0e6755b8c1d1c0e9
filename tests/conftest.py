"""Shared fixtures: telemetry off for tools the tests start, and a tiny git + DVC project."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from prefect.testing.utilities import prefect_test_harness

QUIET_ENV = {"DVC_NO_ANALYTICS": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}

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


def _init_git_dvc_repo(repo: Path) -> None:
    """`git init` + `dvc init` with a local identity, so commits and `dvc exp` work anywhere."""
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "user.name", "mmflywheel tests")
    _git(repo, "config", "user.email", "tests@mmflywheel.invalid")
    subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], cwd=repo, check=True)


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
    root = Path(__file__).resolve().parents[1]
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", *paths],
        cwd=root, check=True, capture_output=True, text=True,
    ).stdout
    for relative in filter(None, listed.split("\0")):
        if (root / relative).is_file():
            (destination / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / relative, destination / relative)


@pytest.fixture(scope="session")
def copy_project_files() -> Callable[[Path, list[str]], None]:
    """``copy(destination, paths)``: the project's files under ``paths``, as git sees them."""
    return _copy_project_files
