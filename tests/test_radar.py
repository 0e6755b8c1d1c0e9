"""Radar simulator: configuration, geometry and known answers (point targets, a body moving away)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from tasks.simulate.radar import (
    PRESETS,
    RadarConfig,
    RadarConfigError,
    ScattererTrack,
    simulate_radar,
    simulate_scatterers,
)
from tasks.simulate.radar.geometry import radar_axes, to_radar_frame, to_world
from tasks.simulate.radar.multipath import reflectors
from tasks.simulate.radar.points import cfar_noise
from tasks.simulate.radar.synthetic import walking_skeleton

KEYS = {"range_time", "range_m", "doppler_time", "velocity_mps", "azimuth_time", "azimuth_deg", "frame_time_s",
        "points", "points_frame"}


def point_target(cfg: RadarConfig, range_m: float, azimuth_deg: float, speed_mps: float,
                 elevation_deg: float = 0.0) -> tuple[ScattererTrack, np.ndarray]:
    """One reflector starting at (range, azimuth, elevation) from the radar, moving radially; also its direction."""
    az, el = np.radians(azimuth_deg), np.radians(elevation_deg)
    u = np.array([np.sin(az) * np.cos(el), np.sin(el), np.cos(az) * np.cos(el)])  # radar frame
    start = to_world(range_m * u, cfg)
    velocity = to_world(speed_mps * u, cfg) - to_world(np.zeros(3), cfg)
    return ScattererTrack(lambda t: (start + velocity * t[:, None])[:, None, :], np.array([1.0])), u


def two_frames(cfg: RadarConfig) -> float:
    return 1.0 / cfg.frame_rate_hz + cfg.burst_s


def peak(values: np.ndarray, axis: np.ndarray, frame: int = 0) -> float:
    return float(axis[np.argmax(values[:, frame])])


# ---- configuration ------------------------------------------------------------------------------

def test_presets_reproduce_the_published_radar_numbers():
    u = RadarConfig.from_params({"preset": "udoppler"})
    assert u.bandwidth_hz == pytest.approx(3.44e9, rel=0.01)
    assert u.range_resolution_m == pytest.approx(0.0436, abs=2e-4)
    # the published 0.097 m/s and 6.23 m/s use the 77 GHz start; velocities scale with the sweep centre
    at_start = u.centre_hz / 77e9
    assert u.velocity_resolution_mps * at_start == pytest.approx(0.097, abs=1e-3)
    assert u.max_velocity_mps * at_start == pytest.approx(6.23, abs=0.01)
    assert u.burst_s == pytest.approx(1 / u.frame_rate_hz)  # continuous chirping, 50 fps
    ti = RadarConfig.from_params({"preset": "ti1843"})
    assert (ti.n_virtual, len(ti.azimuth_elements)) == (12, 8)
    # TDM over 3 TX: the slow-time period is 3 chirps, so the unambiguous speed is a third
    assert ti.max_velocity_mps == pytest.approx(ti.wavelength_m / (4 * 3 * ti.chirp_period_s))
    for name in PRESETS:
        cfg = RadarConfig.from_params({"preset": name})
        assert cfg.range_axis()[-1] <= cfg.max_range_m
        assert cfg.velocity_axis()[cfg.n_doppler_bins // 2] == 0.0


def test_from_params_overrides_and_rejects():
    cfg = RadarConfig.from_params({"preset": "udoppler", "n_chirps": 64, "reflectivity": {"head": 2.0},
                                   "position_m": [1.0, 1.5, 4.0]})
    assert (cfg.n_chirps, cfg.carrier_hz, cfg.position_m) == (64, 77e9, (1.0, 1.5, 4.0))
    assert cfg.reflectivity["head"] == 2.0 and cfg.reflectivity["torso"] == 1.0
    assert RadarConfig.from_params(None) == RadarConfig.from_params({"preset": "default"})
    with pytest.raises(RadarConfigError, match="unknown field.*chirps"):
        RadarConfig.from_params({"chirps": 3})
    with pytest.raises(RadarConfigError, match="unknown preset 'iwr'"):
        RadarConfig.from_params({"preset": "iwr"})
    with pytest.raises(RadarConfigError, match="longer than the frame period"):
        RadarConfig.from_params({"frame_rate_hz": 200.0})
    with pytest.raises(RadarConfigError, match="max_range_m 20"):
        RadarConfig.from_params({"max_range_m": 20.0})
    with pytest.raises(RadarConfigError, match="reflectivity segment.*wing"):
        RadarConfig.from_params({"reflectivity": {"wing": 1.0}})


def test_radar_frame_convention():
    cfg = RadarConfig()
    axes = radar_axes(cfg)
    np.testing.assert_allclose(axes @ axes.T, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(axes, [[1, 0, 0], [0, 1, 0], [0, 0, -1]], atol=1e-12)  # right=+x, up=+y, looks -z
    np.testing.assert_allclose(to_radar_frame([0.5, 1.0, 1.0], cfg), [0.5, 0.0, 2.0], atol=1e-12)
    turned = RadarConfig(yaw_deg=90.0)  # counter-clockwise from above: now looks along world -x
    np.testing.assert_allclose(radar_axes(turned)[2], [-1, 0, 0], atol=1e-12)
    np.testing.assert_allclose(to_world(to_radar_frame([0.3, 0.2, -1.0], turned), turned), [0.3, 0.2, -1.0])


# ---- point targets ------------------------------------------------------------------------------

@pytest.mark.parametrize("preset", sorted(PRESETS))
@pytest.mark.parametrize("method", ["reference", "fast"])
def test_point_target_lands_in_its_range_doppler_and_angle_bins(preset, method):
    cfg = RadarConfig.from_params({"preset": preset})
    track, _ = point_target(cfg, range_m=2.3, azimuth_deg=-25.0, speed_mps=1.7)
    out = simulate_scatterers(track, two_frames(cfg), cfg, method)
    assert set(out) == KEYS
    for frame, t in enumerate(out["frame_time_s"]):
        assert abs(peak(out["range_time"], out["range_m"], frame) - (2.3 + 1.7 * t)) <= cfg.range_resolution_m
        assert abs(peak(out["doppler_time"], out["velocity_mps"], frame) - 1.7) <= cfg.velocity_resolution_mps
        step = 180.0 / (cfg.n_angle - 1)
        assert abs(peak(out["azimuth_time"], out["azimuth_deg"], frame) + 25.0) <= step


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_velocity_beyond_the_unambiguous_limit_wraps(preset):
    cfg = RadarConfig.from_params({"preset": preset})
    v_max = cfg.wavelength_m / (4 * cfg.n_tx * cfg.chirp_period_s)
    assert cfg.max_velocity_mps == pytest.approx(v_max)
    speed = 1.4 * v_max  # aliases to 1.4 v_max - 2 v_max = -0.6 v_max
    track, _ = point_target(cfg, range_m=2.0, azimuth_deg=0.0, speed_mps=speed)
    out = simulate_scatterers(track, cfg.burst_s, cfg)
    assert peak(out["doppler_time"], out["velocity_mps"]) == pytest.approx(-0.6 * v_max,
                                                                          abs=cfg.velocity_resolution_mps)


def test_signs_away_is_positive_velocity_and_world_plus_x_is_positive_azimuth():
    cfg = RadarConfig()
    for side in (1.0, -1.0):  # world +x moving away (-z), then world -x moving closer (+z)
        start, velocity = np.array([side * 1.0, 1.0, 1.0]), np.array([0.0, 0.0, -side * 1.2])
        track = ScattererTrack(lambda t, p=start, v=velocity: (p + v * t[:, None])[:, None, :], np.array([1.0]))
        out = simulate_scatterers(track, cfg.burst_s, cfg)
        assert np.sign(peak(out["doppler_time"], out["velocity_mps"])) == side
        assert np.sign(peak(out["azimuth_time"], out["azimuth_deg"])) == side


def test_nothing_behind_the_radar_echoes():
    cfg = RadarConfig(noise_db=None)
    start, velocity = np.array([0.3, 1.0, 4.0]), np.array([0.0, 0.0, 1.0])  # 1 m behind, walking off
    track = ScattererTrack(lambda t: (start + velocity * t[:, None])[:, None, :], np.array([1.0]))
    out = simulate_scatterers(track, cfg.burst_s, cfg)
    assert not out["range_time"].any() and len(out["points"]) == 0
    mirrored = ScattererTrack(lambda t: (start * [1, 1, -1] + [0, 0, 6] - velocity * t[:, None])[:, None, :],
                              np.array([1.0]))  # the same target in front: it does echo
    assert simulate_scatterers(mirrored, cfg.burst_s, cfg)["range_time"].max() > 0


def test_ca_cfar_noise_estimate_is_the_mean_of_the_training_ring():
    cfg = RadarConfig()
    (gr, gd), (tr, td) = cfg.cfar_guard, cfg.cfar_train
    flat = torch.full((1, 40, 32), 3.0)
    torch.testing.assert_close(cfar_noise(flat, cfg), flat)  # edges too: only cells inside the map count
    spike = torch.zeros(1, 40, 32)
    spike[0, 20, 0] = 1.0
    noise = cfar_noise(spike, cfg)
    ring = (2 * (gr + tr) + 1) * (2 * (gd + td) + 1) - (2 * gr + 1) * (2 * gd + 1)
    assert noise[0, 20, 0] == 0.0 and noise[0, 20 + gr, gd] == 0.0  # the guard cells hide it
    assert noise[0, 20 + gr + 1, 0] == pytest.approx(1.0 / ring)
    assert noise[0, 20, 32 - gd - 1] == pytest.approx(1.0 / ring)  # Doppler wraps around


@pytest.mark.parametrize("preset, elevation", [("default", 0.0), ("udoppler", 0.0), ("ti1843", 12.0)])
def test_cfar_point_cloud_finds_the_target_where_it_is(preset, elevation):
    cfg = RadarConfig.from_params({"preset": preset})
    track, u = point_target(cfg, range_m=2.5, azimuth_deg=15.0, speed_mps=-1.1, elevation_deg=elevation)
    out = simulate_scatterers(track, two_frames(cfg), cfg)
    for frame, t in enumerate(out["frame_time_s"]):
        points = out["points"][out["points_frame"] == frame]
        best = points[np.argmax(points[:, 4])]  # the strongest detection
        np.testing.assert_allclose(best[:3], (2.5 - 1.1 * t) * u, atol=0.05)
        assert best[3] == pytest.approx(-1.1, abs=cfg.velocity_resolution_mps / 2)
        assert best[4] > 30.0  # SNR dB of a unit reflector at 2.5 m
        assert len(points) <= cfg.max_points


# ---- bodies -------------------------------------------------------------------------------------

def test_body_walking_away_at_1_mps_has_a_doppler_ridge_at_plus_1_and_a_range_track_growing_1_m_per_s():
    cfg = RadarConfig()
    joints = walking_skeleton(2.0, velocity_xz=(0.0, -1.0), leg_swing_deg=0.0, arm_swing_deg=0.0)  # rigid
    out = simulate_radar(joints, 20, cfg)
    assert set(out) == KEYS
    ridge = out["velocity_mps"][np.argmax(out["doppler_time"], axis=0)]
    assert np.all(np.abs(ridge - 1.0) <= cfg.velocity_resolution_mps)
    track = out["range_m"][np.argmax(out["range_time"], axis=0)]
    slope, start = np.polyfit(out["frame_time_s"], track, 1)
    assert slope == pytest.approx(1.0, abs=0.05)
    assert start == pytest.approx(3.0, abs=0.15)  # the torso starts 3 m in front of the radar


def test_output_contract_and_determinism():
    cfg = RadarConfig()
    joints = walking_skeleton(0.5)
    out = simulate_radar(joints, 20, cfg)
    f = len(out["frame_time_s"])
    assert f == 10  # frames whose chirps all fall in the 0.5 s motion at 20 fps
    assert out["range_time"].shape == (cfg.n_range, f) and out["range_m"].shape == (cfg.n_range,)
    assert out["doppler_time"].shape == (cfg.n_doppler_bins, f)
    assert out["azimuth_time"].shape == (cfg.n_angle, f)
    assert out["points"].shape[1] == 5 and len(out["points"]) == len(out["points_frame"]) > 0
    assert all(v.dtype == np.float32 for k, v in out.items() if k != "points_frame")
    assert np.all(np.diff(out["frame_time_s"]) > 0) and np.all(np.diff(out["points_frame"]) >= 0)
    again = simulate_radar(joints, 20, cfg)
    assert all(np.array_equal(out[k], again[k]) for k in KEYS)
    other = simulate_radar(joints, 20, cfg, seed=1)
    assert not np.array_equal(out["range_time"], other["range_time"])  # the seed drives the noise


def test_multipath_floor_ghost_appears_at_the_mirror_image_range():
    cfg = RadarConfig(multipath=True, multipath_reflectors=1, static_clutter_removal=False, noise_db=None)
    target = np.array([0.0, 0.6, 0.5])  # 0.4 m below the radar, 2.5 m in front
    track = ScattererTrack(lambda t: np.broadcast_to(target, (len(t), 1, 3)), np.array([1.0]))
    profile = simulate_scatterers(track, cfg.burst_s, cfg)["range_time"][:, 0]
    maxima = [i for i in range(1, len(profile) - 1) if profile[i - 1] <= profile[i] >= profile[i + 1]]
    first, second = sorted(maxima, key=lambda i: -profile[i])[:2]
    direct = np.linalg.norm(target - cfg.position_m)
    ghost = np.linalg.norm(target * [1, -1, 1] - cfg.position_m)  # mirrored in the floor y = 0
    assert abs(first * cfg.range_resolution_m - direct) <= cfg.range_resolution_m
    assert abs(second * cfg.range_resolution_m - ghost) <= cfg.range_resolution_m
    expected = (ghost / direct) ** 4 / cfg.multipath_loss**4  # power: 1/R^4, and the bounce loss each way
    assert profile[first] / profile[second] == pytest.approx(expected, rel=0.2)


def test_multipath_walls_are_seeded_and_keep_radar_and_person_on_one_side():
    cfg = RadarConfig(multipath=True, multipath_reflectors=4, seed=3)
    planes = reflectors(cfg)
    assert len(planes) == 4 and [p[1] for p in planes] == [p[1] for p in reflectors(cfg)]
    assert [p[1] for p in planes] != [p[1] for p in reflectors(cfg.replace(seed=4))]
    for normal, offset in planes:  # the radar and the person's pelvis are in front of every plane
        assert normal @ np.asarray(cfg.position_m) < offset and normal @ [0.0, 0.9, 0.0] < offset


def test_bad_inputs_fail_with_one_line_reasons():
    cfg = RadarConfig()
    with pytest.raises(ValueError, match="motion of 0.005 s is shorter than one radar frame"):
        simulate_radar(walking_skeleton(0.005, fps=200), 200, cfg)
    with pytest.raises(ValueError, match=r"joints must be \[T>=2, 22, 3\], got \[10, 21, 3\]"):
        simulate_radar(np.zeros((10, 21, 3)), 20, cfg)
    with pytest.raises(ValueError, match="method must be one of"):
        simulate_radar(walking_skeleton(1.0), 20, cfg, method="exact")
    if not torch.cuda.is_available():
        with pytest.raises(RadarConfigError, match="no GPU"):
            simulate_radar(walking_skeleton(1.0), 20, cfg.replace(device="cuda"))
