"""Virtual IMUs against known answers: rest, spin, circular paths, free fall, sinusoids, noise."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from tasks.common.config import validate_section
from tasks.common.motions import MotionError
from tasks.common.params import ParamsError
from tasks.common.skeleton import JOINT, JOINT_NAMES
from tasks.simulate.imu import SITES, ImuConfig, ImuNoise, SensorNoise, simulate_imu
from tasks.simulate.rotations import orthonormal_frames, swing_rotations

G = 9.81
FPS = 20
OFF = ImuNoise(enabled=False)
QUIET = ImuConfig(noise=OFF)
TORSO = ("pelvis", "chest", "head")
LIMBS = tuple(s for s in SITES if s not in TORSO)

# standing, facing +z, left at +x; arms and shanks vertical, feet pointing forward and down
_REST = {
    "pelvis": (0, 0.95, 0), "left_hip": (0.09, 0.87, 0), "right_hip": (-0.09, 0.87, 0), "spine1": (0, 1.05, 0),
    "left_knee": (0.09, 0.50, 0), "right_knee": (-0.09, 0.50, 0), "spine2": (0, 1.18, 0),
    "left_ankle": (0.09, 0.08, 0), "right_ankle": (-0.09, 0.08, 0), "spine3": (0, 1.32, 0),
    "left_foot": (0.09, 0.02, 0.13), "right_foot": (-0.09, 0.02, 0.13), "neck": (0, 1.50, 0),
    "left_collar": (0.08, 1.45, 0), "right_collar": (-0.08, 1.45, 0), "head": (0, 1.62, 0),
    "left_shoulder": (0.18, 1.42, 0), "right_shoulder": (-0.18, 1.42, 0), "left_elbow": (0.18, 1.14, 0),
    "right_elbow": (-0.18, 1.14, 0), "left_wrist": (0.18, 0.88, 0), "right_wrist": (-0.18, 0.88, 0),
}
REST = np.array([_REST[name] for name in JOINT_NAMES], dtype=float)


def rot_y(angle: np.ndarray) -> np.ndarray:
    """Rotations [T, 3, 3] about the world vertical; positive turns +z towards +x."""
    c, s, o, i = np.cos(angle), np.sin(angle), np.zeros_like(angle), np.ones_like(angle)
    return np.stack([np.stack([c, o, s], -1), np.stack([o, i, o], -1), np.stack([-s, o, c], -1)], -2)


def clip(frames: int, yaw: np.ndarray | float = 0.0, shift: np.ndarray | float = 0.0) -> np.ndarray:
    """The rest pose turned by yaw[t] about the pelvis's vertical, then moved by shift[t] (xyz)."""
    yaw = np.broadcast_to(np.asarray(yaw, dtype=float), (frames,))
    centred = REST - REST[JOINT["pelvis"]] * [1, 0, 1]
    turned = np.einsum("tij,nj->tni", rot_y(yaw), centred)
    return (turned + np.broadcast_to(shift, (frames, 3))[:, None]).astype(np.float32)


def times(frames: int) -> np.ndarray:
    return np.arange(frames) / FPS


def world_from_sensor(out: dict) -> np.ndarray:
    """Sensor -> world rotation matrices [Ti, S, 3, 3] from the orientation output."""
    q = out["imu_orientation"].astype(np.float64)
    return Rotation.from_quat(q.reshape(-1, 4)).as_matrix().reshape(*q.shape[:2], 3, 3)


def steady(vector: list[float], samples: int) -> np.ndarray:
    return np.broadcast_to(np.asarray(vector, dtype=float), (samples, 3))


