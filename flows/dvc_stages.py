"""DVC glue for the flows: which stages exist and in what order, whether one is stale, running DVC.

Plain Python with no Prefect in it: DVC owns the pipeline (`dvc.yaml`) and decides what is stale;
the flows only ask it and log what it says.
"""
from __future__ import annotations

import collections
import os
import shlex
import subprocess
import sys
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import networkx as nx
from dvc.dvcfile import PROJECT_FILE
from dvc.repo import Repo
from dvc.stage import PipelineStage

# Defaults for DVC and stage subprocesses (the environment may override them): no usage reports, and
# progress bars redrawn every 10 s instead of 0.1 s, since through a pipe each redraw is a log line.
_DEFAULT_ENV = {"DVC_NO_ANALYTICS": "1", "DO_NOT_TRACK": "1", "TQDM_MININTERVAL": "10"}
_ERROR_TAIL_LINES = 30


class CommandError(RuntimeError):
    """A command exited non-zero; the message ends with the last lines it printed.

    When the command was a stage that failed the way `tasks.common.stage.run_stage` reports it, with
    one line `STAGE: problem` last, the message starts with that line.
    """


class DvcCommandError(CommandError):
    """A `dvc` command exited non-zero; the message ends with the last lines it printed."""


def pipeline_stages(project_dir: str | Path, targets: Sequence[str] | None = None) -> list[str]:
    """Names of the DVC pipeline stages in an order DVC can run them, one at a time.

    With ``targets``, only those stages and everything upstream of them (what `dvc repro
    TARGET...` would consider). Independent stages keep their `dvc.yaml` order.
    """
    with Repo(os.fspath(project_dir)) as repo:
        graph = repo.index.graph  # an edge points from a stage to a stage it depends on
        declared = {stage: position for position, stage in enumerate(repo.index.stages)}
        by_name = {_name(stage): stage for stage in graph if isinstance(stage, PipelineStage)}
        wanted: set[Any] = set(graph)
        if targets:
            unknown = sorted(set(targets) - set(by_name))
            if unknown:
                raise ValueError(
                    f"no DVC stage named {', '.join(unknown)} in {project_dir}; "
                    f"stages: {', '.join(sorted(by_name)) or 'none'}"
                )
            wanted = set()
            for name in targets:
                wanted |= {by_name[name], *nx.descendants(graph, by_name[name])}
        order = nx.lexicographical_topological_sort(graph.reverse(copy=False), key=declared.__getitem__)
        # `.dvc` files (tracked data) are graph nodes too, but have no command to run.
        return [_name(stage) for stage in order if stage in wanted and isinstance(stage, PipelineStage)]


def _name(stage: PipelineStage) -> str:
    """The stage as `dvc` addresses it from the project root (DVC's own `addressing` is cwd-relative)."""
    return stage.name if stage.path_in_repo == PROJECT_FILE else f"{stage.path_in_repo}:{stage.name}"


def stage_changes(project_dir: str | Path, stage: str) -> list[Any]:
    """DVC's reasons why ``stage`` has to run again (as `dvc status` reports them); empty if up to date."""
    dvcfile, _, name = stage.rpartition(":")
    # DVC resolves targets against the process's cwd: anchor this one at the project.
    target = f"{Path(project_dir, dvcfile or PROJECT_FILE)}:{name}"
    with Repo(os.fspath(project_dir)) as repo:
        status = repo.status(targets=[target])
    return [reason for reasons in status.values() for reason in reasons]


def stage_command(project_dir: str | Path, stage: str) -> tuple[str, Path]:
    """A pipeline stage's command and the folder it runs in, as `dvc.yaml` declares them."""
    with Repo(os.fspath(project_dir)) as repo:
        for candidate in repo.index.stages:
            if isinstance(candidate, PipelineStage) and _name(candidate) == stage:
                if not isinstance(candidate.cmd, str):
                    raise ValueError(f"stage {stage}: expected one command, got {candidate.cmd!r}")
                return candidate.cmd, Path(candidate.wdir)
    raise ValueError(f"no DVC stage named {stage} in {project_dir}")


