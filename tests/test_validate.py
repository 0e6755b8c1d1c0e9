"""check_joints: good motions pass as float32, each kind of bad input fails with a one-line reason."""
import numpy as np
import pytest
from motion_bodies import STANDING, straight

from tasks.common.motions import MIN_FRAMES, MotionError
from tasks.motion.validate import Limits, check_joints
from tasks.simulate.imu import ImuConfig
from tasks.simulate.radar.config import PRESETS, RadarConfig
from tasks.simulate.signals import simulate_motion

GOOD = straight(STANDING, (0.0, 1.0), 40).astype(np.float64)


def test_good_motion_passes_as_float32():
    out = check_joints(GOOD, "x.npy")
    assert out.dtype == np.float32 and out.shape == (40, 22, 3)
    np.testing.assert_allclose(out, GOOD, atol=1e-6)


def _with(frame, joint, value):
    bad = GOOD.copy()
    bad[frame, joint] = value
    return bad


@pytest.mark.parametrize("joints, reason", [
    (GOOD[:, :21], "new_joints/000123.npy: wrong shape (40, 21, 3), expected [T, 22, 3]"),
    (GOOD[0], "new_joints/000123.npy: wrong shape (22, 3), expected [T, 22, 3]"),
    (GOOD[:0], "new_joints/000123.npy: no frames"),
    (_with(7, 3, np.nan), "new_joints/000123.npy: NaN or inf in 3 of 2640 values (first in frame 7)"),
    (_with(2, 0, np.inf), "new_joints/000123.npy: NaN or inf in 3 of 2640 values (first in frame 2)"),
    (GOOD * 100, "new_joints/000123.npy: absurd coordinates: |coord| up to 155 m (limit 50 m), not metres?"),
    (_with(5, 15, [0.0, 4.0, 0.0]), "new_joints/000123.npy: absurd coordinates: body spans 3.98 m in frame 5 "
                                    "(limit 3 m), not metres?"),
    (GOOD.astype(str), "new_joints/000123.npy: non-numeric dtype <U"),
    (GOOD > 0, "new_joints/000123.npy: non-numeric dtype bool"),
])
def test_bad_input_names_the_file_and_the_problem(joints, reason):
    with pytest.raises(MotionError) as err:
        check_joints(joints, "new_joints/000123.npy")
    assert str(err.value).startswith(reason) and "\n" not in str(err.value)


def test_every_motion_is_long_enough_to_simulate():
    """MIN_FRAMES (3) is what simulate needs: its IMU spline is differentiated twice, and 0.1 s holds a radar
    frame of every preset; a source may ask for more, never for less."""
    assert MIN_FRAMES == 3 and len(check_joints(GOOD[:3], "a")) == 3
    with pytest.raises(MotionError, match=r"^one.bvh: too short: 1 frame, need at least 3$"):
        check_joints(GOOD[:1], "one.bvh")
    with pytest.raises(MotionError, match=r"^a: too short: 2 frames, need at least 3$"):
        check_joints(GOOD[:2], "a", Limits(min_frames=1))
    with pytest.raises(MotionError, match=r"^a: too short: 19 frames, need at least 20$"):
        check_joints(GOOD[:19], "a", Limits(min_frames=20))


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_the_shortest_motion_is_simulated_with_every_radar_preset(preset):
    signals = simulate_motion(GOOD[:MIN_FRAMES], 20, RadarConfig.from_params({"preset": preset}), ImuConfig(), 0,
                              "shortest")
    assert len(signals["frame_time_s"]) >= 1 and len(signals["imu_time_s"]) == 6  # 0.1 s at 50 Hz


def test_decimetres_inside_the_absolute_limit_are_caught_by_body_size():
    decimetres = GOOD * 10  # every coordinate below 50, but the body is 15 m tall
    with pytest.raises(MotionError, match="body spans"):
        check_joints(decimetres, "dm.npy")
