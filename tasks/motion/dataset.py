"""Reading the motion data set the `motion` stage wrote, and single motions named on the command line."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from tasks.motion.item import MotionError
from tasks.motion.validate import check_joints

DEFAULT_ROOT = Path("data/motion")


def load_manifest(root: str | Path = DEFAULT_ROOT) -> pd.DataFrame:
    path = Path(root) / "manifest.parquet"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no motion data set here (run `dvc repro motion` first)")
    return pd.read_parquet(path)


def load_joints(root: str | Path, joints_path: str) -> np.ndarray:
    return np.load(Path(root) / joints_path)


def load_motion(spec: str, root: str | Path = DEFAULT_ROOT) -> tuple[str, np.ndarray]:
    """A motion named by a data-set id, a HumanML3D-format ``.npy`` file or a ``.bvh`` file.

    Returns (name, joints [T, 22, 3]); raises MotionError / FileNotFoundError with a one-line reason.
    """
    path = Path(spec)
    if path.suffix.lower() == ".bvh":
        from tasks.motion.bvh import load_bvh_file

        return path.stem, load_bvh_file(path).joints
    if path.suffix.lower() == ".npy":
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such file")
        try:
            joints = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise MotionError(f"{path}: unreadable .npy ({exc})") from exc
        return path.stem, check_joints(joints, str(path))
    manifest = load_manifest(root)
    row = manifest.loc[manifest["id"] == spec]
    if row.empty:
        raise MotionError(f"{spec}: not a file and not an id in {Path(root) / 'manifest.parquet'}")
    return spec, load_joints(root, row.iloc[0]["joints_path"])
