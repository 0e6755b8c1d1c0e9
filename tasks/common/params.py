"""Reading ``params.yaml``: every tunable of every stage lives there, one section per stage."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class ParamsError(ValueError):
    """params.yaml is missing, unreadable, or lacks a section a stage needs."""


def load_params(path: str | Path = "params.yaml", section: str | None = None) -> dict[str, Any]:
    """Return the whole params file, or one top-level section of it."""
    path = Path(path)
    if not path.is_file():
        raise ParamsError(f"{path}: no such params file (run from the project folder or pass --params)")
    try:
        params = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path}: not valid YAML: {exc}") from exc
    if section is None:
        return params
    if section not in params:
        raise ParamsError(f"{path}: has no '{section}' section")
    return params[section]
