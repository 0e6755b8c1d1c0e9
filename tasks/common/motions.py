"""The motion data set on disk (what the motion stage writes, docs/contracts.md) and its one error type."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

DEFAULT_ROOT = Path("data/motion")
# The fewest frames a motion may have, so that whatever the motion stage accepts simulate can simulate: the
# virtual IMUs fit a spline and differentiate it twice (3 frames at least), and 3 frames at 20 fps (0.1 s) hold
# one radar frame of every preset (a frame's chirps take at most 1 / frame rate, 0.1 s at 10 fps).
MIN_FRAMES = 3


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
