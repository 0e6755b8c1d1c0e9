"""The procedural motion library: physical plausibility of every class, ground truth vs joints and captions,
determinism, configuration errors, and the kinematic building blocks against known answers."""
from __future__ import annotations

import re
from functools import cache

import numpy as np
import pytest

from tasks.common.config import validate_section
from tasks.common.params import ParamsError
from tasks.common.seeds import item_seed
from tasks.common.skeleton import BONES, FPS, JOINT
from tasks.motion.config import ProceduralConfig
from tasks.motion.facts import headings, measure_facts
from tasks.motion.item import MotionItem
from tasks.motion.procedural import CLASSES, generate, generate_library
from tasks.motion.procedural.body import Body, Pose, arm_target, assemble, two_bone_ik
from tasks.motion.procedural.curves import CRUISE_RISE, cruise, hermite_track, keyframes, minjerk, quintic
from tasks.motion.procedural.gait import Gait, speed_profile
from tasks.motion.procedural.library import MIN_AREA, SPECS
from tasks.motion.procedural.locomotion import _travel
from tasks.motion.procedural.scene import Area, Scene

SEEDS = (0, 1, 2, 3)
FEET = [JOINT[n] for n in ("left_ankle", "right_ankle", "left_foot", "right_foot")]
TOES = (JOINT["left_foot"], JOINT["right_foot"])
CONTACT_M = 0.03  # a foot joint this close to the floor is in contact
FAST = {"jog", "jump_in_place", "jump_forward", "kick", "punch", "boxing"}  # limbs snap: a higher acceleration bound
TRAVELS = [label for label in CLASSES if SPECS[label].travels] + ["jump_forward"]
TIGHT = Area(forward_m=1.2, backward_m=1.0, side_m=1.5)  # the smallest area allowed


@cache
def motion(label: str, seed: int, area: Area = Area()) -> MotionItem:
    return generate(label, seed, seed=item_seed(seed, label, 0), area=area)


def all_motions(label: str) -> list[MotionItem]:
    return [motion(label, s) for s in SEEDS]


def hip_centre(j: np.ndarray) -> np.ndarray:
    return 0.5 * (j[:, JOINT["left_hip"]] + j[:, JOINT["right_hip"]])


def events(signal: np.ndarray, on: float, off: float) -> int:
    """How often ``signal`` rises above ``on`` having been below ``off`` (hysteresis against jitter)."""
    count, armed = 0, True
    for v in signal:
        if armed and v > on:
            count, armed = count + 1, False
        elif not armed and v < off:
            armed = True
    return count


def flights(j: np.ndarray) -> list[np.ndarray]:
    """Runs of frames in which both feet are off the floor."""
    air = np.all(j[:, list(TOES), 1] > CONTACT_M, axis=1)
    runs, start = [], None
    for i, a in enumerate(np.append(air, False)):
        if a and start is None:
            start = i
        elif not a and start is not None:
            runs.append(np.arange(start, i))
            start = None
    return runs


def steady_gait(j: np.ndarray) -> tuple[float, float]:
    """The pelvis's top speed over the floor, smoothed over 0.25 s as measure_facts does (sway averages out),
    and for how long it stays within 5 % of it (s): the speed and length of the steady gait."""
    speed = np.linalg.norm(np.gradient(j[:, JOINT["pelvis"]][:, [0, 2]], axis=0), axis=-1) * FPS
    smooth = np.convolve(speed, np.ones(5) / 5, mode="valid")
    top, longest, run = smooth.max(), 0, 0
    for fast in smooth >= 0.95 * top:
        run = run + 1 if fast else 0
        longest = max(longest, run)
    return float(top), longest / FPS


def end_speed(j: np.ndarray, window_s: float = 0.3) -> float:
    """Mean pelvis speed over the floor in the clip's last ``window_s``."""
    ground = j[:, JOINT["pelvis"]][:, [0, 2]]
    n = int(window_s * FPS)
    return float(np.linalg.norm(ground[-1] - ground[-1 - n]) / window_s)


def same_direction(declared: str, measured: str) -> bool:
    """A declared direction against measure_facts': a walk away and back ends where it started (in place)."""
    return measured == ("in place" if declared == "away and back" else declared)


def overreach(j: np.ndarray, area: Area) -> float:
    """How far (m) pelvis, ankles or toes ever get outside ``area`` around the start; <= 0 inside."""
    xz = j[:, [JOINT["pelvis"]] + FEET][..., [0, 2]]
    return float(max((xz[..., 1] - area.forward_m).max(), (-xz[..., 1] - area.backward_m).max(),
                     (np.abs(xz[..., 0]) - area.side_m).max()))


