"""The signals of one motion: radar and IMU together, in the design's `.npz` contract (design.md §3).

``simulate_motion`` turns joints into one dict of arrays, ``save_signals`` / ``load_signals`` move it
to and from disk (loading checks every contract key and shape).  Heatmaps are linear power; every
consumer that wants decibels uses ``to_db`` so plots and normalisation statistics agree.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tasks.common.params import ParamsError
from tasks.motion.item import MotionError
from tasks.simulate.imu import ImuConfig, simulate_imu
from tasks.simulate.radar import RadarConfig, simulate_radar

METHODS = ("fast", "reference")
DEVICES = ("auto", "cpu", "cuda")
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


@dataclass(frozen=True)
class SimulateConfig:
    """The ``simulate`` section of params.yaml."""

    seed: int = 0
    strict: bool = False
    method: str = "fast"
    torch_threads: int = 1
    radar: RadarConfig = RadarConfig()
    imu: ImuConfig = ImuConfig()

    @classmethod
    def from_params(cls, d: dict[str, Any] | None, method: str | None = None) -> SimulateConfig:
        """Build from the section; ``method`` (if given, e.g. from the command line) overrides the section's."""
        d = dict(d or {})
        unknown = sorted(set(d) - {"seed", "strict", "method", "device", "torch_threads", "radar", "imu"})
        if unknown:
            raise ParamsError(f"simulate: unknown key(s) {unknown}")
        method = method or d.get("method", "fast")
        if method not in METHODS:
            raise ParamsError(f"simulate.method: must be one of {METHODS}, got {method!r}")
        radar_section = dict(d.get("radar") or {})
        for key in ("device", "seed"):  # set once for the stage: the radar's own fields would be ignored
            if key in radar_section:
                raise ParamsError(f"simulate.radar.{key}: set it as simulate.{key}")
        device = d.get("device", "auto")
        if device not in DEVICES:
            raise ParamsError(f"simulate.device: must be one of {DEVICES}, got {device!r}")
        imu = ImuConfig.from_params(d.get("imu") or {})
        missing = [s for s in REQUIRED_SITES if s not in imu.sites]
        if missing:
            raise ParamsError(f"simulate.imu.sites: the signals contract needs {missing} too")
        radar = RadarConfig.from_params({**radar_section, "device": device})
        radar.torch_device()  # a missing GPU is a configuration error, not one reject per motion
        threads = int(d.get("torch_threads", 1))
        if threads < 1:
            raise ParamsError(f"simulate.torch_threads: must be at least 1, got {threads}")
        return cls(seed=int(d.get("seed", 0)), strict=bool(d.get("strict", False)), method=method,
                   torch_threads=threads, radar=radar, imu=imu)


def item_seed(seed: int, item: str, stream: str) -> int:
    """A 63-bit seed from the stage seed, the motion id and a stream name: the same wherever it runs."""
    digest = hashlib.blake2b(f"{seed}\0{item}\0{stream}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


def simulate_motion(joints: np.ndarray, fps: float, radar_cfg: RadarConfig, imu_cfg: ImuConfig, seed: int,
                    item: str, method: str = "fast") -> dict[str, np.ndarray]:
    """Radar and IMU signals of ``joints`` [T, 22, 3] (metres, y up) at ``fps``, in the contract's keys.

    Noise is seeded from ``seed`` and the motion id ``item``, so a motion gets the same signals whatever
    else is simulated with it.  Raises MotionError naming ``item`` for a motion the simulators refuse.
    """
    try:
        radar = simulate_radar(joints, fps, radar_cfg, method=method, seed=item_seed(seed, item, "radar"))
    except ValueError as exc:
        raise MotionError(f"{item}: radar: {exc}") from exc
    imu = simulate_imu(joints, fps, imu_cfg, seed=item_seed(seed, item, "imu"), item=item)
    return {**radar, **imu}


def save_signals(path: str | Path, signals: dict[str, np.ndarray]) -> Path:
    """Write ``signals`` to ``path`` (.npz, compressed) through a temporary sibling and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez_compressed(fh, **signals)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_signals(path: str | Path) -> dict[str, np.ndarray]:
    """Every array of a signals ``.npz``, after checking the contract's keys and shapes."""
    path = Path(path)
    if not path.is_file():
        raise SignalsError(f"{path}: no such signals file")
    try:
        with np.load(path, allow_pickle=False) as npz:
            signals = {key: npz[key] for key in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
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
