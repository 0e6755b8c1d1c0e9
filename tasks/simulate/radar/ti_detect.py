"""Point cloud the way TI's mmWave SDK demo makes it (``detection: ti``; the default for TI profiles).

1. Range CFAR: on the range-Doppler power summed over virtual elements (non-coherent integration), along
   range in every Doppler bin; the noise is the mean of ``window`` cells each side beyond ``guard`` cells,
   both sides averaged (CA), the greater (CAGO) or the smaller (CASO); at a non-cyclic edge only the side
   inside the map counts.  A cell is detected when its power exceeds noise x 10^(threshold_db / 10).
2. Doppler CFAR on the detected cells, the same along Doppler (TI: cyclic), when the profile has one.
3. Peak grouping: a detection is kept only if no neighbouring cell in range (and/or Doppler, per the
   profile) is stronger, so a static body gives points at exactly 0 m/s and a point target one point.
4. Angle: the 64-point azimuth FFT of the y = 0 element row (TDM compensated), its strongest bin; with
   multi-object beamforming, a second local peak above ``multi_object_threshold`` x the first's power gives
   a second point at the same range and velocity.  Elevation: the phase between the beams of the lowest
   elevated element row and the azimuth row at that azimuth (0 without elevated elements).
5. Field of view (aoaFovCfg, cfarFovCfg) drops points outside it; the ``max_points`` strongest are kept.

Range and velocity are whole bins (index x resolution), as the device reports them.  SNR and noise are in
dB as TI's side information gives them (cell power over, and of, the range CFAR's noise estimate);
the points' intensity column is the SNR.  Without a profile's CFAR line the 2D CFAR's guard, train and
threshold are used as CA; without a TI profile at all, peak grouping is on in both directions.
TI computes on log2 magnitudes in fixed point; this works on linear power.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from tasks.simulate.radar.config import CfarSettings, RadarConfig, TiDetection
from tasks.simulate.radar.processing import tdm_compensation

AZIMUTH_FFT = 64  # TI's demos: a 64-point azimuth FFT
_NO_PROFILE = TiDetection(peak_grouping=(True, True))  # without a TI profile: grouping on, as TI's demo profiles


@dataclass(frozen=True)
class TiPoints:
    """One frame's detections: rows x, y, z, velocity, SNR dB (radar frame, as points.py) and noise dB."""

    rows: np.ndarray  # [n, 5] float32
    noise_db: np.ndarray  # [n] float32


def _side_sums(x: torch.Tensor, guard: int, window: int, cyclic: bool) -> tuple[torch.Tensor, ...]:
    """Sums and counts of the ``window`` cells before and after each cell of x [..., N] beyond ``guard``."""
    n = x.shape[-1]
    pad = guard + window
    if cyclic:
        ext = torch.cat([x[..., n - pad:], x, x[..., :pad]], dim=-1)
        valid = torch.ones(n + 2 * pad, dtype=x.dtype, device=x.device)
    else:
        ext = torch.nn.functional.pad(x, (pad, pad))
        valid = torch.nn.functional.pad(torch.ones(n, dtype=x.dtype, device=x.device), (pad, pad))

    def box(v: torch.Tensor, start: int) -> torch.Tensor:  # sum of v[i + start : i + start + window]
        c = torch.nn.functional.pad(v.cumsum(dim=-1), (1, 0))
        return c[..., start + window:start + window + n] - c[..., start:start + n]

    return box(ext, 0), box(ext, pad + guard + 1), box(valid, 0), box(valid, pad + guard + 1)


def cfar_1d(x: torch.Tensor, s: CfarSettings) -> torch.Tensor:
    """Noise estimate along the last dim of power x [..., N] for one of TI's cfarCfg lines."""
    left, right, n_left, n_right = _side_sums(x.double(), s.guard, s.window, s.cyclic)
    mean_l, mean_r = left / n_left.clamp_min(1), right / n_right.clamp_min(1)
    if s.mode == "ca":
        noise = (left + right) / (n_left + n_right).clamp_min(1)
    else:
        pick = torch.maximum if s.mode == "cago" else torch.minimum
        noise = pick(mean_l, mean_r)
    # at an edge only the side inside the map counts
    noise = torch.where(n_left < s.window, mean_r, torch.where(n_right < s.window, mean_l, noise))
    return noise.to(x.dtype)


def _settings(cfg: RadarConfig, det: TiDetection) -> tuple[CfarSettings, CfarSettings | None]:
    fallback = CfarSettings("ca", cfg.cfar_train[0], cfg.cfar_guard[0], 0, False, cfg.cfar_threshold_db)
    return det.range_cfar or fallback, det.doppler_cfar


