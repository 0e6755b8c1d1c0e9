"""TI mmWave SDK profiles: parsing TI's published values, the device layouts, derived numbers, errors."""
from __future__ import annotations

import logging
import math

import numpy as np
import pytest
import torch
from test_radar import peak, point_target

from tasks.common.params import ParamsError
from tasks.simulate.config import SimulateConfig
from tasks.simulate.radar import RadarConfig, RadarConfigError, simulate_scatterers
from tasks.simulate.radar.config import C0, CfarSettings
from tasks.simulate.radar.reference import adc_samples
from tasks.simulate.radar.synthetic import walking_skeleton
from tasks.simulate.radar.ti_cfg import PROFILES, TI_PRESETS, TiCfgError, parse_profile, radar_values
from tasks.simulate.signals import simulate_motion

IWR1443 = (PROFILES / "iwr1443_short_range.cfg").read_text()


def write(tmp_path, text: str, name: str = "profile.cfg"):
    path = tmp_path / name
    path.write_text(text)
    return path


def replaced(old: str, new: str) -> str:
    assert old in IWR1443
    return IWR1443.replace(old, new)


# ---- TI's published values land in the right fields --------------------------------------------------

def test_iwr1443_short_range_profile_fields():
    cfg = RadarConfig.from_params({"preset": "iwr1443_short_range"})
    # profileCfg 0 77 7 7 57.14 0 0 70 1 240 4884 0 0 30
    assert cfg.carrier_hz == 77e9 and cfg.slope_hz_per_s == 70e12
    assert (cfg.n_samples, cfg.sample_rate_hz) == (240, 4.884e6)
    assert cfg.adc_start_s == pytest.approx(7e-6)
    assert cfg.chirp_period_s == pytest.approx(64.14e-6)  # idleTime 7 + rampEndTime 57.14
    # frameCfg 0 2 16 0 33.333 1 0: chirps 0..2 per loop, 16 loops, 30 frames/s
    assert (cfg.n_chirps, cfg.n_doppler) == (16, None)
    assert cfg.frame_rate_hz == pytest.approx(30.0, abs=1e-3)
    # chirpCfg TX masks 1, 4, 2: TX1, TX3, then the elevated TX2; channelCfg 15 7: RX1-RX4
    assert cfg.tx_positions == ((0.0, 0.0), (4.0, 0.0), (2.0, 1.0))
    assert cfg.rx_positions == ((0.0, 0.0), (1.0, 0.0), (2.0, 0.0), (3.0, 0.0))
    assert cfg.static_clutter_removal is False  # clutterRemoval 0
    # cfarCfg 0 2 8 4 3 0 1280: range, CASO, 8 noise + 4 guard cells, 1280 = 15 dB in xwr14xx units (6 x / 512)
    assert cfg.ti_detection.range_cfar == CfarSettings("caso", 8, 4, 3, False, 15.0)
    assert cfg.ti_detection.doppler_cfar is None
    assert (cfg.cfar_guard, cfg.cfar_train, cfg.cfar_threshold_db) == ((4, 2), (8, 4), 15.0)
    assert cfg.ti_detection.peak_grouping == (True, True)  # peakGrouping 1 1 1 1 229
    assert cfg.ti_detection.multi_object_threshold == 0.5  # multiObjBeamForming 1 0.5
    assert cfg.max_range_m == pytest.approx(4.884e6 * C0 / (2 * 70e12))  # no cfarFovCfg: the IF band
    # the same file by path equals the preset
    assert RadarConfig.from_params({"ti_cfg": str(PROFILES / "iwr1443_short_range.cfg"), "ti_device": "iwr1443"}) == cfg


def test_sdk3_iwr1843_profile_fields():
    cfg = RadarConfig.from_params({"preset": "iwr1843_best_range_res"})
    assert (cfg.n_samples, cfg.sample_rate_hz, cfg.chirp_period_s) == (256, 5.209e6, pytest.approx(486.14e-6))
    d = cfg.ti_detection
    # cfarCfg -1 0 2 8 4 3 0 15 1 / -1 1 0 4 2 3 1 15 1: SDK 3, thresholds already in dB, grouping per direction
    assert d.range_cfar == CfarSettings("caso", 8, 4, 3, False, 15.0)
    assert d.doppler_cfar == CfarSettings("ca", 4, 2, 3, True, 15.0)
    assert (cfg.cfar_guard, cfg.cfar_train) == ((4, 2), (8, 4))
    assert d.peak_grouping == (True, True) and d.multi_object_threshold == 0.5
    assert (d.fov_azimuth_deg, d.fov_elevation_deg) == ((-90.0, 90.0), (-90.0, 90.0))  # aoaFovCfg -1 -90 90 -90 90
    assert (d.fov_range_m, d.fov_velocity_mps) == ((0.0, 8.92), (-1.0, 1.0))  # cfarFovCfg
    assert cfg.max_range_m == 8.92


