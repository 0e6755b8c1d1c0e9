"""Resuming the simulate stage: every signals file records what made it, so a rerun keeps what still holds.

A motion's provenance key hashes everything its signals depend on: the motion id, its joints (dtype, shape,
bytes) and fps, the validated ``simulate`` params that shape signals (all but ``strict``), the torch device,
the simulator's source (tasks/simulate and the tasks/common modules it reads) and the numpy, scipy and torch
versions.  The key is stored in the motion's .npz as ``provenance`` (an extra key, docs/contracts.md).

The stage writes into a fixed scratch folder beside its output (``data/.signals.partial`` for
``data/signals``), so a killed run leaves its finished motions where the rerun looks; a motion whose file
there, or in the previous output, carries the same key is kept (hard link), the rest are simulated.  The
files are the same bytes a cold run writes, so a resumed run ends identical to one.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import scipy
import torch

import tasks
from tasks.simulate.config import SimulateConfig

PROVENANCE = "provenance"
_TASKS = Path(tasks.__file__).resolve().parent
# The source the signals depend on: the simulator, and the common modules it takes seeds, joints and the
# file format from.
_SOURCES = ("simulate", "common/signals.py", "common/seeds.py", "common/skeleton.py")


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """Hash of the simulator's source files and the numeric libraries' versions."""
    digest = hashlib.blake2b(digest_size=16)
    for name in (np.__version__, scipy.__version__, torch.__version__):
        digest.update(name.encode() + b"\0")
    for source in _SOURCES:
        root = _TASKS / source
        for path in sorted(root.rglob("*.py")) if root.is_dir() else [root]:
            digest.update(path.relative_to(_TASKS).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def provenance_key(item: str, joints: np.ndarray, fps: float, cfg: SimulateConfig) -> str:
    """The key of one motion's signals (see the module docstring)."""
    joints = np.ascontiguousarray(joints)
    params = {
        "seed": cfg.seed, "method": cfg.method, "torch_threads": cfg.torch_threads,
        "device": str(cfg.radar.torch_device()), "radar": dataclasses.asdict(cfg.radar),
        "imu": cfg.imu.model_dump(), "scene": cfg.scene.model_dump(),
    }
    digest = hashlib.blake2b(digest_size=16)
    for part in (code_fingerprint(), item, repr(float(fps)), joints.dtype.str, repr(joints.shape),
                 json.dumps(params, sort_keys=True)):
        digest.update(part.encode() + b"\0")
    digest.update(joints.tobytes())
    return digest.hexdigest()


def stamped(signals: dict[str, np.ndarray], key: str) -> dict[str, np.ndarray]:
    """``signals`` with their provenance ``key`` added, ready for save_signals."""
    return {**signals, PROVENANCE: np.array(key)}


def stored_key(path: Path) -> str | None:
    """The provenance key in the signals file ``path``; None where there is none or the file is unreadable."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            return str(npz[PROVENANCE]) if PROVENANCE in npz.files else None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        return None


def scratch_folder(out: Path) -> Path:
    return out.with_name(f".{out.name}.partial")


def clear_stale(out: Path) -> None:
    """Remove what killed runs left beside ``out`` (``.<name>.*.tmp`` and ``.<name>.old-*`` folders) and
    the half-written temporaries inside its scratch folder; finished files in the scratch folder stay."""
    scratch = scratch_folder(out)
    leftovers = [p for p in out.parent.glob(f".{out.name}.*") if p != scratch]
    if scratch.is_dir():
        leftovers += list(scratch.glob(".*"))
    for path in leftovers:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


def reuse(key: str, target: Path, earlier: list[Path]) -> bool:
    """Whether ``target`` holds signals with ``key``, after linking in the first of ``earlier`` that has them."""
    if stored_key(target) == key:
        return True
    for previous in earlier:
        if stored_key(previous) == key:
            target.unlink(missing_ok=True)
            link_or_copy(previous, target)
            return True
    return False


def link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:  # another file system, or links not supported
        shutil.copy2(src, dst)
