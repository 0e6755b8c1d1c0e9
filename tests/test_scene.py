"""Per-motion radar placement and channel variety (tasks/simulate/scene.py): known poses, clearance, seeding."""
import math

import numpy as np
import pytest
from motion_bodies import STANDING, moving, straight

from tasks.common.skeleton import JOINT, headings
from tasks.simulate.config import SimulateConfig
from tasks.simulate.radar import RadarConfig
from tasks.simulate.radar.geometry import radar_axes, to_radar_frame
from tasks.simulate.scene import RECORDED, SceneConfig, draw, place
from tasks.simulate.signals import simulate_motion

STILL = straight(STANDING, (0.0, 0.0), 40)
RADAR = RadarConfig()


def test_the_default_scene_is_the_old_fixed_pose():
    posed, values = place(STILL, RADAR, SceneConfig(), 0, "still")
    np.testing.assert_allclose(posed.position_m, (0.0, 1.0, 3.0), atol=1e-6)
    assert (posed.yaw_deg, posed.pitch_deg, posed.noise_db) == (pytest.approx(0.0, abs=1e-9), 0.0, RADAR.noise_db)
    assert posed.reflectivity == RADAR.reflectivity
    assert list(values) == list(RECORDED) and values["radar_distance_m"] == pytest.approx(3.0)


def test_a_person_facing_x_gets_the_radar_ahead_of_them_looking_back():
    facing_x = moving(STANDING, np.tile([2.0, -1.0], (40, 1)), 90.0)
    h = headings(facing_x)[0]
    assert abs(abs(h) - math.pi / 2) < 1e-3  # the pose does face along x
    posed, _ = place(facing_x, RADAR, SceneConfig(distance_m=2.0, height_m=1.3), 0, "x")
    ahead = np.array([math.sin(h), 0.0, math.cos(h)])
    np.testing.assert_allclose(posed.position_m, np.array([2.0, 1.3, -1.0]) + 2.0 * ahead, atol=1e-6)
    start = facing_x[0, JOINT["pelvis"]] * [1, 0, 1] + [0, 1.3, 0]  # the start at the radar's height
    np.testing.assert_allclose(to_radar_frame(start, posed), [0.0, 0.0, 2.0], atol=1e-6)  # on boresight, 2 m


def test_bearing_puts_the_radar_to_the_persons_left_and_yaw_shows_them_to_its_right():
    posed, _ = place(STILL, RADAR, SceneConfig(bearing_deg=90.0), 0, "b")
    np.testing.assert_allclose(posed.position_m, (3.0, 1.0, 0.0), atol=1e-6)  # facing +z, the left is +x
    posed, _ = place(STILL, RADAR, SceneConfig(yaw_deg=20.0), 0, "y")
    x, _, z = to_radar_frame(STILL[0, JOINT["pelvis"]] * [1, 0, 1] + [0, 1, 0], posed)
    assert math.degrees(math.atan2(x, z)) == pytest.approx(20.0, abs=1e-6)  # azimuth > 0: the radar's right
    posed, _ = place(STILL, RADAR, SceneConfig(pitch_deg=-10.0), 0, "p")
    assert radar_axes(posed)[2][1] == pytest.approx(-math.sin(math.radians(10.0)))  # boresight tilted down


@pytest.mark.parametrize("yaw", [0.0, 25.0])
def test_a_walk_towards_the_radar_never_comes_nearer_than_the_clearance(yaw):
    walk = straight(STANDING, (0.0, 3.2), 60)  # 3.2 m towards a radar drawn 3 m ahead
    scene = SceneConfig(distance_m=3.0, yaw_deg=yaw, clearance_m=0.5)
    posed, values = place(walk, RADAR, scene, 0, "walk")
    depth = to_radar_frame(walk.reshape(-1, 3), posed)[:, 2]
    assert depth.min() == pytest.approx(0.5, abs=1e-6)  # backed away exactly as far as needed
    assert values["radar_distance_m"] > 3.7
    # a person who stays put keeps the drawn distance
    assert place(STILL, RADAR, scene, 0, "still")[1]["radar_distance_m"] == pytest.approx(3.0)


def test_values_are_drawn_per_motion_within_their_ranges_and_reproducibly():
    scene = SceneConfig(distance_m=(2.0, 4.0), height_m=(0.8, 1.5), noise_db=(-3, 3), rcs_db=(-3, 3))
    a, again, other = draw(scene, 0, "walk_000"), draw(scene, 0, "walk_000"), draw(scene, 0, "walk_001")
    assert a == again and a != other and a != draw(scene, 1, "walk_000")
    samples = [draw(scene, 0, f"m{i}") for i in range(200)]
    heights = [s["height_m"] for s in samples]
    assert 0.8 <= min(heights) < 0.9 and 1.4 < max(heights) <= 1.5
    assert {s["bearing_deg"] for s in samples} == {0.0}  # a fixed value stays fixed


def test_rcs_and_noise_scale_what_they_say():
    posed, _ = place(STILL, RADAR, SceneConfig(rcs_db=6.0, noise_db=-4.0), 0, "s")
    assert posed.noise_db == pytest.approx(RADAR.noise_db - 4.0)
    assert posed.reflectivity["torso"] == pytest.approx(RADAR.reflectivity["torso"] * 10 ** 0.3)
    # the echo power follows: +6 dB of body RCS is 10^0.6 times the range-profile power (noise off, no clutter)
    cfg = SimulateConfig.from_params({"device": "cpu", "radar": {"noise_db": None, "static_clutter_removal": False,
                                                                 "n_chirps": 16, "n_samples": 64, "max_range_m": 4.0},
                                      "imu": {"noise": {"enabled": False}}})
    power = [simulate_motion(STILL, 20, cfg.radar, cfg.imu, 0, "s", scene=SceneConfig(rcs_db=db))["range_time"].sum()
             for db in (0.0, 6.0)]
    assert power[1] / power[0] == pytest.approx(10 ** 0.6, rel=1e-4)


def test_signals_record_the_pose_and_values():
    cfg = SimulateConfig.from_params({"device": "cpu", "radar": {"n_chirps": 16, "n_samples": 64, "max_range_m": 4.0,
                                                                 "static_clutter_removal": False},
                                      "scene": {"distance_m": [2.5, 3.5], "yaw_deg": [-10, 10]}})
    s = simulate_motion(STILL, 20, cfg.radar, cfg.imu, 0, "still", scene=cfg.scene)
    posed, values = place(STILL, cfg.radar, cfg.scene, 0, "still")
    np.testing.assert_allclose(s["radar_pose"], [*posed.position_m, posed.yaw_deg, posed.pitch_deg])
    np.testing.assert_allclose(s["scene"], list(values.values()))
    # the (still, so clutter removal off) person shows up at the drawn distance in the range profile
    peak = s["range_m"][np.argmax(s["range_time"].sum(axis=1))]
    assert abs(peak - values["radar_distance_m"]) < 0.4
