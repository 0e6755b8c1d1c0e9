"""Sanity checks every motion passes before it enters the data set.

Each check is a small function that returns a reason (a short phrase) or None; ``check_joints`` runs
them in order and raises ``MotionError("<where>: <reason>")`` at the first failure.  No motion shorter than
``MIN_FRAMES`` (docs/contracts.md) passes, so whatever the motion stage accepts, simulate can simulate.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tasks.common.motions import MIN_FRAMES, MotionError
from tasks.common.skeleton import N_JOINTS


@dataclass(frozen=True)
class Limits:
    """What a plausible motion in metres looks like."""

    min_frames: int = MIN_FRAMES  # a source may ask for more (never fewer than MIN_FRAMES)
    max_abs_m: float = 50.0  # no capture volume is larger; bigger numbers mean cm, mm or garbage
    max_extent_m: float = 3.0  # a person spans less than this in every frame, even lying with arms out


def _numeric(j: np.ndarray, lim: Limits) -> str | None:
    if j.dtype.kind not in "iuf":
        return f"non-numeric dtype {j.dtype}"
    return None


def _shape(j: np.ndarray, lim: Limits) -> str | None:
    if j.ndim != 3 or j.shape[1:] != (N_JOINTS, 3):
        return f"wrong shape {tuple(j.shape)}, expected [T, {N_JOINTS}, 3]"
    return None


def _frames(j: np.ndarray, lim: Limits) -> str | None:
    if len(j) == 0:
        return "no frames"
    need = max(lim.min_frames, MIN_FRAMES)
    if len(j) < need:
        return f"too short: {len(j)} frame{'' if len(j) == 1 else 's'}, need at least {need}"
    return None


def _finite(j: np.ndarray, lim: Limits) -> str | None:
    bad = np.count_nonzero(~np.isfinite(j))
    if bad:
        first = int(np.argwhere(~np.isfinite(j))[0, 0])
        return f"NaN or inf in {bad} of {j.size} values (first in frame {first})"
    return None


def _range(j: np.ndarray, lim: Limits) -> str | None:
    peak = float(np.abs(j).max())
    if peak > lim.max_abs_m:
        return f"absurd coordinates: |coord| up to {peak:.4g} m (limit {lim.max_abs_m:g} m), not metres?"
    return None


def _extent(j: np.ndarray, lim: Limits) -> str | None:
    span = (j.max(axis=1) - j.min(axis=1)).max(axis=1)  # largest axis span of the body, per frame
    frame = int(span.argmax())
    if span[frame] > lim.max_extent_m:
        return (f"absurd coordinates: body spans {span[frame]:.3g} m in frame {frame} "
                f"(limit {lim.max_extent_m:g} m), not metres?")
    return None


CHECKS: tuple[Callable[[np.ndarray, Limits], str | None], ...] = (
    _numeric, _shape, _frames, _finite, _range, _extent,
)


def check_joints(joints: np.ndarray, where: str, limits: Limits = Limits()) -> np.ndarray:
    """Return ``joints`` as float32 [T, 22, 3] or raise MotionError naming ``where`` and the first problem."""
    arr = np.asarray(joints)
    for check in CHECKS:
        reason = check(arr, limits)
        if reason is not None:
            raise MotionError(f"{where}: {reason}")
    return np.ascontiguousarray(arr, dtype=np.float32)
