"""Measured facts against synthetic motions whose answers are known."""
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from motion_bodies import SEATED, SQUAT, STANDING, body, moving, rot_x, straight

from tasks.common.skeleton import JOINT
from tasks.motion.facts import FACTS_SCHEMA, leg_length, measure_facts, posture

FPS = 20


def test_walk_forward_two_metres_in_two_seconds():
    facts = measure_facts(straight(STANDING, (0.0, 2.0), 41), FPS)  # 41 frames = 2 s elapsed
    assert facts["direction"] == "forward"
    assert facts["distance_m"] == pytest.approx(2.0, abs=1e-5)
    assert facts["path_length_m"] == pytest.approx(2.0, abs=1e-5)
    assert facts["speed_mps"] == pytest.approx(1.0, abs=1e-5)
    assert facts["peak_speed_mps"] == pytest.approx(1.0, abs=1e-5)
    assert facts["duration_s"] == pytest.approx(41 / FPS)
    assert facts["turn_deg"] == pytest.approx(0.0, abs=1e-3) and facts["turn"] is None
    assert facts["start_posture"] == facts["end_posture"] == "standing"
    assert facts["height_change_m"] == pytest.approx(0.0, abs=1e-6)
    assert facts["most_active_limbs"] == []  # a rigid glide moves no limb relative to the pelvis


@pytest.mark.parametrize("to_xz, yaw, expected", [
    ((1.5, 0.0), 0.0, "left"),  # +x is the person's left
    ((-1.5, 0.0), 0.0, "right"),
    ((0.0, -1.5), 0.0, "backward"),
    ((1.5, 0.0), 90.0, "forward"),  # turned to face +x first, so +x is ahead
    ((0.0, 1.5), 90.0, "right"),
    ((0.1, 0.1), 0.0, "in place"),
])
def test_direction_is_relative_to_the_initial_facing(to_xz, yaw, expected):
    assert measure_facts(straight(STANDING, to_xz, 30, yaw), FPS)["direction"] == expected


@pytest.mark.parametrize("yaw_end, turn", [(90.0, "left"), (-120.0, "right"), (30.0, None), (270.0, "left")])
def test_turn_is_signed_counter_clockwise_from_above(yaw_end, turn):
    clip = moving(STANDING, np.zeros((41, 2)), np.linspace(0.0, yaw_end, 41))
    facts = measure_facts(clip, FPS)
    assert facts["turn_deg"] == pytest.approx(yaw_end, abs=0.5)  # unwrapped past 180
    assert facts["turn"] == turn and facts["direction"] == "in place"
    assert facts["most_active_limbs"] == []  # turning alone moves no limb in the body's frame


def test_peak_speed_of_a_sprint_inside_a_stroll():
    z = np.concatenate([np.linspace(0, 1, 21), 1 + np.linspace(0, 3, 21)[1:]])  # 1 m/s for 1 s, then 3 m/s
    facts = measure_facts(moving(STANDING, np.stack([np.zeros_like(z), z], 1)), FPS)
    assert facts["peak_speed_mps"] == pytest.approx(3.0, abs=1e-4)
    assert facts["speed_mps"] == pytest.approx(4.0 / 2.0, abs=1e-4)


def test_postures():
    leg = leg_length(STANDING[None])
    assert leg == pytest.approx(0.77, abs=1e-6)
    assert posture(STANDING, leg) == "standing"
    assert posture(SEATED, leg) == "sitting"
    assert posture(SQUAT, leg) == "crouching"
    assert posture(STANDING @ rot_x(-90).T, leg) == "lying"
    assert posture(body(lean=90), leg) == "standing"  # bent over to touch the floor
    crawl = body(hip_flex=90, knee_flex=90) @ rot_x(90).T  # seated pose tipped forward onto knees and shins
    assert posture(crawl, leg) != "lying"


def test_sitting_down_changes_posture_and_height():
    clip = np.stack([body(hip_flex=a, knee_flex=a) for a in np.linspace(0, 90, 41)]).astype(np.float32)
    facts = measure_facts(clip, FPS)
    assert (facts["start_posture"], facts["end_posture"]) == ("standing", "sitting")
    pelvis = JOINT["pelvis"]
    assert facts["height_change_m"] == pytest.approx(SEATED[pelvis, 1] - STANDING[pelvis, 1], abs=1e-5)
    assert facts["height_change_m"] < -0.3


def test_waving_right_arm_is_the_most_active_limb():
    clip = np.repeat(STANDING[None], 41, axis=0)
    t = np.linspace(0, 2 * np.pi, 41)
    clip[:, JOINT["right_wrist"], 0] += 0.2 * np.sin(t)
    clip[:, JOINT["left_ankle"], 2] += 0.01 * np.sin(t)  # a little jitter elsewhere
    assert measure_facts(clip, FPS)["most_active_limbs"] == ["right_arm"]


def test_one_frame_has_no_speed():
    facts = measure_facts(STANDING[None], FPS)
    assert facts["speed_mps"] == facts["peak_speed_mps"] == 0.0 and facts["direction"] == "in place"


def test_facts_fit_the_schema_and_round_trip_parquet(tmp_path):
    measured = measure_facts(straight(STANDING, (0.0, 2.0), 41), FPS)
    declared = {"hand": "left", "repetitions": 3, "limbs": ["left_arm"]}
    assert set(measured) | set(declared) <= set(FACTS_SCHEMA.names)
    rows = [{"facts": {k: {**measured, **declared}.get(k) for k in FACTS_SCHEMA.names}}, {"facts": {}}]
    pq.write_table(pa.Table.from_pylist(rows, schema=pa.schema([("facts", FACTS_SCHEMA)])), tmp_path / "f.parquet")
    back = pq.read_table(tmp_path / "f.parquet").to_pylist()
    assert back[0]["facts"]["direction"] == "forward" and back[0]["facts"]["repetitions"] == 3
    assert back[1]["facts"]["speed_mps"] is None