def test_standing_still_reads_gravity_up_and_no_rotation() -> None:
    out = simulate_imu(clip(40), FPS, QUIET)
    accel, gyro = out["imu"][..., :3], out["imu"][..., 3:]
    np.testing.assert_allclose(np.linalg.norm(accel, axis=-1), G, atol=0.01)
    assert np.abs(gyro).max() < 1e-3
    # trunk sensors: y is up; limb sensors: x runs down the segment, so up is -x
    sites = list(out["imu_sites"])
    for name in TORSO:
        np.testing.assert_allclose(accel[:, sites.index(name)], steady([0, G, 0], len(accel)), atol=0.01)
    for name in LIMBS:
        np.testing.assert_allclose(accel[:, sites.index(name)], steady([-G, 0, 0], len(accel)), atol=0.01)


def test_rest_frames_follow_the_documented_axes() -> None:
    """Trunk: x left, y up, z forward.  Limbs: x down the segment, z out of the body's side."""
    frames = world_from_sensor(simulate_imu(clip(40), FPS, QUIET))[20]
    left_limb = np.column_stack([[0, -1, 0], [0, 0, -1], [1, 0, 0]])
    right_limb = np.column_stack([[0, -1, 0], [0, 0, 1], [-1, 0, 0]])
    for s, name in enumerate(SITES):
        expected = np.eye(3) if name in TORSO else left_limb if name.startswith("left") else right_limb
        np.testing.assert_allclose(frames[s], expected, atol=1e-3, err_msg=name)


def test_spinning_in_place_reads_the_spin_rate_about_the_vertical() -> None:
    omega, n = 1.5, 80
    out = simulate_imu(clip(n, yaw=omega * times(n)), FPS, QUIET)
    gyro = out["imu"][..., 3:]
    np.testing.assert_allclose(np.linalg.norm(gyro, axis=-1), omega, rtol=0.02)
    # the world vertical expressed in each sensor frame
    vertical = np.einsum("tsji,j->tsi", world_from_sensor(out), [0.0, omega, 0.0])
    np.testing.assert_allclose(gyro, vertical, atol=0.02 * omega)
    sites = list(out["imu_sites"])
    np.testing.assert_allclose(gyro[:, sites.index("pelvis")], steady([0, omega, 0], len(gyro)), atol=0.03)
    np.testing.assert_allclose(gyro[:, sites.index("left_wrist")], steady([-omega, 0, 0], len(gyro)), atol=0.03)


def test_circular_path_without_turning_adds_centripetal_acceleration() -> None:
    radius, speed, n = 1.2, 1.8, 100
    theta = speed / radius * times(n)
    shift = radius * np.stack([np.cos(theta), np.zeros(n), np.sin(theta)], -1)
    out = simulate_imu(clip(n, shift=shift), FPS, QUIET)
    # back to the world: R f = a - g
    felt = np.einsum("tsij,tsj->tsi", world_from_sensor(out), out["imu"][..., :3])
    np.testing.assert_allclose(felt[..., 1], G, atol=0.02)
    np.testing.assert_allclose(np.hypot(felt[..., 0], felt[..., 2]), speed**2 / radius, rtol=0.02)
    assert np.abs(out["imu"][..., 3:]).max() < 1e-3


def test_circular_path_facing_forward_reads_centripetal_to_the_right() -> None:
    """Walking a circle centred on the body's right: pelvis reads (-v²/r, g, 0) and turns at -v/r."""
    radius, speed, n = 1.5, 1.2, 100
    omega = speed / radius
    theta = omega * times(n)
    shift = radius * np.stack([np.cos(theta), np.zeros(n), np.sin(theta)], -1)
    out = simulate_imu(clip(n, yaw=-theta, shift=shift), FPS, ImuConfig(noise=OFF, sites=("pelvis",)))
    pelvis = out["imu"][:, 0].astype(np.float64)
    np.testing.assert_allclose(pelvis[:, :3], steady([-speed**2 / radius, G, 0], len(pelvis)), atol=0.02)
    np.testing.assert_allclose(pelvis[:, 3:], steady([0, -omega, 0], len(pelvis)), atol=0.01)


