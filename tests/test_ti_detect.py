"""TI-style detection chain: 1D CFARs, peak grouping, whole bins, multi-object beamforming, fields of view."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from test_radar import point_target, two_frames

from tasks.common.params import ParamsError
from tasks.simulate.config import SimulateConfig
from tasks.simulate.radar import RadarConfig, RadarConfigError, ScattererTrack, simulate_radar, simulate_scatterers
from tasks.simulate.radar.config import CfarSettings
from tasks.simulate.radar.devices import DEVICES
from tasks.simulate.radar.geometry import to_world
from tasks.simulate.radar.synthetic import walking_skeleton
from tasks.simulate.radar.ti_detect import cfar_1d, detect_ti

IWR1443 = {"preset": "iwr1443_short_range"}  # range CFAR CASO 8 + 4 cells, 15 dB, no Doppler CFAR, grouping on


def frames(out: dict) -> list[np.ndarray]:
    return [out["points"][out["points_frame"] == f] for f in range(len(out["frame_time_s"]))]


def torso_and_arm(cfg: RadarConfig, arm_mps: float) -> ScattererTrack:
    """A static torso (11 strong scatterers from 2.0 to 2.4 m on boresight) and one weaker arm point
    starting at 2.6 m, 11 degrees right, moving radially at ``arm_mps``."""
    torso = np.array([to_world(np.array([0.0, 0.0, z]), cfg) for z in np.linspace(2.0, 2.4, 11)])
    u = np.array([0.2, 0.0, 1.0]) / np.hypot(0.2, 1.0)
    start, velocity = to_world(2.6 * u, cfg), to_world(arm_mps * u, cfg) - to_world(np.zeros(3), cfg)

    def positions(t: np.ndarray) -> np.ndarray:
        arm = (start + velocity * t[:, None])[:, None, :]
        return np.concatenate([np.broadcast_to(torso, (len(t), *torso.shape)), arm], axis=1)

    return ScattererTrack(positions, np.array([1.0] * len(torso) + [0.3]))


def test_ti_profiles_default_to_the_ti_chain_and_the_default_preset_keeps_cfar2d():
    assert RadarConfig().detection == "cfar2d" and RadarConfig.from_params({}).detection == "cfar2d"
    for preset in ("iwr1443_short_range", "iwr1843_best_range_res", "iwr6843_people_counting"):
        assert RadarConfig.from_params({"preset": preset}).detection == "ti"
    assert RadarConfig.from_params({**IWR1443, "detection": "cfar2d"}).detection == "cfar2d"
    with pytest.raises(RadarConfigError, match="detection must be cfar2d or ti, got 'os'"):
        RadarConfig(detection="os")
    assert SimulateConfig.from_params({"radar": {**IWR1443, "detection": "cfar2d"}}).radar.detection == "cfar2d"
    with pytest.raises(ParamsError, match=r"^params.yaml: simulate.radar: detection must be cfar2d or ti, got 'os'$"):
        SimulateConfig.from_params({"radar": {"detection": "os"}})
    with pytest.raises(RadarConfigError, match="detection ti needs antenna x positions at whole half-wavelengths"):
        RadarConfig(detection="ti", tx_positions=((0.0, 0.0), (4.5, 0.0)))


def test_cfar_1d_ca_cago_caso_and_edges():
    x = torch.zeros(20, dtype=torch.float64)
    x[4:7] = torch.tensor([1.0, 2.0, 3.0])  # left of cell 10 (guard 1, window 3: cells 6..8 and 12..14)
    x[13] = 6.0
    x[10] = 100.0
    ca, cago, caso = (cfar_1d(x, CfarSettings(m, 3, 1, 0, False, 0.0)) for m in ("ca", "cago", "caso"))
    assert ca[10] == pytest.approx((3.0 + 6.0) / 6) and cago[10] == pytest.approx(2.0)
    assert caso[10] == pytest.approx(1.0)
    # cell 1: no full window on the left, so only the right side (cells 3..5) counts
    assert ca[1] == cago[1] == caso[1] == pytest.approx(3.0 / 3)
    # cyclic: cell 18's right window wraps to cells 0..2 (zeros), its left is 14..16
    cyc = cfar_1d(x, CfarSettings("ca", 3, 1, 0, True, 0.0))
    assert cyc[18] == pytest.approx(0.0) and cyc[16] == pytest.approx(6.0 / 6)


@pytest.mark.parametrize("elevation", [0.0, 12.0, -20.0])
def test_a_point_target_gives_one_point_per_frame_at_whole_bins_and_its_angle(elevation):
    cfg = RadarConfig.from_params(IWR1443)  # TX2 half a wavelength up: 4 elevated virtual elements
    track, u = point_target(cfg, range_m=2.5, azimuth_deg=15.0, speed_mps=-1.1, elevation_deg=elevation)
    out = simulate_scatterers(track, two_frames(cfg), cfg)
    vres = 2 * cfg.max_velocity_mps / cfg.n_doppler_bins
    for points, t in zip(frames(out), out["frame_time_s"]):
        assert len(points) == 1
        x, y, z, v, snr = points[0]
        assert v / vres == pytest.approx(round(v / vres), abs=1e-4)  # a whole Doppler bin
        assert v == pytest.approx(-1.1, abs=vres / 2)
        rng = np.linalg.norm(points[0, :3])
        assert rng / cfg.range_resolution_m == pytest.approx(round(rng / cfg.range_resolution_m), abs=1e-4)
        assert rng == pytest.approx(2.5 - 1.1 * t, abs=cfg.range_resolution_m)
        # 64-point azimuth FFT: sin(azimuth) within half a bin (1/64)
        assert x / rng == pytest.approx(u[0], abs=1 / 64 + 1e-6) and y / rng == pytest.approx(u[1], abs=0.03)
        assert snr > 30.0
    # the TI chain reports each point's noise estimate beside it (dB); the 2D CFAR has none
    assert out["points_noise_db"].shape == (len(out["points"]),) and np.isfinite(out["points_noise_db"]).all()
    assert "points_noise_db" not in simulate_scatterers(track, two_frames(cfg), cfg.replace(detection="cfar2d"))


def test_a_moving_arm_next_to_a_static_torso_is_found_by_the_ti_chain_and_missed_by_the_2d_cfar():
    cfg = RadarConfig.from_params(IWR1443)  # clutter removal off, as in the profile: the torso stays
    vres = 2 * cfg.max_velocity_mps / cfg.n_doppler_bins
    ti = frames(simulate_scatterers(torso_and_arm(cfg, 3.0), two_frames(cfg), cfg))
    for points in ti:
        arm = points[np.abs(points[:, 3] - 3.0) <= vres / 2]
        assert len(arm) == 1 and np.linalg.norm(arm[0, :3]) == pytest.approx(2.6, abs=0.15)
        assert np.all((points[:, 3] == 0.0) | (np.abs(points[:, 3] - 3.0) <= vres / 2))  # torso or arm
    cfar2d = cfg.replace(detection="cfar2d")
    points = simulate_scatterers(torso_and_arm(cfar2d, 3.0), two_frames(cfar2d), cfar2d)["points"]
    assert len(points) and not np.any(np.abs(points[:, 3] - 3.0) <= vres)  # the torso's ring hides the arm


def test_a_static_body_gives_points_at_exactly_zero_velocity_after_peak_grouping():
    cfg = RadarConfig.from_params(IWR1443)
    joints = walking_skeleton(0.2, velocity_xz=(0.0, 0.0), leg_swing_deg=0.0, arm_swing_deg=0.0)
    out = simulate_radar(joints, 20.0, cfg)
    assert len(out["points"]) >= len(out["frame_time_s"])
    assert np.all(out["points"][:, 3] == 0.0)
    ungrouped = cfg.replace(ti_detection=dataclasses.replace(cfg.ti_detection, peak_grouping=(False, False)))
    assert np.any(simulate_radar(joints, 20.0, ungrouped)["points"][:, 3] != 0.0)  # Doppler leakage of the Hann


def test_multi_object_beamforming_gives_a_second_point_in_the_same_cell():
    cfg = RadarConfig.from_params(IWR1443)
    (a, ua), (b, ub) = (point_target(cfg, 2.5, az, 1.0) for az in (-25.0, 20.0))
    track = ScattererTrack(lambda t: np.concatenate([a.positions(t), b.positions(t)], axis=1), np.ones(2))
    duration = 1.0 / cfg.frame_rate_hz  # one frame
    points = simulate_scatterers(track, duration, cfg)["points"]
    assert len(points) == 2 and points[0, 3] == points[1, 3]
    np.testing.assert_allclose(np.linalg.norm(points[:, :3], axis=1), np.linalg.norm(points[0, :3]))
    sines = sorted(points[:, 0] / np.linalg.norm(points[:, :3], axis=1))
    # within a fifth of the 8-element beamwidth (2 / 8 in sine): each source's sidelobes shift the other's peak
    np.testing.assert_allclose(sines, [ua[0], ub[0]], atol=0.05)
    single = cfg.replace(ti_detection=dataclasses.replace(cfg.ti_detection, multi_object_threshold=None))
    assert len(simulate_scatterers(track, duration, single)["points"]) == 1


@pytest.mark.parametrize("fov, kept", [
    (dict(fov_azimuth_deg=(-10.0, 10.0)), False), (dict(fov_azimuth_deg=(10.0, 20.0)), True),
    (dict(fov_range_m=(0.0, 2.0)), False), (dict(fov_velocity_mps=(-1.0, 1.0)), False),
    (dict(fov_velocity_mps=(-2.0, 0.0)), True), (dict(fov_elevation_deg=(5.0, 90.0)), False),
])
def test_field_of_view_drops_points_outside_it(fov, kept):
    cfg = RadarConfig.from_params(IWR1443)
    cfg = cfg.replace(ti_detection=dataclasses.replace(cfg.ti_detection, **fov))
    track, _ = point_target(cfg, range_m=2.5, azimuth_deg=15.0, speed_mps=-1.1)
    assert len(simulate_scatterers(track, 1.0 / cfg.frame_rate_hz, cfg)["points"]) == int(kept)


def test_snr_and_noise_are_in_db_of_the_range_cfar_estimate():
    cfg = RadarConfig.from_params(IWR1443)
    power = torch.full((1, 40, 16), 2.0)
    power[0, 20, 3] = 2000.0
    y = torch.zeros(1, 40, cfg.n_virtual, 16, dtype=torch.complex64)
    y[0, 20, :, 3] = 1.0
    (frame,) = detect_ti(power, y, cfg)
    assert len(frame.rows) == 1
    assert frame.rows[0, 4] == pytest.approx(30.0, abs=1e-4) and frame.noise_db[0] == pytest.approx(10 * np.log10(2))
    assert frame.rows[0, 3] == pytest.approx(-5 * 2 * cfg.max_velocity_mps / 16)  # Doppler bin 3 is 3 - 16 // 2
    (empty,) = detect_ti(torch.zeros_like(power), torch.zeros_like(y), cfg)
    assert empty.rows.shape == (0, 5) and empty.noise_db.shape == (0,)


def test_an_sdk3_profile_with_a_doppler_cfar_gives_one_point_per_target():
    cfg = RadarConfig.from_params({"preset": "iwr1843_best_range_res"})  # CASO range + CA cyclic Doppler CFAR
    track, u = point_target(cfg, range_m=2.5, azimuth_deg=15.0, speed_mps=0.5)  # inside cfarFovCfg's -1..1 m/s
    for points in frames(simulate_scatterers(track, two_frames(cfg), cfg)):
        assert len(points) == 1 and points[0, 3] == pytest.approx(0.5, abs=cfg.velocity_resolution_mps)
        np.testing.assert_allclose(points[0, :3] / np.linalg.norm(points[0, :3]), u, atol=0.05)


def test_without_a_ti_profile_the_chain_groups_peaks_and_finds_elevation_on_the_aop_grid():
    aop = DEVICES["iwr6843aop"]  # elevated rows of virtual elements, not one elevated TX
    # the 2D CFAR's range window as CA, at TI's usual 15 dB (at 10 dB noise cells pass now and then); no clutter
    # removal: subtracting the mean of a target that turns only 2.6 Doppler cycles a frame leaves a 0 m/s peak
    cfg = RadarConfig(tx_positions=aop.tx, rx_positions=aop.rx, detection="ti", cfar_threshold_db=15.0,
                      static_clutter_removal=False)
    track, u = point_target(cfg, range_m=2.5, azimuth_deg=15.0, speed_mps=0.5, elevation_deg=12.0)
    for points in frames(simulate_scatterers(track, two_frames(cfg), cfg)):
        assert len(points) == 1
        np.testing.assert_allclose(points[0, :3] / np.linalg.norm(points[0, :3]), u, atol=0.02)
