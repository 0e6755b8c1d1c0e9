"""Claims read from hand-written answers and their verdicts against hand-made facts (tasks/qa/claims.py)."""
from __future__ import annotations

import numpy as np
import pytest

from tasks.qa.claims import check, claim_verdicts, extract_claims, sheet_trends
from tasks.qa.facts import fact_lines, fact_sheet
from tasks.qa.trends import TrendConfig, describe, segment_trends

Q = "What does the person do in this recording?"
TREND = ("The left-wrist acceleration (m/s²) stays near 9.8 until 1.2 s, then rises sharply from 9.9 to 15 until "
         "2.4 s, then peaks at 34 at 2.9 s and dips to 12 at 3.3 s, then oscillates between 5 and 20 until 6.0 s.")


def facts(label="wave", captions=("A person waves.",), movement="no net movement", azimuth=(0.0, 2.0),
          acc_trend=TREND, **motion):
    m = {"duration_s": 6.0, "start_posture": "standing", "end_posture": "standing", "direction": "in place",
         "distance_m": 0.0, "path_length_m": 0.1, "turn": None, "turn_deg": 2.0, "speed_mps": 0.1,
         "peak_speed_mps": 0.3, "cadence_steps_per_s": None, "repetitions": None, "repetitions_source": None,
         "most_active_limbs": ["right_arm"], "hand": None, "leg": None, "pelvis_drop_share": 0.0,
         "pelvis_drop_m": 0.0, "pelvis_rise_m": 0.0, "flights": 0, **motion}
    radar = {"movement": movement, "range_start_m": 3.0, "range_end_m": 3.0, "closest_range_m": 2.9,
             "doppler_dominant": "mixed", "doppler_peak_speed_mps": 0.8, "azimuth_start_deg": azimuth[0],
             "azimuth_end_deg": azimuth[1], "range_trend": "The range to the person (m) stays near 3.0 until 6.0 s.",
             "points_per_frame": 12.0}
    if movement == "approaching":
        radar.update(range_start_m=4.2, range_end_m=2.6, closest_range_m=2.6)
    imu = {"most_active_sites": ["left_wrist", "pelvis", "right_ankle"], "site": "left_wrist", "acc_trend": acc_trend,
           "acc_max": 34.0, "gyro_max_rad_s": 5.1}
    return {"label": label, "captions": list(captions), "motion": m, "imu": imu, "radar": radar}


def sheet(f, *names):
    return fact_sheet(fact_lines(f, list(names)))


def reason(answer, f, *names, question=Q):
    return check(question, answer, f, sheet(f, *names) if names else None).reason


# ---------------------------------------------------------------- the six failures of the issue


def test_a_stand_up_is_no_sit():
    f = facts("stand_up", ["A person stands up from a chair."], start_posture="sitting")
    assert reason("The person is doing a sit.", f, "activity", "caption", "posture") == (
        "activity: says is doing a sit, facts say activity: stand up")
    assert reason("The person stands up from a chair.", f, "activity", "caption", "posture") is None
    assert reason("The person starts sitting and ends standing.", f, "activity", "posture") is None


def test_an_object_no_fact_names_is_unsupported():
    f = facts("kick", ["A person kicks with the right leg."], leg="right")
    assert reason("The person is kicking a ball.", f, "activity", "caption") == (
        "object: says a ball, unsupported (no caption names a ball)")
    assert reason("The person kicks with the right leg.", f, "activity", "caption") is None
    pick = facts("pick_up", ["Someone stoops to pick something up."])
    assert reason("The person picks up an object from the floor.", pick, "activity", "caption") is None


def test_a_side_step_at_the_same_distance_moves_neither_toward_nor_away_from_the_radar():
    f = facts("side_step", ["A person side-steps to the right."], direction="right", distance_m=0.9,
              path_length_m=0.9)
    names = ("activity", "travel", "turn", "radar_range", "radar_angle")
    assert reason("The person moves to the right, away from the radar.", f, *names) == (
        "direction: says away from the radar, facts say radar range: 3.0 m to 3.0 m, closest 2.9 m: stays at the "
        "same distance")
    assert reason("The person side-steps 0.9 m to the right.", f, *names) is None


def test_a_side_of_the_radar_needs_the_radar_angle_line():
    f = facts("side_step", direction="right", distance_m=0.9, path_length_m=0.9)
    verdicts = {(v["what"], v["verdict"]) for v in claim_verdicts(
        "Where does the person go?", "The person moves to the left, away from the radar's left.", f)}
    assert verdicts == {("travel", "false"), ("radar", "false"), ("radar_side", "unsupported")}
    across = facts("side_step", direction="right", distance_m=0.9, path_length_m=0.9, azimuth=(10.0, -15.0))
    assert reason("The person moves across to the radar's left.", across, "radar_angle") is None
    assert reason("The person moves across to the radar's right.", across, "radar_angle") == (
        "direction: says radar's right, facts say radar angle: moves across to the radar's left (+10° to -15°)")


