"""From scatterer positions at chirp times to round-trip paths (delay = path / c) and echo amplitudes.

Radar equation: the received power of a point target is proportional to sigma / (R_tx^2 R_rx^2),
so its beat-signal amplitude is ``amplitude / (R_tx * R_rx)``; antenna gains, transmit power and
wavelength are folded into the scatterer's ``amplitude`` (its echo at 1 m).  The antennas see a
front half-space, optionally weighted by the element pattern of antenna_pattern.py (seen from the
first RX: the array's millimetres change no angle that matters).  Both the reference and the fast
path start from these numbers, so they differ only in how they form the range cube.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from tasks.simulate.radar.antenna_pattern import element_gain
from tasks.simulate.radar.config import C0, RadarConfig


@dataclass(frozen=True)
class Echoes:
    """Every scatterer's echo on every virtual element k = tx * n_rx + rx in every chirp loop.

    The round-trip path |P - TX| + |P - RX_k| is split into ``base`` = |P - TX| + |P - RX_0|
    (float64, [B, P, n_tx, loops]) and ``offset`` = |P - RX_k| - |P - RX_0| (float32, [B, P, K, loops]:
    at most the array's size, so float32 holds it to ~1e-9 m), so only the per-TX part needs double
    precision.  ``gain`` [B, P, K, loops] (float32) is the echo amplitude.
    """

    base: torch.Tensor
    offset: torch.Tensor
    gain: torch.Tensor

    def path(self) -> torch.Tensor:
        """The full round-trip path [B, P, K, loops], float64 metres."""
        b, p, n_tx, m = self.base.shape
        offset = self.offset.reshape(b, p, n_tx, -1, m).double()
        return (self.base[:, :, :, None] + offset).reshape(b, p, -1, m)

    def mean_path(self) -> torch.Tensor:
        """Each scatterer's path averaged over elements and loops, [B, P] float64."""
        return self.base.mean(dim=(2, 3)) + self.offset.mean(dim=(2, 3)).double()

    def cycles(self, frequency_hz: float) -> torch.Tensor:
        """Phase f tau in cycles, wrapped to the TX part's fraction plus the RX offset: [B, P, K, loops] float32."""
        b, p, n_tx, m = self.base.shape
        base = torch.frac(self.base * (frequency_hz / C0)).float()
        per_rx = base[:, :, :, None] + self.offset.reshape(b, p, n_tx, -1, m) * (frequency_hz / C0)
        return per_rx.reshape(b, p, -1, m)


def echoes(positions: torch.Tensor, tx: torch.Tensor, rx: torch.Tensor, amplitude: torch.Tensor,
           n_chirps: int, boresight: tuple[float, float, float],
           pattern: tuple[float, float] | None = None) -> Echoes:
    """Paths and amplitudes of all echoes from positions [B, C, P, 3] (world metres, float64).

    C = n_chirps loops x n_tx chirps, position at each chirp's start; chirp c is fired by TX
    ``c % n_tx`` (TDM).  tx [n_tx, 3], rx [n_rx, 3] (float64), amplitude [P].  The antennas see
    the half-space in front of them only (along ``boresight``, a world unit vector): scatterers
    behind the radar give no echo.  ``pattern`` (qa, qe): the cos^q element pattern's exponents (two-way:
    the echo amplitude gets the one-way power gain once); None: no pattern.
    """
    b, _, p, _ = positions.shape
    n_tx, n_rx = len(tx), len(rx)
    q = positions.reshape(b, n_chirps, n_tx, p, 3).permute(4, 0, 3, 2, 1).contiguous()  # [3, B, P, n_tx, loops]
    q -= rx[0][:, None, None, None, None]  # relative to the first RX
    d_first_sq = q[0].square().addcmul_(q[1], q[1]).addcmul_(q[2], q[2])
    d_first = d_first_sq.sqrt()
    d_tx = torch.empty_like(d_first)  # each TX for its own chirps: |q - a|^2 = |q|^2 - 2 q.a + |a|^2
    for t, a in enumerate((tx - rx[0]).tolist()):
        sq = d_first_sq[:, :, t] + (a[0] ** 2 + a[1] ** 2 + a[2] ** 2)
        for axis in range(3):
            sq.add_(q[axis, :, :, t], alpha=-2.0 * a[axis])
        torch.sqrt(sq, out=d_tx[:, :, t])

    offset = torch.zeros((b, p, n_tx, n_rx, n_chirps), device=q.device)
    gain = torch.empty((b, p, n_tx, n_rx, n_chirps), device=q.device)
    q32, d_first32, d_tx32, d_first32_sq = q.float(), d_first.float(), d_tx.float(), d_first_sq.float()
    in_front = q32[0] * boresight[0] + q32[1] * boresight[1] + q32[2] * boresight[2] > 0
    amplitude = amplitude.float()[:, None, None] * in_front
    if pattern is not None:  # radar frame: right = boresight x world up (horizontal), up = right x boresight
        bx, by, bz = boresight
        norm = math.hypot(bx, bz)
        right, up = (-bz / norm, 0.0, bx / norm), (-by * bx / norm, norm, -by * bz / norm)
        x, y, z = (q32[0] * v[0] + q32[1] * v[1] + q32[2] * v[2] for v in (right, up, boresight))
        amplitude = amplitude * element_gain(x, y, z, pattern)

    def radar_equation(d_rx: torch.Tensor, out: torch.Tensor) -> None:  # floor: no infinite echo at an antenna
        torch.div(amplitude, (d_tx32 * d_rx).clamp_min_(1e-6), out=out)

    radar_equation(d_first32, gain[:, :, :, 0])
    for k, a in enumerate((rx - rx[0]).tolist()[1:], start=1):
        # |q - a| - |q| = (|a|^2 - 2 q.a) / (|q - a| + |q|): no cancellation, so float32 is exact enough
        num = q32[0] * (-2.0 * a[0])
        num.add_(q32[1], alpha=-2.0 * a[1]).add_(q32[2], alpha=-2.0 * a[2]).add_(a[0] ** 2 + a[1] ** 2 + a[2] ** 2)
        d = (d_first32_sq + num).sqrt_()
        torch.div(num, d + d_first32, out=offset[:, :, :, k])
        radar_equation(d, gain[:, :, :, k])
    return Echoes(d_tx + d_first, offset.reshape(b, p, -1, n_chirps), gain.reshape(b, p, -1, n_chirps))


def noise_std(cfg: RadarConfig) -> float:
    """Standard deviation of the complex white noise on each ADC sample (0 when noise is off)."""
    return 0.0 if cfg.noise_db is None else 10.0 ** (cfg.noise_db / 20.0)