def detect_ti(power: torch.Tensor, y: torch.Tensor, cfg: RadarConfig) -> list[TiPoints]:
    """One TiPoints per frame from the power map [B, R, D] and the range-Doppler cube y [B, R, K, D]."""
    det = cfg.ti_detection or _NO_PROFILE
    range_s, doppler_s = _settings(cfg, det)
    noise = cfar_1d(power.transpose(1, 2), range_s).transpose(1, 2)  # along range, per Doppler bin
    hits = (power > noise * 10 ** (range_s.threshold_db / 10)) & (power > 0)
    if doppler_s is not None:  # evaluated everywhere, used only on the range detections
        hits &= power > cfar_1d(power, doppler_s) * 10 ** (doppler_s.threshold_db / 10)
    hits &= _local_max(power, det.peak_grouping)
    b, r, d = hits.nonzero(as_tuple=True)
    snr = power[b, r, d] / noise[b, r, d].clamp_min(1e-30)
    b, r, d, snr, u_x, u_y = _angles(y, b, r, d, snr, cfg, det.multi_object_threshold)
    n_d = cfg.n_doppler_bins
    rng = r.double() * cfg.range_resolution_m
    vel = (d.double() - n_d // 2) * (2 * cfg.max_velocity_mps / n_d)
    u_z = (1.0 - u_x**2 - u_y**2).clamp_min(0.0).sqrt()
    xyz = rng[:, None] * torch.stack([u_x, u_y, u_z], dim=1)
    keep = _in_fov(xyz, rng, vel, det)
    b, xyz, vel, snr = b[keep], xyz[keep], vel[keep], snr[keep]
    noise_db = 10 * torch.log10(noise[b, r[keep], d[keep]].double().clamp_min(1e-30))
    rows = torch.cat([xyz, vel[:, None], 10 * torch.log10(snr.double())[:, None]], dim=1)
    out = []
    for frame in range(power.shape[0]):
        idx = torch.nonzero(b == frame).flatten()
        idx = idx[torch.argsort(rows[idx, 4], descending=True, stable=True)[:cfg.max_points]]
        out.append(TiPoints(rows[idx].float().cpu().numpy(), noise_db[idx].float().cpu().numpy()))
    return out


def _local_max(power: torch.Tensor, grouping: tuple[bool, bool]) -> torch.Tensor:
    """Cells no weaker than their range (edges: the one inside) and/or cyclic Doppler neighbours."""
    keep = torch.ones_like(power, dtype=torch.bool)
    if grouping[0]:
        p = torch.nn.functional.pad(power, (0, 0, 1, 1))
        keep &= (power >= p[:, :-2]) & (power >= p[:, 2:])
    if grouping[1]:
        keep &= (power >= power.roll(1, dims=2)) & (power >= power.roll(-1, dims=2))
    return keep


def _angles(y: torch.Tensor, b: torch.Tensor, r: torch.Tensor, d: torch.Tensor, snr: torch.Tensor,
            cfg: RadarConfig, multi: float | None) -> tuple[torch.Tensor, ...]:
    """Direction cosines of each detection (and of the second objects): (b, r, d, snr, u_x, u_y)."""
    vec = y[b, r, :, d] * tdm_compensation(cfg, y.device)[:, d].T  # [n, K]
    pos = cfg.virtual_positions
    az = torch.as_tensor(cfg.azimuth_elements, device=y.device)
    beams = _beams(vec[:, az], pos[cfg.azimuth_elements, 0], y.device)  # [n, N] over u = 2 k / N, wrapped
    power = beams.abs().square()
    first = power.argmax(dim=1)
    ks = [first]
    n = torch.arange(len(b), device=y.device)
    idx = [n]
    if multi is not None:
        peaks = (power >= power.roll(1, dims=1)) & (power >= power.roll(-1, dims=1))
        peaks[n, first] = False
        other = torch.where(peaks, power, 0.0)
        second = other.argmax(dim=1)
        has = other[n, second] > multi * power[n, first]
        ks.append(second[has])
        idx.append(n[has])
    k, i = torch.cat(ks), torch.cat(idx)
    u_x = _bin_to_u(k)
    u_y = torch.zeros_like(u_x)
    rows = pos[:, 1]
    if (rows > 1e-9).any():
        dy = rows[rows > 1e-9].min()
        el = np.flatnonzero(np.isclose(rows, dy))
        phase = math.pi * u_x[:, None] * torch.as_tensor(pos[el, 0], device=y.device)
        steer = torch.polar(torch.ones_like(phase), phase).to(torch.complex64)
        el_beam = (vec[i][:, torch.as_tensor(el, device=y.device)] * steer).sum(dim=1)
        lag = el_beam * beams[i, k].conj()
        u_y = (-torch.angle(lag).double() / (math.pi * dy)).clamp(-1.0, 1.0)
    return b[i], r[i], d[i], snr[i], u_x, u_y


def _beams(row: torch.Tensor, x: np.ndarray, device: torch.device) -> torch.Tensor:
    """Azimuth FFT of elements at integer half-wavelength positions x: bin k looks at u = 2 k / N (wrapped)."""
    grid = torch.zeros(row.shape[0], AZIMUTH_FFT, dtype=row.dtype, device=device)
    grid.index_add_(1, torch.as_tensor(np.round(x).astype(int) % AZIMUTH_FFT, device=device), row)
    if not len(row):  # the FFT refuses an empty batch
        return grid
    # element phase exp(-j pi x u): beam at u = 2k/N is sum_x v_x exp(+j 2 pi x k / N), an inverse FFT
    return torch.fft.ifft(grid, dim=1) * AZIMUTH_FFT


def _bin_to_u(k: torch.Tensor) -> torch.Tensor:
    signed = torch.where(k >= AZIMUTH_FFT // 2, k - AZIMUTH_FFT, k).double()
    return (2.0 * signed / AZIMUTH_FFT).clamp(-1.0, 1.0)


def _in_fov(xyz: torch.Tensor, rng: torch.Tensor, vel: torch.Tensor, det: TiDetection) -> torch.Tensor:
    """Points inside the profile's azimuth, elevation, range and velocity fields of view."""
    keep = torch.ones_like(rng, dtype=torch.bool)
    azimuth = torch.rad2deg(torch.atan2(xyz[:, 0], xyz[:, 2]))
    elevation = torch.rad2deg(torch.asin((xyz[:, 1] / rng.clamp_min(1e-12)).clamp(-1.0, 1.0)))
    for value, limits in ((azimuth, det.fov_azimuth_deg), (elevation, det.fov_elevation_deg),
                          (rng, det.fov_range_m), (vel, det.fov_velocity_mps)):
        if limits is not None:
            keep &= (value >= limits[0]) & (value <= limits[1])
    return keep
