"""Entry points: radar heatmaps and point cloud of a motion (or of any scatterer track)."""
from __future__ import annotations

import numpy as np
import torch

from tasks.simulate.radar.antenna_pattern import exponents, pattern_beamwidths
from tasks.simulate.radar.body import ScattererTrack, body_track
from tasks.simulate.radar.config import RadarConfig
from tasks.simulate.radar.fast import fast_cube, fast_signal
from tasks.simulate.radar.geometry import antenna_positions, chirp_offsets, frame_centres, frame_starts, radar_axes
from tasks.simulate.radar.multipath import with_multipath
from tasks.simulate.radar.points import detect_points
from tasks.simulate.radar.processing import azimuth_spectrum, doppler_cube, power_map
from tasks.simulate.radar.propagation import echoes
from tasks.simulate.radar.reference import reference_cube
from tasks.simulate.radar.room import room_scatterers, with_room
from tasks.simulate.radar.ti_detect import detect_ti

METHODS = {"reference": reference_cube, "fast": fast_cube}
_BATCH_ELEMENTS = 1 << 20  # values per frame batch in the fast path's largest tensors: ~8 default frames


def simulate_radar(joints: np.ndarray, fps: float, cfg: RadarConfig, method: str = "fast",
                   seed: int | None = None) -> dict[str, np.ndarray]:
    """Radar signals of a motion: joints float32 [T, 22, 3], metres, y up, sampled at ``fps``.

    Returns the design's radar keys: range_time [R, F], range_m [R], doppler_time [D, F],
    velocity_mps [D], azimuth_time [A, F], azimuth_deg [A], frame_time_s [F], points [N, 5],
    points_frame [N]; with ``detection: ti`` also points_noise_db [N] (TI's per-point noise estimate; the
    points' intensity column is then the SNR, as the device reports it).  ``seed`` (default cfg.seed) seeds
    the noise.
    """
    joints = np.asarray(joints)
    return simulate_scatterers(body_track(joints, fps, cfg), (len(joints) - 1) / fps, cfg, method, seed)


def simulate_scatterers(track: ScattererTrack, duration_s: float, cfg: RadarConfig, method: str = "fast",
                        seed: int | None = None) -> dict[str, np.ndarray]:
    """Like ``simulate_radar`` for any scatterer track observed from time 0 to ``duration_s``."""
    if method not in METHODS:
        raise ValueError(f"radar method must be one of {sorted(METHODS)}, got {method!r}")
    starts = frame_starts(duration_s, cfg)
    if not len(starts):
        raise ValueError(f"motion of {duration_s:.3f} s is shorter than one radar frame ({cfg.burst_s:.3f} s)")
    if cfg.multipath:
        track = with_multipath(track, cfg)
    # the fast path adds the room's static reflectors as one cube for every frame (they give each frame the
    # same echo); the reference path keeps them in the track, as the ground truth
    static_room = method == "fast" and cfg.room_on
    if not static_room:
        track = with_room(track, cfg)
    hpbw = pattern_beamwidths(cfg.antenna_pattern, cfg.antenna_hpbw_deg)
    pattern = None if hpbw is None else exponents(hpbw)
    device = cfg.torch_device()
    generator = torch.Generator(device=device).manual_seed(cfg.seed if seed is None else seed)
    tx, rx = (torch.as_tensor(a, device=device) for a in antenna_positions(cfg))
    amplitude = torch.as_tensor(track.amplitude, dtype=torch.float64, device=device)
    boresight = tuple(radar_axes(cfg)[2])
    offsets = chirp_offsets(cfg)
    room = None
    if static_room:
        fixed, extra = (torch.as_tensor(a, dtype=torch.float64, device=device) for a in room_scatterers(cfg))
        positions = fixed.expand(1, len(offsets), *fixed.shape)
        room = fast_signal(echoes(positions, tx, rx, extra, cfg.n_chirps, boresight, pattern), cfg)
    per_frame = len(offsets) * cfg.n_rx * max(len(track.amplitude), cfg.n_range)
    batch = 1 if method == "reference" else max(1, _BATCH_ELEMENTS // per_frame)

    maps: list[tuple[torch.Tensor, ...]] = []
    clouds: list[np.ndarray] = []
    noise: list[np.ndarray] = []  # the TI chain's per-point noise estimate (dB)
    for first in range(0, len(starts), batch):
        times = starts[first:first + batch, None] + offsets[None, :]  # [B, C]
        positions = torch.as_tensor(track.positions(times.ravel()), dtype=torch.float64, device=device)
        echo = echoes(positions.reshape(*times.shape, -1, 3), tx, rx, amplitude, cfg.n_chirps, boresight, pattern)
        cube = METHODS[method](echo, cfg, generator)
        if room is not None:
            cube += room
        y = doppler_cube(cube, cfg)
        power = power_map(y)
        maps.append((power.sum(dim=2), power.sum(dim=1), azimuth_spectrum(y, cfg)))
        if cfg.detection == "ti":
            for frame in detect_ti(power, y, cfg):
                clouds.append(frame.rows)
                noise.append(frame.noise_db)
        else:
            clouds.extend(detect_points(power, y, cfg))

    range_time, doppler_time, azimuth_time = (torch.cat(m).T.float().cpu().numpy() for m in zip(*maps))
    extra = {"points_noise_db": np.concatenate(noise).astype(np.float32)} if cfg.detection == "ti" else {}
    return {
        "range_time": range_time,
        "range_m": cfg.range_axis(),
        "doppler_time": doppler_time,
        "velocity_mps": cfg.velocity_axis(),
        "azimuth_time": azimuth_time,
        "azimuth_deg": cfg.azimuth_axis(),
        "frame_time_s": frame_centres(starts, cfg).astype(np.float32),
        "points": np.concatenate(clouds).astype(np.float32).reshape(-1, 5),
        "points_frame": np.concatenate([np.full(len(c), i, np.int32) for i, c in enumerate(clouds)]),
        **extra,
    }