def test_people_counting_profile_and_the_one_warning(caplog):
    with caplog.at_level(logging.WARNING):
        cfg = RadarConfig.from_params({"preset": "iwr6843_people_counting"})
    # profileCfg 0 60.75 30.00 25.00 59.10 394758 0 54.71 1 96 2950.00 2 1 36, frameCfg 0 2 96 0 55.00 1 0
    assert (cfg.carrier_hz, cfg.slope_hz_per_s, cfg.n_samples) == (60.75e9, 54.71e12, 96)
    assert (cfg.adc_start_s, cfg.chirp_period_s) == (pytest.approx(25e-6), pytest.approx(89.1e-6))
    assert (cfg.n_chirps, cfg.n_doppler) == (96, 128)  # the Doppler FFT is zero-padded to a power of two
    assert cfg.frame_rate_hz == pytest.approx(1000 / 55)
    assert cfg.tx_positions == ((0.0, 0.0), (2.0, 1.0), (4.0, 0.0))  # TX1, TX2, TX3 on the ISK
    records = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(records) == 1
    message = records[0].getMessage()
    assert "not simulated, ignored: dynamicRACfarCfg (line 21)" in message and "trackingCfg (line 38)" in message
    assert "sensorStart" not in message and "compRangeBiasAndRxChanPhase" not in message  # harmless: silent


def test_unknown_commands_are_one_warning_and_overrides_win(tmp_path, caplog):
    path = write(tmp_path, IWR1443 + "fooCfg 1 2\nextendedMaxVelocity 1\nbarCfg\n")
    with caplog.at_level(logging.WARNING):
        cfg = RadarConfig.from_params({"ti_cfg": str(path), "ti_device": "iwr1443", "n_chirps": 32,
                                       "static_clutter_removal": True, "adc_start_s": 0.0})
    n = len(IWR1443.splitlines())
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [
        f"{path}: not simulated, ignored: fooCfg (line {n + 1}), extendedMaxVelocity enabled (line {n + 2}), "
        f"barCfg (line {n + 3})"]
    assert (cfg.n_chirps, cfg.static_clutter_removal, cfg.adc_start_s, cfg.slope_hz_per_s) == (32, True, 0.0, 70e12)


# ---- derived numbers: TI's formulas ------------------------------------------------------------------

def test_derived_numbers_equal_tis_formulas():
    cfg = RadarConfig.from_params({"preset": "iwr1443_short_range"})
    bandwidth = 70e12 * 240 / 4.884e6  # S N / f_s = 3.4398 GHz
    assert cfg.bandwidth_hz == pytest.approx(bandwidth)
    assert cfg.range_resolution_m == pytest.approx(C0 / (2 * bandwidth)) == pytest.approx(0.0436, abs=1e-4)
    assert cfg.max_if_range_m == pytest.approx(4.884e6 * C0 / (2 * 70e12)) == pytest.approx(10.46, abs=0.01)
    f = 77e9 + 70e12 * (7e-6 + 239 / (2 * 4.884e6))
    lam, t_c = C0 / f, 64.14e-6
    assert cfg.velocity_resolution_mps == pytest.approx(lam / (2 * 16 * 3 * t_c))
    assert cfg.max_velocity_mps == pytest.approx(lam / (4 * 3 * t_c)) == pytest.approx(4.918, abs=1e-3)
    assert cfg.burst_s == pytest.approx(16 * 3 * t_c)  # 3.079 ms of chirps in a 33.3 ms frame
    assert (cfg.n_virtual, len(cfg.azimuth_elements)) == (12, 8)


def test_iwr1443_doppler_bin_is_the_devices_0_6147_mps():
    # The carrier a Doppler phase sees is the frequency at the middle ADC sample, counted from the chirp's start:
    #   f = 77 GHz + 70 MHz/us x (7 us ADC start + 239 / (2 x 4.884 Msps) = 24.47 us) = 79.2027 GHz, lambda 3.7851 mm
    #   bin = lambda / (2 x 16 loops x 3 TX x 64.14 us) = 3.7851 mm / 6.1574 ms = 0.6147 m/s.
    # Without the ADC start time the middle sample sits at 78.7127 GHz (lambda 3.8087 mm): 0.6186 m/s.
    cfg = RadarConfig.from_params({"preset": "iwr1443_short_range"})
    assert round(cfg.velocity_resolution_mps, 4) == 0.6147
    assert round(float(np.diff(cfg.velocity_axis())[0]), 4) == 0.6147
    assert round(cfg.replace(adc_start_s=0.0).velocity_resolution_mps, 4) == 0.6186


