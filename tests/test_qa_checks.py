"""Fact checks, lenient parsing and near-duplicate removal of the qa stage."""
from __future__ import annotations

import numpy as np
import pytest

from tasks.qa.checks import check_pair, counts_in
from tasks.qa.dedup import duplicates, embed, load_embedder
from tasks.qa.prompts import salvage

Q = "What does the person do in this recording?"


def facts(label="wave", repetitions=None, hand=None, leg=None, direction="in place", turn=None, movement=None,
          site="pelvis", distance_m=0.0):
    return {"label": label, "imu": {"most_active_sites": [site, "chest"]},
            "radar": {"movement": movement} if movement else {},
            "motion": {"repetitions": repetitions, "hand": hand, "leg": leg, "direction": direction, "turn": turn,
                       "distance_m": distance_m, "path_length_m": distance_m}}


@pytest.mark.parametrize("answer, expected", [
    ("The person waves three times.", "count: says 3, facts say 4"),
    ("They wave 3 times with the right hand.", "count: says 3, facts say 4"),
    ("The person waves twice.", "count: says 2, facts say 4"),
    ("The person waves four times.", None),
    ("It is 4 waves in about 4.5 seconds with the arm raised.", None),
    ("Once the arm is up, the person waves.", None),
])
def test_counts_must_match_the_repetitions(answer, expected):
    assert check_pair(Q, answer, facts(repetitions=4, hand="right")) == expected


def test_counts_are_read_from_words_and_digits():
    assert counts_in("he claps 6 times, then two quick claps, and kicks once.") == [6, 2, 1]
    assert counts_in("one hand waves for 2 seconds; once done, he stops") == []


@pytest.mark.parametrize("answer, expected", [
    ("The person waves with the left hand.", "laterality: says left hand, facts say right hand"),
    ("The person raises both arms and waves.", "laterality: says both hands, facts say right hand"),
    ("The person waves with the right hand.", None),
    ("The person waves before they left the room.", None),
    ("The right-wrist sensor moves the most as they wave.", None),
])
def test_the_hand_must_be_the_one_the_facts_name(answer, expected):
    assert check_pair(Q, answer, facts(hand="right", site="right_wrist")) == expected


def test_a_side_the_facts_do_not_give_is_unsupported_and_sensors_must_be_the_busiest():
    bow = facts(label="bow", site="left_ankle")
    assert check_pair(Q, "The person bows with the left leg.", bow) == (
        "laterality: says left leg, facts say no leg side")
    assert check_pair(Q, "The left-ankle sensor moves most as the person bows.", bow) is None
    assert check_pair(Q, "The right ankle acceleration peaks as the person bows.", bow) == (
        "laterality: says right ankle sensor, the busiest sensors are chest, left ankle")
    assert check_pair(Q, "The person kicks with the left leg.", facts(label="kick", leg="right")).startswith(
        "laterality: says left leg")


def test_one_side_is_not_both():
    clap = facts(label="clap", hand="both", site="right_wrist")
    assert check_pair(Q, "The person claps with the right hand.", clap) == (
        "laterality: says only the right hand, facts say both")
    assert check_pair(Q, "The person claps with the left and right hands.", clap) is None
    assert check_pair(Q, "Both hands clap; the right hand leads and the right-wrist sensor peaks.", clap) is None


@pytest.mark.parametrize("answer, f, expected", [
    ("The person walks backward.", facts("walk", direction="forward"),
     "direction: says moves backward, facts say forward"),
    ("The person walks forward.", facts("walk", direction="forward"), None),
    ("The person walks 1.8 m forward.", facts("walk", direction="forward", distance_m=1.82), None),
    ("The person moves 3.3 m backward.", facts("sit_down", direction="backward", distance_m=0.31),
     "direction: says travels 3.3 m, facts say 0.3 m backward"),
    ("The person jumps forward twice.", facts("jump_in_place"), "direction: says moves forward, facts say in place"),
    ("The person steps to the left.", facts("side_step", direction="right"),
     "direction: says moves left, facts say right"),
    ("The person side-steps, swinging the left hand.", facts("side_step", direction="right"),
     "laterality: says left hand, facts say no hand side"),
    ("The person turns to the left.", facts("turn_in_place", turn="right"),
     "direction: says turns left, facts say turns right"),
    ("The person walks away from the radar.", facts("walk", direction="forward", movement="approaching"),
     "direction: says away from the radar, facts say approaching"),
    ("The person walks toward the radar.", facts("walk", direction="forward", movement="approaching"), None),
    ("The person moves toward the radar while waving.", facts(movement="no net movement"),
     "direction: says toward the radar, facts say no net movement"),
    # a motion without measured facts (null in the manifest): a distance is unsupported, a way is not contradicted
    ("The person walks 2 m forward.", facts(None, direction=None),
     "direction: says travels 2 m, facts say nothing about travel"),
    ("The person walks forward.", facts(None, direction=None), None),
])
def test_directions_must_match(answer, f, expected):
    assert check_pair(Q, answer, f) == expected


