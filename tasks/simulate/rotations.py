"""Body-segment frames built from joint positions, robust where the defining vectors line up.

A frame is a rotation matrix whose columns are the sensor's x, y, z axes in world coordinates
(sensor -> world).  Sequences are [N, 3, 3] in time order: where a frame is ill-defined, the axis
that fixes its roll is carried over from the neighbouring frame instead of jumping or turning NaN.
"""
from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

# Below this sine of the angle between two defining vectors, the roll they fix is ill-defined.
DEGENERATE_SIN = 0.05


def unit(v: np.ndarray) -> np.ndarray:
    """``v`` scaled to length 1 along its last axis (zero vectors stay zero)."""
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.where(norm > 0, norm, 1.0)


def _perpendicular_part(v: np.ndarray, normal: np.ndarray) -> np.ndarray:
    """The part of ``v`` perpendicular to the unit vector(s) ``normal``."""
    return v - np.sum(v * normal, axis=-1, keepdims=True) * normal


def _carry_over(axis: np.ndarray, valid: np.ndarray, normal: np.ndarray) -> np.ndarray:
    """Fill the invalid rows of the unit vectors ``axis`` [N, 3] from their neighbours, in time order.

    An invalid row takes the previous row's axis (the next one for rows before the first valid row),
    re-made perpendicular to that row's ``normal`` so the frame stays orthonormal.
    """
    axis = axis.copy()
    first = int(np.argmax(valid))
    order = [*range(first - 1, -1, -1), *np.flatnonzero(~valid[first:]) + first]
    for i in order:
        neighbour = axis[i + 1] if i < first else axis[i - 1]
        candidate = _perpendicular_part(neighbour, normal[i])
        # a primary that turned by ~90 degrees within one step leaves nothing to carry: any perpendicular
        if np.linalg.norm(candidate) < 1e-9:
            candidate = np.cross(normal[i], np.eye(3)[np.argmin(np.abs(normal[i]))])
        axis[i] = unit(candidate)
    return axis


def orthonormal_frames(
    primary: np.ndarray, secondary: np.ndarray, axes: tuple[int, int] = (0, 1), what: str = "frame"
) -> np.ndarray:
    """Frames [N, 3, 3] with axis ``axes[0]`` along ``primary`` [N, 3] and axis ``axes[1]`` towards ``secondary``.

    The third axis completes a right-handed frame.  Where ``secondary`` is (nearly) parallel to
    ``primary``, the previous frame's secondary axis is used instead.  Raises ValueError, naming
    ``what``, if ``primary`` has zero length or the two vectors are parallel in every frame.
    """
    primary, secondary = np.atleast_2d(primary), np.atleast_2d(secondary)
    p_len = np.linalg.norm(primary, axis=-1)
    if np.any(p_len < 1e-9):
        raise ValueError(f"{what}: primary vector has zero length in frame {int(np.argmin(p_len))}")
    p = primary / p_len[:, None]
    s_perp = _perpendicular_part(secondary, p)
    valid = np.linalg.norm(s_perp, axis=-1) > DEGENERATE_SIN * np.linalg.norm(secondary, axis=-1)
    if not valid.any():
        raise ValueError(f"{what}: secondary vector is parallel to the primary in every frame")
    s = unit(s_perp)
    if not valid.all():
        s = _carry_over(s, valid, p)
    i, j = axes
    k = 3 - i - j
    cyclic = (j - i) % 3 == 1  # (x,y), (y,z), (z,x): third = first x second
    third = np.cross(p, s) if cyclic else np.cross(s, p)
    frames = np.empty((len(p), 3, 3))
    frames[:, :, i], frames[:, :, j], frames[:, :, k] = p, s, third
    return frames


def swing_rotations(reference: np.ndarray, directions: np.ndarray, fallback_axis: np.ndarray) -> np.ndarray:
    """The smallest rotations [N, 3, 3] that turn the unit vector ``reference`` onto each of ``directions``.

    This is the swing with no twist about the segment.  Opposite ``reference`` the rotation axis is
    ill-defined: there the previous frame's axis is used, or ``fallback_axis`` (perpendicular to
    ``reference``) if every frame points that way.
    """
    d = unit(np.atleast_2d(directions))
    cross = np.cross(reference, d)
    sin = np.linalg.norm(cross, axis=-1)
    cos = d @ reference
    angle = np.arctan2(sin, cos)
    valid = (sin > DEGENERATE_SIN) | (cos > 0)
    # near the reference the rotation vector tends to ``cross`` itself (angle / sin -> 1)
    scale = np.where(sin > 1e-12, angle / np.where(sin > 1e-12, sin, 1.0), 1.0)
    rotvec = cross * scale[:, None]
    if not valid.all():
        normal = np.broadcast_to(reference, d.shape)
        if valid.any():
            axis = _carry_over(unit(cross), valid, normal)
        else:
            axis = np.broadcast_to(unit(_perpendicular_part(fallback_axis, reference)), d.shape)
        rotvec[~valid] = axis[~valid] * angle[~valid, None]
    return Rotation.from_rotvec(rotvec).as_matrix()


def relative_rotvec(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """log(start^T end) [N, 3]: the rotation from frames ``start`` to ``end`` as axis * angle, in the
    start frame (equal to its coordinates in the end frame, since the axis is fixed by the rotation)."""
    return Rotation.from_matrix(np.swapaxes(start, -1, -2) @ end).as_rotvec()