def test_trend_values_must_sit_at_their_times_and_in_their_order():
    f = facts()
    bad = "It stays near 9.8 m/s² until 6.0 s, then drops to 34 at 2.9 s."
    got = {(v["kind"], v["said"], v["verdict"]) for v in claim_verdicts("How does it change?", bad, f)}
    assert got == {("trend", "it stays near 9.8 m/s² until 6.0 s", "false"),
                   ("trend", "drops to 34 at 2.9 s", "false"),
                   ("order", "'drops to 34 at 2.9 s' after 'it stays near 9.8 m/s² until 6.0 s'", "false")}
    assert reason(bad, f, "imu_trend") == (
        "trend: says it stays near 9.8 m/s² until 6.0 s, facts say stays near 9.8 until 1.2 s")
    assert reason("It peaks at 34 m/s² at 2.9 s, then stays near 9.8 m/s² until 1.2 s.", f, "imu_trend") == (
        "order: says 'stays near 9.8 m/s² until 1.2 s' after 'it peaks at 34 m/s² at 2.9 s', facts say 1.2 s comes "
        "before 2.9 s")


def test_a_trend_end_the_sheet_never_gives_is_unsupported():
    assert reason("It peaks at 34 m/s², then settles back to 4.3 m/s².", facts(), "imu_trend") == (
        "trend: says settles back to 4.3 m/s², unsupported (the trend line does not say it)")


# ---------------------------------------------------------------- true paraphrases pass


@pytest.mark.parametrize("answer", [
    "The person walks toward the radar.",
    "The person walks 1.6 m forward, getting closer to the radar.",
    "The distance to the radar decreases as the person walks forward.",
    "The person walks about 2 metres forward, toward the radar.",
])
def test_walking_toward_the_radar_is_a_falling_range(answer):
    f = facts("walk", ["A person walks forward."], movement="approaching", direction="forward", distance_m=1.6,
              path_length_m=1.6, most_active_limbs=["left_leg", "right_leg"])
    assert reason(answer, f, "activity", "travel", "turn", "radar_range", "radar_angle") is None


@pytest.mark.parametrize("answer", [
    "It stays near 9.8 m/s² until 1.2 s, then rises sharply to 15 m/s² by 2.4 s, then peaks at 34 m/s² at 2.9 s.",
    "The acceleration oscillates between 5 and 20 m/s² until 6.0 s.",
    "It rises from 9.9 to 15 m/s², peaks at 34 m/s² and then dips to 12 m/s² at 3.3 s.",
    "It is steady near 9.8 m/s² at first, then rises.",
])
def test_trend_statements_the_sheet_gives_pass(answer):
    assert reason(answer, facts(), "activity", "imu_trend") is None


def test_a_trend_that_settles_where_a_fall_ends_passes():
    trend = "The pelvis acceleration (m/s²) rises from 9.8 to 14 until 1.0 s, then falls from 14 to 9.8 until 2.0 s."
    assert reason("It rises to 14 m/s², then returns to 9.8 m/s².", facts(acc_trend=trend), "imu_trend") is None


# ---------------------------------------------------------------- each claim kind


@pytest.mark.parametrize("label, answer, expected", [
    ("walk", "The person is jumping up and down.", "activity: says jumping, facts say activity: walk"),
    ("walk", "The person is walking at a steady pace.", None),
    ("jumping_jacks", "The person does jumping jacks, jumping and raising the arms.", None),
    ("sit_down", "The person stands up from the chair.", "activity: says stands up, facts say activity: sit down"),
    ("squat", "The person is performing squats.", None),
    ("squat", "The person is doing a jump.", "activity: says is doing a jump, facts say activity: squat"),
])
def test_the_activity_must_fit_the_label(label, answer, expected):
    assert reason(answer, facts(label, captions=["A person moves."]), "activity") == expected


def test_without_a_synonym_table_the_activity_must_be_in_the_label_or_a_caption():
    f = facts("cartwheel", ["A person does a cartwheel."])  # a user's label: no synonym table
    assert reason("The person does a cartwheel.", f, "activity", "caption") is None
    assert reason("The person is jogging.", f, "activity", "caption") == (
        "activity: says jogging, unsupported (neither label nor caption names it)")
    assert reason("The person is jogging.", facts(None, ["someone jogs in a circle"]), "caption") is None


