"""What every motion source yields: a motion in the HumanML3D joint format, or a reject."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from tasks.common.motions import MotionError  # noqa: F401  (raised by every source)


@dataclass
class MotionItem:
    """One motion.

    ``joints`` is float32 [T, 22, 3] in metres, y up, 20 fps, starting near the origin facing +z
    (the person's left is +x).  ``facts`` holds what the source *knows* about the motion (a
    procedural generator knows its own parameters); the motion stage adds what it can measure
    from the joints.  Fact keys (all optional here):

    ``direction`` forward|backward|left|right|in place (net travel relative to the initial facing), or
    "away and back" (declared by a generator: out and back to the start, which measures as in place),
    ``turn`` left|right (left = counter-clockwise seen from above), ``turn_deg``,
    ``speed_mps`` (mean horizontal pelvis speed), ``repetitions`` (of the main movement),
    ``limbs`` (subset of left_arm, right_arm, left_leg, right_leg, torso: the ones that do the action),
    ``hand`` left|right|both, ``start_posture`` / ``end_posture`` standing|sitting|crouching|lying,
    ``cadence_steps_per_s``, ``body_height_m``.
    """

    id: str
    source: str  # procedural | humanml3d | bvh
    joints: np.ndarray
    captions: list[str]
    label: str | None = None
    split: str | None = None  # None: the stage assigns one from a hash of the id
    facts: dict[str, Any] = field(default_factory=dict)
    origin: str = ""  # file or generator it came from, for error messages
    fps: int = 20


class Reject(NamedTuple):
    """An item a source could not use, with the file it came from and why."""

    item: str
    origin: str
    reason: str