def run_dvc(
    project_dir: str | Path, args: Sequence[str], log_line: Callable[[str], None], stage: str | None = None
) -> None:
    """Run `dvc ARGS` in ``project_dir``, handing each non-blank line of its stdout/stderr to ``log_line``.

    ``stage``: the stage this command runs, whose one-line failure message should lead the error.
    """
    run_command([sys.executable, "-m", "dvc", *args], project_dir, log_line, error=DvcCommandError, stage=stage)


def run_command(
    command: Sequence[str],
    cwd: str | Path,
    log_line: Callable[[str], None],
    *,
    error: type[CommandError] = CommandError,
    unset_env: Collection[str] = (),
    stage: str | None = None,
) -> None:
    """Run ``command`` in ``cwd`` as `dvc repro` runs a stage, handing each non-blank output line to ``log_line``.

    This interpreter's folder leads PATH, so `python` in a stage command is the environment the
    flow (or Dask worker) runs in even when a service starts it; ``unset_env`` names variables of
    this process the command must not inherit. Raises ``error``, with the output's tail, if the
    command exits non-zero; its first line is ``stage``'s failure message when the output ends with one.
    """
    env = {**_DEFAULT_ENV, **os.environ, "PYTHONUNBUFFERED": "1"}  # unbuffered: stage output streams live
    for name in unset_env:
        env.pop(name, None)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    tail: collections.deque[str] = collections.deque(maxlen=_ERROR_TAIL_LINES)
    with subprocess.Popen(
        list(command),
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        errors="replace",
        bufsize=1,
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.rstrip()
            if line:
                tail.append(line)
                log_line(line)
    if proc.returncode != 0:
        said = stage_message(stage, tail) if stage else None
        raise error(
            (f"{said}\n" if said else "")
            + f"`{shlex.join(command)}` in {cwd} exited with {proc.returncode}; last output:\n"
            + "\n".join(tail)
        )


def stage_message(stage: str, lines: Sequence[str]) -> str | None:
    """The `STAGE: problem` line a failed stage printed last, or None if it ended otherwise (a traceback).

    DVC's own `ERROR: failed to reproduce ...` lines come after the stage's output and are skipped.
    """
    own = [line for line in lines if not line.startswith("ERROR: ")]
    return own[-1] if own and own[-1].startswith(f"{stage}: ") else None


def experiment_args(name: str, params: Mapping[str, Any], targets: Sequence[str] = ()) -> list[str]:
    """Arguments for `dvc exp run` of ``targets`` (all stages if empty) with ``params`` set.

    `--temp` runs the experiment in a scratch copy of the repository (committed files plus
    uncommitted edits of tracked files), so the project's own `params.yaml` and outputs stay
    on the baseline that scheduled runs reproduce.
    """
    return ["exp", "run", "--temp", "--name", name, *set_param_args(params), *targets]


def set_param_args(params: Mapping[str, Any]) -> list[str]:
    """`-S key=value` pairs for `dvc exp run`; nested mappings become dotted keys.

    Keys may name another params file as DVC allows (`file.yaml:key`). Values are written in the
    override grammar DVC parses (Hydra's), so strings stay strings and lists stay lists.
    """
    args: list[str] = []
    for key, value in _flatten(params):
        args += ["-S", f"{key}={_override_value(value)}"]
    return args


def _flatten(params: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in params.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            yield from _flatten(value, dotted + ".")
        else:
            yield dotted, value


def _override_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        # Hydra keeps a backslash literally unless it precedes a quote: refuse the ambiguous case.
        if "\\" in value:
            raise ValueError(f"params override value {value!r}: backslashes are not supported")
        return '"' + value.replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_override_value(item) for item in value) + "]"
    raise TypeError(f"params override value {value!r}: use a number, string, bool, null or a list of them")


def read_metrics(project_dir: str | Path, rev: str | None = None) -> dict[str, dict[str, Any] | None]:
    """The metrics files `dvc.yaml` declares, each flattened to dotted keys; None for an unreadable one.

    ``rev`` is a git revision or experiment name; without it, the workspace.
    """
    with Repo(os.fspath(project_dir)) as repo:
        shown = repo.metrics.show(revs=[rev] if rev else None)
    # The workspace is keyed "" when no revision is asked for.
    files = shown.get(rev or "", {}).get("data", {})
    return {
        path: dict(_flatten(entry["data"])) if "data" in entry else None
        for path, entry in sorted(files.items())
    }
