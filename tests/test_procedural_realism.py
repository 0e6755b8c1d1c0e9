"""Motion realism of the procedural library against known answers: walking and jogging speeds from the config,
the speed-cadence relation, walking away and back and across, repeated hops, hand speeds."""
from __future__ import annotations

import numpy as np
import pytest
from test_procedural import CONTACT_M, TIGHT, TOES, end_speed, flights, steady_gait

from tasks.common.config import validate_section
from tasks.common.seeds import item_seed
from tasks.common.skeleton import FPS, JOINT, headings
from tasks.motion.config import ProceduralConfig
from tasks.motion.facts import measure_facts
from tasks.motion.item import MotionItem
from tasks.motion.procedural import generate, generate_library
from tasks.motion.procedural.body import Body
from tasks.motion.procedural.captions import _pace
from tasks.motion.procedural.locomotion import step_rate
from tasks.motion.procedural.scene import Scene
from tasks.qa.claims import check
from tasks.qa.facts import fact_lines
from tasks.qa.kinematics import motion_facts, vertical_facts

SEEDS = range(6)
WALKS = ("walk", "walk_away_and_back", "walk_across")


def make(label: str, seed: int, **kwargs) -> MotionItem:
    return generate(label, seed, seed=item_seed(seed, label, 2), **kwargs)


def pelvis_xz(item: MotionItem) -> np.ndarray:
    return item.joints[:, JOINT["pelvis"]][:, [0, 2]].astype(float)


def landings(j: np.ndarray) -> list[int]:
    """Frames at which a foot joint comes down onto the floor."""
    return sorted(i + 1 for toe in TOES
                  for i in np.flatnonzero((j[:-1, toe, 1] >= CONTACT_M) & (j[1:, toe, 1] < CONTACT_M)))


def peak_wrist_speed(j: np.ndarray) -> float:
    wrists = j[:, [JOINT["left_wrist"], JOINT["right_wrist"]]].astype(float)
    return float((np.linalg.norm(np.diff(wrists, axis=0), axis=-1) * FPS).max())


# ---------------------------------------------------------------- speeds from the config

@pytest.mark.parametrize("label", WALKS)
@pytest.mark.parametrize("speed", [(0.4, 0.4), (0.8, 1.0), (1.5, 1.6)])
def test_walks_go_at_the_configured_speed(label, speed):
    for seed in SEEDS:
        item = make(label, seed, walk_speed_mps=speed)
        top, _ = steady_gait(item.joints.astype(float))  # the pelvis's steady speed, sway smoothed out
        assert speed[0] - 0.03 <= top <= speed[1] + 0.03, f"{item.id}: {top:.2f} m/s"


@pytest.mark.parametrize("speed", [(1.8, 1.8), (2.4, 2.8)])
def test_jogs_go_at_the_configured_speed(speed):
    for seed in SEEDS:
        item = make("jog", seed, jog_speed_mps=speed)
        top, _ = steady_gait(item.joints.astype(float))
        assert speed[0] - 0.05 <= top <= speed[1] + 0.05, f"{item.id}: {top:.2f} m/s"


def test_the_configured_ranges_reach_the_library():
    cfg = validate_section(ProceduralConfig, {"motions_per_class": 4, "classes": ["walk", "jog"],
                                              "walk_speed_mps": [0.5, 0.5], "jog_speed_mps": [2.0, 2.0]},
                           "motion.procedural")
    for item in generate_library(cfg, 3):
        want = 0.5 if item.label == "walk" else 2.0
        assert steady_gait(item.joints.astype(float))[0] == pytest.approx(want, abs=0.05), item.id


# ---------------------------------------------------------------- gait: cadence and step length with speed

class MeanRng:
    """A random stream that always gives the mean: the person of average step length."""

    def normal(self, mean: float, sd: float) -> float:
        return mean


def test_step_rate_follows_alexanders_relation():
    body = Body.from_height(1.75)
    scene = Scene(body, 5.0, MeanRng())  # type: ignore[arg-type]
    hip = body.leg + body.ankle_height
    for v in (0.4, 0.8, 1.3, 1.6, 2.5, 3.4):
        stride = 2 * v / step_rate(scene, v)
        # Alexander (1976): v = 0.25 g^0.5 stride^1.67 h^-1.17 (exponents rounded in the paper)
        assert 0.25 * 9.81**0.5 * stride**1.67 * hip**-1.17 == pytest.approx(v, rel=0.02)
    assert 1.2 <= step_rate(scene, 0.4) <= 1.4 and 0.28 <= 0.4 / step_rate(scene, 0.4) <= 0.34  # short slow steps
    assert 1.9 <= step_rate(scene, 1.3) <= 2.1
    assert step_rate(scene, 1.6) / step_rate(scene, 0.4) == pytest.approx(4.0**0.4)


