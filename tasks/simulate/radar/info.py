"""What a radar set-up measures, in the terms of TI's mmWave Sensing Estimator (``flywheel radar-info``).

Formulas (design.md section 4; TDM MIMO over N_tx transmitters, T_c = chirp_period_s, start to start):

* sampled bandwidth B = S N / f_s; range resolution c / (2 B); max range (the IF band) f_s c / (2 S);
* carrier at sampling f = f_c + S (t_adc + (N - 1) / (2 f_s)), the frequency at the middle ADC sample,
  which Doppler and angle phases scale with; lambda = c / f;
* velocity resolution lambda / (2 N_loops N_tx T_c); max unambiguous velocity +-lambda / (4 N_tx T_c);
* frame: N_loops N_tx T_c of chirping per 1 / frame_rate (the active duty);
* azimuth resolution about 2 / N_az radians at boresight for the lambda/2 row of N_az virtual elements.
"""
from __future__ import annotations

import math

import numpy as np

from tasks.simulate.radar.config import RadarConfig, TiDetection
from tasks.simulate.radar.ti_cfg import TiProfile


def _line(label: str, text: str) -> str:
    return f"{label:<22}{text}"


def describe(cfg: RadarConfig, title: str, profile: TiProfile | None = None) -> list[str]:
    """The lines ``flywheel radar-info`` prints for ``cfg`` (and the TI ``profile`` it came from, if any)."""
    us, n_tx = 1e6, cfg.n_tx
    t_sample = cfg.n_samples / cfg.sample_rate_hz
    loop = f"{cfg.n_chirps} loops x {n_tx} TX x {cfg.chirp_period_s * us:.2f} us"
    az = len(cfg.azimuth_elements)
    lines = [
        _line("radar", title),
        _line("chirp", f"{cfg.carrier_hz / 1e9:.3f} GHz start, {cfg.slope_hz_per_s / 1e12:.3f} MHz/us; "
                       f"{cfg.n_samples} samples at {cfg.sample_rate_hz / 1e6:.4g} Msps ({t_sample * us:.2f} us) "
                       f"from {cfg.adc_start_s * us:.2f} us after the chirp's start"),
        _line("carrier at sampling", f"{cfg.centre_hz / 1e9:.4f} GHz, lambda {cfg.wavelength_m * 1e3:.4f} mm "
                                     "(start + slope x (ADC start + half the samples))"),
    ]
    chirp = f"{cfg.chirp_period_s * us:.2f} us start to start"
    if profile is not None:
        v = profile.profile.values
        chirp += f" (idle {v['idleTime']:.2f} + ramp end {v['rampEndTime']:.2f} us)"
    lines += [
        _line("chirp time", f"{chirp}; {n_tx} TX TDM: {cfg.loop_period_s * us:.2f} us per loop"),
        _line("bandwidth (sampled)", f"{cfg.bandwidth_hz / 1e9:.4f} GHz = slope x samples / rate"),
        _line("range resolution", f"{cfg.range_resolution_m:.4f} m = c / 2B"),
        _line("max range (IF band)", f"{cfg.max_if_range_m:.2f} m = rate x c / (2 slope); {cfg.n_range} bins kept, "
                                     f"to {float(cfg.range_axis()[-1]):.2f} m"),
        _line("velocity resolution", f"{cfg.velocity_resolution_mps:.4f} m/s = lambda / (2 x {loop})"),
        _line("max velocity", f"+-{cfg.max_velocity_mps:.3f} m/s = lambda / (4 x {n_tx} TX x "
                              f"{cfg.chirp_period_s * us:.2f} us)"),
        _line("Doppler bins", f"{cfg.n_doppler_bins} of {2 * cfg.max_velocity_mps / cfg.n_doppler_bins:.4f} m/s"
                              + (f" ({cfg.n_chirps} loops zero-padded)" if cfg.n_doppler_bins > cfg.n_chirps else "")),
        _line("frame", f"{1e3 / cfg.frame_rate_hz:.3f} ms ({cfg.frame_rate_hz:.2f} fps); chirps for "
                       f"{cfg.burst_s * 1e3:.3f} ms, active duty {100 * cfg.burst_s * cfg.frame_rate_hz:.1f} %"),
        _line("virtual array", f"{n_tx} TX x {cfg.n_rx} RX = {cfg.n_virtual} elements: {az} in the azimuth row "
                               f"(~{math.degrees(2 / az):.1f} deg resolution), "
                               f"{int(np.count_nonzero(cfg.virtual_positions[:, 1]))} off it (elevation)"),
    ]
    if profile is not None:  # the device zero-pads its range FFT to a power of two
        fft = 1 << (cfg.n_samples - 1).bit_length()
        spacing = cfg.max_if_range_m / fft
        lines.append(_line("TI range FFT", f"{fft} points: {spacing:.4f} m per bin on the device (the simulator keeps "
                                           f"{cfg.n_samples} bins of {cfg.range_resolution_m:.4f} m)"))
    if cfg.ti_detection is not None:
        lines.append(_line("detection (TI)", _detection(cfg)))
    chain = ("TI chain (1D CFARs, peak grouping, azimuth FFT as above), whole bins" if cfg.detection == "ti"
             else f"2D CA-CFAR, guard {cfg.cfar_guard}, train {cfg.cfar_train} (range, Doppler), "
                  f"{cfg.cfar_threshold_db:g} dB")
    lines.append(_line("points (simulator)", f"{chain}; static clutter removal "
                                             f"{'on' if cfg.static_clutter_removal else 'off'}"))
    return lines


def _detection(cfg: RadarConfig) -> str:
    d = cfg.ti_detection
    if d == TiDetection():
        return "none in the profile (no cfarCfg, peakGrouping, multiObjBeamForming or FoV lines)"
    parts = [f"{name} CFAR {c.mode.upper()} {c.window} + {c.guard} guard cells, {c.threshold_db:.1f} dB"
             for name, c in (("range", d.range_cfar), ("Doppler", d.doppler_cfar)) if c is not None]
    grouped = [name for name, on in zip(("range", "Doppler"), d.peak_grouping) if on]
    parts.append(f"peak grouping {' + '.join(grouped) if grouped else 'off'}")
    if d.multi_object_threshold is not None:
        parts.append(f"multi-object beamforming {d.multi_object_threshold:g}")
    for name, fov, unit in (("azimuth", d.fov_azimuth_deg, " deg"), ("elevation", d.fov_elevation_deg, " deg"),
                            ("range", d.fov_range_m, " m"), ("velocity", d.fov_velocity_mps, " m/s")):
        if fov is not None:
            parts.append(f"{name} {fov[0]:g} to {fov[1]:g}{unit}")
    return "; ".join(parts)
