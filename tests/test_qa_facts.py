"""Grounding facts of the qa stage: trend text, repetitions and laterality, radar facts, fact sheets, prompts."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from motion_bodies import STANDING, straight

from tasks.common.motions import load_manifest
from tasks.common.skeleton import JOINT
from tasks.motion.facts import measure_facts
from tasks.motion.procedural import generate
from tasks.motion.stage import MANIFEST_SCHEMA
from tasks.qa.config import sample_categories
from tasks.qa.facts import SheetConfig, fact_lines, fact_sheet, ground_facts, manifest_fields
from tasks.qa.kinematics import KinematicsConfig, estimate_repetitions, motion_facts
from tasks.qa.prompts import PromptError, Prompts
from tasks.qa.radar import RadarFactConfig, radar_facts
from tasks.qa.trends import describe, segment_trends
from tasks.simulate.config import SimulateConfig
from tasks.simulate.signals import simulate_motion

FPS = 20
# a small radar keeps each simulated motion well under a second (as in the simulate stage's tests)
SMALL = SimulateConfig.from_params({
    "device": "cpu",
    "radar": {"n_chirps": 16, "n_samples": 64, "max_range_m": 4.0, "n_angle": 32, "scatterers_per_m": 5},
    "imu": {"rate_hz": 50},
})


def test_a_ramp_rises_a_sine_oscillates_a_constant_is_steady():
    t = np.linspace(0.0, 4.0, 201)
    ramp = segment_trends(t, 9.8 + 2.0 * t, min_change=0.5)
    assert [s.shape for s in ramp] == ["rises"]
    assert "rises sharply from 9.8 to 18 until 4.0 s" in describe("pelvis acceleration", "m/s²", ramp)
    sine = segment_trends(t, 9.8 + 3.0 * np.sin(2 * np.pi * 2.0 * t), min_change=0.5)
    assert [s.shape for s in sine] == ["oscillates"]
    assert describe("x", "m/s²", sine).startswith("The x (m/s²) oscillates between")
    assert [s.shape for s in segment_trends(t, np.full_like(t, 9.81), min_change=0.5)] == ["steady"]


def test_a_still_start_then_a_ramp_reads_in_order():
    t = np.linspace(0.0, 4.0, 201)
    x = np.where(t < 2.0, 9.8, 9.8 + 4.0 * (t - 2.0))
    text = describe("left-wrist acceleration", "m/s²", segment_trends(t, x, min_change=0.5))
    assert text.startswith("The left-wrist acceleration (m/s²) stays near 9.8 until 2.0 s, then rises")


def synthetic_wave(swings: int, side: str = "left") -> np.ndarray:
    """Standing still, then one wrist rises over the shoulder, swings side to side ``swings`` times, comes down."""
    t = np.arange(int(4.5 * FPS)) / FPS
    joints = np.repeat(STANDING[None], len(t), axis=0)
    sign = 1.0 if side == "left" else -1.0
    rest = STANDING[JOINT[f"{side}_wrist"]]
    up = STANDING[JOINT[f"{side}_shoulder"]] + [sign * 0.1, 0.35, 0.1]
    lift = np.clip((t - 0.5) / 0.5, 0, 1) - np.clip((t - 1.0 - 0.6 * swings) / 0.5, 0, 1)
    swing = np.where((t > 1.0) & (t < 1.0 + 0.6 * swings), 0.12 * np.sin(2 * np.pi * (t - 1.0) / 0.6), 0.0)
    joints[:, JOINT[f"{side}_wrist"]] = rest + lift[:, None] * (up - rest) + swing[:, None] * [1.0, 0.0, 0.0]
    return joints


def test_repetitions_and_hand_are_estimated_when_nobody_declared_them():
    joints = synthetic_wave(3)
    facts = motion_facts(joints, FPS, measure_facts(joints, FPS))
    assert (facts["repetitions"], facts["repetitions_source"], facts["hand"]) == (3, "estimated", "left")
    assert estimate_repetitions(synthetic_wave(5, "right"), FPS, "right_arm") == 5
    assert estimate_repetitions(np.repeat(STANDING[None], 60, axis=0), FPS, "left_arm") is None


@pytest.fixture(scope="module")
def left_wave_3():
    """A procedural wave the generator declares as left-handed, three waves."""
    for seed in range(200):
        item = generate("wave", 0, seed, duration_s=(3.2, 4.5))
        if item.facts["hand"] == "left" and item.facts["repetitions"] == 3:
            return item
    pytest.fail("no left-handed 3-wave procedural motion in 200 seeds")


def test_a_declared_left_hand_wave_three_times_reads_left_and_three(left_wave_3):
    item = left_wave_3
    signals = simulate_motion(item.joints, FPS, SMALL.radar, SMALL.imu, 0, item.id)
    row = {"id": item.id, "label": item.label, "fps": FPS, "captions": item.captions,
           "facts": {**measure_facts(item.joints, FPS), **item.facts}}
    facts = ground_facts(row, item.joints, signals)
    assert facts["motion"]["hand"] == "left" and facts["motion"]["repetitions"] == 3
    assert facts["motion"]["repetitions_source"] == "declared"
    assert facts["imu"]["site"] == "left_wrist"
    sheet = fact_sheet(fact_lines(facts, ["activity", "repetitions", "hand", "imu_trend"]))
    assert "activity: wave\nrepetitions: 3\nhand used: left\nIMU trend: The left-wrist acceleration" in sheet


@pytest.mark.parametrize("dz, movement, doppler", [(1.5, "approaching", "approaching"), (-0.8, "receding", "receding")])
def test_walking_toward_or_away_from_the_radar(dz, movement, doppler):
    """The radar stands 3 m in front of the person (+z) looking back at them: +z is toward it (the small
    radar sees to 4 m)."""
    joints = straight(STANDING, (0.0, dz), 3 * FPS)
    facts = radar_facts(simulate_motion(joints, FPS, SMALL.radar, SMALL.imu, 0, f"walk{dz}"))
    assert facts["movement"] == movement and facts["doppler_dominant"] == doppler
    assert facts["range_start_m"] == pytest.approx(3.0, abs=0.3)
    assert facts["range_change_m"] == pytest.approx(-dz, abs=0.3)
    assert np.sign(facts["doppler_mean_mps"]) == np.sign(-dz)
    assert ("falls" if dz > 0 else "rises") in facts["range_trend"]


def test_prompt_file_loads_and_builds_a_chat_per_category():
    prompts = Prompts.load("prompts/qa/qa.yaml")
    assert len(prompts.categories) >= 8
    for category in prompts.categories:
        chat = prompts.messages(category, {"activity": "wave"})
        assert [m["role"] for m in chat] == ["system", "user", "assistant", "user"]
        assert "activity: wave" in chat[-1]["content"] and '"question"' in chat[2]["content"]
    assert prompts.version.startswith("2-")


def test_a_prompt_file_naming_an_unknown_fact_fails_in_one_line(tmp_path):
    bad = tmp_path / "qa.yaml"
    bad.write_text("version: 1\nsystem: s\nuser: '{facts} {task}'\ncategories:\n  a:\n    facts: [colour]\n"
                   "    task: t\n    example: {facts: {}, question: q, answer: a}\n")
    with pytest.raises(PromptError, match=r"qa.yaml: .*unknown fact line\(s\) \['colour'\]"):
        Prompts.load(bad)


def test_categories_are_drawn_by_weight_and_reproducibly():
    weights = {"a": 1.0, "b": 1.0, "c": 0.0, "d": 2.0}
    draws = [sample_categories(f"m{i}", weights, 2, seed=0) for i in range(200)]
    assert draws == [sample_categories(f"m{i}", weights, 2, seed=0) for i in range(200)]
    assert all(len(set(d)) == 2 and "c" not in d for d in draws)
    counts = {c: sum(c in d for d in draws) for c in "abd"}
    assert counts["d"] > counts["a"] and counts["d"] > counts["b"]
    assert sample_categories("m", weights, 10, seed=0) == ["a", "b", "d"]


def manifest_row(**fields) -> dict:
    row = {"id": "m", "split": "train", "source": "bvh", "label": None, "fps": FPS, "n_frames": 90,
           "duration_s": 4.5, "captions": [], "facts": None, "joints_path": "joints/m.npy", "origin": None}
    return {**row, **fields}


def test_null_labels_empty_captions_and_null_facts_read_through_pandas_are_none_empty_and_empty(tmp_path):
    # pandas turns a null string into NaN (a float) and a list into an array: what broke f["label"].replace
    rows = [manifest_row(id="bvh_0"),
            manifest_row(id="h3d_1", source="humanml3d", captions=["a man waves"], facts={"hand": "left"}),
            manifest_row(id="proc_2", label="wave", captions=["waves", "says hi"])]
    pq.write_table(pa.Table.from_pylist(rows, schema=MANIFEST_SCHEMA), tmp_path / "manifest.parquet")
    read = load_manifest(tmp_path).to_dict("records")
    assert isinstance(read[0]["label"], float)  # NaN: the reason manifest_fields exists
    fields = [manifest_fields(row) for row in read]
    assert fields[0] == (None, [], {})
    assert fields[1][:2] == (None, ["a man waves"]) and fields[1][2]["hand"] == "left"
    assert fields[1][2]["repetitions"] is None  # a null struct field
    assert fields[2][:2] == ("wave", ["waves", "says hi"])


def test_a_motion_without_label_captions_or_facts_gets_only_the_lines_it_has_facts_for(left_wave_3):
    joints = left_wave_3.joints
    signals = simulate_motion(joints, FPS, SMALL.radar, SMALL.imu, 0, "bvh_0")
    facts = ground_facts(manifest_row(id="bvh_0", label=float("nan")), joints, signals)
    assert (facts["label"], facts["captions"], facts["motion"]["most_active_limbs"]) == (None, [], None)
    unknown = ["activity", "caption", "duration", "posture", "travel", "turn", "speed", "limbs", "hand", "leg"]
    assert fact_lines(facts, unknown) == {}
    # no count either: without the measured limbs there is no main limb to count (and the wave never leaves
    # the ground); the sensors and the radar say what they measured
    assert set(fact_lines(facts)) == {"imu_trend", "imu_peak", "sensors", "radar_range", "radar_trend",
                                      "radar_doppler", "radar_points"}


def test_the_fact_thresholds_from_params_reach_the_facts(left_wave_3):
    wave = synthetic_wave(3)  # swings of 0.6 s: a moving average over two of them flattens them all
    assert estimate_repetitions(wave, FPS, "left_arm") == 3
    assert estimate_repetitions(wave, FPS, "left_arm", KinematicsConfig(smooth_s=1.2)) is None
    joints = left_wave_3.joints
    facts = motion_facts(joints, FPS, measure_facts(joints, FPS))
    squat = {"motion": {**facts, "pelvis_drop_share": 0.2, "pelvis_drop_m": 0.18, "pelvis_rise_m": 0.0, "flights": 0}}
    assert fact_lines(squat, ["vertical"]) == {"vertical": "hips lower by 0.18 m"}
    assert fact_lines(squat, ["vertical"], SheetConfig(lower_share=0.25)) == {}
    signals = simulate_motion(straight(STANDING, (0.0, 1.5), 3 * FPS), FPS, SMALL.radar, SMALL.imu, 0, "walk")
    assert radar_facts(signals)["movement"] == "approaching"
    assert radar_facts(signals, RadarFactConfig(move_m=3.0))["movement"] == "no net movement"


def test_qa_imports_nothing_of_the_motion_or_simulate_stages():
    code = ("import sys, tasks.qa.stage; "
            "print(sorted(m for m in sys.modules if m.startswith(('tasks.motion', 'tasks.simulate'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
