"""What every activity gets (a body, a clip length, a random stream) and what it returns (a pose and facts)."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tasks.common.skeleton import FPS
from tasks.motion.procedural.body import LEFT, RIGHT, SIDE_NAME, Body, Pose

Facts = dict[str, Any]
MIN_DURATION_S = 2.0  # HumanML3D clips are 2-10 s
G = 9.81  # m/s^2
# [min, max] walking and jogging speeds (m/s) the stepping classes draw from (motion.procedural in params.yaml)
WALK_SPEED_MPS = (0.4, 1.6)
JOG_SPEED_MPS = (1.8, 3.4)


@dataclass(frozen=True)
class Area:
    """Where the person may go, in metres from where they start (the origin, facing +z): the capture area of a
    recording session with the radar 3 m ahead (docs/contracts.md).  Pelvis and feet stay inside it."""

    forward_m: float = 2.0  # along +z, towards the radar
    backward_m: float = 3.0  # along -z
    side_m: float = 2.0  # along +x and along -x


@dataclass
class Scene:
    """One motion being made: ``duration`` seconds at 20 fps for ``body``, randomised by ``rng``, inside ``area``,
    walking or jogging at speeds drawn from ``walk_speed`` / ``jog_speed`` ([min, max], m/s)."""

    body: Body
    duration: float
    rng: np.random.Generator
    area: Area = Area()
    walk_speed: tuple[float, float] = WALK_SPEED_MPS
    jog_speed: tuple[float, float] = JOG_SPEED_MPS

    @property
    def frames(self) -> int:
        return int(round(self.duration * FPS))

    @property
    def t(self) -> np.ndarray:
        return np.arange(self.frames) / FPS

    def cut(self, seconds: float) -> None:
        """End the clip after ``seconds`` if that is sooner (never under MIN_DURATION_S): a travelling activity
        that runs out of room stops, and its clip ends soon after rather than showing a long wait."""
        self.duration = min(self.duration, max(seconds, MIN_DURATION_S))

    def stand(self, **kwargs: Any) -> Pose:
        return Pose.standing(self.body, self.frames, **kwargs)

    def uniform(self, low: float, high: float) -> float:
        return float(self.rng.uniform(low, high))

    def pick(self, options: Sequence[Any], p: Sequence[float] | None = None) -> Any:
        return options[int(self.rng.choice(len(options), p=p))]

    def side(self, p_left: float = 0.5) -> int:
        """LEFT or RIGHT; people use their right hand more often, so callers may bias it."""
        return LEFT if self.rng.random() < p_left else RIGHT

    def reps(self, available: float, cycle: tuple[float, float], count: tuple[int, int]) -> tuple[int, float]:
        """A repetition count within ``count`` and a cycle time within ``cycle`` that fit ``available`` seconds."""
        if count[0] * cycle[0] > available + 1e-9:  # the activity's min_duration is too short: a bug, not bad input
            raise RuntimeError(f"{count[0]} repetitions of {cycle[0]} s do not fit in {available:.2f} s")
        most = min(count[1], int(available / cycle[0] + 1e-9))
        n = int(self.rng.integers(count[0], most + 1))
        return n, self.uniform(cycle[0], min(cycle[1], available / n))


@dataclass
class Made:
    """What an activity makes: the pose, the facts it knows (item.py keys), and details only the captions use
    (such as which side a stretch leans to first)."""

    pose: Pose
    facts: Facts
    detail: dict[str, Any] = field(default_factory=dict)


Activity = Callable[[Scene], Made]


@dataclass(frozen=True)
class Spec:
    """An activity and the shortest clip it needs (s)."""

    make: Activity
    min_duration: float = 2.0
    travels: bool = False  # whether its facts include the mean speed


def hand_facts(side: int) -> Facts:
    return {"hand": SIDE_NAME[side], "limbs": [f"{SIDE_NAME[side]}_arm"]}


BOTH_ARMS: Facts = {"hand": "both", "limbs": ["left_arm", "right_arm"]}
BOTH_LEGS = ["left_leg", "right_leg"]
STANDING: Facts = {"start_posture": "standing", "end_posture": "standing"}
