"""Radar processing after the range FFT, the same for both synthesis paths.

Static clutter removal (subtract each range bin's mean over the chirp loops), Hann window and
Doppler FFT (bin D//2 is 0 m/s), then per-frame heatmaps in linear power (|X|^2, float32;
plots convert to dB):

* range_time[r]   = sum over Doppler bins and virtual elements of |Y[r, d, k]|^2
* doppler_time[d] = sum over range bins (0 .. max_range_m) and elements of |Y[r, d, k]|^2
* azimuth_time[a] = sum over range bins of the angle spectrum of that bin, from the spatial
  covariance C_r = sum_d y y^H of the y = 0 row of virtual elements (TDM phase compensated):
  conventional beamformer a^H C_r a / K^2 ("fft": the zero-padded angle FFT evaluated on the
  degree grid) or Capon/MVDR 1 / (a^H (C_r + eps I)^-1 a) ("capon").
"""
from __future__ import annotations

import math

import torch

from tasks.simulate.radar.config import RadarConfig

_CAPON_LOADING = 1e-2  # diagonal loading, relative to the mean element power: keeps C_r invertible


def doppler_cube(cube: torch.Tensor, cfg: RadarConfig) -> torch.Tensor:
    """Range cube [B, R, K, loops] -> range-Doppler cube [B, R, K, D], zero velocity at bin D//2."""
    d = cfg.n_doppler_bins
    window = torch.hann_window(cfg.n_chirps, periodic=True, device=cube.device)
    if d % 2 == 0:  # then fftshift is the same as modulating the input by (-1)^m: saves a copy
        window *= 1.0 - 2.0 * (torch.arange(cfg.n_chirps, device=cube.device) % 2)
    windowed = cube * window
    if cfg.static_clutter_removal:  # (x - mean) w = x w - mean w
        windowed -= cube.mean(dim=-1, keepdim=True) * window
    y = torch.fft.fft(windowed, n=d)
    return torch.fft.fftshift(y, dim=-1) if d % 2 else y


def tdm_compensation(cfg: RadarConfig, device: torch.device) -> torch.Tensor:
    """[K, D] phasors undoing the Doppler phase a target gains between TX slots of one loop.

    Element k's chirps fire (k // n_rx) chirp periods after the loop's first, so a target in
    Doppler bin d (signed) carries an extra 2 pi d (k // n_rx) / (D n_tx): exact within the
    unambiguous velocity, wrong by a constant per TX for targets that wrapped.
    """
    d = cfg.n_doppler_bins
    signed = torch.arange(d, device=device, dtype=torch.float64) - d // 2
    slot = torch.arange(cfg.n_virtual, device=device, dtype=torch.float64) // cfg.n_rx
    phase = -2 * math.pi * slot[:, None] * signed[None, :] / (d * cfg.n_tx)
    return torch.polar(torch.ones_like(phase), phase).to(torch.complex64)


def steering(u: torch.Tensor, cfg: RadarConfig) -> torch.Tensor:
    """[K_az, len(u)] steering vectors of the azimuth row for direction cosines u = sin(azimuth)."""
    x = torch.as_tensor(cfg.virtual_positions[cfg.azimuth_elements, 0], device=u.device, dtype=torch.float64)
    phase = -math.pi * x[:, None] * u[None, :].double()
    return torch.polar(torch.ones_like(phase), phase).to(torch.complex64)


def power_map(y: torch.Tensor) -> torch.Tensor:
    """Range-Doppler power [B, R, D]: |Y|^2 summed over virtual elements of y [B, R, K, D]."""
    summed = torch.view_as_real(y).square().sum(dim=2)  # reducing over K first is the fast order
    return summed[..., 0] + summed[..., 1]


def azimuth_spectrum(y: torch.Tensor, cfg: RadarConfig) -> torch.Tensor:
    """Angle spectrum [B, A] of y [B, R, K, D], summed over range bins (see the module docstring)."""
    idx = torch.as_tensor(cfg.azimuth_elements, device=y.device)
    row = y if len(idx) == cfg.n_virtual else y[:, :, idx]  # all elements: skip the gather's copy
    if cfg.n_tx > 1:
        row = row * tdm_compensation(cfg, y.device)[idx]
    u = torch.sin(torch.deg2rad(torch.as_tensor(cfg.azimuth_axis(), device=y.device, dtype=torch.float64)))
    a = steering(u, cfg)  # [Ka, A]
    ka = a.shape[0]
    if cfg.angle_method == "fft":  # sum_r a^H C_r a = a^H (sum_r C_r) a: one covariance per frame
        flat = row.transpose(1, 2).reshape(row.shape[0], ka, -1)
        cov = flat @ flat.mH  # C_ij = sum y_i conj(y_j)
        return (a.conj() * (cov @ a)).sum(dim=-2).real / ka**2
    cov = row @ row.mH  # [B, R, Ka, Ka]
    load = _CAPON_LOADING * torch.diagonal(cov, dim1=-2, dim2=-1).real.mean(dim=-1) + 1e-30
    inverse = torch.linalg.inv(cov + load[..., None, None] * torch.eye(ka, dtype=cov.dtype, device=cov.device))
    return (1.0 / (a.conj() * (inverse @ a)).sum(dim=-2).real).sum(dim=1)