def test_cadence_and_step_length_grow_with_speed():
    for seed in SEEDS:  # the same person (same seed) at five speeds
        walks = [make("walk", seed, walk_speed_mps=(v, v), duration_s=(9.0, 9.0)) for v in (0.4, 0.7, 1.0, 1.3, 1.6)]
        cadences = [w.facts["cadence_steps_per_s"] for w in walks]
        steps = [v / f for v, f in zip((0.4, 0.7, 1.0, 1.3, 1.6), cadences)]
        assert np.all(np.diff(cadences) > 0) and np.all(np.diff(steps) > 0), (cadences, steps)
        assert 1.1 <= cadences[0] <= 1.5 and 1.75 <= cadences[3] <= 2.35, cadences
        for w in walks:  # the feet land at the declared cadence
            j = w.joints.astype(float)
            down = landings(j)
            measured = (len(down) - 1) / ((down[-1] - down[0]) / FPS)
            assert measured == pytest.approx(w.facts["cadence_steps_per_s"], rel=0.1), w.id


def test_arms_swing_less_when_walking_slowly():
    for seed in SEEDS:
        swing = []
        for v in (0.4, 1.3):
            j = make("walk", seed, walk_speed_mps=(v, v), duration_s=(9.0, 9.0)).joints.astype(float)
            speed = np.linalg.norm(np.diff(j[:, JOINT["pelvis"], [0, 2]], axis=0), axis=-1) * FPS
            steady = np.flatnonzero(np.convolve(speed, np.ones(5) / 5, mode="same") > 0.9 * v)
            ahead = j[steady, JOINT["left_wrist"], 2] - j[steady, JOINT["pelvis"], 2]  # walking along +z
            swing.append(np.ptp(ahead))
        assert swing[0] < 0.6 * swing[1], swing


def test_pace_words_follow_the_speed():
    words = {v: _pace(v) for v in (0.4, 0.9, 1.2, 1.5)}
    assert len({w for said in words.values() for w in said}) == 12  # four different sets of words
    for label in WALKS:
        for v, own in words.items():
            for seed in SEEDS:
                item = make(label, seed, walk_speed_mps=(v, v))
                for caption in item.captions:
                    rest = caption.lower()
                    for w in own:  # "very slowly" contains a slower pace's "slowly"
                        rest = rest.replace(w, "")
                    said = [w for other, ws in words.items() if other != v for w in ws if w in rest]
                    assert not said, f"{item.id} at {v} m/s: {caption}"


# ---------------------------------------------------------------- walking away and back, walking across

def test_walking_away_and_back_turns_round_twice_and_comes_back():
    for area in (None, TIGHT):
        for seed in SEEDS:
            item = make("walk_away_and_back", seed, **({"area": area} if area else {}))
            j = item.joints.astype(float)
            xz, yaw = pelvis_xz(item), np.degrees(headings(j))
            sign = 1 if item.facts["turn"] == "left" else -1
            assert -xz[:, 1].min() >= (0.5 if area else 0.7), item.id  # away from the radar, along -z
            vz = np.gradient(xz[:, 1]) * FPS  # walking away and back: facing -z, then +z again
            away, back = int(np.argmin(vz)), int(np.argmax(vz))
            assert away < back and vz[away] < -0.3 and vz[back] > 0.3, item.id
            assert abs(yaw[away] - sign * 180) < 20 and abs(yaw[back] - sign * 360) < 20, item.id
            assert abs(yaw[-1] - sign * 360) < 12 and item.facts["turn_deg"] == pytest.approx(yaw[-1], abs=10)
            assert np.hypot(*xz[-1]) < 0.3 and end_speed(j) < 0.1, item.id  # back where they started, stopped
            for half in (0, 1):  # each half turn takes about 1-1.5 s: a minimum-jerk turn is at 10-90 % in 0.51 of it
                done = sign * (yaw - yaw[0]) / 180.0 - half
                took = (np.argmax(done > 0.9) - np.argmax(done > 0.1)) / FPS / 0.507
                assert 0.85 <= took <= 1.65, f"{item.id}: half turn {half} in {took:.2f} s"
            top, _ = steady_gait(j)
            assert 0.37 <= top <= 1.63, item.id


