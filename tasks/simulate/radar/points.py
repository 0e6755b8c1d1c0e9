"""Point cloud: 2D CA-CFAR on the range-Doppler power map, then each detection's direction (``detection: cfar2d``,
the default; ti_detect.py has TI's demo chain).

Cells above ``cfar_threshold_db`` over the mean of their training cells (a ring beyond the guard
cells; Doppler wraps around, range does not) are detections, without peak grouping, so a body gives
a cloud of points; the ``max_points`` strongest per frame are kept.  At local peaks, range and
velocity are refined by a parabola through the log power of the neighbouring bins.  Azimuth: the
peak of the conventional beamformer of the y = 0 element row on a fine grid of u = sin(azimuth),
refined the same way.  Elevation: the phase
between vertically stacked virtual elements with the same x (0 when the array has none).
Output rows: x, y, z in the radar frame (x right, y up, z boresight), velocity (m/s, positive
away), intensity (SNR in dB over the CFAR noise estimate).
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from tasks.simulate.radar.config import RadarConfig
from tasks.simulate.radar.processing import steering, tdm_compensation

_FINE_ANGLES = 361  # u grid for the azimuth peak search


def _running_sum(x: torch.Tensor, half: int) -> torch.Tensor:
    """Sums of 2 half + 1 consecutive values along the last dim of x (which is 2 half longer than the result)."""
    c = x.cumsum(dim=-1)
    return torch.cat([c[..., 2 * half:2 * half + 1], c[..., 2 * half + 1:] - c[..., : -2 * half - 1]], dim=-1)


def _box_sum(x: torch.Tensor, half_r: int, half_d: int) -> torch.Tensor:
    """Sum of x [B, R, D] over the (2 half_r + 1) x (2 half_d + 1) box around each cell.

    Doppler wraps around (it is circular); range does not (cells beyond the edges count as 0).
    Both passes run along the last, contiguous dim: cumsum is several times faster there.
    """
    x = _running_sum(torch.cat([x[..., x.shape[-1] - half_d:], x, x[..., :half_d]], dim=-1), half_d)
    return _running_sum(F.pad(x.transpose(-1, -2), (half_r, half_r)), half_r).transpose(-1, -2)


def cfar_noise(power: torch.Tensor, cfg: RadarConfig) -> torch.Tensor:
    """CA-CFAR noise estimate [B, R, D]: the mean of the training ring around each cell of power [B, R, D]."""
    (gr, gd), (tr, td) = cfg.cfar_guard, cfg.cfar_train
    p = power.double()  # running sums in float64: no cancellation next to strong peaks
    ones = torch.ones_like(p[:1])
    ring = _box_sum(p, gr + tr, gd + td) - _box_sum(p, gr, gd)
    count = _box_sum(ones, gr + tr, gd + td) - _box_sum(ones, gr, gd)
    return (ring / count).to(power.dtype)


def _parabola(left: torch.Tensor, mid: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
    """Offset of the vertex of the parabola through three equally spaced values when the middle one is a
    peak (the vertex then lies within half a step); 0 on a slope, where there is no peak to refine."""
    den = left - 2 * mid + right
    offset = 0.5 * (left - right) / torch.where(den < 0, den, -1.0)
    return torch.where((den < 0) & (offset.abs() <= 0.5), offset, 0.0)


def _elevation_pairs(cfg: RadarConfig) -> tuple[np.ndarray, np.ndarray, float]:
    """Indices (low, high) of virtual elements stacked at the smallest vertical spacing, and that spacing."""
    pos = cfg.virtual_positions
    same_x = np.isclose(pos[:, None, 0], pos[None, :, 0])
    dy = pos[None, :, 1] - pos[:, None, 1]
    stacked = same_x & (dy > 1e-9)
    if not stacked.any():
        return np.zeros(0, int), np.zeros(0, int), 0.0
    step = dy[stacked].min()
    low, high = np.nonzero(stacked & np.isclose(dy, step))
    return low, high, float(step)


def detect_points(power: torch.Tensor, y: torch.Tensor, cfg: RadarConfig) -> list[np.ndarray]:
    """One [n, 5] float32 array per frame from the power map [B, R, D] and the cube y [B, R, K, D]."""
    noise = cfar_noise(power, cfg)
    hits = (power > noise * 10 ** (cfg.cfar_threshold_db / 10)) & (power > 0)
    b, r, d = hits.nonzero(as_tuple=True)
    snr = power[b, r, d] / noise[b, r, d].clamp_min(1e-30)
    # strongest first within each frame, then keep the first max_points of every frame
    order = torch.argsort(snr, descending=True)
    order = order[torch.argsort(b[order], stable=True)]
    counts = torch.bincount(b, minlength=power.shape[0])
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.arange(len(order), device=b.device) - starts[b[order]]
    keep = order[rank < cfg.max_points]
    rows = _locate(power, y, b[keep], r[keep], d[keep], snr[keep], cfg)
    sizes = torch.bincount(b[keep], minlength=power.shape[0]).tolist()
    return list(np.split(rows, np.cumsum(sizes)[:-1]))


def _locate(power: torch.Tensor, y: torch.Tensor, b: torch.Tensor, r: torch.Tensor, d: torch.Tensor,
            snr: torch.Tensor, cfg: RadarConfig) -> np.ndarray:
    """Rows x, y, z, velocity, SNR dB for the detections (b, r, d)."""
    n_r, n_d = power.shape[1:]

    def logp(rr: torch.Tensor, dd: torch.Tensor) -> torch.Tensor:
        return torch.log(power[b, rr, dd].clamp_min(1e-30))

    inner = (r > 0) & (r < n_r - 1)
    r_off = torch.where(inner, _parabola(logp((r - 1).clamp_min(0), d), logp(r, d),
                                         logp((r + 1).clamp_max(n_r - 1), d)), 0.0)
    d_off = _parabola(logp(r, (d - 1) % n_d), logp(r, d), logp(r, (d + 1) % n_d))
    rng = ((r + r_off) * cfg.range_resolution_m).double()
    vel = ((d - n_d // 2 + d_off) * (2 * cfg.max_velocity_mps / n_d)).double()

    vec = y[b, r, :, d] * tdm_compensation(cfg, y.device)[:, d].T  # [n, K]
    u_grid = torch.linspace(-1.0, 1.0, _FINE_ANGLES, device=y.device, dtype=torch.float64)
    beam = vec[:, torch.as_tensor(cfg.azimuth_elements, device=y.device)] @ steering(u_grid, cfg).conj()
    beam = torch.log(beam.abs().square().clamp_min(1e-30))  # [n, U]
    i = beam.argmax(dim=1).clamp(1, _FINE_ANGLES - 2)
    n = torch.arange(len(i), device=y.device)
    step = 2.0 / (_FINE_ANGLES - 1)
    u_x = (u_grid[i] + _parabola(beam[n, i - 1], beam[n, i], beam[n, i + 1]).double() * step).clamp(-1.0, 1.0)
    low, high, dy = _elevation_pairs(cfg)
    if dy:
        lag = (vec[:, high] * vec[:, low].conj()).sum(dim=1)
        u_y = (-torch.angle(lag).double() / (math.pi * dy)).clamp(-1.0, 1.0)
    else:
        u_y = torch.zeros_like(u_x)
    u_z = (1.0 - u_x**2 - u_y**2).clamp_min(0.0).sqrt()
    xyz = rng[:, None] * torch.stack([u_x, u_y, u_z], dim=1)
    out = torch.cat([xyz, vel[:, None], 10 * torch.log10(snr.double())[:, None]], dim=1)
    return out.float().cpu().numpy()