def test_free_fall_reads_zero() -> None:
    n = 40
    fall = clip(n, shift=np.stack([np.zeros(n), -0.5 * G * times(n) ** 2, np.zeros(n)], -1))
    out = simulate_imu(fall, FPS, QUIET)
    assert np.abs(out["imu"][..., :3]).max() < 0.02
    assert np.abs(out["imu"][..., 3:]).max() < 1e-3


def test_sinusoid_matches_the_analytic_second_derivative() -> None:
    amplitude, freq, n = 0.05, 1.0, 80
    sway = amplitude * np.sin(2 * np.pi * freq * times(n))
    out = simulate_imu(clip(n, shift=np.stack([sway, np.zeros(n), np.zeros(n)], -1)), FPS, QUIET)
    t = out["imu_time_s"]
    peak = amplitude * (2 * np.pi * freq) ** 2
    error = np.abs(out["imu"][:, 0, 0] + peak * np.sin(2 * np.pi * freq * t)) / peak  # site 0 is the pelvis
    interior = (t >= 0.1) & (t <= t[-1] - 0.1)
    assert error[interior].max() < 0.015
    assert error.max() < 0.06  # the first and last 0.1 s are extrapolated one-sidedly


@pytest.mark.parametrize(("freq", "gain"), [(0.5, 1 / (1 + 0.25**4)), (2.0, 0.5)])
def test_smoothing_cutoff_sets_the_amplitude_response(freq: float, gain: float) -> None:
    """Amplitude response 1 / (1 + (f / cutoff)^4): half at the cut-off."""
    amplitude, n = 0.05, 120
    sway = amplitude * np.sin(2 * np.pi * freq * times(n))
    cfg = ImuConfig(noise=OFF, sites=("pelvis",), cutoff_hz=2.0)
    out = simulate_imu(clip(n, shift=np.stack([sway, np.zeros(n), np.zeros(n)], -1)), FPS, cfg)
    t = out["imu_time_s"]
    interior = (t >= 1.0) & (t <= t[-1] - 1.0)
    peak = np.abs(out["imu"][interior, 0, 0]).max()
    assert peak / (amplitude * (2 * np.pi * freq) ** 2) == pytest.approx(gain, abs=0.05)


def test_joint_jitter_gives_the_predicted_acceleration_noise() -> None:
    """White jitter sigma at step dt through gain 1/(1+(w/wc)^4) gives std sigma * sqrt(dt wc^5 sqrt2/16)."""
    sigma, cutoff, n = 1e-3, 2.0, 200
    single_joint_sites = ("pelvis", "chest", "head", "left_wrist", "right_wrist", "left_ankle", "right_ankle")
    jittery = clip(n) + np.random.default_rng(7).normal(0, sigma, (n, 22, 3)).astype(np.float32)
    out = simulate_imu(jittery, FPS, ImuConfig(noise=OFF, sites=single_joint_sites, cutoff_hz=cutoff))
    accel = np.einsum("tsij,tsj->tsi", world_from_sensor(out), out["imu"][..., :3]) - [0, G, 0]
    t = out["imu_time_s"]
    interior = (t >= 0.5) & (t <= t[-1] - 0.5)
    wc = 2 * np.pi * cutoff
    expected = sigma * math.sqrt(wc**5 / FPS * math.sqrt(2) / 16)
    assert accel[interior].std() == pytest.approx(expected, rel=0.15)