@pytest.mark.parametrize("label, answer, expected", [
    ("walk", "The person is jumping up and down.", "activity: says jump, label is walk"),
    ("walk", "The person is walking at a steady pace.", None),
    ("jumping_jacks", "The person does jumping jacks, jumping and raising the arms.", None),
    ("sit_down", "The person stands up from the chair.", "activity: says stand up, label is sit_down"),
    ("wave", "The wrist acceleration rises from 9.8 to 25 m/s² as they wave.", None),
    (None, "The person is jumping.", None),
])
def test_the_activity_named_must_fit_the_label(label, answer, expected):
    assert check_pair(Q, answer, facts(label)) == expected


def test_numbers_must_be_on_the_fact_sheet_up_to_rounding():
    shown = "duration: 6.1 s\nIMU trend: The left-wrist acceleration (m/s²) peaks at 25 at 0.8 s."
    f = facts(repetitions=3)
    assert check_pair(Q, "It peaks at 25 m/s² after 0.8 s, in about 6 seconds.", f, shown=shown) is None
    assert check_pair(Q, "It waves 3 times and peaks at 25.", f, shown=shown) is None
    assert check_pair(Q, "It waves for 3 seconds.", f, shown=shown) == "number: says 3 s, which the facts do not"
    assert check_pair(Q, "It peaks at 48 m/s² at 0.8 s.", f, shown=shown) == (
        "number: says 48 m/s², which the facts do not")
    assert check_pair(Q, "It peaks at 25 m/s² at 1.8 s.", f, shown=shown) == (
        "number: says 1.8 s, which the facts do not")
    assert check_pair(Q, "It waves for 6.1 seconds, covering 6.1 metres.", f, shown=shown) == (
        "number: says 6.1 m, which the facts do not")


def test_form_checks_reject_short_echoed_and_copied_pairs():
    f = facts()
    assert check_pair("Why?", "Because they wave.", f) == "short question: 1 words"
    assert check_pair(Q, "Waves.", f) == "short answer: 1 words"
    assert check_pair("The person waves a hand", "They wave a hand.", f) == "not a question"
    assert check_pair(Q, "What does the person do in this recording?", f) == "echo: the answer repeats the question"
    example = ("What activity is this?", "The person is doing squats.")
    assert check_pair(Q, "The person is doing squats.", facts("squat"), example) == "copied example"
    assert check_pair("What activity is this?", "The person is waving hello.", f, example) is None


def test_salvage_takes_an_intact_pair_from_broken_json():
    pair = salvage('{"question": "How far?", "answer": "About \\"3\\" m.", "duration": 8.0 s}')
    assert (pair.question, pair.answer) == ("How far?", 'About "3" m.')
    assert salvage('{"question": "How far?", "answer": "About 3') is None


def test_exact_and_near_duplicate_questions_are_found():
    texts = ["How many times does the person wave?", "What is the person doing?",
             "How often does the person wave?", "what is the person doing"]
    found = duplicates(texts, embed(texts, load_embedder()), threshold=0.92)
    assert found[0] is None and found[1] is None
    assert found[2][0] == 0 and found[2][1] >= 0.92
    assert found[3] == (1, 1.0)
    orthogonal = np.eye(4, 384, dtype=np.float32)
    assert duplicates(["a b", "a c", "A b!", "d"], orthogonal, 0.92) == [None, None, (0, 1.0), None]