@pytest.mark.parametrize("answer, expected", [
    ("The person waves three times.", "count: says three times, facts say 4"),
    ("They wave 3 times with the right hand.", "count: says 3 times, facts say 4"),
    ("The person waves twice.", "count: says twice, facts say 4"),
    ("The person waves four times.", None),
    ("Once the arm is up, the person waves 4 times.", None),
])
def test_counts_must_match_the_repetitions(answer, expected):
    assert reason(answer, facts(repetitions=4, hand="right"), "activity", "repetitions") == expected


def test_a_count_without_a_repetition_fact_is_unsupported():
    assert reason("The person waves 3 times.", facts(), "activity") == (
        "count: says 3 times, unsupported (no repetition count)")


@pytest.mark.parametrize("answer, expected", [
    ("The person waves with the left hand.", "laterality: says left hand, facts say right hand"),
    ("The person raises both arms and waves.", "laterality: says both arms, facts say right hand"),
    ("The person waves with the right hand.", None),
    ("The person waves before they left the room.", None),
    ("The left-wrist sensor moves the most as they wave.", None),
    ("The right-wrist sensor moves the most as they wave.",
     "laterality: says right-wrist, facts say the busiest sensors are left wrist, pelvis, right ankle"),
    ("The person kicks with the left leg.", "laterality: says left leg, unsupported (no leg side)"),
])
def test_sides_must_be_the_facts_sides(answer, expected):
    f = facts(hand="right")
    f["label"] = "kick" if "kick" in answer else "wave"
    assert reason(answer, f, "activity", "hand", "leg", "sensors") == expected


def test_one_side_is_not_both():
    clap = facts("clap", hand="both")
    assert reason("The person claps with the right hand.", clap, "hand") == (
        "laterality: says only the right hand, facts say both")
    assert reason("The person claps with the left and right hands.", clap, "hand") is None


@pytest.mark.parametrize("motion, answer, expected", [
    ({"direction": "forward", "distance_m": 1.8}, "The person walks backward.",
     "direction: says walks backward, facts say travel: 1.8 m forward"),
    ({"direction": "forward", "distance_m": 1.82, "path_length_m": 1.9}, "The person walks 1.8 m forward.", None),
    ({"direction": "backward", "distance_m": 0.31}, "The person moves 3.3 m backward.",
     "direction: says 3.3 m backward, facts say travel: 0.3 m backward"),
    ({}, "The person jumps forward twice.", "direction: says jumps forward, facts say travel: stays in place"),
    ({"direction": "right", "distance_m": 0.9}, "The person steps to the left.",
     "direction: says steps to the left, facts say travel: 0.9 m to the right"),
    ({"turn": "right", "turn_deg": -90.0}, "The person turns to the left.",
     "direction: says turns to the left, facts say turn: 90° to the right"),
    ({"direction": None}, "The person walks 2 m forward.",
     "direction: says walks 2 m forward, unsupported (nothing about travel)"),
    ({"direction": "sideways and back"}, "The person walks forward.",
     "direction: says walks forward, unsupported (travel: sideways and back)"),
])
def test_travel_and_turns_must_match(motion, answer, expected):
    f = facts("jump_in_place" if "jump" in answer else "walk", ["A person moves."],
              **{"path_length_m": motion.get("distance_m", 0.0), **motion})
    assert reason(answer, f, "travel", "turn") == expected


def test_toward_or_away_from_the_radar_follows_the_range():
    walk = facts("walk", movement="approaching", direction="forward", distance_m=1.6)
    assert reason("The person walks away from the radar.", walk, "radar_range") == (
        "direction: says away from the radar, facts say radar range: 4.2 m to 2.6 m, closest 2.6 m: moves toward "
        "the radar")
    assert reason("The person moves toward the radar while waving.", facts(), "radar_range").startswith(
        "direction: says toward the radar, facts say radar range")


@pytest.mark.parametrize("answer, expected", [
    ("The person squats while standing.", None),
    ("The person crouches in a crouching position.", None),
    ("The person waves while sitting.", "posture: says sitting, facts say posture: standing throughout"),
])
def test_postures_must_be_the_facts_postures(answer, expected):
    assert reason(answer, facts("squat" if "squat" in answer or "crouch" in answer else "wave"), "posture") == expected


def test_numbers_must_be_on_the_sheet_in_their_unit_and_durations_the_duration():
    f = facts(repetitions=3, duration_s=6.1)
    names = ("duration", "imu_peak", "repetitions")
    assert reason("It waves 3 times in about 6 seconds, with acceleration up to 34 m/s².", f, *names) is None
    assert reason("It waves for 3 seconds.", f, *names) == "duration: says 3 seconds, facts say duration: 6.1 s"
    assert reason("Its acceleration goes up to 48 m/s².", f, *names) == (
        "number: says 48 m/s², unsupported (not on the sheet)")
    assert reason("It covers 6.1 metres.", f, *names) == "number: says 6.1 metres, unsupported (not on the sheet)"
    assert reason("The rotation reaches 5.1 rad/s.", f, *names) is None


