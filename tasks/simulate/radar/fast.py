"""The fast path: the range FFT of each echo in closed form, evaluated only near the echo.

A Hann-windowed beat tone at fractional bin nu has the range spectrum ``X[r] = a e^{j phi} W(r - nu)``,
W the window's DTFT (three Dirichlet kernels for the periodic Hann window: exact, no series).
Split W(delta) = e^{-j pi delta (N-1)/N} What(delta): the phase factor, including its nu part,
goes into each chirp's exact phase ``2 pi f_c tau + pi nu (N-1)/N``, so Doppler and angle see
exactly the reference's phases.  The smooth amplitude What is evaluated once per scatterer and
block of chirp loops at the block's mean nu (range migration within a block, at most about a bin,
moves only this envelope: correlation with the reference stays > 0.999), and only on ``fast_taps``
bins around nu (with 8, the Hann sidelobes left out, 4 or more bins away, are below -48 dB).
Each scatterer's echo phasors over all chirps and receivers are then added, weighted, into those
few range rows of the cube.

Noise matches the reference in distribution: white ADC noise of variance s^2 becomes, after the
periodic-Hann-windowed FFT, 0.5 Z[r] - 0.25 Z[r-1] - 0.25 Z[r+1] with Z white of variance N s^2.
"""
from __future__ import annotations

import math

import torch

from tasks.simulate.radar.config import C0, RadarConfig
from tasks.simulate.radar.propagation import Echoes, noise_std

_FASTEST_MPS = 5.0  # radial speed of a fast hand or foot, sets how often the range envelope is updated


def _phasor(gain: torch.Tensor, cycles: torch.Tensor) -> torch.Tensor:
    """gain * exp(j 2 pi cycles) as complex64; cycles are wrapped first so float32 trig is exact."""
    phase = torch.frac(cycles).float().mul_(2.0 * torch.pi)
    gain = gain.float()
    return torch.complex(torch.cos(phase).mul_(gain), torch.sin(phase).mul_(gain))


def _dirichlet(x: torch.Tensor, n: int) -> torch.Tensor:
    """sin(pi x) / sin(pi x / n), with its limit n at x = 0 (|x| < n here)."""
    den = torch.sin(torch.pi * x / n)
    zero = den.abs() < 1e-12
    return torch.where(zero, torch.full_like(x, float(n)), torch.sin(torch.pi * x) / torch.where(zero, 1.0, den))


def hann_spectrum(delta: torch.Tensor, n: int) -> torch.Tensor:
    """What(delta) = W(delta) e^{j pi delta (n-1)/n}; W(delta) = sum_k w[k] e^{-j 2 pi delta k / n}, w periodic Hann.

    From w[k] = 0.5 - 0.25 e^{j 2 pi k/n} - 0.25 e^{-j 2 pi k/n}: W is 0.5 D(delta) - 0.25 D(delta - 1)
    - 0.25 D(delta + 1) with the Dirichlet kernel D(x) = e^{-j pi x (n-1)/n} sin(pi x) / sin(pi x/n).
    """
    side = 0.25 * complex(math.cos(math.pi / n), -math.sin(math.pi / n))  # 0.25 e^{-j pi/n}
    return (0.5 * _dirichlet(delta, n) + side * _dirichlet(delta - 1, n)
            + side.conjugate() * _dirichlet(delta + 1, n))


def add_range_noise(cube: torch.Tensor, cfg: RadarConfig, generator: torch.Generator) -> None:
    """Add, in place, noise with the exact distribution of windowed, range-FFT'd white ADC noise."""
    sigma, n = noise_std(cfg), cfg.n_samples
    if not sigma:
        return
    b, r = cube.shape[:2]
    rows = r + 2 if r + 2 <= n else n
    z = torch.randn((b, rows, *cube.shape[2:]), dtype=cube.dtype, device=cube.device, generator=generator)
    if rows == n:  # neighbours of bins 0 and n-1 wrap around
        z = torch.cat([z[:, -1:], z, z[:, :1]], dim=1)
    scale = sigma * math.sqrt(n)
    cube.add_(z[:, 1:r + 1], alpha=0.5 * scale)
    cube.add_(z[:, :r], alpha=-0.25 * scale).add_(z[:, 2:r + 2], alpha=-0.25 * scale)


