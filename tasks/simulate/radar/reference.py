"""The exact path: synthesise every ADC sample, then window and range-FFT it like a real radar.

Each scatterer adds ``a * exp(j 2 pi (S tau t_n + f_c tau))`` to sample n (t_n = n / f_s) of every
chirp of every receiver, with tau = path / c and a taken at the chirp's start (a limb moves ~0.1 mm
during one chirp).  The residual video phase -S tau^2 / 2 is left out: it is a near-constant offset
per scatterer (it changes by < 1e-4 rad between chirps or antennas).  Complex white noise is added
per sample.  Everything runs in double precision (it is the ground truth the fast path is checked
against); only the range cube it returns is complex64, like the fast path's.  Cost: frames x chirps
x RX x samples x scatterers complex exponentials.
"""
from __future__ import annotations

import torch

from tasks.simulate.radar.config import C0, RadarConfig
from tasks.simulate.radar.propagation import Echoes, noise_std

_CHUNK_ELEMENTS = 1 << 18  # samples per chunk: big enough to vectorise, small enough to stay off mmap


def adc_samples(path: torch.Tensor, gain: torch.Tensor, cfg: RadarConfig) -> torch.Tensor:
    """Noise-free beat signal [..., n_samples] complex128 from path length (m), gain [..., P]."""
    t = torch.arange(cfg.n_samples, device=path.device, dtype=torch.float64) / cfg.sample_rate_hz
    cycles = path[..., None] * ((cfg.sampling_start_hz + cfg.slope_hz_per_s * t) / C0)  # (f_c + S t_n) tau
    return torch.polar(gain.double()[..., None].expand_as(cycles), 2.0 * torch.pi * cycles).sum(dim=-2)


def reference_cube(echo: Echoes, cfg: RadarConfig, generator: torch.Generator) -> torch.Tensor:
    """Range cube [B, R, K, loops] complex64 from the echoes of [B] frames (see propagation.py)."""
    path = echo.path()
    b, p, k, m = path.shape
    window = torch.hann_window(cfg.n_samples, periodic=True, device=path.device, dtype=torch.float64)
    sigma = noise_std(cfg)
    flat_path, flat_gain = (x.permute(0, 2, 3, 1).reshape(b * k * m, p) for x in (path, echo.gain))
    step = max(1, _CHUNK_ELEMENTS // (p * cfg.n_samples))
    out = []
    for start in range(0, len(flat_path), step):
        samples = adc_samples(flat_path[start:start + step], flat_gain[start:start + step], cfg)
        if sigma:
            samples += sigma * torch.randn(samples.shape, dtype=samples.dtype, device=samples.device,
                                           generator=generator)
        out.append(torch.fft.fft(samples * window, dim=-1)[:, : cfg.n_range].to(torch.complex64))
    return torch.cat(out).reshape(b, k, m, cfg.n_range).permute(0, 3, 1, 2)