def test_straight_arm_raised_forward_turns_about_its_side_axis() -> None:
    """A straight left arm swinging up through the front to overhead: the wrist sensor turns about its z
    axis at the swing rate and feels the centripetal pull towards the shoulder, with no roll."""
    rate, n = 0.8, 80
    angle = rate * times(n)  # 0 (hanging) through straight up (180 degrees) at 3.93 s
    shoulder = REST[JOINT["left_shoulder"]]
    # rotation about -x: down turns to forward, forward turns to up
    c, s = np.cos(angle), np.sin(angle)
    swing = np.zeros((n, 3, 3))
    swing[:, 0, 0], swing[:, 1, 1], swing[:, 1, 2], swing[:, 2, 1], swing[:, 2, 2] = 1, c, s, -s, c
    joints = np.repeat(REST[None], n, axis=0)
    for name in ("left_elbow", "left_wrist"):
        joints[:, JOINT[name]] = shoulder + np.einsum("tij,j->ti", swing, REST[JOINT[name]] - shoulder)
    out = simulate_imu(joints.astype(np.float32), FPS, ImuConfig(noise=OFF, sites=("left_wrist",)))
    wrist = out["imu"][:, 0].astype(np.float64)
    np.testing.assert_allclose(wrist[:, 3:], steady([0, 0, -rate], len(wrist)), atol=0.01)
    # expected frame: the rest frame carried by the swing; acceleration -rate² (wrist - shoulder)
    t = out["imu_time_s"]
    c, s = np.cos(rate * t), np.sin(rate * t)
    frame = np.zeros((len(t), 3, 3))
    frame[:, 0, 0], frame[:, 1, 1], frame[:, 1, 2], frame[:, 2, 1], frame[:, 2, 2] = 1, c, s, -s, c
    frame = frame @ np.column_stack([[0, -1, 0], [0, 0, -1], [1, 0, 0]])
    radial = frame[:, :, 0] * np.linalg.norm(REST[JOINT["left_wrist"]] - shoulder)
    expected = np.einsum("tji,tj->ti", frame, -rate**2 * radial - [0, -G, 0])
    np.testing.assert_allclose(wrist[:, :3], expected, atol=0.02)


def test_output_shapes_and_time_axis() -> None:
    out = simulate_imu(clip(80), FPS, QUIET)  # 4 s at 20 fps: frames at 0 .. 3.95 s
    assert out["imu"].dtype == np.float32 and out["imu"].shape == (198, len(SITES), 6)
    np.testing.assert_allclose(out["imu_time_s"], np.arange(198) * 0.02, atol=1e-12)
    assert list(out["imu_sites"]) == list(SITES)
    assert out["imu_orientation"].shape == (198, len(SITES), 4)
    fast = simulate_imu(clip(81), FPS, ImuConfig(noise=OFF, rate_hz=100, sites=("pelvis", "left_ankle")))
    assert fast["imu"].shape == (401, 2, 6) and fast["imu_time_s"][-1] == pytest.approx(4.0)


def _noise_only(cfg: ImuConfig, seed: int) -> np.ndarray:
    still = clip(200)
    return simulate_imu(still, FPS, cfg, seed=seed)["imu"].astype(np.float64) - simulate_imu(still, FPS, QUIET)["imu"]


def test_white_noise_has_the_configured_density_and_is_seeded() -> None:
    cfg = ImuConfig(noise=ImuNoise(accel=SensorNoise(white=0.01), gyro=SensorNoise(white=0.002)))
    err = _noise_only(cfg, seed=3)
    assert err[..., :3].std() == pytest.approx(0.01 * math.sqrt(50), rel=0.05)
    assert err[..., 3:].std() == pytest.approx(0.002 * math.sqrt(50), rel=0.05)
    assert abs(err.mean()) < 0.01
    np.testing.assert_array_equal(err, _noise_only(cfg, seed=3))
    assert not np.allclose(err, _noise_only(cfg, seed=4))


def test_bias_walk_steps_and_constant_bias() -> None:
    walking = ImuNoise(accel=SensorNoise(bias_walk=0.02), gyro=SensorNoise(bias_walk=0.004))
    walk = _noise_only(ImuConfig(noise=walking), seed=1)
    steps = np.diff(walk, axis=0)
    assert steps[..., :3].std() == pytest.approx(0.02 * math.sqrt(0.02), rel=0.05)
    assert steps[..., 3:].std() == pytest.approx(0.004 * math.sqrt(0.02), rel=0.05)
    constant = _noise_only(ImuConfig(noise=ImuNoise(accel=SensorNoise(bias=0.1), gyro=SensorNoise(bias=0.01))), seed=1)
    np.testing.assert_allclose(constant, np.broadcast_to(constant[0], constant.shape), atol=1e-5)
    assert 0.05 < constant[0, :, :3].std() < 0.15 and 0.005 < constant[0, :, 3:].std() < 0.015