# ---------------------------------------------------------------- the catalogue and the item contract

def test_catalogue():
    assert len(CLASSES) >= 24 and len(set(CLASSES)) == len(CLASSES)
    assert all(re.fullmatch(r"[a-z]+(_[a-z]+)*", c) for c in CLASSES)
    required = {"walk", "jog", "walk_backward", "side_step", "turn_in_place", "jump_in_place", "jump_forward",
                "jumping_jacks", "squat", "sit_down", "stand_up", "pick_up", "wave", "clap", "punch", "kick",
                "raise_arms", "stretch", "bow", "boxing", "march_in_place", "walk_circle", "walk_away_and_back",
                "walk_across"}
    assert required <= set(CLASSES)


@pytest.mark.parametrize("label", CLASSES)
def test_item_contract(label):
    for seed in SEEDS:
        item = motion(label, seed)
        assert item.id == f"proc_{label}_{seed:03d}" and item.source == "procedural" and item.label == label
        assert item.split is None and item.fps == FPS
        assert item.origin == f"procedural:{label}:seed={item_seed(seed, label, 0)}"
        j = item.joints
        assert j.dtype == np.float32 and j.ndim == 3 and j.shape[1:] == (22, 3) and np.isfinite(j).all()
        assert 2.0 <= len(j) / FPS <= 10.0
        assert 3 <= len(item.captions) <= 5 and len(set(item.captions)) == len(item.captions)
        assert 1.55 <= item.facts["body_height_m"] <= 1.95


# ---------------------------------------------------------------- physical plausibility

@pytest.mark.parametrize("label", CLASSES)
def test_bones_keep_their_length(label):
    for item in all_motions(label):
        j = item.joints.astype(float)
        lengths = np.stack([np.linalg.norm(j[:, a] - j[:, b], axis=-1) for a, b in BONES], axis=1)
        assert ((lengths.max(0) - lengths.min(0)) / lengths.mean(0)).max() < 0.01, item.id


@pytest.mark.parametrize("label", CLASSES)
def test_feet_stay_on_or_above_the_floor(label):
    for item in all_motions(label):
        assert item.joints[:, FEET, 1].min() > -0.02, item.id


@pytest.mark.parametrize("label", CLASSES)
def test_planted_feet_do_not_slide(label):
    for item in all_motions(label):
        j = item.joints.astype(float)
        for toe in TOES:
            low = j[:, toe, 1] < CONTACT_M
            both = low[:-1] & low[1:]  # in contact at both ends of the frame step
            speed = np.linalg.norm(np.diff(j[:, toe][:, [0, 2]], axis=0), axis=-1) * FPS
            worst = speed[both].max() if both.any() else 0.0
            assert worst < 0.1, f"{item.id}: foot joint {toe} slides at {worst:.3f} m/s"


@pytest.mark.parametrize("label", CLASSES)
def test_motion_is_smooth(label):
    limit = 160.0 if label in FAST else 100.0  # m/s^2, finite differences at 20 fps
    for item in all_motions(label):
        j = item.joints.astype(float)
        assert np.linalg.norm(np.diff(j, axis=0), axis=-1).max() < 0.5, item.id
        accel = np.linalg.norm(np.diff(j, 2, axis=0), axis=-1) * FPS**2
        assert accel.max() < limit, f"{item.id}: {accel.max():.0f} m/s^2"


@pytest.mark.parametrize("label", CLASSES)
def test_starts_at_the_origin_facing_forward_upright(label):
    for item in all_motions(label):
        j = item.joints.astype(float)
        assert np.hypot(*j[0, JOINT["pelvis"], [0, 2]]) < 0.3, item.id
        assert abs(np.degrees(headings(j[:1])[0])) < 20.0, item.id  # facing +z
        assert j[0, JOINT["left_hip"], 0] > j[0, JOINT["right_hip"], 0]  # the person's left is +x
        assert j[0, JOINT["head"], 1] > j[0, JOINT["neck"], 1] > j[0, JOINT["pelvis"], 1]


