"""Where the radar is, where its antennas are, and when each chirp fires.

The radar frame has x = the radar's right, y = up, z = boresight (a left-handed frame, as seen
from behind the radar).  With yaw = pitch = 0 it looks along world -z, so its right is world +x
and its up is world +y.
"""
from __future__ import annotations

import math

import numpy as np

from tasks.simulate.radar.config import RadarConfig


def radar_axes(cfg: RadarConfig) -> np.ndarray:
    """[3, 3] rows: the radar's right, up and boresight unit vectors in world coordinates."""
    yaw, pitch = math.radians(cfg.yaw_deg), math.radians(cfg.pitch_deg)
    boresight = np.array([-math.sin(yaw) * math.cos(pitch), math.sin(pitch), -math.cos(yaw) * math.cos(pitch)])
    right = np.array([math.cos(yaw), 0.0, -math.sin(yaw)])
    up = np.cross(right, boresight)
    return np.stack([right, up, boresight])


def to_radar_frame(points_world: np.ndarray, cfg: RadarConfig) -> np.ndarray:
    """World positions [..., 3] -> radar-frame positions [..., 3]."""
    return (np.asarray(points_world, dtype=np.float64) - np.asarray(cfg.position_m)) @ radar_axes(cfg).T


def to_world(points_radar: np.ndarray, cfg: RadarConfig) -> np.ndarray:
    """Radar-frame positions [..., 3] -> world positions [..., 3]."""
    return np.asarray(points_radar, dtype=np.float64) @ radar_axes(cfg) + np.asarray(cfg.position_m)


def antenna_positions(cfg: RadarConfig) -> tuple[np.ndarray, np.ndarray]:
    """World positions of the TX [n_tx, 3] and RX [n_rx, 3] antennas (metres, float64)."""
    half = cfg.wavelength_m / 2.0

    def place(xy: tuple[tuple[float, float], ...]) -> np.ndarray:
        local = np.zeros((len(xy), 3))
        local[:, :2] = np.asarray(xy) * half
        return to_world(local, cfg)

    return place(cfg.tx_positions), place(cfg.rx_positions)


def frame_starts(duration_s: float, cfg: RadarConfig) -> np.ndarray:
    """Start times of every frame whose chirps all fall within [0, duration_s]."""
    last_chirp = (cfg.n_chirps * cfg.n_tx - 1) * cfg.chirp_period_s
    n_frames = int(math.floor((duration_s - last_chirp) * cfg.frame_rate_hz + 1e-9)) + 1
    return np.arange(max(n_frames, 0)) / cfg.frame_rate_hz


def chirp_offsets(cfg: RadarConfig) -> np.ndarray:
    """Start time of each chirp within a frame; chirp c = loop * n_tx + tx."""
    return np.arange(cfg.n_chirps * cfg.n_tx) * cfg.chirp_period_s


def frame_centres(starts: np.ndarray, cfg: RadarConfig) -> np.ndarray:
    """The middle of each frame's chirp burst: the time a frame's heatmap column describes."""
    return starts + (cfg.n_chirps * cfg.n_tx - 1) * cfg.chirp_period_s / 2.0
