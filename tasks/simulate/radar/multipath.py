"""Multipath as image sources: each reflecting plane adds a mirror image of every scatterer.

The path radar -> plane -> scatterer -> plane -> radar has exactly the length of the direct path
to the scatterer's mirror image, so a ghost scatterer at the image, scaled by the bounce loss
twice, is that echo.  Single-bounce (radar -> body -> wall -> radar) paths are not modelled.
Reflectors: the floor (y = 0) first, then vertical walls at seeded random bearings, 1-2.5 m
beyond the farther of the person's start (the origin) and the radar, so both face the wall.
"""
from __future__ import annotations

import numpy as np

from tasks.simulate.radar.body import ScattererTrack
from tasks.simulate.radar.config import RadarConfig


def reflectors(cfg: RadarConfig) -> list[tuple[np.ndarray, float]]:
    """Planes as (unit normal n, offset d) with n . p = d; the scene lies on the side n . p < d."""
    planes = [(np.array([0.0, -1.0, 0.0]), 0.0)]  # the floor: n . p = -y < 0 above it
    rng = np.random.default_rng(cfg.seed)
    radar = np.asarray(cfg.position_m, dtype=np.float64)
    for _ in range(cfg.multipath_reflectors - 1):
        bearing = rng.uniform(0.0, 2.0 * np.pi)
        n = np.array([np.cos(bearing), 0.0, np.sin(bearing)])
        planes.append((n, max(0.0, float(n @ radar)) + rng.uniform(1.0, 2.5)))
    return planes[: cfg.multipath_reflectors]


def with_multipath(track: ScattererTrack, cfg: RadarConfig) -> ScattererTrack:
    """``track`` plus one ghost image per reflector (amplitude x multipath_loss squared)."""
    planes = reflectors(cfg)
    if not planes:
        return track
    loss = cfg.multipath_loss**2

    def positions(times: np.ndarray) -> np.ndarray:
        p = track.positions(times)
        images = [p - 2.0 * ((p @ n) - d)[..., None] * n for n, d in planes]
        return np.concatenate([p, *images], axis=-2)

    amplitude = np.concatenate([track.amplitude] + [track.amplitude * loss] * len(planes))
    return ScattererTrack(positions, amplitude)
