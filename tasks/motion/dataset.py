"""Single motions named on the command line: a data-set id, a HumanML3D-format .npy or a .bvh."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from tasks.common.motions import DEFAULT_ROOT, MotionError, load_joints, load_manifest
from tasks.motion.files import load_npy
from tasks.motion.validate import check_joints


def load_motion(spec: str, root: str | Path = DEFAULT_ROOT) -> tuple[str, np.ndarray]:
    """A motion named by a data-set id, a HumanML3D-format ``.npy`` file or a ``.bvh`` file.

    Returns (name, joints [T, 22, 3]); raises MotionError / FileNotFoundError with a one-line reason that
    names the file.  A file passes the checks the motion stage applies, so simulate can use what it gets.
    """
    path = Path(spec)
    if path.suffix.lower() == ".bvh":
        from tasks.motion.bvh import load_bvh_file

        return path.stem, load_bvh_file(path).joints
    if path.suffix.lower() == ".npy":
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such file")
        return path.stem, check_joints(load_npy(path, str(path)), str(path))
    manifest = load_manifest(root)
    row = manifest.loc[manifest["id"] == spec]
    if row.empty:
        raise MotionError(f"{spec}: not a file and not an id in {Path(root) / 'manifest.parquet'}")
    return spec, load_joints(root, row.iloc[0]["joints_path"])