def test_default_noise_is_small_and_realistic() -> None:
    err = _noise_only(ImuConfig(), seed=0)
    assert 0.005 < np.abs(err[..., :3]).mean() < 0.2 and 1e-4 < np.abs(err[..., 3:]).mean() < 0.02


def test_degenerate_secondary_carries_the_previous_axis() -> None:
    primary = np.tile([0.0, -1.0, 0.0], (6, 1))
    secondary = np.array([[0, 0, 1], [0.3, -1, 0.2], [0, -2, 0], [0, -1, 0], [1, 0, 0], [0, 1, 0]], dtype=float)
    frames = orthonormal_frames(primary, secondary)
    np.testing.assert_allclose(frames[2], frames[1])  # parallel: the previous frame's axis
    np.testing.assert_allclose(frames[3], frames[1])
    np.testing.assert_allclose(frames[5], frames[4])  # anti-parallel too
    np.testing.assert_allclose(frames @ frames.transpose(0, 2, 1), np.broadcast_to(np.eye(3), (6, 3, 3)), atol=1e-12)
    leading = orthonormal_frames(primary[:3], secondary[[2, 3, 0]])  # no previous frame: take the next
    np.testing.assert_allclose(leading[0], leading[2])
    with pytest.raises(ValueError, match="every frame"):
        orthonormal_frames(primary[:2], secondary[2:4])


def test_swing_through_the_opposite_direction_stays_finite() -> None:
    reference = np.array([0.0, 0.0, 1.0])
    angle = np.linspace(np.pi / 2, 3 * np.pi / 2, 11)  # side, back (exactly opposite), other side
    directions = np.stack([np.sin(angle), np.zeros(11), np.cos(angle)], -1)
    swings = swing_rotations(reference, directions, fallback_axis=np.array([0.0, 1.0, 0.0]))
    np.testing.assert_allclose(swings @ reference, directions, atol=1e-12)
    np.testing.assert_allclose(swings[5], swings[4] @ Rotation.from_rotvec([0, 0.1 * np.pi, 0]).as_matrix(), atol=1e-9)


def test_forearm_pointing_straight_back_all_clip_still_reads_gravity() -> None:
    joints = clip(30)
    joints[:, JOINT["left_wrist"]] = joints[:, JOINT["left_elbow"]] + [0, 0, -0.26]
    out = simulate_imu(joints, FPS, ImuConfig(noise=OFF, sites=("left_wrist",)))
    np.testing.assert_allclose(np.linalg.norm(out["imu"][..., :3], axis=-1), G, atol=0.01)
    assert np.isfinite(out["imu"]).all()


def test_broken_motions_raise_one_line_errors_naming_the_item() -> None:
    flat_foot = clip(30)
    flat_foot[:, JOINT["left_foot"]] = flat_foot[:, JOINT["left_ankle"]] - [0, 0.06, 0]
    with pytest.raises(MotionError, match="walk_01: IMU site left_ankle: .*parallel"):
        simulate_imu(flat_foot, FPS, QUIET, item="walk_01")
    with pytest.raises(MotionError, match=r"walk_01: joints must be \[T, 22, 3\]"):
        simulate_imu(np.zeros((30, 21, 3)), FPS, QUIET, item="walk_01")
    with pytest.raises(MotionError, match="at least 3"):
        simulate_imu(clip(2), FPS, QUIET)


