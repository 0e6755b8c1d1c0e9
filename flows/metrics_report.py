"""The markdown summary of one pipeline run: what each stage did, the metrics, where the report is."""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def run_markdown(
    project_dir: Path,
    stage_results: Mapping[str, str],
    metrics: Mapping[str, Mapping[str, Any] | None],
    experiment: str | None = None,
) -> str:
    """Markdown with a stage table, one metrics table per metrics file, and where to look next."""
    lines = ["# mmFlywheel pipeline run", "", f"Project: `{project_dir}`", ""]
    if experiment:
        lines += [
            f"DVC experiment `{experiment}`: its outputs live in the experiment, not in the workspace.",
            f"Compare with `dvc exp show`; adopt it with `dvc exp apply {experiment}`.",
            "",
        ]
    lines += ["| stage | result |", "|---|---|"]
    lines += [f"| {_cell(stage)} | {_cell(result)} |" for stage, result in stage_results.items()]
    lines.append("")
    if not metrics:
        lines.append("No metrics files are declared in `dvc.yaml` yet.")
    for path, values in metrics.items():
        lines += [f"## `{path}`", ""]
        if values is None:
            lines += ["_not readable (not produced yet?)_", ""]
            continue
        lines += ["| metric | value |", "|---|---|"]
        lines += [f"| {_cell(name)} | {_cell(_number(value))} |" for name, value in values.items()]
        lines.append("")
    if metrics and not experiment:
        lines.append(f"Report: `{report_location(project_dir, metrics)}`")
    return "\n".join(lines).rstrip() + "\n"


def report_location(project_dir: Path, metrics: Mapping[str, object]) -> Path:
    """The folder holding all metrics files (the place a rendered report will go)."""
    folders = [str((project_dir / path).parent) for path in metrics]
    return Path(os.path.commonpath(folders))


def _number(value: Any) -> Any:
    return f"{value:.6g}" if isinstance(value, float) else value


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")
