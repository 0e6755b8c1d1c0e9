"""The signals of one motion on disk: the `.npz` contract every stage after simulate reads (docs/contracts.md).

``save_signals`` / ``load_signals`` move one motion's dict of arrays to and from disk (loading checks every
contract key and shape).  Heatmaps are linear power; every consumer that wants decibels uses ``to_db`` so
plots, facts and normalisation statistics agree.  Nothing here imports the simulator.
"""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from tasks.common.io import atomic_file

REQUIRED_SITES = ("pelvis", "left_wrist", "right_wrist", "left_ankle", "right_ankle")
HEATMAPS = (("range_time", "range_m"), ("doppler_time", "velocity_mps"), ("azimuth_time", "azimuth_deg"))
POINT_FEATURES = ("x", "y", "z", "velocity", "intensity")
IMU_CHANNELS = ("acc_x", "acc_y", "acc_z", "gyr_x", "gyr_y", "gyr_z")
# Added to linear power before the log: far below any echo or noise floor, but keeps an exactly empty
# bin (e.g. zero Doppler after clutter removal of a silent scene) finite.
DB_EPS = 1e-12

# Contract: key -> dimension names; a name shared by two keys must have one length.
CONTRACT: dict[str, tuple[str | int, ...]] = {
    "range_time": ("R", "F"),
    "range_m": ("R",),
    "doppler_time": ("D", "F"),
    "velocity_mps": ("D",),
    "azimuth_time": ("A", "F"),
    "azimuth_deg": ("A",),
    "frame_time_s": ("F",),
    "points": ("N", 5),
    "points_frame": ("N",),
    "imu": ("Ti", "S", 6),
    "imu_time_s": ("Ti",),
    "imu_sites": ("S",),
}


class SignalsError(ValueError):
    """A signals file that is missing, unreadable or breaks the contract; the message names it."""


def to_db(power: np.ndarray) -> np.ndarray:
    """Linear power -> decibels, 10 log10(power + DB_EPS), in float64."""
    return 10.0 * np.log10(np.asarray(power, dtype=np.float64) + DB_EPS)


def save_signals(path: str | Path, signals: dict[str, np.ndarray]) -> Path:
    """Write ``signals`` to ``path`` (.npz, compressed) through a temporary sibling and a rename."""
    path = Path(path)
    with atomic_file(path) as fh:
        np.savez_compressed(fh, **signals)
    return path


def load_signals(path: str | Path) -> dict[str, np.ndarray]:
    """Every array of a signals ``.npz``, after checking the contract's keys and shapes."""
    path = Path(path)
    if not path.is_file():
        raise SignalsError(f"{path}: no such signals file")
    try:
        with np.load(path, allow_pickle=False) as npz:
            signals = {key: npz[key] for key in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:  # EOFError: an empty file
        raise SignalsError(f"{path}: not a readable .npz ({exc})") from exc
    check_signals(signals, str(path))
    return signals


def check_signals(signals: dict[str, np.ndarray], name: str) -> None:
    """SignalsError naming ``name`` unless every contract key is there with consistent dimensions."""
    missing = [key for key in CONTRACT if key not in signals]
    if missing:
        raise SignalsError(f"{name}: missing signal(s) {missing}")
    sizes: dict[str, int] = {}
    for key, dims in CONTRACT.items():
        shape = signals[key].shape
        if len(shape) != len(dims):
            raise SignalsError(f"{name}: {key} must be [{', '.join(map(str, dims))}], got {list(shape)}")
        for dim, size in zip(dims, shape):
            expected = dim if isinstance(dim, int) else sizes.setdefault(dim, size)
            if size != expected:
                raise SignalsError(f"{name}: {key} has {dim} = {size}, other signals have {expected}")
    missing_sites = [s for s in REQUIRED_SITES if s not in signals["imu_sites"].tolist()]
    if missing_sites:
        raise SignalsError(f"{name}: imu_sites lacks {missing_sites}")
