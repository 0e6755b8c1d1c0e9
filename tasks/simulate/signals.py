"""Simulate one motion: joints -> the signals dict of the contract (tasks/common/signals.py, docs/contracts.md)."""
from __future__ import annotations

import numpy as np

from tasks.common.motions import MotionError
from tasks.common.seeds import item_seed
from tasks.simulate.imu import ImuConfig, simulate_imu
from tasks.simulate.radar import RadarConfig, simulate_radar
from tasks.simulate.scene import SceneConfig, place


def simulate_motion(joints: np.ndarray, fps: float, radar_cfg: RadarConfig, imu_cfg: ImuConfig, seed: int,
                    item: str, method: str = "fast", scene: SceneConfig | None = None) -> dict[str, np.ndarray]:
    """Radar and IMU signals of ``joints`` [T, 22, 3] (metres, y up) at ``fps``, in the contract's keys.

    Randomness (radar and IMU noise, the multipath walls, the room, the scene) is seeded from ``seed``
    (simulate.seed) and the motion id ``item``, so a motion gets the same signals whatever else is simulated
    with it, and another seed gives it other noise and other walls.  With ``scene`` (simulate.scene) the radar
    is placed relative to the motion (tasks/simulate/scene.py) and the signals also hold ``radar_pose``
    [x, y, z, yaw_deg, pitch_deg] (world) and ``scene`` (scene.RECORDED values); without it the radar stays
    where ``radar_cfg`` puts it.  Raises MotionError naming ``item`` for a motion the simulators refuse.
    """
    radar_cfg = radar_cfg.replace(seed=item_seed(seed, item, "radar"))
    placed = {}
    if scene is not None:
        radar_cfg, values = place(joints, radar_cfg, scene, seed, item)
        placed = {"radar_pose": np.array([*radar_cfg.position_m, radar_cfg.yaw_deg, radar_cfg.pitch_deg]),
                  "scene": np.array(list(values.values()))}
    try:
        radar = simulate_radar(joints, fps, radar_cfg, method=method)
    except ValueError as exc:
        raise MotionError(f"{item}: radar: {exc}") from exc
    imu = simulate_imu(joints, fps, imu_cfg, seed=item_seed(seed, item, "imu"), item=item)
    return {**radar, **imu, **placed}
