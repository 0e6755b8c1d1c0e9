"""`flywheel radar-info`: the derived numbers of a preset, a TI profile or a params file; errors in one line."""
from __future__ import annotations

import pytest
import yaml

from tasks.cli import main as flywheel
from tasks.simulate.radar.ti_cfg import PROFILES

IWR1443 = PROFILES / "iwr1443_short_range.cfg"


def info(argv: list[str], capsys) -> dict[str, str]:
    """radar-info's lines as {label: text}."""
    capsys.readouterr()
    assert flywheel(["radar-info", *argv]) == 0
    lines = capsys.readouterr().out.splitlines()
    return {line[:22].strip(): line[22:] for line in lines}


def fails(argv: list[str], capsys) -> str:
    capsys.readouterr()
    assert flywheel(["radar-info", *argv]) == 1
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1, err
    return err.strip()


def test_iwr1443_numbers_as_tis_estimator_gives_them(capsys):
    got = info(["--preset", "iwr1443_short_range"], capsys)
    assert got["radar"].startswith("preset iwr1443_short_range, TI profile ")
    assert got["radar"].endswith("profiles/iwr1443_short_range.cfg on iwr1443")
    assert got["carrier at sampling"].startswith("79.2027 GHz, lambda 3.7851 mm")
    assert got["chirp time"] == "64.14 us start to start (idle 7.00 + ramp end 57.14 us); 3 TX TDM: 192.42 us per loop"
    assert got["bandwidth (sampled)"] == "3.4398 GHz = slope x samples / rate"
    assert got["range resolution"] == "0.0436 m = c / 2B"
    assert got["max range (IF band)"].startswith("10.46 m = rate x c / (2 slope); 240 bins kept")
    assert got["velocity resolution"] == "0.6147 m/s = lambda / (2 x 16 loops x 3 TX x 64.14 us)"
    assert got["max velocity"] == "+-4.918 m/s = lambda / (4 x 3 TX x 64.14 us)"
    assert got["Doppler bins"] == "16 of 0.6147 m/s"
    assert got["frame"] == "33.333 ms (30.00 fps); chirps for 3.079 ms, active duty 9.2 %"
    assert got["virtual array"] == ("3 TX x 4 RX = 12 elements: 8 in the azimuth row (~14.3 deg resolution), "
                                    "4 off it (elevation)")
    assert got["TI range FFT"].startswith("256 points: 0.0409 m per bin on the device")
    assert got["detection (TI)"] == ("range CFAR CASO 8 + 4 guard cells, 15.0 dB; peak grouping range + Doppler; "
                                     "multi-object beamforming 0.5")


def test_ti_cfg_and_params_give_the_same_numbers(tmp_path, capsys):
    preset = info(["--preset", "iwr1443_short_range"], capsys)
    by_file = info(["--ti-cfg", str(IWR1443), "--ti-device", "iwr1443"], capsys)
    assert by_file["radar"] == f"{IWR1443}, TI profile {IWR1443} on iwr1443"
    assert {k: v for k, v in by_file.items() if k != "radar"} == {k: v for k, v in preset.items() if k != "radar"}
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"simulate": {"radar": {"ti_cfg": str(IWR1443), "ti_device": "iwr1443",
                                                             "n_chirps": 32}}}))
    got = info(["--params", str(params)], capsys)
    assert got["radar"] == f"{params}: simulate.radar (preset default), TI profile {IWR1443} on iwr1443"
    assert got["velocity resolution"] == "0.3074 m/s = lambda / (2 x 32 loops x 3 TX x 64.14 us)"  # twice the loops
    assert got["max velocity"] == preset["max velocity"]


def test_default_params_describe_the_default_preset(tmp_path, capsys):
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"simulate": {}}))
    got = info(["--params", str(params)], capsys)
    assert got["range resolution"] == "0.0488 m = c / 2B"
    assert got["velocity resolution"] == "0.1864 m/s = lambda / (2 x 64 loops x 2 TX x 80.00 us)"
    assert got["max velocity"].startswith("+-5.965 m/s")
    assert got["frame"] == "50.000 ms (20.00 fps); chirps for 10.240 ms, active duty 20.5 %"
    assert "TI range FFT" not in got and "detection (TI)" not in got


def test_errors_are_one_line(tmp_path, capsys):
    bad = tmp_path / "profile.cfg"
    text = IWR1443.read_text()
    bad.write_text(text.replace("0 0 70 1 240", "0 0 abc 1 240"))
    line = next(i for i, s in enumerate(text.splitlines(), 1) if s.startswith("profileCfg"))
    assert fails(["--ti-cfg", str(bad), "--ti-device", "iwr1443"], capsys) == (
        f"flywheel radar-info: {bad}:{line}: profileCfg: field 8 (freqSlopeConst) 'abc' is not a number")
    assert fails(["--ti-cfg", str(IWR1443)], capsys).startswith(
        "flywheel radar-info: --ti-cfg needs --ti-device, one of")
    assert fails(["--preset", "iwr1443_short_range", "--ti-device", "iwr6843isk"], capsys).endswith(
        "outside iwr6843isk's 60-64 GHz band")
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"simulate": {"radar": {"ti_cfg": str(bad), "ti_device": "iwr1443"}}}))
    assert fails(["--params", str(params)], capsys).startswith(
        f"flywheel radar-info: params.yaml: simulate.radar.ti_cfg: {bad}:{line}: profileCfg: field 8")


def test_one_source_at_a_time(capsys):
    with pytest.raises(SystemExit) as err:
        flywheel(["radar-info", "--ti-cfg", str(IWR1443), "--params", "params.yaml"])
    assert err.value.code == 2 and "not allowed with argument" in capsys.readouterr().err
