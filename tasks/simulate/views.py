"""One PNG of a motion's signals, laid out for a radar engineer.

Top row: range-, Doppler- and azimuth-time heatmaps in dB against seconds.  The colour scale spans
DYNAMIC_RANGE_DB below a robust top (a high percentile of the frames' peaks), so a frame or two of
near-field echo (power grows as 1/R^4) saturates instead of washing out the rest.
Middle row: the detected points seen from above (x-z) and from the radar (x-y), and their range
over time, coloured by radial velocity (blue towards the radar, red away, as on the Doppler axis).
Bottom row: accelerometer and gyroscope magnitudes of the five main IMU sites (left side red,
right side blue, as in the motion renders).
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from tasks.common.io import write_atomic
from tasks.common.signals import REQUIRED_SITES, check_signals, to_db
from tasks.common.skeleton import CENTRE, LEFT, RIGHT

DYNAMIC_RANGE_DB = 40.0
TOP_PERCENTILE = 95.0  # of the per-frame peak powers: the top of each heatmap's colour scale
HEATMAP_CMAP, VELOCITY_CMAP = "viridis", "coolwarm"
# (key, axis key, panel title, axis label) of each heatmap
HEATMAP_VIEWS = (
    ("range_time", "range_m", "range–time", "range (m)"),
    ("doppler_time", "velocity_mps", "Doppler–time", "radial velocity (m/s, + away)"),
    ("azimuth_time", "azimuth_deg", "azimuth–time", "azimuth (°, + radar's right)"),
)
SITE_STYLE = {
    "pelvis": (CENTRE, "-"), "left_wrist": (LEFT, "-"), "right_wrist": (RIGHT, "-"),
    "left_ankle": (LEFT, "--"), "right_ankle": (RIGHT, "--"),
}


def edges(centres: np.ndarray) -> np.ndarray:
    """Cell edges [n + 1] around ``centres`` [n] (midpoints; the end cells mirror their neighbours)."""
    c = np.asarray(centres, dtype=np.float64)
    if len(c) == 1:
        return np.array([c[0] - 0.5, c[0] + 0.5])
    mid = (c[1:] + c[:-1]) / 2
    return np.concatenate([[2 * c[0] - mid[0]], mid, [2 * c[-1] - mid[-1]]])


def signals_figure(signals: dict[str, np.ndarray], title: str = "") -> Figure:
    """The figure for ``signals`` (the design's npz contract; checked first)."""
    check_signals(signals, title or "signals")
    fig = Figure(figsize=(18, 13), layout="constrained")
    grid = fig.add_gridspec(3, 6)
    t = signals["frame_time_s"]
    for col, (key, axis_key, name, label) in enumerate(HEATMAP_VIEWS):
        _heatmap(fig, fig.add_subplot(grid[0, 2 * col:2 * col + 2]), signals[key], signals[axis_key], t, name, label)

    cloud = [fig.add_subplot(grid[1, 2 * col:2 * col + 2]) for col in range(3)]
    _points(fig, cloud, signals)
    _imu(fig.add_subplot(grid[2, :3]), fig.add_subplot(grid[2, 3:]), signals)
    rate = 1.0 / float(np.median(np.diff(t))) if len(t) > 1 else float("nan")
    fig.suptitle(f"{title}  —  {len(t)} radar frames at {rate:.0f} fps, {len(signals['points'])} points, "
                 f"IMU {len(signals['imu_time_s'])} samples × {len(signals['imu_sites'])} sites", fontsize=14)
    return fig


def render_signals(signals: dict[str, np.ndarray], out: str | Path, title: str = "") -> Path:
    """Write the figure of ``signals`` to ``out`` (.png) and return its path."""
    out = Path(out)
    if out.suffix.lower() != ".png":
        raise ValueError(f"{out}: signals render to .png, not '{out.suffix}'")
    fig = signals_figure(signals, title or out.stem)
    buf = io.BytesIO()
    FigureCanvasAgg(fig).print_png(buf)
    write_atomic(out, buf.getvalue())
    return out


def _heatmap(fig: Figure, ax: Axes, power: np.ndarray, axis: np.ndarray, t: np.ndarray, name: str,
             label: str) -> None:
    db = to_db(power)
    top = float(np.percentile(db.max(axis=0), TOP_PERCENTILE))
    mesh = ax.pcolormesh(edges(t), edges(axis), db, cmap=HEATMAP_CMAP, vmin=top - DYNAMIC_RANGE_DB, vmax=top,
                         shading="flat", rasterized=True)
    fig.colorbar(mesh, ax=ax, label="power (dB)")
    ax.set(title=name, xlabel="time (s)", ylabel=label)
    if axis.min() < 0 < axis.max():  # velocity and azimuth: mark zero
        ax.axhline(0.0, color="white", lw=0.8, ls="--")
    if name.startswith("Doppler"):
        ax.text(0.99, 0.98, "away ↑", transform=ax.transAxes, ha="right", va="top", color="white", fontsize=8)
        ax.text(0.99, 0.02, "towards ↓", transform=ax.transAxes, ha="right", va="bottom", color="white", fontsize=8)


def _points(fig: Figure, axes: list[Axes], signals: dict[str, np.ndarray]) -> None:
    points, frame_t = signals["points"], signals["frame_time_s"]
    x, y, z, v = points[:, 0], points[:, 1], points[:, 2], points[:, 3]
    vlim = max(0.25, float(np.percentile(np.abs(v), 99))) if len(v) else 1.0
    norm = Normalize(-vlim, vlim)
    top, front, over_time = axes
    panels = (
        (top, x, z, "points, top view", "x (m, radar's right)", "z (m, boresight)"),
        (front, x, y, "points, seen from the radar", "x (m, radar's right)", "y (m, up)"),
        (over_time, frame_t[signals["points_frame"]], np.linalg.norm(points[:, :3], axis=1),
         "points over time", "time (s)", "range (m)"),
    )
    for ax, h, vert, name, xlabel, ylabel in panels:
        scatter = ax.scatter(h, vert, c=v, cmap=VELOCITY_CMAP, norm=norm, s=8, alpha=0.7, linewidths=0)
        ax.set(title=name, xlabel=xlabel, ylabel=ylabel)
        if not len(points):
            ax.text(0.5, 0.5, "no detections", transform=ax.transAxes, ha="center", va="center")
    if len(points) and not np.any(y):  # an array with one antenna row cannot measure elevation
        front.text(0.5, 0.9, "no elevation: every point at y = 0", transform=front.transAxes, ha="center")
    for ax in (top, front):
        ax.plot([0], [0], marker="^" if ax is top else "s", color="black", ms=9, ls="none", label="radar")
        ax.set_aspect("equal", adjustable="datalim")
        ax.legend(loc="upper right", fontsize=8)
    over_time.set_xlim(*edges(frame_t)[[0, -1]])
    fig.colorbar(scatter, ax=axes, label="radial velocity (m/s, + away)", shrink=0.9)


def _imu(acc: Axes, gyr: Axes, signals: dict[str, np.ndarray]) -> None:
    t, imu, sites = signals["imu_time_s"], signals["imu"], signals["imu_sites"].tolist()
    for site in REQUIRED_SITES:
        colour, style = SITE_STYLE[site]
        s = sites.index(site)
        acc.plot(t, np.linalg.norm(imu[:, s, :3], axis=1), color=colour, ls=style, lw=1.2, label=site)
        gyr.plot(t, np.linalg.norm(imu[:, s, 3:], axis=1), color=colour, ls=style, lw=1.2, label=site)
    acc.axhline(9.81, color="grey", lw=0.8, ls=":", label="1 g")
    acc.set(title="accelerometer |specific force|", xlabel="time (s)", ylabel="m/s²")
    gyr.set(title="gyroscope |angular velocity|", xlabel="time (s)", ylabel="rad/s")
    for ax in (acc, gyr):
        ax.set_xlim(t[0], t[-1])
        ax.grid(alpha=0.3)
        ax.legend(loc="upper right", fontsize=8, ncol=3)