def test_reference_samples_carry_the_adc_start_frequency():
    cfg = RadarConfig.from_params({"preset": "iwr1443_short_range"})
    path = torch.tensor([[2.0]], dtype=torch.float64)  # metres, one scatterer
    phase = torch.angle(adc_samples(path, torch.ones(1, 1), cfg))[0].numpy()
    t = np.arange(cfg.n_samples) / cfg.sample_rate_hz
    expected = 2 * np.pi * 2.0 * (77e9 + 70e12 * (7e-6 + t)) / C0  # (f_c + S (t_adc + t_n)) tau
    np.testing.assert_allclose(np.angle(np.exp(1j * (phase - expected))), 0.0, atol=1e-6)


@pytest.mark.parametrize("method", ["reference", "fast"])
def test_point_target_lands_in_its_range_and_doppler_bins_with_the_iwr1443_profile(method):
    cfg = RadarConfig.from_params({"preset": "iwr1443_short_range", "noise_db": -60.0})
    speed = 3 * cfg.velocity_resolution_mps  # 1.844 m/s: Doppler bin +3
    # 40 range bins away at the frame's middle chirp
    start = 40 * cfg.range_resolution_m - speed * (cfg.n_chirps * cfg.n_tx - 1) * cfg.chirp_period_s / 2
    track, _ = point_target(cfg, range_m=start, azimuth_deg=10.0, speed_mps=speed)
    out = simulate_scatterers(track, cfg.burst_s, cfg, method)
    assert int(np.argmax(out["range_time"][:, 0])) == 40
    assert int(np.argmax(out["doppler_time"][:, 0])) == cfg.n_doppler_bins // 2 + 3
    assert peak(out["doppler_time"], out["velocity_mps"]) == pytest.approx(speed, rel=1e-6)
    points = out["points"]
    strongest = points[np.argmax(points[:, 4])]
    assert np.linalg.norm(strongest[:3]) == pytest.approx(40 * cfg.range_resolution_m, abs=cfg.range_resolution_m)
    assert strongest[3] == pytest.approx(speed, abs=cfg.velocity_resolution_mps / 2)


# ---- device layouts ------------------------------------------------------------------------------------

def test_device_layouts_in_half_wavelengths():
    boost = RadarConfig.from_params({"preset": "iwr1443_short_range"})
    grid = {tuple(p) for p in boost.virtual_positions}
    assert grid == {(x, 0.0) for x in range(8)} | {(x, 1.0) for x in range(2, 6)}  # 8 in a row, 4 above
    aop = RadarConfig.from_params({"preset": "iwr6843_people_counting", "ti_device": "iwr6843aop"})
    grid = {tuple(p) for p in aop.virtual_positions}
    assert len(grid) == 12 and grid == {(x, y) for x in range(4) for y in range(4)} - {(0, 2), (1, 2), (0, 3), (1, 3)}
    assert len(aop.azimuth_elements) == 4
    assert math.degrees(2 / len(aop.azimuth_elements)) == pytest.approx(28.6, abs=0.1)


# ---- malformed profiles: file, line and field ----------------------------------------------------------

def test_a_malformed_line_names_file_line_and_field(tmp_path):
    text = replaced("0 0 70 1 240", "0 0 abc 1 240")
    path = write(tmp_path, text)
    line = text.splitlines().index(next(s for s in text.splitlines() if s.startswith("profileCfg"))) + 1
    with pytest.raises(ParamsError) as err:
        RadarConfig.from_params({"ti_cfg": str(path), "ti_device": "iwr1443"})
    assert str(err.value) == f"{path}:{line}: profileCfg: field 8 (freqSlopeConst) 'abc' is not a number"


@pytest.mark.parametrize("old, new, message", [
    ("frameCfg 0 2 16 0 33.333 1 0", "frameCfg 0 2 16 0 33.333 1", "frameCfg: 6 fields, expected 7"),
    ("chirpCfg 1 1 0 0 0 0 0 4", "chirpCfg 1 1 0 0 0 0 0 4.5", "chirpCfg: field 8 (txEnable) '4.5' is not an integer"),
    ("chirpCfg 1 1 0 0 0 0 0 4", "chirpCfg 1 1 0 0 0 0 0 5",
     "chirpCfg: field 8 (txEnable) 5 must enable exactly one TX (only TDM MIMO is simulated)"),
    ("chirpCfg 1 1 0 0 0 0 0 4", "chirpCfg 1 1 0 0 0 2 0 4", "chirpCfg: field 6 (idleTimeVar) 2 is not supported"),
    ("channelCfg 15 7 0", "channelCfg 15 3 0", "chirpCfg: field 8 (txEnable) 4 fires TX3, which channelCfg"),
    ("0 0 70 1 240 4884", "0 0 70 1 300 4884", "profileCfg: field 5 (rampEndTime) 57.14 us ends before sampling"),
    ("frameCfg 0 2 16", "frameCfg 0 3 16", "frameCfg: chirp 3 of chirps 0..3 has no chirpCfg"),
    ("adcCfg 2 1", "adcCfg 2 0", "adcCfg: field 2 (adcOutputFmt) 0 (real sampling) is not supported"),
    ("cfarCfg 0 2 8 4 3 0 1280", "cfarCfg 0 2 8 4", "cfarCfg: 4 fields, expected 7 or 8 or 9"),
    ("frameCfg 0 2 16 0 33.333 1 0\n", "", "no frameCfg line"),
])
def test_bad_profiles_fail_with_one_line(tmp_path, old, new, message):
    path = write(tmp_path, replaced(old, new))
    with pytest.raises(ParamsError, match="^" + str(path).replace("\\", "\\\\")) as err:
        RadarConfig.from_params({"ti_cfg": str(path), "ti_device": "iwr1443"})
    assert message in str(err.value) and "\n" not in str(err.value)