def test_walking_across_goes_sideways_facing_the_way():
    for area in (None, TIGHT):
        for seed in SEEDS:
            item = make("walk_across", seed, **({"area": area} if area else {}))
            j = item.joints.astype(float)
            xz, yaw = pelvis_xz(item), headings(j)
            sign = 1 if item.facts["direction"] == "left" else -1  # the person's left is +x
            assert item.facts["turn"] == item.facts["direction"]
            assert sign * xz[-1, 0] >= 0.5 and abs(xz[-1, 1]) <= 0.15 * abs(xz[-1, 0]), f"{item.id}: ends at {xz[-1]}"
            assert np.degrees(yaw[-1]) == pytest.approx(sign * 90, abs=10)
            vel = np.gradient(xz, axis=0) * FPS
            moving = np.linalg.norm(vel, axis=-1) > 0.7 * steady_gait(j)[0]
            facing = np.stack([np.sin(yaw), np.cos(yaw)], axis=-1)
            cos = np.sum(vel * facing, axis=-1) / np.linalg.norm(vel, axis=-1).clip(1e-9)
            assert cos[moving].min() > np.cos(np.radians(20)), item.id  # walks the way they face


def test_the_fact_sheet_and_checks_read_the_new_routes():
    item = make("walk_away_and_back", 1)
    facts = {**measure_facts(item.joints, FPS), **item.facts}
    motion = motion_facts(item.joints, float(FPS), facts)
    lines = fact_lines({"label": item.label, "captions": item.captions, "motion": motion, "imu": {}, "radar": {}},
                       ["travel", "turn"])
    path, end = f"{motion['path_length_m']:.1f}", f"{motion['distance_m']:.1f}"
    assert lines["travel"] == f"away and back ({path} m along the path), ending {end} m from the start"
    assert lines["turn"] == f"360° to the {item.facts['turn']}"
    pair = {"label": item.label, "captions": item.captions, "motion": motion, "imu": {},
            "radar": {"movement": "recedes then approaches"}}
    q = "What does the person do?"
    assert check(q, "The person walks forward, turns around and walks back.", pair).reason is None
    assert check(q, "The person walks away from the radar and then toward it.", pair).reason is None
    assert "backward" in check(q, "The person walks backward.", pair).reason
    across = {**pair, "label": "walk_across", "captions": ["A person walks across the room."]}
    assert "jump" in check(q, "The person is doing a jump.", across).reason


# ---------------------------------------------------------------- repeated hops

def test_hops_come_at_a_human_cadence_and_are_counted():
    kinds = set()
    for seed in range(24):
        item = make("jump_in_place", seed)
        j = item.joints.astype(float)
        runs = flights(j)
        hopping = any(w in c.lower() for c in item.captions for w in ("hop", "bounce", "small jump"))
        kinds.add(hopping)
        assert len(runs) == item.facts["repetitions"] == vertical_facts(j, FPS)["flights"], item.id
        airborne = np.mean([len(r) for r in runs]) / FPS
        assert (airborne < 0.3) == hopping, f"{item.id}: {airborne:.2f} s in the air, captions {item.captions}"
        if hopping:
            starts = np.array([r[0] for r in runs]) / FPS
            rate = (len(starts) - 1) / (starts[-1] - starts[0])
            assert len(runs) >= 3 and 1.45 <= rate <= 2.55, f"{item.id}: {len(runs)} hops at {rate:.2f}/s"
            rise = j[:, JOINT["pelvis"], 1].max() - j[0, JOINT["pelvis"], 1]
            assert 0.03 <= rise <= 0.15, f"{item.id}: hips rise {rise:.2f} m"
    assert kinds == {True, False}  # both big jumps and hops among the motions


# ---------------------------------------------------------------- hand speeds

@pytest.mark.parametrize("label, low, high", [
    ("punch", 3.0, 6.0), ("boxing", 3.0, 6.0), ("wave", 1.0, 2.1), ("clap", 1.9, 3.1), ("raise_arms", 1.5, 3.6),
    ("stretch", 1.5, 3.6),
])
def test_hands_move_at_human_speeds(label, low, high):
    for seed in range(12):
        item = make(label, seed)
        peak = peak_wrist_speed(item.joints)
        assert low <= peak <= high, f"{item.id}: wrist peaks at {peak:.2f} m/s"


def test_a_punch_is_fastest_going_out():
    for seed in range(8):
        j = make("punch", seed).joints.astype(float)
        for side in ("left", "right"):
            w = j[:, JOINT[f"{side}_wrist"]]
            v = np.diff(w, axis=0) * FPS
            fastest = int(np.argmax(np.linalg.norm(v, axis=-1)))
            if np.linalg.norm(v[fastest]) > 3.0:  # a punching hand: at its fastest it moves forward (+z)
                assert v[fastest, 2] > 0.7 * np.linalg.norm(v[fastest]), (seed, side)