def test_the_question_is_read_too():
    f = facts(hand="right")
    assert reason("The right hand does.", f, "hand", question="Why does the person wave with the left hand?") == (
        "laterality: says left hand, facts say right hand")


# ---------------------------------------------------------------- reading


def test_the_sheet_trend_line_reads_back_what_describe_wrote():
    t = np.linspace(0, 4, 201)
    x = np.where(t < 1, 9.8, np.where(t < 2, 9.8 + 8 * (t - 1), 17.8 - 8 * (t - 2).clip(max=1)))
    line = describe("pelvis acceleration", "m/s²", segment_trends(t, x, 0.5, TrendConfig()), TrendConfig())
    segments = sheet_trends("imu_trend", line)
    assert [s.shape for s in segments] == [seg.shape for seg in segment_trends(t, x, 0.5, TrendConfig())]
    assert segments[-1].t1 == pytest.approx(4.0, abs=0.05) and segments[0].t0 == 0.0
    assert sheet_trends("imu_trend", TREND)[2].values == (34.0,) and sheet_trends("imu_trend", TREND)[2].t0 == 2.9


def test_claims_are_read_in_order_with_what_they_measure():
    claims = extract_claims("The person walks 1.8 m forward in 6 s, waving the left hand twice at a ball.")
    assert [(c.kind, c.what) for c in claims] == [
        ("activity", "mention"), ("direction", "distance"), ("direction", "travel"), ("duration", ""),
        ("activity", "mention"), ("laterality", "hand"), ("count", ""), ("object", "")]
    assert [c.name for c in claims if c.kind in ("laterality", "object")] == ["left", "ball"]


def test_staying_in_place_and_at_the_same_distance_are_claims_too():
    bow = facts("bow")
    names = ("activity", "travel", "turn", "radar_range")
    assert reason("The person stays in place, at the same distance from the radar.", bow, *names) is None
    walk = facts("walk", movement="approaching", direction="forward", distance_m=1.6, path_length_m=1.6)
    assert reason("The person stays in place.", walk, *names) == (
        "direction: says stays in place, facts say travel: 1.6 m forward")
    assert reason("The person keeps the same distance from the radar.", walk, *names).startswith(
        "direction: says keeps the same distance, facts say radar range: 4.2 m to 2.6 m")


@pytest.mark.parametrize("answer, expected", [
    ("The left-wrist acceleration goes up to 34 m/s² and its angular velocity to 5.1 rad/s.", None),
    ("The left-wrist acceleration goes up to 5.1 rad/s.",
     "number: says 5.1 rad/s, facts say 5.1 rad/s is no acceleration"),
    ("The radial speed reaches 34 m/s.", "number: says 34 m/s, unsupported (not on the sheet)"),
])
def test_a_number_must_measure_what_its_words_say(answer, expected):
    assert reason(answer, facts(), "speed", "imu_peak", "radar_doppler") == expected


def test_a_jump_count_counts_flights_and_the_auxiliary_does_names_no_activity():
    jacks = facts("jumping_jacks", repetitions=4, flights=8)
    names = ("activity", "repetitions", "vertical")
    assert reason("The person jumps four times.", jacks, *names, question="How many times does the person jump?") == (
        "count: says four times, facts say both feet leave the ground 8 times")
    assert reason("The person does 4 jumping jacks.", jacks, *names) is None
    boxing = facts("boxing", repetitions=3)
    assert reason("The person throws 3 times.", boxing, "activity", "repetitions",
                  question="How many times does the person throw a series of punches?") is None


def test_a_distance_called_a_speed_is_false():
    jog = facts("jog", direction="forward", distance_m=1.8, path_length_m=1.8)
    assert reason("The person runs ahead, stopping at the 1.8 m forward speed.", jog, "travel", "turn") == (
        "number: says 1.8 m, facts say 1.8 m is no speed")


def test_an_activity_as_its_own_object_and_gait_counts_are_unsupported():
    assert reason("The person is trying to punch a punch.", facts("punch"), "activity") == (
        "object: says punch a punch, unsupported (a punch is the activity, not a thing)")
    walk = facts("walk", repetitions=2, repetitions_source="estimated")
    assert reason("The person walks 2 times.", walk, "activity", "repetitions") == (
        "count: says 2 times, unsupported (the 2 estimated repetitions are strides, not walks)")
    march = facts("march_in_place", repetitions=10, repetitions_source="declared")
    assert reason("The person marches 10 times.", march, "activity", "repetitions") is None