def test_config_from_the_params_section() -> None:
    assert validate_section(ImuConfig, {}, "simulate.imu") == ImuConfig()
    cfg = validate_section(ImuConfig, {"rate_hz": 100, "sites": ["pelvis", "left_wrist"], "cutoff_hz": None,
                                       "noise": {"enabled": "off", "gyro": {"white": 0.001}}}, "simulate.imu")
    assert (cfg.rate_hz, cfg.sites, cfg.cutoff_hz, cfg.noise.enabled) == (100.0, ("pelvis", "left_wrist"), None, False)
    default = ImuNoise().gyro  # a partial mapping keeps the other terms' defaults
    assert cfg.noise.gyro == SensorNoise(white=0.001, bias_walk=default.bias_walk, bias=default.bias)
    assert simulate_imu(clip(20), FPS, cfg.model_copy(update={"sites": ("head",)}))["imu"].shape == (96, 1, 6)
    for bad, message in [
        ({"rate": 50}, "simulate.imu.rate: unknown key (did you mean 'rate_hz'?)"),
        ({"sites": ["pelvis", "tail"]}, "simulate.imu.sites: unknown site(s) ['tail'] (known: pelvis, chest,"),
        ({"sites": []}, "simulate.imu.sites: is empty"),
        ({"sites": ["head", "head"]}, "simulate.imu.sites: lists a site twice: ['head', 'head']"),
        ({"sites": "pelvis"}, "simulate.imu.sites: Input should be a valid tuple"),
        ({"rate_hz": 0}, "simulate.imu.rate_hz: Input should be greater than 0"),
        ({"cutoff_hz": "inf"}, "simulate.imu.cutoff_hz: Input should be a finite number"),
        ({"noise": {"accel": {"white": "loud"}}}, "simulate.imu.noise.accel.white: Input should be a valid number"),
        ({"noise": {"gyro": {"bias": -1}}}, "simulate.imu.noise.gyro.bias: Input should be greater than or equal to 0"),
        ({"noise": {"enable": False}}, "simulate.imu.noise.enable: unknown key (did you mean 'enabled'?)"),
    ]:
        with pytest.raises(ParamsError) as info:
            validate_section(ImuConfig, bad, "simulate.imu")
        assert str(info.value).startswith(f"params.yaml: {message}"), str(info.value)


def test_merged_collars_fall_back_to_the_shoulders() -> None:
    """CMU skeletons put both collars on the chest joint: chest and head take their left from the shoulders."""
    merged = clip(40)
    for side in ("left", "right"):
        merged[:, JOINT[f"{side}_collar"]] = merged[:, JOINT["spine3"]]
    out = simulate_imu(merged, FPS, QUIET)
    np.testing.assert_allclose(np.linalg.norm(out["imu"][..., :3], axis=-1), G, atol=0.01)
    assert np.abs(out["imu"][..., 3:]).max() < 1e-3
    np.testing.assert_allclose(out["imu_orientation"], simulate_imu(clip(40), FPS, QUIET)["imu_orientation"],
                               atol=1e-6)  # the rest pose's shoulder and collar lines agree
    spun = clip(60, yaw=1.5 * times(60))
    for side in ("left", "right"):
        spun[:, JOINT[f"{side}_collar"]] = spun[:, JOINT["spine3"]]
    gyro = simulate_imu(spun, FPS, ImuConfig(noise=OFF, sites=("chest", "head")))["imu"][..., 3:]
    np.testing.assert_allclose(gyro, np.broadcast_to([0, 1.5, 0], gyro.shape), atol=0.03)
    # with the shoulders merged too, the hips give the trunk its left; with nothing left, the error names joints
    for side in ("left", "right"):
        merged[:, JOINT[f"{side}_shoulder"]] = merged[:, JOINT["spine3"]]
    chest = simulate_imu(merged, FPS, ImuConfig(noise=OFF, sites=("chest",)))
    np.testing.assert_allclose(world_from_sensor(chest)[20, 0], np.eye(3), atol=1e-3)
    for side in ("left", "right"):
        merged[:, JOINT[f"{side}_hip"]] = merged[:, JOINT["pelvis"]]
    with pytest.raises(MotionError, match=r"^cmu_01: IMU site chest: joints right_hip and left_hip coincide"):
        simulate_imu(merged, FPS, ImuConfig(noise=OFF, sites=("chest",)), item="cmu_01")