@pytest.mark.parametrize("label", CLASSES)
def test_knees_bend_forward_over_flat_feet(label):
    for item in all_motions(label):
        j = item.joints.astype(float)
        for side in ("left", "right"):
            hip, knee = j[:, JOINT[f"{side}_hip"]], j[:, JOINT[f"{side}_knee"]]
            ankle, toe = j[:, JOINT[f"{side}_ankle"]], j[:, JOINT[f"{side}_foot"]]
            leg = (ankle - hip) / np.linalg.norm(ankle - hip, axis=-1, keepdims=True)
            bend = (knee - hip) - np.sum((knee - hip) * leg, axis=-1, keepdims=True) * leg
            ahead = (toe - ankle) * [1, 0, 1]
            ahead /= np.linalg.norm(ahead, axis=-1, keepdims=True)
            flat = (ankle[:, 1] < ankle[:, 1].min() + 0.02) & (toe[:, 1] < CONTACT_M)  # heel down
            assert np.sum(bend * ahead, axis=-1)[flat].min() > -0.01, f"{item.id}: {side} knee bends backwards"


def test_standing_body_has_adult_proportions():
    body = Body.from_height(1.75)
    j = assemble(body, Pose.standing(body, 1))[0].astype(float)
    assert j[JOINT["head"], 1] == pytest.approx(0.92 * 1.75, abs=0.03)
    assert j[JOINT["left_shoulder"], 1] == pytest.approx(0.80 * 1.75, abs=0.03)
    assert 0.45 < j[JOINT["left_wrist"], 1] / 1.75 < 0.53  # arms hang beside the thighs
    assert j[JOINT["left_wrist"], 0] > 0.1 > -0.1 > j[JOINT["right_wrist"], 0]
    assert j[JOINT["left_elbow"], 1] < j[JOINT["left_shoulder"], 1]
    assert j[JOINT["left_foot"], 2] > j[JOINT["left_ankle"], 2]  # toes point forward
    assert j[JOINT["left_knee"], 2] > 0.0  # knees slightly bent, forward


# ---------------------------------------------------------------- ground truth against the joints

@pytest.mark.parametrize("label", CLASSES)
def test_declared_facts_match_what_the_joints_show(label):
    for item in all_motions(label):
        measured = measure_facts(item.joints, FPS)
        if "direction" in item.facts:
            assert same_direction(item.facts["direction"], measured["direction"]), item.id
        for key in ("turn", "start_posture", "end_posture"):
            if key in item.facts:
                assert item.facts[key] == measured[key], f"{item.id}: {key}"
        if "turn_deg" in item.facts:
            assert item.facts["turn_deg"] == pytest.approx(measured["turn_deg"], abs=10.0)
        if "speed_mps" in item.facts:
            assert item.facts["speed_mps"] == pytest.approx(measured["speed_mps"], abs=0.01)
        if "turn" not in item.facts:
            assert measured["turn"] is None, f"{item.id} turns {measured['turn_deg']:.0f} deg unannounced"


@pytest.mark.parametrize("label, speed, cadence", [
    ("walk", (0.38, 1.62), (1.1, 2.5)), ("jog", (1.78, 3.42), (2.3, 3.2)), ("walk_backward", (0.4, 1.0), (1.4, 2.0)),
    ("side_step", (0.15, 0.6), (1.4, 1.9)), ("walk_circle", (0.7, 1.3), (1.6, 2.5)),
    ("walk_away_and_back", (0.38, 1.62), (1.1, 2.5)), ("walk_across", (0.38, 1.62), (1.1, 2.5)),
])
def test_locomotion_speeds_and_cadences_are_human(label, speed, cadence):
    for item in all_motions(label):
        j = item.joints.astype(float)
        top, held = steady_gait(j)
        assert speed[0] <= top <= speed[1], item.id
        # in steady gait for at least most of a step even where a jog has 2 m to speed along and stop
        assert held * item.facts["cadence_steps_per_s"] >= 0.8, f"{item.id}: {held:.2f} s at speed"
        assert cadence[0] <= item.facts["cadence_steps_per_s"] <= cadence[1]
        landings = sorted(i + 1 for toe in TOES for i in np.flatnonzero(
            (j[:-1, toe, 1] >= CONTACT_M) & (j[1:, toe, 1] < CONTACT_M)))
        if len(landings) >= 4:  # steps per second between the first and the last landing
            measured = (len(landings) - 1) / ((landings[-1] - landings[0]) / FPS)
            assert measured == pytest.approx(item.facts["cadence_steps_per_s"], rel=0.12), item.id


