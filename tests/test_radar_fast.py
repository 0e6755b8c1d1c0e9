"""The fast path against exact answers: the window's spectrum, the noise statistics, the reference."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from tasks.simulate.radar import PRESETS, RadarConfig, simulate_radar
from tasks.simulate.radar.fast import fast_cube, hann_spectrum
from tasks.simulate.radar.propagation import Echoes, echoes
from tasks.simulate.radar.reference import reference_cube
from tasks.simulate.radar.synthetic import walking_skeleton

VIEWS = ("range_time", "doppler_time", "azimuth_time")


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


@pytest.mark.parametrize("n", [16, 64, 256])
def test_hann_spectrum_closed_form_equals_the_windowed_sum(n):
    delta = torch.tensor([0.0, 1.0, -2.0, 0.3, -0.5, 1.7, 3.49, -3.99], dtype=torch.float64)
    k = torch.arange(n, dtype=torch.float64)
    window = torch.hann_window(n, periodic=True, dtype=torch.float64)
    direct = (window * torch.exp(-2j * torch.pi * delta[:, None] * k / n)).sum(dim=1)
    centred = hann_spectrum(delta, n) * torch.exp(-1j * torch.pi * delta * (n - 1) / n)
    torch.testing.assert_close(centred, direct, rtol=1e-9, atol=1e-9 * n)
    assert hann_spectrum(torch.tensor([0.0], dtype=torch.float64), n).real.item() == pytest.approx(n / 2)


def test_echo_paths_and_gains_match_the_direct_geometry():
    generator = torch.Generator().manual_seed(1)
    n_loops, n_tx, n_rx, p = 3, 2, 4, 5
    positions = torch.rand((2, n_loops * n_tx, p, 3), generator=generator, dtype=torch.float64) * 2 + torch.tensor(
        [-1.0, 0.0, -1.0])  # in front of a radar at z = 3 looking along -z
    tx = torch.tensor([[0.0, 1.0, 3.0], [0.0078, 1.0, 3.0]], dtype=torch.float64)
    rx = torch.tensor([[0.0019 * i, 1.0, 3.0] for i in range(n_rx)], dtype=torch.float64)
    amplitude = torch.rand(p, generator=generator, dtype=torch.float64)
    echo = echoes(positions, tx, rx, amplitude, n_loops, (0.0, 0.0, -1.0))
    # direct: chirp c = loop * n_tx + t is fired by TX t; element k = t * n_rx + r
    pos = positions.reshape(2, n_loops, n_tx, p, 3)
    d_tx = (pos - tx[None, None, :, None]).norm(dim=-1)  # [B, loops, n_tx, P]
    d_rx = (pos[..., None, :] - rx).norm(dim=-1)  # [B, loops, n_tx, P, n_rx]
    path = (d_tx[..., None] + d_rx).permute(0, 3, 2, 4, 1).reshape(2, p, n_tx * n_rx, n_loops)
    gain = (amplitude[:, None] / (d_tx[..., None] * d_rx)).permute(0, 3, 2, 4, 1).reshape(2, p, -1, n_loops)
    torch.testing.assert_close(echo.path(), path, rtol=0, atol=1e-9)  # 1e-9 m: 1e-6 rad of carrier phase
    torch.testing.assert_close(echo.gain, gain.float(), rtol=1e-6, atol=0)


@pytest.mark.parametrize("path_fn", [reference_cube, fast_cube], ids=["reference", "fast"])
def test_noise_after_the_range_fft_has_the_windowed_statistics(path_fn):
    cfg = RadarConfig(noise_db=-10.0)
    shape = (2, 1, cfg.n_virtual, cfg.n_chirps)  # two frames, one scatterer with no echo
    silent = Echoes(torch.full((2, 1, cfg.n_tx, cfg.n_chirps), 6.0, dtype=torch.float64), torch.zeros(shape),
                    torch.zeros(shape))
    cube = path_fn(silent, cfg, torch.Generator().manual_seed(0))  # [B, R, K, loops]
    x = cube.permute(0, 2, 3, 1).reshape(-1, cfg.n_range).to(torch.complex128)
    sigma2, n = 10 ** (cfg.noise_db / 10), cfg.n_samples
    variance = x.abs().square().mean().item()
    assert variance == pytest.approx(sigma2 * 3 * n / 8, rel=0.03)  # sum of w^2 for the periodic Hann
    lag1 = (x[:, 1:] * x[:, :-1].conj()).mean().real.item() / variance
    lag2 = (x[:, 2:] * x[:, :-2].conj()).mean().real.item() / variance
    assert lag1 == pytest.approx(-2 / 3, abs=0.02) and lag2 == pytest.approx(1 / 6, abs=0.02)
    assert abs(x.mean().item()) < 0.02 * variance**0.5


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_fast_heatmaps_match_the_reference_on_a_moving_body(preset):
    cfg = RadarConfig.from_params({"preset": preset, "scatterers_per_m": 12.0, "noise_db": None})
    clip = np.ceil((2 / cfg.frame_rate_hz + cfg.burst_s) * 200) / 200  # three frames
    joints = walking_skeleton(clip, velocity_xz=(0.5, 1.2), cadence=2.4, arm_swing_deg=45.0, fps=200)
    ref, fast = simulate_radar(joints, 200, cfg, "reference"), simulate_radar(joints, 200, cfg, "fast")
    assert ref["range_time"].shape[1] == 3
    for view in VIEWS:
        assert correlation(ref[view], fast[view]) >= 0.99, view


def test_fast_point_cloud_matches_the_reference():
    cfg = RadarConfig(scatterers_per_m=12.0)  # with noise: a noise-free CFAR has nothing to measure against
    joints = walking_skeleton(0.15, velocity_xz=(0.5, 1.2), cadence=2.4, arm_swing_deg=45.0)
    ref, fast = simulate_radar(joints, 20, cfg, "reference"), simulate_radar(joints, 20, cfg, "fast")
    assert abs(len(ref["points"]) - len(fast["points"])) <= 0.15 * len(ref["points"]) + 3
    np.testing.assert_allclose(np.median(fast["points"], axis=0)[:4], np.median(ref["points"], axis=0)[:4],
                               atol=cfg.velocity_resolution_mps / 2)  # metres and m/s


def test_fast_matches_the_reference_on_procedural_motions():
    procedural = pytest.importorskip("tasks.motion.procedural")
    if not hasattr(procedural, "generate"):
        pytest.skip("tasks.motion.procedural has no generate() yet")
    cfg = RadarConfig.from_params({"noise_db": None})
    for label in ("jog", "jumping_jacks"):  # fast limbs
        joints = procedural.generate(label, 0, 0).joints[:4]  # 0.15 s: three radar frames
        ref, fast = simulate_radar(joints, 20, cfg, "reference"), simulate_radar(joints, 20, cfg, "fast")
        for view in VIEWS:
            assert correlation(ref[view], fast[view]) >= 0.99, (label, view)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU")
def test_gpu_gives_the_cpu_result():
    cfg = RadarConfig(noise_db=None)
    joints = walking_skeleton(1.0)
    cpu = simulate_radar(joints, 20, cfg.replace(device="cpu"))
    gpu = simulate_radar(joints, 20, cfg.replace(device="cuda"))
    for view in VIEWS:
        assert correlation(cpu[view], gpu[view]) > 0.9999, view
