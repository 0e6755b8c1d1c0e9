"""The signals figure: axes in physical units, dB colour scales, zero marked; `flywheel show` of an npz."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tasks.cli import main as flywheel
from tasks.common.signals import save_signals
from tasks.simulate.views import DYNAMIC_RANGE_DB, edges, render_signals, signals_figure

SITES = np.array(["pelvis", "left_wrist", "right_wrist", "left_ankle", "right_ankle", "head"])


def fake_signals() -> dict[str, np.ndarray]:
    """A 2 s recording at 20 fps: one target closing from 3 m to 2 m at -0.5 m/s, 10 degrees right."""
    t = 0.05 * np.arange(40) + 0.005
    range_m, velocity, azimuth = 0.05 * np.arange(80), np.linspace(-4, 3.875, 64), np.linspace(-90, 90, 37)

    def track(axis: np.ndarray, centre: np.ndarray) -> np.ndarray:  # [bins, frames], a 1000x peak over 1
        return (1.0 + 999.0 * np.exp(-0.5 * ((axis[:, None] - centre[None, :]) / 0.1) ** 2)).astype(np.float32)

    points = np.array([[0.5, 0.0, 2.9, -0.5, 20.0], [0.4, 0.1, 2.1, -0.6, 18.0], [-0.2, 0.0, 2.5, 1.0, 12.0]])
    imu = np.zeros((100, len(SITES), 6), np.float32)
    imu[..., 1] = 9.81
    return {
        "range_time": track(range_m, 3.0 - 0.5 * t), "range_m": range_m.astype(np.float32),
        "doppler_time": track(velocity, np.full_like(t, -0.5)), "velocity_mps": velocity.astype(np.float32),
        "azimuth_time": track(azimuth, np.full_like(t, 10.0)), "azimuth_deg": azimuth.astype(np.float32),
        "frame_time_s": t.astype(np.float32), "points": points.astype(np.float32),
        "points_frame": np.array([0, 30, 39], np.int32),
        "imu": imu, "imu_time_s": np.arange(100) / 50.0, "imu_sites": SITES,
    }


def test_edges_bracket_the_centres():
    np.testing.assert_allclose(edges(np.array([0.0, 1.0, 3.0])), [-0.5, 0.5, 2.0, 4.0])
    np.testing.assert_allclose(edges(np.array([2.0])), [1.5, 2.5])


def test_heatmaps_have_physical_axes_and_db_scales():
    fig = signals_figure(fake_signals(), "approach")
    by_title = {ax.get_title(): ax for ax in fig.axes if ax.get_title()}
    rng, dop, az = by_title["range–time"], by_title["Doppler–time"], by_title["azimuth–time"]
    assert rng.get_ylabel() == "range (m)" and rng.get_xlabel() == "time (s)"
    assert dop.get_ylabel() == "radial velocity (m/s, + away)"
    assert az.get_ylabel() == "azimuth (°, + radar's right)"
    np.testing.assert_allclose(dop.get_ylim(), [-4.0625, 3.9375])
    np.testing.assert_allclose(az.get_ylim(), [-92.5, 92.5])
    np.testing.assert_allclose(rng.get_xlim(), [-0.02, 1.98], atol=1e-6)  # frame centres +- half a frame
    for ax in (dop, az):  # zero velocity and boresight marked
        assert any(np.allclose(line.get_ydata(), 0.0) for line in ax.get_lines())
    mesh = dop.collections[0]
    assert mesh.norm.vmax == pytest.approx(30.0, abs=1e-3)  # 10 log10(1000) at the peak
    assert mesh.norm.vmax - mesh.norm.vmin == DYNAMIC_RANGE_DB
    # the peak sits in the cell that holds -0.5 m/s
    data = np.asarray(mesh.get_array()).reshape(64, 40)
    assert fake_signals()["velocity_mps"][data[:, 0].argmax()] == pytest.approx(-0.5, abs=0.07)


def test_one_near_field_frame_does_not_set_the_colour_scale():
    signals = fake_signals()
    signals["range_time"][:, 20] *= 1e6  # 60 dB more in one frame
    rng = next(ax for ax in signals_figure(signals).axes if ax.get_title() == "range–time")
    assert rng.collections[0].norm.vmax == pytest.approx(30.0, abs=0.01)  # not 90 dB


def test_points_are_coloured_by_signed_velocity():
    fig = signals_figure(fake_signals(), "approach")
    top = next(ax for ax in fig.axes if ax.get_title() == "points, top view")
    scatter = top.collections[0]
    np.testing.assert_allclose(scatter.get_offsets(), [[0.5, 2.9], [0.4, 2.1], [-0.2, 2.5]], rtol=1e-6)
    assert scatter.norm.vmin == -scatter.norm.vmax  # symmetric about 0 m/s, up to the 99th percentile |v|
    assert scatter.norm.vmax == pytest.approx(np.percentile([0.5, 0.6, 1.0], 99))
    over_time = next(ax for ax in fig.axes if ax.get_title() == "points over time")
    np.testing.assert_allclose(over_time.collections[0].get_offsets()[:, 0], [0.005, 1.505, 1.955], atol=1e-6)
    imu = next(ax for ax in fig.axes if ax.get_title().startswith("accelerometer"))
    assert [ln.get_label() for ln in imu.get_lines()][:5] == list(SITES[:5])


def test_render_writes_a_png_and_refuses_other_formats(tmp_path):
    out = render_signals(fake_signals(), tmp_path / "a.png")
    with Image.open(out) as png:
        assert png.format == "PNG" and png.size == (1800, 1300)
    with pytest.raises(ValueError, match="a.gif: signals render to .png"):
        render_signals(fake_signals(), tmp_path / "a.gif")


def test_flywheel_show_renders_an_npz_or_an_ids_signals(tmp_path, capsys):
    save_signals(tmp_path / "signals/walk_001.npz", fake_signals())
    assert flywheel(["show", str(tmp_path / "signals/walk_001.npz"), "--out", str(tmp_path / "x.png")]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "x.png")
    assert (tmp_path / "x.png").stat().st_size > 50_000
    folder = ["--signals-dir", str(tmp_path / "signals")]
    assert flywheel(["show", "walk_001", "--signals", *folder, "--out", str(tmp_path / "y.png")]) == 0
    assert (tmp_path / "y.png").is_file()
    assert flywheel(["show", "walk_002", "--signals", *folder]) == 1
    assert "walk_002.npz: no such signals file" in capsys.readouterr().err