@pytest.mark.parametrize("label", ["jump_in_place", "jump_forward", "jumping_jacks"])
def test_flight_is_ballistic(label):
    for item in all_motions(label):
        j = item.joints.astype(float)
        runs = flights(j)
        per_rep = 2 if label == "jumping_jacks" else 1
        assert len(runs) == per_rep * item.facts["repetitions"], item.id
        for run in runs:
            if len(run) >= 4:
                t = run / FPS
                curvature = np.polyfit(t, hip_centre(j)[run, 1], 2)[0]
                assert 2 * curvature == pytest.approx(-9.81, abs=0.15), item.id


def dips(height: np.ndarray) -> int:
    """Times a height drops most of the way from where it started to its lowest, and comes back."""
    drop = height[0] - height.min()
    assert drop > 0.03
    return events(-height, -(height[0] - 0.6 * drop), -(height[0] - 0.3 * drop))


def punches(j: np.ndarray, side: str) -> int:
    """Times a wrist shoots out in front of its shoulder, nearly a whole arm's length (the person faces +z)."""
    s, e, w = (JOINT[f"{side}_{n}"] for n in ("shoulder", "elbow", "wrist"))
    arm = np.linalg.norm(j[0, s] - j[0, e]) + np.linalg.norm(j[0, e] - j[0, w])
    return events(j[:, w, 2] - j[:, s, 2], 0.65 * arm, 0.5 * arm)  # the guard holds fists ~0.4 arm ahead


COUNTERS = {
    "squat": lambda j, it: dips(hip_centre(j)[:, 1]),
    "clap": lambda j, it: events(-np.linalg.norm(j[:, JOINT["left_wrist"]] - j[:, JOINT["right_wrist"]], axis=-1),
                                 -0.12, -0.2),
    "kick": lambda j, it: events(j[:, JOINT[f"{it.facts['limbs'][0].split('_')[0]}_ankle"], 1], 0.3, 0.15),
    "punch": lambda j, it: sum(punches(j, s) for s in ("left", "right") if f"{s}_arm" in it.facts["limbs"]),
    "bow": lambda j, it: dips(j[:, JOINT["head"], 1]),
    "march_in_place": lambda j, it: sum(events(j[:, t, 1], 0.06, CONTACT_M) for t in TOES),
}


@pytest.mark.parametrize("label", sorted(COUNTERS))
def test_repetitions_match_the_joints(label):
    for item in all_motions(label):
        counted = COUNTERS[label](item.joints.astype(float), item)
        assert counted == item.facts["repetitions"], item.id


@pytest.mark.parametrize("label", ["wave", "raise_arms", "pick_up"])
def test_the_declared_hand_does_the_work(label):
    for item in all_motions(label):
        j = item.joints.astype(float)
        travel = {s: np.linalg.norm(np.diff(j[:, JOINT[f"{s}_wrist"]] - j[:, JOINT[f"{s}_shoulder"]], axis=0),
                                    axis=-1).sum() for s in ("left", "right")}  # path of the hand around its shoulder
        hand = item.facts["hand"]
        if hand == "both":
            assert min(travel.values()) > 0.5 * max(travel.values()), item.id
        else:
            other = "right" if hand == "left" else "left"
            assert travel[hand] > 2 * travel[other], item.id


def test_only_the_declared_hand_punches():
    for item in all_motions("punch"):
        j = item.joints.astype(float)
        idle = [s for s in ("left", "right") if f"{s}_arm" not in item.facts["limbs"]]
        assert all(punches(j, s) == 0 for s in idle), item.id


def test_the_declared_leg_kicks():
    for item in all_motions("kick"):
        j = item.joints.astype(float)
        leg = item.facts["limbs"][0].split("_")[0]
        other = "right" if leg == "left" else "left"
        assert j[:, JOINT[f"{leg}_ankle"], 1].max() > 0.35
        assert j[:, JOINT[f"{other}_foot"], 1].max() < CONTACT_M  # the standing foot never leaves the floor


# ---------------------------------------------------------------- the capture area

@pytest.mark.parametrize("label", CLASSES)
def test_every_class_stays_inside_the_capture_area(label):
    for seed in SEEDS:
        assert overreach(motion(label, seed).joints, Area()) <= 0.0, motion(label, seed).id
        assert overreach(motion(label, seed, TIGHT).joints, TIGHT) <= 0.0, motion(label, seed, TIGHT).id


def test_default_area_and_smallest_area():
    assert Area() == Area(forward_m=2.0, backward_m=3.0, side_m=2.0)  # docs/contracts.md: the radar 3 m ahead
    assert MIN_AREA == TIGHT  # so the tests above cover the tightest area a config may ask for


