"""Radar configuration: chirp, frame, antenna array, pose, noise, processing; with named presets.

Antenna positions are (x, y) in units of half a wavelength (at the sweep's centre) in the radar frame
(x = radar's right, y = up, z = boresight).  TX antennas fire one after another (TDM MIMO) in
the listed order: one *chirp loop* fires every TX once, so a frame holds ``n_chirps`` loops,
``n_chirps * n_tx`` chirps ``chirp_period_s`` apart, and the Doppler FFT runs over the loops.
``carrier_hz`` is the frequency at a chirp's start; the ADC samples from ``adc_start_s`` after it (0: at once).
A TI mmWave SDK profile (``ti_cfg``, ``ti_device`` or a TI preset; tasks/simulate/radar/ti_cfg.py) sets these
fields from the device's own numbers.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

C0 = 299_792_458.0  # speed of light, m/s

# Echo amplitude per metre of bone of each body segment at the reference spacing (body.py); torso most.
DEFAULT_REFLECTIVITY = {
    "torso": 1.0, "head": 0.6, "upper_arm": 0.5, "forearm": 0.4, "thigh": 0.7, "shin": 0.5, "foot": 0.3,
}

_ULA4 = ((0.0, 0.0), (1.0, 0.0), (2.0, 0.0), (3.0, 0.0))  # 4 RX, lambda/2 apart

PRESETS: dict[str, dict[str, Any]] = {
    # mmExpert's IWR1843 micro-Doppler set-up: continuous chirping (128 x 156.25 us = one 20 ms frame),
    # 1 TX x 4 RX, 256 range bins (all of the 11.2 m IF band), Capon azimuth.  mmExpert samples its bones
    # finely but keeps every 10th point (about 43 scatterers per frame); 100 per metre here resolves
    # micro-Doppler more smoothly, and the echo power does not depend on the density (body.py).
    "udoppler": dict(
        carrier_hz=77e9, slope_hz_per_s=70e12, n_samples=256, sample_rate_hz=5.209e6,
        n_chirps=128, chirp_period_s=156.25e-6, frame_rate_hz=50.0,
        tx_positions=((0.0, 0.0),), rx_positions=_ULA4,
        max_range_m=11.15, n_angle=128, angle_method="capon", scatterers_per_m=100.0,
    ),
    # RF-Genesis' TI IWR1843: 3 TX TDM (TX1, TX2, TX3; TX2 half a wavelength up and one wavelength
    # right of TX1, TX3 two wavelengths right), 4 RX: 8 horizontal virtual elements + 4 elevated.
    # The chirp period (7 us idle + 65 us ramp) is our assumption; RF-Genesis does not pin it here.
    "ti1843": dict(
        carrier_hz=77e9, slope_hz_per_s=60.012e12, n_samples=256, sample_rate_hz=4.4e6,
        n_chirps=128, chirp_period_s=72e-6, frame_rate_hz=10.0,
        tx_positions=((0.0, 0.0), (2.0, 1.0), (4.0, 0.0)), rx_positions=_ULA4,
        max_range_m=8.0, n_angle=64, angle_method="fft",
    ),
    # What the pipeline uses: the same physics sized for a data set of ~1000 s of motion in about a
    # minute of one CPU core (fast path, 0.04-0.07 s per simulated second: the README's table).  2 TX x 4
    # RX gives 8 horizontal virtual elements (14 deg azimuth resolution); 64 loops of 2 x 80 us chirps make a
    # 10 ms frame (0.19 m/s bins, +-6 m/s unambiguous: enough for limbs); 256 samples over 51 us
    # give 4.9 cm range bins, 6 m kept of a 12.5 m IF band; 20 fps matches the motion's frame rate;
    # 20 scatterers per metre (one per range bin).  The fast path's cost hardly depends on n_samples.
    "default": dict(
        carrier_hz=77e9, slope_hz_per_s=60e12, n_samples=256, sample_rate_hz=5e6,
        n_chirps=64, chirp_period_s=80e-6, frame_rate_hz=20.0,
        tx_positions=((0.0, 0.0), (4.0, 0.0)), rx_positions=_ULA4,
        max_range_m=6.0, n_angle=64, angle_method="fft",
    ),
}


class RadarConfigError(ValueError):
    """A radar configuration that cannot work; the message names the field and the problem."""


@dataclass(frozen=True)
class CfarSettings:
    """One of a TI profile's ``cfarCfg`` lines (one direction), in TI's terms."""

    mode: str  # ca | cago | caso: TI's averageMode 0, 1, 2 (mean, greater-of or smaller-of the two sides)
    window: int  # noise cells averaged on each side (winLen)
    guard: int  # guard cells on each side (guardLen)
    noise_div_shift: int  # the noise sum is divided by 2**noise_div_shift
    cyclic: bool  # the window wraps around the edges (TI: Doppler yes, range no)
    threshold_db: float  # detection threshold over the noise estimate (thresholdScale, converted to dB)


@dataclass(frozen=True)
class TiDetection:
    """A TI profile's detection settings, kept for a TI-style detection chain; None fields were not in it.

    ti_detect.py (``detection: ti``) uses all of it; the 2D CA-CFAR of points.py only what maps onto it
    (cfar_guard, cfar_train, cfar_threshold_db are set from the range and Doppler CFAR lines).
    """

    range_cfar: CfarSettings | None = None
    doppler_cfar: CfarSettings | None = None
    peak_grouping: tuple[bool, bool] = (False, False)  # (range, Doppler): keep only local maxima
    multi_object_threshold: float | None = None  # multiObjBeamForming: a second angle peak above this share
    fov_azimuth_deg: tuple[float, float] | None = None  # aoaFovCfg: points outside are dropped
    fov_elevation_deg: tuple[float, float] | None = None
    fov_range_m: tuple[float, float] | None = None  # cfarFovCfg, range direction
    fov_velocity_mps: tuple[float, float] | None = None  # cfarFovCfg, Doppler direction


@dataclass(frozen=True)
class RadarConfig:
    """Everything the radar simulator needs; see the module docstring for the antenna convention."""

    # chirp and frame
    carrier_hz: float = 77e9
    slope_hz_per_s: float = 60e12
    n_samples: int = 256
    sample_rate_hz: float = 5e6
    n_chirps: int = 64  # chirp loops per frame
    chirp_period_s: float = 80e-6  # start-to-start time of consecutive chirps (any TX)
    adc_start_s: float = 0.0  # from a chirp's start to its first ADC sample (TI's adcStartTime)
    frame_rate_hz: float = 20.0
    # antennas, (x, y) in lambda/2 units; TX in firing order
    tx_positions: tuple[tuple[float, float], ...] = ((0.0, 0.0), (4.0, 0.0))
    rx_positions: tuple[tuple[float, float], ...] = _ULA4
    # pose in the world (y up): yaw 0, pitch 0 looks along world -z, so the radar's right is world +x
    position_m: tuple[float, float, float] = (0.0, 1.0, 3.0)
    yaw_deg: float = 0.0  # counter-clockwise seen from above
    pitch_deg: float = 0.0  # positive tilts the boresight up
    # channel
    noise_db: float | None = -45.0  # complex noise power per ADC sample, dB re the echo of a unit reflector at 1 m
    static_clutter_removal: bool = True
    multipath: bool = False
    multipath_reflectors: int = 2  # the floor, then vertical walls at seeded random places
    multipath_loss: float = 0.3  # amplitude factor of a wall/floor bounce (each way)
    # room (room.py) and antenna pattern (antenna_pattern.py): all off by default
    room_size_m: tuple[float, float, float] = (5.0, 3.0, 6.0)  # width (x), height, depth ahead of the radar
    room_wall_points: int = 0  # static reflectors spread over the floor and walls
    room_reflectors: int = 0  # furniture-like static reflectors inside the room
    room_rcs_dbsm: tuple[float, float] = (-20.0, 0.0)  # RCS range of room reflectors (0 dBsm: unit reflector)
    leakage_db: float | None = None  # TX->RX leakage echo, dB re a 0 dBsm reflector at 1 m; None = off
    leakage_range_m: float = 0.04  # apparent range of the leakage (on-board coupling: a few cm)
    antenna_pattern: str = "none"  # none | ti_evm | cos (cos^q element pattern with antenna_hpbw_deg)
    antenna_hpbw_deg: tuple[float, float] = (120.0, 40.0)  # full half-power beamwidths (azimuth, elevation)
    # body
    scatterers_per_m: float = 20.0
    reflectivity: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_REFLECTIVITY))
    # processing
    max_range_m: float = 6.0
    n_doppler: int | None = None  # Doppler FFT size (zero-padded); None = n_chirps
    n_angle: int = 64  # azimuth grid points from -90 to +90 degrees
    angle_method: str = "fft"  # fft (conventional beamformer) | capon (MVDR per range bin)
    cfar_guard: tuple[int, int] = (2, 2)  # guard cells each side, (range, Doppler)
    cfar_train: tuple[int, int] = (6, 4)  # training cells each side beyond the guard, (range, Doppler)
    cfar_threshold_db: float = 10.0  # detection threshold above the local noise estimate
    max_points: int = 64  # strongest detections kept per frame
    detection: str = "cfar2d"  # cfar2d (points.py) | ti (TI's demo chain, ti_detect.py; TI profiles' default)
    fast_taps: int = 8  # range bins evaluated around each scatterer by the fast path
    ti_detection: TiDetection | None = None  # set from a TI profile's detection lines, see TiDetection
    seed: int = 0
    device: str = "auto"  # cpu | cuda | auto

    def __post_init__(self) -> None:
        for name in ("carrier_hz", "slope_hz_per_s", "sample_rate_hz", "chirp_period_s", "frame_rate_hz",
                     "max_range_m", "scatterers_per_m"):
            if not getattr(self, name) > 0:
                raise RadarConfigError(f"radar config: {name} must be > 0, got {getattr(self, name)}")
        for name in ("n_samples", "n_chirps", "n_angle", "max_points"):
            if int(getattr(self, name)) < 1:
                raise RadarConfigError(f"radar config: {name} must be >= 1, got {getattr(self, name)}")
        if self.adc_start_s < 0:
            raise RadarConfigError(f"radar config: adc_start_s must be >= 0, got {self.adc_start_s}")
        if self.adc_start_s + self.n_samples / self.sample_rate_hz > self.chirp_period_s:
            raise RadarConfigError(
                f"radar config: sampling {self.n_samples} samples at {self.sample_rate_hz:g} Hz from "
                f"adc_start_s {self.adc_start_s:g} takes longer than chirp_period_s {self.chirp_period_s:g}")
        if self.multipath_reflectors < 0:
            raise RadarConfigError(f"radar config: multipath_reflectors must be >= 0, got {self.multipath_reflectors}")
        for name in ("room_wall_points", "room_reflectors"):
            if getattr(self, name) < 0:
                raise RadarConfigError(f"radar config: {name} must be >= 0, got {getattr(self, name)}")
        if len(self.room_size_m) != 3 or min(self.room_size_m) <= 0:
            raise RadarConfigError(f"radar config: room_size_m must be 3 sizes > 0, got {self.room_size_m}")
        if len(self.room_rcs_dbsm) != 2 or self.room_rcs_dbsm[0] > self.room_rcs_dbsm[1]:
            raise RadarConfigError(f"radar config: room_rcs_dbsm must be (low, high), got {self.room_rcs_dbsm}")
        if not self.leakage_range_m > 0:
            raise RadarConfigError(f"radar config: leakage_range_m must be > 0, got {self.leakage_range_m}")
        if self.antenna_pattern not in ("none", "ti_evm", "cos"):
            raise RadarConfigError(
                f"radar config: antenna_pattern must be none, ti_evm or cos, got {self.antenna_pattern!r}")
        if len(self.antenna_hpbw_deg) != 2 or not all(0 < w < 180 for w in self.antenna_hpbw_deg):
            raise RadarConfigError(
                f"radar config: antenna_hpbw_deg must be two beamwidths in (0, 180) deg, got {self.antenna_hpbw_deg}")
        if not self.tx_positions or not self.rx_positions:
            raise RadarConfigError("radar config: needs at least one TX and one RX antenna")
        if self.burst_s > 1.0 / self.frame_rate_hz + 1e-12:
            raise RadarConfigError(
                f"radar config: a frame's chirps take {self.burst_s * 1e3:.2f} ms, longer than the frame "
                f"period {1e3 / self.frame_rate_hz:.2f} ms (n_chirps x n_tx x chirp_period_s)")
        if self.max_range_m > self.max_if_range_m:
            raise RadarConfigError(
                f"radar config: max_range_m {self.max_range_m} exceeds the IF band's "
                f"{self.max_if_range_m:.2f} m (sample_rate_hz * c / (2 slope))")
        if self.n_doppler is not None and self.n_doppler < self.n_chirps:
            raise RadarConfigError(f"radar config: n_doppler {self.n_doppler} < n_chirps {self.n_chirps}")
        if self.angle_method not in ("fft", "capon"):
            raise RadarConfigError(f"radar config: angle_method must be fft or capon, got {self.angle_method!r}")
        if self.fast_taps < 2 or self.fast_taps % 2 or self.fast_taps > self.n_samples:
            raise RadarConfigError(f"radar config: fast_taps must be even, 2..n_samples, got {self.fast_taps}")
        if 2 * (self.cfar_guard[1] + self.cfar_train[1]) >= self.n_doppler_bins or \
                2 * (self.cfar_guard[0] + self.cfar_train[0]) >= self.n_range:
            raise RadarConfigError(
                f"radar config: the CFAR window (guard {self.cfar_guard} + train {self.cfar_train} each side) "
                f"must fit in the {self.n_range} x {self.n_doppler_bins} range-Doppler map")
        if self.detection not in ("cfar2d", "ti"):
            raise RadarConfigError(f"radar config: detection must be cfar2d or ti, got {self.detection!r}")
        x = self.virtual_positions[:, 0]
        if self.detection == "ti" and not np.allclose(x, np.round(x)):  # the azimuth FFT needs a filled grid
            raise RadarConfigError("radar config: detection ti needs antenna x positions at whole half-wavelengths")
        if self.device not in ("cpu", "cuda", "auto"):
            raise RadarConfigError(f"radar config: device must be cpu, cuda or auto, got {self.device!r}")
        unknown = set(self.reflectivity) - set(DEFAULT_REFLECTIVITY)
        if unknown:
            raise RadarConfigError(
                f"radar config: unknown reflectivity segment(s) {sorted(unknown)}; "
                f"known: {sorted(DEFAULT_REFLECTIVITY)}")
        if not self.azimuth_elements.size:
            raise RadarConfigError("radar config: no virtual elements at y = 0 to measure azimuth with")

    @classmethod
    def from_params(cls, d: dict[str, Any] | None) -> RadarConfig:
        """Build from a params.yaml section: ``preset`` (default "default"), or a TI profile (a TI preset, or
        ``ti_cfg`` with ``ti_device``), plus field overrides."""
        d = dict(d or {})
        preset = d.pop("preset", "default")
        ti_cfg, ti_device = d.pop("ti_cfg", None), d.pop("ti_device", None)
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise RadarConfigError(f"radar config: unknown field(s) {unknown}")
        if preset in PRESETS and ti_cfg is None and ti_device is None:
            base = PRESETS[preset]
        else:
            from tasks.simulate.radar.ti_cfg import profile_values  # imported here: ti_cfg builds on this module

            base = profile_values(preset, ti_cfg, ti_device)
        values = {**base, **d}
        if "reflectivity" in d:  # partial overrides keep the other segments' defaults
            values["reflectivity"] = {**DEFAULT_REFLECTIVITY, **d["reflectivity"]}
        for name in ("tx_positions", "rx_positions"):
            values[name] = tuple(tuple(float(v) for v in p) for p in values[name])
        for name in ("position_m", "cfar_guard", "cfar_train", "room_size_m", "room_rcs_dbsm", "antenna_hpbw_deg"):
            if name in values:
                values[name] = tuple(values[name])
        return cls(**values)

    def replace(self, **changes: Any) -> RadarConfig:
        return dataclasses.replace(self, **changes)

    # ---- derived quantities -------------------------------------------------------------------
    @property
    def centre_hz(self) -> float:
        """Frequency at the middle ADC sample: the phase a range peak carries is (f_c + S t_mid) tau, with
        t_mid counted from the chirp's start (adc_start_s included), so Doppler and angle scale with this
        frequency, not the start frequency (2-3 % apart at 77 GHz)."""
        # grouped as before adc_start_s existed, so a profile without one gives the same bits
        return self.sampling_start_hz + self.slope_hz_per_s * (self.n_samples - 1) / (2.0 * self.sample_rate_hz)

    @property
    def room_on(self) -> bool:
        """Whether room.py adds any static reflector (walls, furniture or leakage)."""
        return bool(self.room_wall_points or self.room_reflectors or self.leakage_db is not None)

    @property
    def sampling_start_hz(self) -> float:
        """Frequency at the first ADC sample: the chirp's start plus the sweep during adc_start_s."""
        return self.carrier_hz + self.slope_hz_per_s * self.adc_start_s

    @property
    def wavelength_m(self) -> float:
        """Wavelength at ``centre_hz``: velocities use it, and antenna positions are in its halves."""
        return C0 / self.centre_hz

    @property
    def n_tx(self) -> int:
        return len(self.tx_positions)

    @property
    def n_rx(self) -> int:
        return len(self.rx_positions)

    @property
    def n_virtual(self) -> int:
        return self.n_tx * self.n_rx

    @property
    def n_doppler_bins(self) -> int:
        return self.n_doppler or self.n_chirps

    @property
    def burst_s(self) -> float:
        """Time from a frame's first chirp start to its last chirp start plus one period."""
        return self.n_chirps * self.n_tx * self.chirp_period_s

    @property
    def bandwidth_hz(self) -> float:
        """Swept bandwidth during ADC sampling."""
        return self.slope_hz_per_s * self.n_samples / self.sample_rate_hz

    @property
    def range_resolution_m(self) -> float:
        return C0 / (2.0 * self.bandwidth_hz)

    @property
    def max_if_range_m(self) -> float:
        """Range whose beat frequency equals the (complex) sample rate: where range bins wrap."""
        return self.sample_rate_hz * C0 / (2.0 * self.slope_hz_per_s)

    @property
    def n_range(self) -> int:
        """Range bins kept: 0 .. max_range_m."""
        return min(self.n_samples, int(math.floor(self.max_range_m / self.range_resolution_m)) + 1)

    @property
    def loop_period_s(self) -> float:
        """Time between chirps of the same TX: the slow-time sample period."""
        return self.n_tx * self.chirp_period_s

    @property
    def max_velocity_mps(self) -> float:
        """Unambiguous radial speed, lambda / (4 n_tx T_chirp)."""
        return self.wavelength_m / (4.0 * self.loop_period_s)

    @property
    def velocity_resolution_mps(self) -> float:
        return self.wavelength_m / (2.0 * self.n_chirps * self.loop_period_s)

    def range_axis(self) -> np.ndarray:
        return (np.arange(self.n_range) * self.range_resolution_m).astype(np.float32)

    def velocity_axis(self) -> np.ndarray:
        """Velocity of each (fftshifted) Doppler bin; positive = moving away."""
        d = self.n_doppler_bins
        return ((np.arange(d) - d // 2) * 2.0 * self.max_velocity_mps / d).astype(np.float32)

    def azimuth_axis(self) -> np.ndarray:
        return np.linspace(-90.0, 90.0, self.n_angle).astype(np.float32)

    @property
    def virtual_positions(self) -> np.ndarray:
        """[n_virtual, 2] (x, y) of TX+RX pairs in lambda/2 units; element k = tx * n_rx + rx."""
        tx = np.asarray(self.tx_positions, dtype=np.float64)
        rx = np.asarray(self.rx_positions, dtype=np.float64)
        return (tx[:, None, :] + rx[None, :, :]).reshape(-1, 2)

    @property
    def azimuth_elements(self) -> np.ndarray:
        """Indices of the virtual elements in the y = 0 row, used for azimuth."""
        return np.flatnonzero(np.isclose(self.virtual_positions[:, 1], 0.0))

    def torch_device(self) -> torch.device:
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        if self.device == "cuda" and not torch.cuda.is_available():
            raise RadarConfigError("radar config: device 'cuda' asked for but torch sees no GPU")
        return torch.device(self.device)
