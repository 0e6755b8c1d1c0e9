"""The catalogue of procedural activities and the entry points that turn one into a MotionItem."""
from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from tasks.common.seeds import item_seed
from tasks.common.skeleton import FPS, JOINT
from tasks.motion.item import MotionItem
from tasks.motion.procedural import gestures, jumps, locomotion, postures
from tasks.motion.procedural.body import Body, Pose, assemble
from tasks.motion.procedural.captions import write_captions
from tasks.motion.procedural.scene import JOG_SPEED_MPS, WALK_SPEED_MPS, Area, Scene, Spec

if TYPE_CHECKING:
    from tasks.motion.config import ProceduralConfig

# label -> activity and the shortest clip it needs (s)
SPECS: dict[str, Spec] = {
    "walk": Spec(locomotion.walk, 2.0, travels=True),
    "jog": Spec(locomotion.jog, 2.0, travels=True),
    "walk_backward": Spec(locomotion.walk_backward, 2.5, travels=True),
    "side_step": Spec(locomotion.side_step, 3.0, travels=True),
    "turn_in_place": Spec(locomotion.turn_in_place, 2.5),
    "march_in_place": Spec(locomotion.march_in_place, 2.0),
    "walk_circle": Spec(locomotion.walk_circle, 3.0, travels=True),
    "walk_away_and_back": Spec(locomotion.walk_away_and_back, 7.5, travels=True),
    "walk_across": Spec(locomotion.walk_across, 3.5, travels=True),
    "jump_in_place": Spec(jumps.jump_in_place, 3.4),
    "jump_forward": Spec(jumps.jump_forward, 3.4),
    "jumping_jacks": Spec(jumps.jumping_jacks, 3.3),
    "squat": Spec(postures.squat, 2.8),
    "sit_down": Spec(postures.sit_down, 2.9),
    "stand_up": Spec(postures.stand_up, 2.9),
    "pick_up": Spec(postures.pick_up, 3.0),
    "bow": Spec(postures.bow, 2.9),
    "kick": Spec(postures.kick, 2.9),
    "wave": Spec(gestures.wave, 4.6),
    "clap": Spec(gestures.clap, 2.8),
    "punch": Spec(gestures.punch, 3.0),
    "raise_arms": Spec(gestures.raise_arms, 4.6),
    "stretch": Spec(gestures.stretch, 5.0),
    "boxing": Spec(gestures.boxing, 3.3),
}
CLASSES: tuple[str, ...] = tuple(SPECS)
MAX_DURATION_S = 10.0  # HumanML3D clips are 2-10 s
# The smallest area every class fits in: a kick reaches 1.1 m forward, a trailing foot 0.7 m back when walking
# under way at the first frame, and a circle walked at 0.6 m radius takes 1.5 m to the side.  Walking away and
# back then goes about 0.7 m out (two half turns and a few slow steps), walking across about 1.3 m.
MIN_AREA = Area(forward_m=1.2, backward_m=1.0, side_m=1.5)


def _breathe(pose: Pose, t: np.ndarray, rng: np.random.Generator) -> None:
    """Quiet breathing and postural sway: a few millimetres, so no one stands perfectly still."""
    f_breath, f_sway = rng.uniform(0.2, 0.33), rng.uniform(0.15, 0.3)
    phase = rng.uniform(0, 2 * np.pi, size=3)
    pose.spine_pitch = pose.spine_pitch + np.radians(0.5) * np.sin(2 * np.pi * f_breath * t + phase[0])
    pose.hips[:, 0] += 0.004 * np.sin(2 * np.pi * f_sway * t + phase[1])
    pose.hips[:, 2] += 0.003 * np.sin(2 * np.pi * 0.8 * f_sway * t + phase[2])


def mean_speed(joints: np.ndarray) -> float:
    """Mean horizontal pelvis speed (m/s): path length over elapsed time, as the motion stage measures it."""
    ground = joints[:, JOINT["pelvis"]][:, [0, 2]].astype(float)
    return float(np.linalg.norm(np.diff(ground, axis=0), axis=-1).sum() / ((len(joints) - 1) / FPS))


def generate(label: str, k: int, seed: int, duration_s: tuple[float, float] = (4.0, 8.0),
             body_height_m: tuple[float, float] = (1.55, 1.95), area: Area = Area(),
             walk_speed_mps: tuple[float, float] = WALK_SPEED_MPS,
             jog_speed_mps: tuple[float, float] = JOG_SPEED_MPS) -> MotionItem:
    """One motion of class ``label``, fully determined by the arguments; ``k`` only numbers its id.

    The ranges are [min, max] as ProceduralConfig validates them (``duration_s`` within MIN_DURATION_S to
    MAX_DURATION_S; walks and jogs draw their speed from ``walk_speed_mps`` and ``jog_speed_mps``, the
    fastest capped by the room there is to stop in).  Pelvis and feet stay inside ``area``.  A travelling class
    that runs out of room stops, and its clip ends soon after, which may be sooner than ``duration_s`` asks.
    """
    if label not in SPECS:
        raise ValueError(f"unknown procedural motion class '{label}' (valid: {', '.join(CLASSES)})")
    lo, hi = duration_s
    short, tall = body_height_m
    spec = SPECS[label]
    rng = np.random.default_rng(seed)
    height = float(rng.uniform(short, tall))
    body = Body.from_height(height, rng)
    duration = min(max(float(rng.uniform(lo, hi)), spec.min_duration), MAX_DURATION_S)
    scene = Scene(body, duration, rng, area, walk_speed_mps, jog_speed_mps)
    made = spec.make(scene)
    _breathe(made.pose, scene.t, rng)
    joints = assemble(body, made.pose)
    facts = {**made.facts, "body_height_m": round(height, 3)}
    if spec.travels:
        facts["speed_mps"] = round(mean_speed(joints), 3)
    return MotionItem(
        id=f"proc_{label}_{k:03d}", source="procedural", joints=joints,
        captions=write_captions(label, facts, made.detail, rng), label=label, split=None, facts=facts,
        origin=f"procedural:{label}:seed={seed}", fps=FPS,
    )


def generate_library(cfg: ProceduralConfig, seed: int) -> Iterator[MotionItem]:
    """``cfg.motions_per_class`` motions of each class in ``cfg.classes``, inside ``cfg.area``.

    Motion k of a class is seeded by (seed, label, k) alone, so adding a class or a motion changes no other.
    """
    area = cfg.area.area()
    for label in cfg.classes:
        for k in range(cfg.motions_per_class):
            yield generate(label, k, item_seed(seed, label, k), cfg.duration_s, cfg.body_height_m, area,
                           cfg.walk_speed_mps, cfg.jog_speed_mps)
