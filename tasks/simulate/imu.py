"""Virtual IMUs: accelerometer and gyroscope readings at body sites, from joint trajectories.

How a reading is made:
* a smoothing cubic spline runs through every joint coordinate (amplitude response
  1 / (1 + (f / cutoff_hz)^4), so that differentiating does not blow up joint jitter) and is
  sampled at the output rate;
* a site's acceleration is the spline's analytic second derivative; the accelerometer reads the
  specific force R^T (a - g), g = (0, -9.81, 0), so a sensor at rest reads +9.81 along its up axis;
* a site's frame R (sensor -> world) is built from the smoothed joints; the gyroscope reads
  log(R(t - h/2)^T R(t + h/2)) / h with h a twentieth of the output interval: a central difference
  of the smooth frame trajectory, in the sensor frame;
* optionally, per-axis white noise, bias random walk and constant bias, seeded.

Sensor axes (in the rest pose: facing +z, left at +x, y up):
* pelvis, chest, head: x to the body's left, y up the trunk or neck, z forward; the left comes from the
  hips (pelvis) or the collars (chest, head), or, where a skeleton merges the collars (CMU's BVH files
  do), from the shoulders;
* left/right wrist, thigh and ankle: x along the segment away from the trunk (elbow->wrist,
  hip->knee, knee->ankle), z out of the body's side, y = z cross x.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError
from scipy.interpolate import BSpline, make_smoothing_spline
from scipy.spatial.transform import Rotation

from tasks.common.config import Section
from tasks.common.motions import MotionError
from tasks.common.skeleton import JOINT, JOINT_NAMES, N_JOINTS
from tasks.simulate.rotations import orthonormal_frames, relative_rotvec, swing_rotations

GRAVITY = np.array([0.0, -9.81, 0.0])  # m/s², world frame (y up)
# gyro central-difference step as a fraction of the output interval: relative error (2 pi f step)^2 / 24,
# under 0.1% up to the output Nyquist frequency
GYRO_STEP_FRACTION = 0.05
# the motion is extended at each end by a quartic least-squares fit of its 6 end-most frames: exact
# for free fall, within 5% at the ends for 1 Hz motion, and ~3.7x the interior noise at the end sample
EXTEND_DEGREE, FIT_FRAMES = 4, 6
# two joints closer than this do not define a direction (real bones are centimetres long at least)
MIN_SEPARATION_M = 0.01


@dataclass(frozen=True)
class Direction:
    """A direction over time: the vector between two joints (from, to), or ``fallback``'s where they merge.

    Real skeletons merge joints: CMU's BVH files put both collars on the chest joint, so a lateral axis
    from the collars alone would vanish.  If the two joints come closer than MIN_SEPARATION_M in any
    frame, the whole clip uses ``fallback`` (no mid-clip switch, which would read as a gyroscope spike).
    """

    pair: tuple[int, int]
    fallback: Direction | None = None

    def vectors(self, positions: np.ndarray) -> np.ndarray:
        """[N, 3] over ``positions`` [N, 22, 3]; ValueError naming the joints if none of the chain is usable."""
        v = positions[:, self.pair[1]] - positions[:, self.pair[0]]
        if np.all(np.linalg.norm(v, axis=-1) >= MIN_SEPARATION_M):
            return v
        if self.fallback is not None:
            return self.fallback.vectors(positions)
        start, end = (JOINT_NAMES[j] for j in self.pair)
        raise ValueError(f"joints {start} and {end} coincide (less than {MIN_SEPARATION_M * 100:g} cm apart)")


def _along(start: str, end: str, fallback: Direction | None = None) -> Direction:
    return Direction((JOINT[start], JOINT[end]), fallback)


@dataclass(frozen=True)
class AlignedFrame:
    """Axis ``axes[0]`` along ``primary``, axis ``axes[1]`` towards ``secondary``."""

    primary: Direction
    secondary: Direction
    axes: tuple[int, int] = (0, 1)

    def frames(self, positions: np.ndarray, parent: np.ndarray | None = None) -> np.ndarray:
        return orthonormal_frames(self.primary.vectors(positions), self.secondary.vectors(positions), self.axes)


@dataclass(frozen=True)
class SwingFrame:
    """A limb segment ``bone`` whose roll follows the ``parent`` site.

    With the bone along ``reference`` (a direction in the parent's frame) the sensor's x is the bone
    and its z is ``outward``; any other bone direction is reached by the smallest rotation.  Roll is
    ill-defined only with the bone opposite ``reference``, so that is chosen where the limb rarely
    points.  Unlike a frame fixed by the neighbouring bone, this needs no bent joint.
    """

    parent: str
    bone: Direction
    reference: tuple[float, float, float]
    outward: tuple[float, float, float]

    def frames(self, positions: np.ndarray, parent: np.ndarray | None = None) -> np.ndarray:
        assert parent is not None, "a swing frame needs its parent's frames"
        reference = np.array(self.reference, dtype=float)
        base = orthonormal_frames(reference, np.array(self.outward, dtype=float), axes=(0, 2))[0]
        bone = np.einsum("nji,nj->ni", parent, self.bone.vectors(positions))  # in the parent frame
        return parent @ swing_rotations(reference, bone, fallback_axis=base[:, 1]) @ base


@dataclass(frozen=True)
class Site:
    """Where a sensor sits: ``at`` = (joint a, joint b, f) puts it at a + f (b - a); ``frame`` orients it."""

    at: tuple[int, int, float]
    frame: AlignedFrame | SwingFrame


def _on(joint: str) -> tuple[int, int, float]:
    return JOINT[joint], JOINT[joint], 0.0


_LEFT, _RIGHT, _FORWARD, _DOWN = (1.0, 0.0, 0.0), (-1.0, 0.0, 0.0), (0.0, 0.0, 1.0), (0.0, -1.0, 0.0)
# The trunk's left: the collars (closest to the spine, least moved by the arms), else the shoulders,
# else the hips.
_ACROSS = _along("right_collar", "left_collar",
                 _along("right_shoulder", "left_shoulder", _along("right_hip", "left_hip")))


def _limb_sites(side: str, outward: tuple[float, float, float]) -> dict[str, Site]:
    """Wrist, mid-thigh and ankle sensors of one side; their z axis points ``outward``."""
    hip, knee, ankle, foot, elbow, wrist = (f"{side}_{j}" for j in "hip knee ankle foot elbow wrist".split())
    toe = _along(foot, ankle) if side == "left" else _along(ankle, foot)
    return {
        # the forearm's roll follows the chest; ill-defined only with the forearm pointing straight back
        wrist: Site(_on(wrist), SwingFrame("chest", _along(elbow, wrist), _FORWARD, outward)),
        # the thigh's roll follows the pelvis; ill-defined only with the thigh pointing straight up
        f"{side}_thigh": Site((JOINT[hip], JOINT[knee], 0.5), SwingFrame("pelvis", _along(hip, knee), _DOWN, outward)),
        # the shank's roll follows the foot, which never lines up with it; y points back on the left
        # and forward on the right so that z = x cross y points out of the body's side on both
        ankle: Site(_on(ankle), AlignedFrame(_along(knee, ankle), toe)),
    }


SITES: dict[str, Site] = {
    "pelvis": Site(_on("pelvis"), AlignedFrame(_along("right_hip", "left_hip"), _along("pelvis", "spine1"))),
    "chest": Site(_on("spine3"), AlignedFrame(_along("spine3", "neck"), _ACROSS, axes=(1, 0))),
    # a head joint on the neck (no length) leaves the head aligned with the upper trunk
    "head": Site(_on("head"), AlignedFrame(_along("neck", "head", _along("spine3", "neck")), _ACROSS, axes=(1, 0))),
    **_limb_sites("left", _LEFT),
    **_limb_sites("right", _RIGHT),
}


class SensorNoise(Section):
    """One sensor's error model, the same on each axis, in the sensor's unit u (m/s² or rad/s)."""

    white: float = Field(0.0, ge=0, allow_inf_nan=False)  # noise density, u/√Hz: per-sample std white·√rate_hz
    bias_walk: float = Field(0.0, ge=0, allow_inf_nan=False)  # u/√s: the bias steps by N(0, bias_walk² dt)
    bias: float = Field(0.0, ge=0, allow_inf_nan=False)  # std of the constant (turn-on) bias, drawn per site/axis


class ImuNoise(Section):
    """``simulate.imu.noise``: defaults of a calibrated consumer MEMS IMU.  A partial ``accel``/``gyro``
    mapping keeps the other terms' defaults."""

    enabled: bool = True
    accel: SensorNoise = SensorNoise(white=2e-3, bias_walk=1e-3, bias=0.05)
    gyro: SensorNoise = SensorNoise(white=1.5e-4, bias_walk=1e-4, bias=5e-3)

    @field_validator("accel", "gyro", mode="before")
    @classmethod
    def _over_defaults(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, dict):
            return {**cls.model_fields[info.field_name].default.model_dump(), **value}
        return value


class ImuConfig(Section):
    """The ``simulate.imu`` section of params.yaml (tasks/common/config.py validates it)."""

    rate_hz: float = Field(50.0, gt=0, allow_inf_nan=False)
    sites: tuple[str, ...] = tuple(SITES)
    cutoff_hz: float | None = Field(6.0, gt=0, allow_inf_nan=False)  # None: interpolate the joints exactly
    noise: ImuNoise = ImuNoise()

    @field_validator("sites")
    @classmethod
    def _known_sites(cls, sites: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [s for s in sites if s not in SITES]
        problem = ("is empty" if not sites else
                   f"unknown site(s) {unknown} (known: {', '.join(SITES)})" if unknown else
                   f"lists a site twice: {list(sites)}" if len(set(sites)) != len(sites) else None)
        if problem:
            raise PydanticCustomError("imu_sites", "{problem}", {"problem": problem})
        return sites


def simulate_imu(
    joints: np.ndarray, fps: float, cfg: ImuConfig, seed: int = 0, item: str = "motion"
) -> dict[str, np.ndarray]:
    """Virtual IMU readings of a motion [T, 22, 3] (metres, y up) sampled at ``fps``.

    Returns ``imu`` float32 [Ti, S, 6] (specific force m/s², then angular velocity rad/s, sensor
    frame), ``imu_time_s`` [Ti] (0 to the last frame's time at ``cfg.rate_hz``), ``imu_sites`` [S]
    and ``imu_orientation`` float32 [Ti, S, 4] (sensor -> world quaternions, x y z w).  ``seed``
    draws the noise; ``item`` names the motion in MotionError messages.
    """
    x = _checked_joints(joints, fps, item)
    spline = _smooth_trajectories(x, fps, cfg.cutoff_hz)
    t = np.arange(math.floor((len(x) - 1) / fps * cfg.rate_hz + 1e-9) + 1) / cfg.rate_hz
    step = GYRO_STEP_FRACTION / cfg.rate_hz
    # every sample time with a neighbour half a gyro step either side, interleaved to keep time order
    grid = (t[:, None] + np.array([-0.5, 0.0, 0.5]) * step).ravel()
    positions = spline(grid).reshape(len(grid), N_JOINTS, 3)
    accel_world = spline.derivative(2)(t).reshape(len(t), N_JOINTS, 3)
    frames = _site_frames(positions, cfg.sites, item)

    imu = np.empty((len(t), len(cfg.sites), 6))
    orientation = np.empty((len(t), len(cfg.sites), 4))
    for s, name in enumerate(cfg.sites):
        before, now, after = frames[name].reshape(len(t), 3, 3, 3).transpose(1, 0, 2, 3)
        a, b, f = SITES[name].at
        accel = (1 - f) * accel_world[:, a] + f * accel_world[:, b]
        imu[:, s, :3] = np.einsum("tji,tj->ti", now, accel - GRAVITY)
        imu[:, s, 3:] = relative_rotvec(before, after) / step
        orientation[:, s] = Rotation.from_matrix(now).as_quat()
    if cfg.noise.enabled:
        imu += _sensor_errors(imu.shape, cfg, np.random.default_rng(seed))
    return {
        "imu": imu.astype(np.float32),
        "imu_time_s": t,
        "imu_sites": np.array(cfg.sites),
        "imu_orientation": orientation.astype(np.float32),
    }


def _checked_joints(joints: np.ndarray, fps: float, item: str) -> np.ndarray:
    x = np.asarray(joints, dtype=np.float64)
    if x.ndim != 3 or x.shape[1:] != (N_JOINTS, 3):
        raise MotionError(f"{item}: joints must be [T, {N_JOINTS}, 3], got {list(x.shape)}")
    if len(x) < 3:
        raise MotionError(f"{item}: {len(x)} frame(s); virtual IMUs need at least 3")
    if not np.isfinite(x).all():
        raise MotionError(f"{item}: joints contain NaN or infinity")
    if not (math.isfinite(fps) and fps > 0):
        raise MotionError(f"{item}: fps must be positive, got {fps}")
    return x


def _smooth_trajectories(x: np.ndarray, fps: float, cutoff_hz: float | None) -> BSpline:
    """A smoothing cubic spline of time through all joint coordinates of ``x`` [T, 22, 3].

    The penalty lam = 1 / (dt (2 pi cutoff)^4) halves the amplitude at ``cutoff_hz``.  A smoothing
    spline is straight (zero acceleration) at its ends, so the motion is first extended by the
    polynomial trend of its end-most frames, far enough (2 / cutoff) for that to die out.
    """
    dt = 1.0 / fps
    pad = math.ceil(fps * (0.5 if cutoff_hz is None else max(0.5, 2.0 / cutoff_hz)))
    y = _extend_polynomial(x.reshape(len(x), -1), pad)
    lam = 0.0 if cutoff_hz is None else 1.0 / (dt * (2 * math.pi * cutoff_hz) ** 4)
    return make_smoothing_spline((np.arange(len(y)) - pad) * dt, y, lam=lam)


def _extend_polynomial(y: np.ndarray, pad: int) -> np.ndarray:
    """``y`` [T, D] with ``pad`` rows before and after, continuing a polynomial fit of its end-most rows."""
    n_fit = min(len(y), FIT_FRAMES)
    degree = min(EXTEND_DEGREE, n_fit - 1)
    k = np.arange(n_fit, dtype=float)
    head, tail = np.polyfit(k, y[:n_fit], degree), np.polyfit(k, y[-n_fit:], degree)  # [degree + 1, D]
    before = np.vander(np.arange(-pad, 0, dtype=float), degree + 1)
    after = np.vander(np.arange(n_fit, n_fit + pad, dtype=float), degree + 1)
    return np.concatenate([before @ head, y, after @ tail])


def _site_frames(positions: np.ndarray, names: tuple[str, ...], item: str) -> dict[str, np.ndarray]:
    """Frames [N, 3, 3] of the named sites (and of the parents they hang from) over ``positions``."""
    frames: dict[str, np.ndarray] = {}

    def frame_of(name: str) -> np.ndarray:
        if name not in frames:
            spec = SITES[name].frame
            parent = frame_of(spec.parent) if isinstance(spec, SwingFrame) else None
            try:
                frames[name] = spec.frames(positions, parent)
            except ValueError as exc:
                raise MotionError(f"{item}: IMU site {name}: {exc}") from None
        return frames[name]

    return {name: frame_of(name) for name in names}


def _sensor_errors(shape: tuple[int, ...], cfg: ImuConfig, rng: np.random.Generator) -> np.ndarray:
    """Errors [Ti, S, 6]: white noise + bias random walk + constant bias, accelerometer then gyroscope."""
    n, sites, _ = shape
    dt = 1.0 / cfg.rate_hz
    errors = np.empty(shape)
    for columns, model in ((slice(0, 3), cfg.noise.accel), (slice(3, 6), cfg.noise.gyro)):
        white = rng.standard_normal((n, sites, 3)) * model.white / math.sqrt(dt)
        walk = np.cumsum(rng.standard_normal((n, sites, 3)) * model.bias_walk * math.sqrt(dt), axis=0)
        bias = rng.standard_normal((sites, 3)) * model.bias
        errors[..., columns] = white + walk + bias
    return errors
