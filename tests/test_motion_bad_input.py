"""Bad own-data files: each is one line naming the file and the problem, a reject of the motion stage while the
rest of the batch carries on, and the same line from load_motion (what `flywheel simulate/show FILE` use)."""
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from motion_bodies import STANDING, straight
from motion_sources import SKELETON, bvh_text, joint_names, waving, write_bvh, write_humanml3d

from tasks.common.motions import MotionError
from tasks.motion.dataset import load_motion
from tasks.motion.stage import main as motion_main

FRAMES, FRAME_TIME = 61, 1 / 30  # 2 s
CHANNELS = 6 + 3 * (len(joint_names(SKELETON)) - 1)
VALUES = FRAMES * CHANNELS
CAFE = "a person walks into the café."  # é is byte 0xe9 in latin-1, not UTF-8


def spoiled(where):
    """The waving pose with NaN or inf where ``where(name, frame)`` says so."""
    def pose(name, t):
        position, angles = waving(name, t)
        bad = where(name, round(t / FRAME_TIME))
        if bad == "position":
            position = (math.nan,) * 3
        elif bad == "all":
            position, angles = (None if position is None else (math.nan,) * 3), (math.nan,) * 3
        elif bad:  # one rotation axis
            angles = tuple(math.inf if axis == bad else v for axis, v in zip("XYZ", angles))
        return position, angles
    return pose


def write_bad_bvh(root: Path) -> dict[str, str]:
    """BVH files that must be rejected, and the reason each gets."""
    files = {
        "nan_all": spoiled(lambda name, frame: "all"),
        "nan_root": spoiled(lambda name, frame: "position" if name == "Hips" and frame >= 10 else None),
        "inf_rotation": spoiled(lambda name, frame: "Z" if name == "LeftForeArm" and frame == 50 else None),
    }
    for stem, pose in files.items():
        (root / f"{stem}.bvh").write_text(bvh_text(SKELETON, FRAMES, FRAME_TIME, pose, unit=0.01))
    (root / "one_frame.bvh").write_text(bvh_text(SKELETON, 1, FRAME_TIME, waving, unit=0.01))
    (root / "latin1.bvh").write_text(bvh_text(SKELETON, FRAMES, FRAME_TIME, waving, unit=0.01))
    (root / "latin1.txt").write_bytes(CAFE.encode("latin-1"))
    return {
        "nan_all": f"nan_all.bvh: NaN or inf in {VALUES} of {VALUES} channel values (first in frame 0, Hips Xposition)",
        "nan_root": f"nan_root.bvh: NaN or inf in {3 * (FRAMES - 10)} of {VALUES} channel values "
                    "(first in frame 10, Hips Xposition)",
        "inf_rotation": f"inf_rotation.bvh: NaN or inf in 1 of {VALUES} channel values "
                        "(first in frame 50, LeftForeArm Zrotation)",
        "one_frame": "one_frame.bvh: too short: 1 frame, need at least 3",
        "latin1": f"latin1.txt: not UTF-8 text (byte 0xe9 at position {CAFE.index('é')})",
    }


def write_bad_humanml3d(root: Path) -> dict[str, str]:
    """Clips beside good ones that must be rejected, and the reason each gets."""
    joints = np.load(root / "new_joints/000001.npy")
    np.save(root / "new_joints/000007.npy", joints)
    (root / "texts/000007.txt").write_bytes("café#x#0.0#0.0\n".encode("latin-1"))
    (root / "new_joints/000008.npy").write_text("0.1 0.2 0.3\n")  # a text file named .npy
    (root / "new_joints/000009.npy").write_bytes(b"")
    np.save(root / "new_joints/000010.npy", np.array([{"joints": 1}], dtype=object), allow_pickle=True)
    for cid in ("000008", "000009", "000010"):
        (root / f"texts/{cid}.txt").write_text("a person walks.#x#0.0#0.0\n")
    with open(root / "train.txt", "a") as fh:
        fh.write("000007\n000008\n000009\n000010\n")
    return {
        "000007": "texts/000007.txt: not UTF-8 text (byte 0xe9 at position 3)",
        "000008": "new_joints/000008.npy: not a NumPy .npy file",
        "000009": "new_joints/000009.npy: not a NumPy .npy file (empty file)",
        "000010": "new_joints/000010.npy: holds Python objects, not numbers (pickled data is never loaded)",
    }


def test_each_bad_file_is_a_reject_and_the_rest_carries_on(tmp_path):
    write_humanml3d(tmp_path / "hml", n=2)
    write_bvh(tmp_path / "bvh", seconds=2.0)
    expected = {**write_bad_humanml3d(tmp_path / "hml"), **write_bad_bvh(tmp_path / "bvh")}
    params = {"motion": {"sources": ["humanml3d", "bvh"], "humanml3d": {"root": str(tmp_path / "hml")},
                         "bvh": {"root": str(tmp_path / "bvh")}}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    out = tmp_path / "motion"
    assert motion_main(["--params", str(tmp_path / "params.yaml"), "--out", str(out),
                        "--metrics", str(tmp_path / "m")]) == 0

    rejects = [json.loads(line) for line in (out / "rejects.jsonl").read_text().splitlines()]
    assert {r["item"]: r["reason"] for r in rejects} == expected
    sources = {r["item"]: r["source"] for r in rejects}
    assert sources["nan_root"] == str(tmp_path / "bvh/nan_root.bvh")
    assert sources["000008"] == str(tmp_path / "hml/new_joints/000008.npy")
    manifest = pd.read_parquet(out / "manifest.parquet")
    assert sorted(manifest["id"]) == ["000001", "000001_0", "000002", "000002_0", "cmu_walk", "wave"]
    assert json.loads((tmp_path / "m/motion.json").read_text())["reject_reasons"] == {
        "NaN or inf in": 3, "not UTF-8 text": 2, "not a NumPy .npy file": 2, "too short": 1,
        "holds Python objects": 1,
    }


def test_load_motion_names_the_file_and_the_problem(tmp_path):
    reasons = write_bad_bvh(tmp_path)
    for stem in ("nan_all", "nan_root", "inf_rotation", "one_frame"):
        with pytest.raises(MotionError) as err:
            load_motion(str(tmp_path / f"{stem}.bvh"))
        assert str(err.value) == reasons[stem]
    text, empty, short, good = (tmp_path / f"{name}.npy" for name in ("text", "empty", "short", "good"))
    text.write_text("0.1 0.2 0.3\n")
    empty.write_bytes(b"")
    np.save(short, STANDING[None])
    np.save(good, straight(STANDING, (0.0, 1.0), 40))
    for path, reason in ((text, "not a NumPy .npy file"), (empty, "not a NumPy .npy file (empty file)"),
                         (short, "too short: 1 frame, need at least 3")):
        with pytest.raises(MotionError) as err:
            load_motion(str(path))
        assert str(err.value) == f"{path}: {reason}"
    name, joints = load_motion(str(good))
    assert name == "good" and joints.shape == (40, 22, 3) and joints.dtype == np.float32
