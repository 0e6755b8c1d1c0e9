"""What every training stage shares: the learning-rate schedule, atomic checkpoints that a rerun of the same
params and data continues from, and training curves written with dvclive (replayed on a resume, so the curves
have no gaps or repeats)."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
from dvclive import Live

from tasks.common.io import atomic_file


def lr_factor(step: int, warmup: int, total: int) -> float:
    """Linear warm-up over ``warmup`` steps, then cosine decay to zero at ``total``."""
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, total - warmup))))


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    """Write ``state`` to ``path`` atomically: a kill mid-write leaves the previous checkpoint."""
    with atomic_file(path) as fh:
        torch.save(state, fh)


def load_checkpoint(path: str | Path, key: str, stage: str) -> dict[str, Any] | None:
    """The checkpoint at ``path`` if it was written by a run with fingerprint ``key``; None otherwise.  A torn
    or foreign file is set aside (renamed, kept for a look), never deleted or silently used."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # a torn or foreign file: start afresh
        print(f"{stage}: {path}: unreadable checkpoint ({type(exc).__name__}), starting afresh")
        path.replace(path.with_suffix(".unreadable"))
        return None
    if not isinstance(state, dict) or state.get("fingerprint") != key:
        print(f"{stage}: {path}: a checkpoint of other params or data, set aside as {path.name}.old")
        path.replace(path.with_name(path.name + ".old"))
        return None
    return state


def open_live(live_dir: str | Path | None, history: list[dict[str, float]], enabled: bool = True) -> Live | None:
    """A dvclive logger on ``live_dir`` (None: no curves) with the rows of ``history`` already logged."""
    if live_dir is None or not enabled:
        return None
    live = Live(str(live_dir), save_dvc_exp=False, dvcyaml=None)
    for row in history:
        log_row(live, row)
    return live


def log_row(live: Live | None, row: dict[str, float]) -> None:
    """One row of curves (``step`` and name -> value) into ``live``."""
    if live is None:
        return
    live.step = int(row["step"])
    for name, value in row.items():
        if name != "step":
            live.log_metric(name, value)
