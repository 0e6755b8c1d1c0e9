"""A room around the radar: static point reflectors on the floor and walls, furniture, and TX->RX leakage.

The room is a box around the radar's horizontal frame (its yaw; a pitched radar still stands on the floor's
level): ``room_size_m`` = (width across, height, depth ahead), centred on the radar across, floor at y = 0,
from the radar's wall (0.3 m behind the radar) to the far wall ``depth`` ahead.  ``room_wall_points``
reflectors are spread uniformly over the floor, the side walls and the far wall (area-weighted),
``room_reflectors`` furniture points uniformly in the lower 1.2 m of the box; each has a radar
cross-section drawn uniformly in dB from ``room_rcs_dbsm`` (amplitude 10^(rcs/20): a 0 dBsm point is a unit
reflector, the noise_db reference).  All are static, so the clutter removal (mean over chirp loops) takes
them out of the zero-Doppler bin exactly, and without it they stay there, as on a device.

TX->RX leakage (the coupling between the antennas on the board) is one static echo ``leakage_range_m``
in front of the first RX whose beat-signal amplitude is ``leakage_db`` re a 0 dBsm reflector at 1 m
(to within the few % the TX/RX offset changes the path), so the first range bins light up.
The layout is seeded by the radar seed (per motion in the pipeline), independently of the noise.
"""
from __future__ import annotations

import numpy as np

from tasks.simulate.radar.body import ScattererTrack
from tasks.simulate.radar.config import RadarConfig
from tasks.simulate.radar.geometry import antenna_positions, radar_axes

_BEHIND_M = 0.3  # the radar's own wall, behind it
_FURNITURE_TOP_M = 1.2


def room_scatterers(cfg: RadarConfig) -> tuple[np.ndarray, np.ndarray]:
    """Static room reflectors: world positions [P, 3] and amplitudes [P] (leakage last, if on)."""
    rng = np.random.default_rng([cfg.seed, 0x2005])  # own stream: the layout does not shift the noise
    width, height, depth = cfg.room_size_m
    rx0 = antenna_positions(cfg)[1][0]
    # the box in the radar's horizontal frame: across (its right), up from the floor, ahead (its yaw only)
    near, far = -_BEHIND_M, depth
    length = far - near
    # surfaces: floor, left wall, right wall, far wall; each point picks one in proportion to its area
    areas = np.array([width * length, height * length, height * length, width * height])
    side = rng.choice(4, size=cfg.room_wall_points, p=areas / areas.sum())
    u, v = rng.uniform(size=(2, cfg.room_wall_points))
    along_x, along_y, along_z = (u - 0.5) * width, v * height, near + u * length
    walls = np.stack([
        np.where(side == 0, along_x, np.where(side == 1, -width / 2, np.where(side == 2, width / 2, along_x))),
        np.where(side == 0, 0.0, along_y),
        np.where(side == 0, near + v * length, np.where(side == 3, far, along_z)),
    ], axis=1)
    furniture = np.stack([rng.uniform(-width / 2, width / 2, cfg.room_reflectors),
                          rng.uniform(0.0, min(height, _FURNITURE_TOP_M), cfg.room_reflectors),
                          rng.uniform(0.0, far, cfg.room_reflectors)], axis=1)
    local = np.concatenate([walls, furniture]).reshape(-1, 3)
    yaw = np.radians(cfg.yaw_deg)
    right, ahead = np.array([np.cos(yaw), 0.0, -np.sin(yaw)]), np.array([-np.sin(yaw), 0.0, -np.cos(yaw)])
    positions = (rx0 * [1.0, 0.0, 1.0] + local[:, :1] * right + local[:, 2:] * ahead
                 + local[:, 1:2] * [0.0, 1.0, 0.0])
    lo, hi = cfg.room_rcs_dbsm
    amplitude = 10.0 ** (rng.uniform(lo, hi, len(positions)) / 20.0)
    if cfg.leakage_db is not None:
        leak = rx0 + cfg.leakage_range_m * radar_axes(cfg)[2]
        positions = np.concatenate([positions, leak[None]])
        amplitude = np.append(amplitude, 10.0 ** (cfg.leakage_db / 20.0) * cfg.leakage_range_m**2)
    return positions, amplitude


def with_room(track: ScattererTrack, cfg: RadarConfig) -> ScattererTrack:
    """``track`` plus the room's static reflectors (``track`` itself when the room is off)."""
    if not cfg.room_on:
        return track
    fixed, extra = room_scatterers(cfg)

    def positions(times: np.ndarray) -> np.ndarray:
        p = track.positions(times)
        return np.concatenate([p, np.broadcast_to(fixed, (len(p), *fixed.shape))], axis=-2)

    return ScattererTrack(positions, np.concatenate([track.amplitude, extra]))
