"""Point scatterers: a track of positions over time with one echo amplitude each, and the body model.

The body is a set of points spread evenly along every bone of the skeleton, each moved off the
bone line by a fixed random offset of about a wavelength (skin and clothing are rough on that scale).
The offsets give the points independent phases, so their echoes add in power, not in amplitude,
however finely a bone is sampled: n points of amplitude a give n a^2.  Each point's amplitude is the
segment's reflectivity times sqrt(spacing x REFERENCE_SPACING_M), so a bone's echo power,
reflectivity^2 x length x REFERENCE_SPACING_M, does not depend on ``scatterers_per_m`` (which only sets
how smoothly micro-Doppler is resolved); at the default 20 points per metre a point's amplitude is about
the reflectivity times its spacing.  Joints are interpolated to any time with a cubic spline, so
positions at chirp times (and hence micro-Doppler) are smooth.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.interpolate import CubicSpline

from tasks.common.skeleton import BONES, JOINT_NAMES, N_JOINTS
from tasks.simulate.radar.config import RadarConfig

# The spacing at which a point's amplitude is reflectivity x spacing: the default density's (20 per metre).
REFERENCE_SPACING_M = 0.05


@dataclass(frozen=True)
class ScattererTrack:
    """Point scatterers whose world positions (metres, y up) are known at any time."""

    positions: Callable[[np.ndarray], np.ndarray]  # times [n] (s) -> [n, P, 3] float64
    amplitude: np.ndarray  # [P] echo amplitude of each point at 1 m


def _segment(child: str) -> str:
    """Body segment of the bone that ends at joint ``child``."""
    for key, segment in (("elbow", "upper_arm"), ("wrist", "forearm"), ("knee", "thigh"),
                         ("ankle", "shin"), ("foot", "foot"), ("head", "head")):
        if key in child:
            return segment
    return "torso"  # hips, spine, neck, collars, shoulders


def bone_scatterers(rest: np.ndarray, cfg: RadarConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scatterers along the bones: (parent joint [P], child joint [P], fraction along the bone [P]) and amplitude [P].

    ``rest`` [22, 3] is one pose that sets the bone lengths.
    """
    ends, fracs, amplitude = [], [], []
    for parent, child in BONES:
        length = float(np.linalg.norm(rest[child] - rest[parent]))
        n = max(1, int(round(length * cfg.scatterers_per_m)))
        ends += [(parent, child)] * n
        fracs.append((np.arange(n) + 0.5) / n)
        reflectivity = cfg.reflectivity.get(_segment(JOINT_NAMES[child]), 0.0)
        amplitude += [reflectivity * np.sqrt(length / n * REFERENCE_SPACING_M)] * n
    ends = np.asarray(ends)
    return ends[:, 0], ends[:, 1], np.concatenate(fracs), np.asarray(amplitude)


def body_track(joints: np.ndarray, fps: float, cfg: RadarConfig) -> ScattererTrack:
    """Scatterers along the bones of ``joints`` [T, 22, 3] (metres, y up) sampled at ``fps``."""
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim != 3 or joints.shape[1:] != (N_JOINTS, 3) or len(joints) < 2:
        raise ValueError(f"joints must be [T>=2, {N_JOINTS}, 3], got {list(joints.shape)}")
    if not np.isfinite(joints).all():
        raise ValueError("joints contain NaN or inf")
    parent, child, frac, amplitude = bone_scatterers(joints[0], cfg)
    spline = CubicSpline(np.arange(len(joints)) / fps, joints, axis=0)
    frac = frac[:, None]
    # fixed per point (a few mm, far below a range bin): phases independent, motion and Doppler unchanged
    rng = np.random.default_rng([cfg.seed, 0xB0D7])  # own stream: the offsets do not shift the noise
    offset = rng.normal(0.0, cfg.wavelength_m, (len(amplitude), 3))

    def positions(times: np.ndarray) -> np.ndarray:
        at = spline(times)  # [n, 22, 3]
        start = np.take(at, parent, axis=1)
        return start + frac * (np.take(at, child, axis=1) - start) + offset

    return ScattererTrack(positions, amplitude)