@pytest.mark.parametrize("label", TRAVELS)
def test_travel_in_the_smallest_area_is_still_true_to_its_facts(label):
    for seed in SEEDS:
        item = motion(label, seed, TIGHT)
        j = item.joints.astype(float)
        measured = measure_facts(j, FPS)
        if "direction" in item.facts:
            assert same_direction(item.facts["direction"], measured["direction"]), item.id
        for key in ("turn", "end_posture"):
            if key in item.facts:
                assert item.facts[key] == measured[key], f"{item.id}: {key}"
        if "speed_mps" in item.facts:
            assert item.facts["speed_mps"] == pytest.approx(measured["speed_mps"], abs=0.01)
        for toe in TOES:  # planted feet hold still however short the run-up
            both = (j[:-1, toe, 1] < CONTACT_M) & (j[1:, toe, 1] < CONTACT_M)
            assert (np.linalg.norm(np.diff(j[:, toe][:, [0, 2]], axis=0), axis=-1)[both] * FPS < 0.1).all(), item.id
        limit = 160.0 if label in FAST else 100.0
        assert (np.linalg.norm(np.diff(j, 2, axis=0), axis=-1) * FPS**2).max() < limit, item.id


def test_travel_plans_keep_the_path_and_the_next_footfall_in_the_room():
    gait = Gait(cadence=1.8, duty=0.6, lift=0.07, half_width=0.1)
    t = np.arange(0.0, 15.0, 0.002)
    for v, room in ((0.6, 2.9), (1.3, 1.0), (1.3, 1.8), (2.6, 1.8), (2.6, 0.9)):
        for k, asked in enumerate(np.arange(2.0, 7.0, 0.05)):  # every way a clip can end against the room
            scene = Scene(Body.from_height(1.75), float(asked), np.random.default_rng(k))
            start, stop = _travel(scene, v, room, gait, p_running_start=0.5, p_stop=0.5)
            assert 2.0 <= scene.duration <= asked
            speed = speed_profile(v, start, stop)(t)
            covered = np.concatenate([[0.0], np.cumsum((speed[1:] + speed[:-1]) * 0.001)])  # from the first frame
            # a foot lifting at the last frame lands where the hips will be gait.lookahead_s later
            assert np.interp(scene.duration + gait.lookahead_s, t, covered) <= room + 1e-3, (v, room, asked)
            if np.isfinite(stop):
                assert covered[-1] <= room + 1e-3 and speed[t >= stop].max() == 0.0
            if scene.duration < asked:  # cut short only to end soon after the person stops
                assert stop + 0.8 <= scene.duration <= max(stop + 1.4, 2.0)


def test_a_walk_stops_where_the_area_ends_and_walks_on_in_a_bigger_one():
    for speed in ((1.2, 1.5), (0.4, 0.5)):
        near = generate("walk", 0, seed=1, duration_s=(9.5, 10.0), walk_speed_mps=speed)
        far = generate("walk", 0, seed=1, duration_s=(9.5, 10.0), area=Area(forward_m=20.0), walk_speed_mps=speed)
        # stopped within 2 m, and the clip ends soon after: 2 m at the speed, speeding up, slowing down, standing
        assert len(near.joints) / FPS < 2.0 / speed[0] + 2.5 and end_speed(near.joints) < 0.1
        assert near.joints[:, JOINT["pelvis"], 2].max() < 2.0 - 0.1
        assert 9.5 <= len(far.joints) / FPS <= 10.0 and far.joints[-1, JOINT["pelvis"], 2] > 8.0 * speed[0]


@pytest.mark.parametrize("label", TRAVELS)
def test_captions_say_stops_only_when_the_person_stops(label):
    for seed in SEEDS:
        for span in ((4.0, 8.0), (2.0, 2.5)):
            item = generate(label, seed, seed=item_seed(seed, label, 1), duration_s=span)
            said = any("stop" in c.lower() for c in item.captions)
            if said:
                assert end_speed(item.joints) < 0.1, f"{item.id}: {item.captions}"
            if end_speed(item.joints) > 0.3:
                assert not said, f"{item.id}: {item.captions}"


def test_a_jog_runs_up_before_the_clip_and_stops_inside_it():
    for seed in SEEDS:
        item = motion("jog", seed)
        j = item.joints.astype(float)
        top, _ = steady_gait(j)
        assert steady_gait(j[:6])[0] > 0.95 * top and end_speed(j) < 0.1, item.id  # at speed from the start
        assert 2.0 <= len(j) / FPS <= 3.0, item.id  # 2 m of jogging and stopping, then the clip ends
        # only two of the phrasings leave the stop out, and at least three are picked
        assert any("stop" in c.lower() for c in item.captions), item.captions


