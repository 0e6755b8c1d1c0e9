"""Simulate one motion: the ``simulate`` params section and joints -> the signals dict (tasks/common/signals.py)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from tasks.common.params import ParamsError
from tasks.common.seeds import item_seed
from tasks.common.signals import REQUIRED_SITES
from tasks.common.motions import MotionError
from tasks.simulate.imu import ImuConfig, simulate_imu
from tasks.simulate.radar import RadarConfig, simulate_radar

METHODS = ("fast", "reference")
DEVICES = ("auto", "cpu", "cuda")


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
