"""Rooms: static clutter, TX->RX leakage and the antenna element pattern, against known answers."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from tasks.simulate.radar import RadarConfig, simulate_radar
from tasks.simulate.radar.antenna_pattern import element_gain, exponents, pattern_beamwidths
from tasks.simulate.radar.body import ScattererTrack, body_track
from tasks.simulate.radar.config import RadarConfigError
from tasks.simulate.radar.geometry import antenna_positions, radar_axes, to_world
from tasks.simulate.radar.propagation import echoes
from tasks.simulate.radar.room import room_scatterers, with_room
from tasks.simulate.radar.simulate import simulate_scatterers
from tasks.simulate.radar.synthetic import walking_skeleton

CLIP_S = 0.15  # three default frames
SMALL_ROOM = (2.0, 2.0, 3.0)  # every corner within the default 6 m


def silent_track() -> ScattererTrack:
    """One scatterer with no echo: the room is all there is."""
    return ScattererTrack(lambda t: np.zeros((len(t), 1, 3)) + [0.0, 1.0, 0.0], np.zeros(1))


def test_defaults_add_nothing():
    cfg = RadarConfig()
    track = silent_track()
    assert not cfg.room_on and with_room(track, cfg) is track
    assert pattern_beamwidths(cfg.antenna_pattern, cfg.antenna_hpbw_deg) is None


def test_a_clutter_reflector_lands_in_its_range_bin_at_zero_velocity_and_clutter_removal_takes_it_out():
    cfg = RadarConfig(noise_db=None, room_reflectors=1, room_size_m=SMALL_ROOM, static_clutter_removal=False, seed=5)
    (position,), _ = room_scatterers(cfg)
    tx, rx = antenna_positions(cfg)
    expected = (np.linalg.norm(position - tx[0]) + np.linalg.norm(position - rx[0])) / 2 / cfg.range_resolution_m
    kept = simulate_scatterers(silent_track(), CLIP_S, cfg)
    assert np.argmax(kept["range_time"][:, 0]) == round(expected)
    assert np.argmax(kept["doppler_time"][:, 0]) == cfg.n_doppler_bins // 2  # 0 m/s
    assert kept["velocity_mps"][cfg.n_doppler_bins // 2] == 0.0
    removed = simulate_scatterers(silent_track(), CLIP_S, cfg.replace(static_clutter_removal=True))
    assert removed["range_time"].max() < 1e-9 * kept["range_time"].max()


def test_leakage_lights_up_only_the_first_range_bins_at_its_level():
    cfg = RadarConfig(noise_db=None, leakage_db=-20.0, static_clutter_removal=False)
    out = simulate_scatterers(silent_track(), CLIP_S, cfg)
    profile = out["range_time"][:, 0]
    assert np.argmax(profile) <= 1 and profile[:3].sum() > 0.99 * profile.sum()
    positions, amplitude = room_scatterers(cfg)
    assert len(positions) == 1 and np.linalg.norm(positions[0] - antenna_positions(cfg)[1][0]) == pytest.approx(0.04)
    tx, rx = (torch.as_tensor(a) for a in antenna_positions(cfg))
    at = torch.as_tensor(positions).expand(1, cfg.n_chirps * cfg.n_tx, 1, 3).clone()
    gain = echoes(at, tx, rx, torch.as_tensor(amplitude), cfg.n_chirps, tuple(radar_axes(cfg)[2])).gain
    # 10^(-20/20) = 0.1 re a unit reflector at 1 m; the TX/RX offset (millimetres) changes it by < 5 %
    np.testing.assert_allclose(gain.numpy(), 0.1, rtol=0.05)
    assert simulate_scatterers(silent_track(), CLIP_S, cfg.replace(static_clutter_removal=True))[
        "range_time"].max() < 1e-9 * profile.max()


@pytest.mark.parametrize("name, hpbw", [("ti_evm", (120.0, 40.0)), ("cos", (90.0, 30.0))])
def test_the_pattern_is_one_on_boresight_and_half_at_the_half_power_angles(name, hpbw):
    widths = pattern_beamwidths(name, (90.0, 30.0))
    assert widths == hpbw
    q = exponents(widths)
    az, el = (math.radians(w / 2) for w in widths)
    directions = torch.tensor([  # (x, y, z) radar frame: boresight, +-az, +-el, behind
        [0.0, 0.0, 1.0], [math.sin(az), 0.0, math.cos(az)], [-math.sin(az), 0.0, math.cos(az)],
        [0.0, math.sin(el), math.cos(el)], [0.0, -math.sin(el), math.cos(el)], [0.0, 0.0, -1.0]],
        dtype=torch.float64)
    gain = element_gain(*directions.T, q)
    np.testing.assert_allclose(gain.numpy(), [1.0, 0.5, 0.5, 0.5, 0.5, 0.0], atol=1e-12)
    assert 10 * math.log10(gain[1].item()) == pytest.approx(-3.0103, abs=1e-4)


@pytest.mark.parametrize("yaw, pitch", [(0.0, 0.0), (30.0, -10.0)])
@pytest.mark.parametrize("direction", [(math.sin(math.pi / 3), 0.0, 0.5),  # 60 deg azimuth
                                       (0.0, math.sin(math.pi / 9), math.cos(math.pi / 9))])  # 20 deg elevation
def test_the_pattern_applies_two_way_to_every_scatterer(yaw, pitch, direction):
    cfg = RadarConfig(noise_db=None, static_clutter_removal=False, yaw_deg=yaw, pitch_deg=pitch)
    at = to_world(2.0 * np.array([direction]), cfg)
    track = ScattererTrack(lambda t: np.broadcast_to(at, (len(t), 1, 3)).copy(), np.ones(1))
    plain = simulate_scatterers(track, CLIP_S, cfg)["range_time"].sum()
    shaped = simulate_scatterers(track, CLIP_S, cfg.replace(antenna_pattern="ti_evm"))["range_time"].sum()
    assert shaped / plain == pytest.approx(0.25, rel=1e-3)  # -3 dB each way: -6 dB of echo power


def test_layouts_are_reproducible_per_seed_and_stay_in_the_room():
    cfg = RadarConfig(room_wall_points=30, room_reflectors=10, room_rcs_dbsm=(-15.0, -5.0), seed=3)
    positions, amplitude = room_scatterers(cfg)
    again, _ = room_scatterers(cfg)
    other, _ = room_scatterers(cfg.replace(seed=4))
    assert positions.shape == (40, 3) and np.array_equal(positions, again) and not np.allclose(positions, other)
    rx0 = antenna_positions(cfg)[1][0]
    width, height, depth = cfg.room_size_m
    assert np.all(np.abs(positions[:, 0] - rx0[0]) <= width / 2 + 1e-9)
    assert np.all((positions[:, 1] >= 0) & (positions[:, 1] <= height))
    assert np.all((positions[:, 2] <= rx0[2] + 0.3 + 1e-9) & (positions[:, 2] >= rx0[2] - depth - 1e-9))
    on_surface = (np.isclose(positions[:30, 1], 0) | np.isclose(np.abs(positions[:30, 0] - rx0[0]), width / 2)
                  | np.isclose(positions[:30, 2], rx0[2] - depth))
    assert on_surface.all()
    rcs = 20 * np.log10(amplitude)
    assert rcs.min() >= -15.0 and rcs.max() <= -5.0


def test_fast_matches_the_reference_with_a_room():
    cfg = RadarConfig(noise_db=None, scatterers_per_m=6.0, static_clutter_removal=False, room_wall_points=4,
                      room_reflectors=4, leakage_db=-30.0, antenna_pattern="ti_evm", seed=2)
    joints = walking_skeleton(CLIP_S, velocity_xz=(0.5, 1.2), cadence=2.4, arm_swing_deg=45.0, fps=200)
    ref, fast = simulate_radar(joints, 200, cfg, "reference"), simulate_radar(joints, 200, cfg, "fast")
    for view in ("range_time", "doppler_time", "azimuth_time"):
        assert np.corrcoef(ref[view].ravel(), fast[view].ravel())[0, 1] >= 0.99, view


def test_params_reach_the_config_and_bad_values_name_the_field():
    cfg = RadarConfig.from_params({"room_reflectors": 5, "room_rcs_dbsm": [-10, 0], "antenna_pattern": "ti_evm",
                                   "leakage_db": 10.0})
    assert cfg.room_rcs_dbsm == (-10, 0) and cfg.room_on
    with pytest.raises(RadarConfigError, match="antenna_pattern"):
        RadarConfig(antenna_pattern="dipole")
    with pytest.raises(RadarConfigError, match="room_rcs_dbsm"):
        RadarConfig(room_rcs_dbsm=(0.0, -10.0))


def test_the_params_section_takes_a_room_and_names_bad_keys():
    from tasks.common.config import ParamsError, validate_section
    from tasks.simulate.config import SimulateConfig

    section = validate_section(SimulateConfig, {"radar": {"room_size_m": [4, 2.5, 5], "room_reflectors": 20,
                                                          "leakage_db": 0, "antenna_pattern": "ti_evm"}}, "simulate")
    assert section.radar.room_size_m == (4.0, 2.5, 5.0) and section.radar.antenna_pattern == "ti_evm"
    with pytest.raises(ParamsError, match=r"simulate\.radar.*room_reflectors"):
        validate_section(SimulateConfig, {"radar": {"room_reflectors": -1}}, "simulate")


def test_the_room_turns_with_the_radar():
    cfg = RadarConfig(room_wall_points=40, room_reflectors=5, room_size_m=SMALL_ROOM, seed=2)
    turned = cfg.replace(yaw_deg=35.0, position_m=(1.0, 1.2, -2.0))
    rx = [antenna_positions(c)[1][0] for c in (cfg, turned)]
    local = [(room_scatterers(c)[0] - r * [1, 0, 1]) @ radar_axes(c).T for c, r in zip((cfg, turned), rx)]
    np.testing.assert_allclose(local[1], local[0], atol=1e-9)  # the same box, seen from the radar


def test_the_fast_paths_one_room_cube_per_motion_equals_the_room_simulated_in_every_frame():
    """The fast path adds the static reflectors' cube once per frame instead of tracing them each frame."""
    cfg = RadarConfig(noise_db=None, room_wall_points=30, room_reflectors=10, leakage_db=-10.0,
                      static_clutter_removal=False, antenna_pattern="ti_evm", seed=3)
    joints = walking_skeleton(0.6, fps=20.0)
    track = body_track(joints, 20.0, cfg)
    cached = simulate_scatterers(track, 0.55, cfg)
    traced = simulate_scatterers(with_room(track, cfg), 0.55, cfg.replace(room_wall_points=0, room_reflectors=0,
                                                                          leakage_db=None))
    for key in ("range_time", "doppler_time", "azimuth_time"):
        np.testing.assert_allclose(cached[key], traced[key], rtol=2e-3, atol=1e-6 * traced[key].max())
    np.testing.assert_allclose(cached["points"], traced["points"], rtol=1e-3, atol=1e-3)
    body = simulate_scatterers(track, 0.55, cfg.replace(room_wall_points=0, room_reflectors=0, leakage_db=None))
    assert np.abs(body["range_time"] - cached["range_time"]).max() > 0.1 * cached["range_time"].max()  # a real room