def test_device_checks():
    profile = parse_profile(IWR1443, "p.cfg")
    with pytest.raises(TiCfgError, match=r"p.cfg:\d+: profileCfg: field 2 \(startFreq\) 77 GHz sweeps to 81.000 GHz, "
                                         "outside iwr6843isk's 60-64 GHz band"):
        radar_values(profile, "iwr6843isk")
    for section, message in [
        ({"ti_cfg": "p.cfg"}, "ti_cfg needs ti_device"),
        ({"ti_device": "iwr1443"}, "ti_device needs ti_cfg or a TI preset"),
        ({"preset": "udoppler", "ti_cfg": "p.cfg", "ti_device": "iwr1443"}, "drop preset udoppler"),
        ({"preset": "iwr1443_short_range", "ti_cfg": "p.cfg"}, "is a TI profile already"),
        ({"preset": "iwr1443_short_range", "ti_device": "iwr9999"}, "unknown ti_device 'iwr9999'"),
    ]:
        with pytest.raises(RadarConfigError, match=message):
            RadarConfig.from_params(section)


# ---- params: one line naming the key -----------------------------------------------------------------

def test_params_errors_are_one_line_naming_the_key(tmp_path):
    bad = write(tmp_path, replaced("0 0 70 1 240", "0 0 abc 1 240"))
    for radar, message in [
        ({"ti_cfg": str(bad), "ti_device": "iwr1443"},
         rf"^params.yaml: simulate.radar.ti_cfg: {bad}:\d+: profileCfg: field 8 \(freqSlopeConst\) 'abc' is not a "
         "number$"),
        ({"ti_cfg": str(tmp_path / "none.cfg"), "ti_device": "iwr1443"},
         rf"^params.yaml: simulate.radar.ti_cfg: {tmp_path / 'none.cfg'}: no such file or folder$"),
        ({"ti_cfg": str(PROFILES / "iwr1443_short_range.cfg")}, "^params.yaml: simulate.radar: ti_cfg needs ti_device"),
        ({"preset": "iwr1443_short_range", "ti_device": "iwr1442"}, "^params.yaml: simulate.radar.ti_device: Input"),
        ({"preset": "iwr1443_short_range", "ti_detection": {}}, "simulate.radar.ti_detection: unknown key"),
    ]:
        with pytest.raises(ParamsError, match=message) as err:
            SimulateConfig.from_params({"radar": radar})
        assert "\n" not in str(err.value)


def test_a_motion_simulates_with_a_ti_preset():
    cfg = SimulateConfig.from_params({"radar": {"preset": "iwr1443_short_range"}})
    s = simulate_motion(walking_skeleton(1.0), 20, cfg.radar, cfg.imu, cfg.seed, "walk")
    assert (len(s["range_m"]), len(s["velocity_mps"])) == (240, 16)
    np.testing.assert_allclose(np.diff(s["frame_time_s"]), 1 / 30.0003, rtol=1e-5)  # 30 frames/s
    assert len(s["points"]) > 0


def test_params_select_presets_and_profiles():
    for name, device in TI_PRESETS.items():
        cfg = SimulateConfig.from_params({"radar": {"preset": name, "noise_db": -40.0}}).radar
        assert cfg.noise_db == -40.0 and cfg.ti_detection is not None
        assert cfg == RadarConfig.from_params({"ti_cfg": str(PROFILES / f"{name}.cfg"), "ti_device": device,
                                               "noise_db": -40.0, "device": cfg.device})
    default = SimulateConfig.from_params({}).radar  # unchanged: no ADC start, no TI settings
    assert (default.adc_start_s, default.ti_detection) == (0.0, None)
    assert default.centre_hz == 77e9 + 60e12 * 255 / (2 * 5e6)