# ---------------------------------------------------------------- captions

NUMBERS = {w: i for i, w in enumerate(("zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                                       "nine", "ten", "eleven", "twelve"))} | {"once": 1, "twice": 2}


def counts_in(caption: str) -> list[int]:
    """Counts a caption states, leaving out angles ('90 degrees')."""
    words = re.findall(r"[a-z]+|\d+", caption.lower())
    found = []
    for i, w in enumerate(words):
        if (w.isdigit() or w in NUMBERS) and not (i + 1 < len(words) and words[i + 1] == "degrees"):
            found.append(int(w) if w.isdigit() else NUMBERS[w])
    return found


def test_counts_in_captions_are_read_as_words_and_digits():
    assert counts_in("A person waves the left hand three times.") == [3]
    assert counts_in("Someone claps 7 times.") == [7]
    assert counts_in("A person turns 90 degrees to the left once.") == [1]


@pytest.mark.parametrize("label", CLASSES)
def test_captions_agree_with_the_facts(label):
    for item in all_motions(label):
        facts, text = item.facts, [c.lower() for c in item.captions]
        sides = [facts.get("hand"), facts.get("turn"), facts.get("direction")]
        sides += [limb.split("_")[0] for limb in facts.get("limbs", []) if len(facts["limbs"]) == 1]
        for side in {s for s in sides if s in ("left", "right")}:
            other = "right" if side == "left" else "left"
            assert all(other not in c for c in text), f"{item.id}: says {other}: {item.captions}"
            assert any(side in c for c in text), f"{item.id}: never says {side}: {item.captions}"
        if facts.get("turn") == "left":
            assert all(re.search(r"(?<!counter)clockwise", c) is None for c in text), item.captions
        for c in text:
            for n in counts_in(c):
                assert n == facts.get("repetitions"), f"{item.id}: '{c}' vs {facts.get('repetitions')}"
        if facts.get("direction") in ("forward", "backward"):
            way, opposite = ("forward", "backward") if facts["direction"] == "forward" else ("backward", "forward")
            assert any(way in c for c in text) and all(opposite not in c for c in text), item.captions


# ---------------------------------------------------------------- determinism and configuration

def test_generation_is_deterministic():
    a, b = generate("jog", 3, seed=42), generate("jog", 3, seed=42)
    assert np.array_equal(a.joints, b.joints) and a.captions == b.captions and a.facts == b.facts
    assert not np.array_equal(a.joints[:10], generate("jog", 3, seed=43).joints[:10])


def library(seed: int, **cfg) -> list[MotionItem]:
    return list(generate_library(validate_section(ProceduralConfig, cfg, "motion.procedural"), seed))


def test_each_motion_seed_depends_only_on_its_own_class_and_number():
    alone = library(5, motions_per_class=2, classes=["clap"])
    mixed = library(5, motions_per_class=2, classes=["walk", "clap"])
    assert [m.id for m in mixed] == ["proc_walk_000", "proc_walk_001", "proc_clap_000", "proc_clap_001"]
    for x, y in zip(alone, mixed[2:]):
        assert x.id == y.id and np.array_equal(x.joints, y.joints) and x.captions == y.captions
    assert alone[1].origin == f"procedural:clap:seed={item_seed(5, 'clap', 1)}"
    assert not np.array_equal(alone[0].joints, library(6, motions_per_class=1, classes=["clap"])[0].joints)


@pytest.mark.parametrize("label", CLASSES)
def test_short_and_long_clips(label):
    for seed, span in ((0, (2.0, 2.0)), (1, (2.0, 2.5)), (2, (10.0, 10.0))):
        item = generate(label, 0, seed=seed, duration_s=span)
        seconds = len(item.joints) / FPS
        assert 2.0 <= seconds <= 10.0 and overreach(item.joints, Area()) <= 0.0, item.id
        if span[1] < 3:  # as long as the class needs (walking away and back: 7.5 s)
            assert seconds <= max(4.0, SPECS[label].min_duration)
        elif seconds < 9.9:  # cut short only after a travelling person has stopped at the edge of the area
            assert SPECS[label].travels and end_speed(item.joints) < 0.1, item.id
        measured = measure_facts(item.joints, FPS)
        assert all(item.facts[k] == measured[k] for k in ("start_posture", "end_posture")), item.id
        if "direction" in item.facts:
            assert same_direction(item.facts["direction"], measured["direction"]), item.id


def test_library_follows_the_config():
    items = library(0, motions_per_class=1, classes="all", duration_s=[2, 2.5], body_height_m=[1.6, 1.6])
    assert [m.label for m in items] == list(CLASSES)
    for m in items:
        assert 2.0 <= len(m.joints) / FPS <= 10.0 and m.facts["body_height_m"] == pytest.approx(1.6)
    long = generate("wave", 0, seed=1, duration_s=(9.5, 10.0))
    assert 9.5 <= len(long.joints) / FPS <= 10.0
    walks = library(0, motions_per_class=3, classes=["walk"], area={"forward_m": 1.2})
    assert all(overreach(m.joints, Area(forward_m=1.2)) <= 0.0 for m in walks)
    assert max(m.joints[:, JOINT["pelvis"], 2].max() for m in walks) < 1.2 - 0.1
    assert library(0, motions_per_class=0) == []


@pytest.mark.parametrize("cfg, message", [
    ({"classes": ["walk", "moonwalk"]}, "motion.procedural.classes: unknown class 'moonwalk' (valid: walk, jog, "),
    ({"classes": "everything"}, "motion.procedural.classes: expected 'all' or a list of labels, got 'everything'"),
    ({"motions_per_class": -1}, "motion.procedural.motions_per_class: Input should be greater than or equal to 0"),
    ({"motions_per_class": 2.5}, "motion.procedural.motions_per_class: Input should be a valid integer"),
    ({"duration_s": [1, 5]}, "motion.procedural.duration_s: need 2 <= min <= max <= 10, got [1, 5]"),
    ({"duration_s": [6, 4]}, "motion.procedural.duration_s: need 2 <= min <= max <= 10, got [6, 4]"),
    ({"duration_s": 5}, "motion.procedural.duration_s: Input should be a valid tuple"),
    ({"body_height_m": [0.5, 1.8]}, "motion.procedural.body_height_m: need 1.2 <= min <= max <= 2.2, got [0.5, 1.8]"),
    ({"walk_speed_mps": [0.1, 1.2]}, "motion.procedural.walk_speed_mps: need 0.3 <= min <= max <= 2, got [0.1, 1.2]"),
    ({"walk_speed_mps": [1.4, 0.8]}, "motion.procedural.walk_speed_mps: need 0.3 <= min <= max <= 2, got [1.4, 0.8]"),
    ({"walk_speed_mps": 1.2}, "motion.procedural.walk_speed_mps: Input should be a valid tuple"),
    ({"jog_speed_mps": [2.0, 6.0]}, "motion.procedural.jog_speed_mps: need 1.5 <= min <= max <= 4, got [2, 6]"),
    ({"jog_speed_mps": ["slow", 3]}, "motion.procedural.jog_speed_mps.0: Input should be a valid number"),
    ({"area": {"forward_m": 0.5}}, "motion.procedural.area.forward_m: Input should be greater than or equal to 1.2"),
    ({"area": {"side_m": "wide"}}, "motion.procedural.area.side_m: Input should be a valid number"),
    ({"area": {"up_m": 3.0}}, "motion.procedural.area.up_m: unknown key (valid: backward_m, forward_m, side_m)"),
    ({"area": 2.0}, "motion.procedural.area: Input should be a valid dictionary"),
])
def test_config_errors_name_the_problem(cfg, message):
    with pytest.raises(ParamsError) as err:
        library(0, **cfg)
    assert str(err.value).startswith(f"params.yaml: {message}") and "\n" not in str(err.value)


def test_the_config_accepts_the_smallest_area():
    assert validate_section(ProceduralConfig, {"area": vars(MIN_AREA)}, "motion.procedural").area.area() == MIN_AREA


def test_unknown_label_is_rejected():
    with pytest.raises(ValueError, match="'fly'.*walk"):
        generate("fly", 0, seed=0)


# ---------------------------------------------------------------- building blocks against known answers

def test_minjerk_and_keyframes():
    x = np.linspace(0, 1, 101)
    y = minjerk(x)
    assert y[0] == 0 and y[-1] == 1 and y[50] == pytest.approx(0.5)
    assert np.gradient(y, x)[[0, -1]] == pytest.approx([0, 0], abs=2e-3)
    t = np.array([0.0, 1.0, 1.5, 2.0, 3.0])
    assert keyframes(t, [1.0, 2.0], [[0.0, 2.0], [4.0, -2.0]]) == pytest.approx(
        np.array([[0, 2], [0, 2], [2, 0], [4, -2], [4, -2]]))


def test_quintic_meets_its_end_conditions_and_reproduces_a_parabola():
    t = np.linspace(0.2, 0.7, 101)
    poly = np.poly1d(np.polyfit(t - 0.2, quintic(t, 0.2, 0.7, (1.0, 2.0, -3.0), (0.5, -1.0, 4.0)), 5))
    for derivative, (start, end) in enumerate([(1.0, 0.5), (2.0, -1.0), (-3.0, 4.0)]):
        assert np.polyder(poly, derivative)([0.0, 0.5]) == pytest.approx([start, end], abs=1e-6)
    ball = hermite_track(t, [(0.2, 0.0, 3.0, -9.81), (0.7, 3.0 * 0.5 - 9.81 * 0.125, 3.0 - 9.81 * 0.5, -9.81)])
    assert ball == pytest.approx(3.0 * (t - 0.2) - 0.5 * 9.81 * (t - 0.2) ** 2, abs=1e-9)


def test_two_bone_ik_is_exact_and_bends_towards_the_pole():
    rng = np.random.default_rng(0)
    root, target = rng.normal(size=(50, 3)), rng.normal(size=(50, 3))
    mid, end = two_bone_ik(root, target, 0.45, 0.4, np.tile([0.0, 0.0, 1.0], (50, 1)))
    assert np.linalg.norm(mid - root, axis=-1) == pytest.approx(np.full(50, 0.45))
    assert np.linalg.norm(end - mid, axis=-1) == pytest.approx(np.full(50, 0.4))
    reachable = np.linalg.norm(target - root, axis=-1) < 0.85
    assert end[reachable] == pytest.approx(target[reachable])
    mid, end = two_bone_ik(np.zeros((1, 3)), np.array([[0.0, -0.6, 0.0]]), 0.4, 0.4, np.array([[0.0, 0.0, 1.0]]))
    assert mid[0] == pytest.approx([0.0, -0.3, np.sqrt(0.4**2 - 0.3**2)])  # a knee bending forward


def test_arm_angles():
    body = Body.from_height(1.75)
    out, _ = arm_target(body, np.radians(90.0), np.radians(90.0), 0.0)  # straight out to the side
    assert out == pytest.approx([body.arm, 0.0, 0.0], abs=1e-9)
    up, _ = arm_target(body, np.pi, 0.0, 0.0)
    assert up == pytest.approx([0.0, body.arm, 0.0], abs=1e-9)
    bent, pole = arm_target(body, 0.0, 0.0, np.radians(90.0))  # hanging, forearm forward
    assert bent == pytest.approx([0.0, -body.upper_arm, body.forearm], abs=1e-9)
    assert pole == pytest.approx([0.0, 0.0, -1.0], abs=1e-9)  # so the elbow points back


def test_speed_profile_covers_the_distance_its_ramps_allow():
    t = np.arange(0.0, 8.0, 0.001)
    speed = speed_profile(1.5, 1.0, 5.0, accel_s=0.8, decel_s=0.5)(t)
    assert np.trapezoid(speed, t) == pytest.approx(1.5 * (5.0 - 1.0 - (0.8 + 0.5) / 2), rel=1e-4)
    assert speed[t < 1.0].max() == 0.0 and speed[(t > 1.8) & (t < 4.5)].min() == pytest.approx(1.5)
    assert speed[t >= 5.0].max() == 0.0 and speed[(t > 4.5) & (t < 5.0)].min() > 0.0  # slows over the last 0.5 s
    under_way = speed_profile(2.0, -np.inf, 1.0, decel_s=0.6)(t)
    assert under_way[0] == 2.0 and np.trapezoid(under_way, t) == pytest.approx(2.0 * (1.0 - 0.3), rel=1e-4)


def test_cruise_is_a_gentle_start_and_stop():
    x = np.linspace(0, 1, 2001)
    y = cruise(x)
    speed = np.gradient(y, x)
    assert (y[0], y[-1]) == (0.0, 1.0) and np.all(np.diff(y) >= 0)
    assert speed[[0, -1]] == pytest.approx([0, 0], abs=1e-3)
    assert speed.max() == pytest.approx(1 / (1 - CRUISE_RISE), rel=0.01)  # flatter than minimum jerk's 1.875
