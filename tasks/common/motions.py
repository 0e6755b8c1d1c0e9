"""The motion data set on disk (what the motion stage writes, docs/contracts.md) and its one error type."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

DEFAULT_ROOT = Path("data/motion")


class MotionError(ValueError):
    """A motion file or clip cannot be used; the message is the one-line reason, naming the file."""


def load_manifest(root: str | Path = DEFAULT_ROOT) -> pd.DataFrame:
    """The manifest: one row per motion (id, split, source, label or null, fps, captions, facts, joints_path)."""
    path = Path(root) / "manifest.parquet"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no motion data set here (run `dvc repro motion` first)")
    return pd.read_parquet(path)


def load_joints(root: str | Path, joints_path: str) -> np.ndarray:
    """float32 [T, 22, 3] of one manifest row (``joints_path`` is relative to the data set folder)."""
    return np.load(Path(root) / joints_path, allow_pickle=False)