def envelope_blocks(cfg: RadarConfig) -> int:
    """How many blocks of chirp loops get their own range envelope: the fewest (dividing n_chirps)
    within which a limb at 5 m/s moves at most one range bin (default 2, udoppler and ti1843 4)."""
    longest = cfg.range_resolution_m / _FASTEST_MPS
    return next(s for s in range(1, cfg.n_chirps + 1)
                if cfg.n_chirps % s == 0 and (s == cfg.n_chirps or cfg.burst_s / s <= longest))


def fast_cube(echo: Echoes, cfg: RadarConfig, generator: torch.Generator) -> torch.Tensor:
    """Range cube [B, R, K, loops] complex64 from the echoes of [B] frames (see propagation.py)."""
    cube = fast_signal(echo, cfg)
    add_range_noise(cube, cfg, generator)
    return cube


def fast_signal(echo: Echoes, cfg: RadarConfig) -> torch.Tensor:
    """The noise-free range cube [B, R, K, loops] of ``fast_cube``."""
    b, _, k, m = echo.gain.shape
    s = envelope_blocks(cfg)

    def split(x: torch.Tensor) -> torch.Tensor:  # [B, P, ., loops] -> [B * blocks, P, ., loops / blocks]
        return x.unflatten(-1, (s, m // s)).permute(0, 3, 1, 2, 4).flatten(0, 1)

    blocks = _one_envelope(Echoes(split(echo.base), split(echo.offset), split(echo.gain)), cfg)
    return blocks.unflatten(0, (b, s)).permute(0, 2, 3, 1, 4).reshape(b, cfg.n_range, k, m)


def _one_envelope(echo: Echoes, cfg: RadarConfig) -> torch.Tensor:
    """Noise-free range cube [B, R, K, loops] with one range envelope per scatterer and frame (or block)."""
    b, p, k, m = echo.gain.shape
    n, r, taps = cfg.n_samples, cfg.n_range, cfg.fast_taps
    device = echo.gain.device
    nu_mean = echo.mean_path() * (cfg.slope_hz_per_s * n / (cfg.sample_rate_hz * C0))  # beat bin, [B, P]
    first = torch.floor(nu_mean) - (taps // 2 - 1)
    bins = first[..., None] + torch.arange(taps, device=device, dtype=torch.float64)  # [B, P, L], unwrapped
    bin_phase = torch.polar(torch.ones_like(bins), -torch.pi * (n - 1) / n * bins)
    weights = (hann_spectrum(bins - nu_mean[..., None], n) * bin_phase).to(torch.complex64)
    rows = torch.remainder(bins, n).long()
    rows = torch.where(rows < r, rows, r) + (r + 1) * torch.arange(b, device=device)[:, None, None]

    # exact per-chirp phase: f_c tau plus the nu part of the window's linear phase, pi nu (N-1)/N;
    # together they are the phase at the middle ADC sample, (f_c + S t_mid) tau
    phasors = _phasor(echo.gain, echo.cycles(cfg.centre_hz)).reshape(b, p, k * m)
    cube = torch.zeros((b * (r + 1), k * m, 2), device=device)  # bins beyond max range go to row r
    contribution = torch.empty_like(phasors)
    for tap in range(taps):  # real views: index_add_ is several times faster on float than on complex
        torch.mul(weights[:, :, tap, None], phasors, out=contribution)
        cube.index_add_(0, rows[:, :, tap].reshape(-1), torch.view_as_real(contribution).reshape(b * p, k * m, 2))
    return torch.view_as_complex(cube).reshape(b, r + 1, k, m)[:, :r]
