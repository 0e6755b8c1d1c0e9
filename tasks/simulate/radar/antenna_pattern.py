"""Antenna element gain over azimuth and elevation: a separable cos^q power pattern.

One-way power gain G(az, el) = cos(az)^qa cos(el)^qe, 1 on boresight, with q = ln(1/2) / ln cos(theta_h)
so that G is 1/2 (-3 dB) at the half-power angle theta_h (half the half-power beamwidth).  Azimuth is
measured in the radar's horizontal plane (atan2(x, z)), elevation from that plane (radar frame: x right,
y up, z boresight).  TX and RX elements share the pattern, so the echo's power gets G twice (two-way) and
its amplitude G once.  ``ti_evm`` approximates TI's EVM patch arrays: about +-60 deg azimuth and +-20 deg
elevation at half power (TI's EVM user guides quote +-60 / +-15..30 deg depending on the board).
"""
from __future__ import annotations

import math

import torch

PATTERNS = {"none": None, "ti_evm": (120.0, 40.0)}  # full half-power beamwidths (azimuth, elevation), degrees


def pattern_beamwidths(name: str, hpbw_deg: tuple[float, float]) -> tuple[float, float] | None:
    """Half-power beamwidths (azimuth, elevation) of pattern ``name``; ``cos`` uses ``hpbw_deg``."""
    return tuple(hpbw_deg) if name == "cos" else PATTERNS[name]


def exponents(hpbw_deg: tuple[float, float]) -> tuple[float, float]:
    """(qa, qe) of the cos^q power pattern with these full half-power beamwidths."""
    return tuple(math.log(0.5) / math.log(math.cos(math.radians(w / 2.0))) for w in hpbw_deg)


def element_gain(x: torch.Tensor, y: torch.Tensor, z: torch.Tensor, q: tuple[float, float]) -> torch.Tensor:
    """One-way power gain at radar-frame directions (x, y, z), 0 behind the radar (z <= 0)."""
    horizontal = torch.sqrt(x * x + z * z)
    cos_az = (z / horizontal.clamp_min(1e-12)).clamp_min(0.0)
    cos_el = horizontal / torch.sqrt(horizontal * horizontal + y * y).clamp_min(1e-12)
    return cos_az.pow(q[0]) * cos_el.pow(q[1])
