"""HumanML3D as a motion source: ``new_joints/<id>.npy``, ``texts/<id>.txt`` and the split lists (docs/contracts.md).

A caption line is ``caption#tagged tokens#start#end``.  Captions with start = end = 0 (or NaN) describe the
whole clip and stay with ``<id>``; captions with a span describe only frames [start*20, end*20) and, like the
original HumanML3D loaders do, become a separate trimmed motion ``<id>_<k>`` (one per distinct span, k in
order of first appearance) carrying the captions that share that span.  A clip whose captions all have
spans therefore appears only as its trimmed parts.

Mirrored clips ``M<id>`` are included iff ``mirrored``; when their files are not on disk they are made from
the original (left/right joints swapped, x negated, the words left/right swapped in the captions).  A
mirrored clip takes its original's split, and is trimmed like any clip (``M<id>_<k>``).

Text files must be UTF-8 and joint files real ``.npy`` arrays; anything else is a reject naming the file.
"""
from __future__ import annotations

import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np

from tasks.common.motions import MIN_FRAMES, MotionError
from tasks.common.skeleton import FPS, MIRROR
from tasks.motion.config import HumanML3DConfig
from tasks.motion.files import load_npy, read_utf8
from tasks.motion.item import MotionItem, Reject
from tasks.motion.validate import Limits, check_joints


class Caption(NamedTuple):
    text: str
    span: tuple[float, float] | None  # seconds; None = the whole clip


def read_captions(path: Path, where: str) -> list[Caption]:
    """Captions of one clip; raises MotionError for a missing, empty or malformed file."""
    if not path.is_file():
        raise MotionError(f"{where}: missing caption file")
    captions = []
    for n, line in enumerate(read_utf8(path, where).splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.strip().split("#")
        if 1 < len(parts) < 4:
            raise MotionError(f"{where} line {n}: expected 'caption#tokens#start#end', got {line.strip()!r}")
        text = parts[0].strip()
        if not text:
            raise MotionError(f"{where} line {n}: empty caption")
        if len(parts) == 1:
            captions.append(Caption(text, None))
            continue
        try:
            start, end = (0.0 if math.isnan(v) else v for v in map(float, parts[-2:]))
        except ValueError:
            raise MotionError(f"{where} line {n}: start/end are not numbers: {parts[-2]!r}, {parts[-1]!r}") from None
        captions.append(Caption(text, None if start == end == 0.0 else (start, end)))
    if not captions:
        raise MotionError(f"{where}: empty caption file")
    return captions


def read_clip(root: Path, cid: str) -> tuple[np.ndarray, list[Caption]]:
    """Joints (checked) and captions of one clip; raises MotionError with a one-line reason."""
    where = f"new_joints/{cid}.npy"
    path = root / where
    if not path.is_file():
        raise MotionError(f"{where}: missing joints file")
    joints = check_joints(load_npy(path, where), where)
    return joints, read_captions(root / f"texts/{cid}.txt", f"texts/{cid}.txt")


_SIDE = re.compile(r"\b(left|right)(?=(?:wards?|most|s)?\b)", re.IGNORECASE)


def swap_sides(text: str) -> str:
    """'turns left with the right hand' -> 'turns right with the left hand', keeping the case of each word."""
    def other(m: re.Match) -> str:
        word = m.group(1)
        new = "right" if word.lower() == "left" else "left"
        return new.upper() if word.isupper() else new.capitalize() if word[0].isupper() else new
    return _SIDE.sub(other, text)


def mirror_joints(joints: np.ndarray) -> np.ndarray:
    """The motion reflected through the x = 0 plane: every joint takes its mirror twin's place, x negated."""
    return (joints[:, list(MIRROR)] * np.array([-1.0, 1.0, 1.0], dtype=joints.dtype)).astype(joints.dtype)


def mirror_clip(clip: tuple[np.ndarray, list[Caption]] | MotionError) -> tuple[np.ndarray, list[Caption]]:
    """The mirror image of a clip read from disk; a clip that failed to load fails its mirror too."""
    if isinstance(clip, MotionError):
        raise MotionError(f"mirror of {clip}")
    joints, captions = clip
    return mirror_joints(joints), [c._replace(text=swap_sides(c.text)) for c in captions]


def clip_items(cid: str, joints: np.ndarray, captions: list[Caption], split: str, origin: str,
               min_frames: int) -> Iterator[MotionItem | Reject]:
    """The whole-clip item (if it has whole-clip captions) and one trimmed item per distinct caption span."""
    groups: dict[tuple[float, float] | None, list[str]] = {}
    for cap in captions:
        groups.setdefault(cap.span, []).append(cap.text)
    spans = [s for s in groups if s is not None]
    parts = ([(cid, None)] if None in groups else []) + [(f"{cid}_{k}", s) for k, s in enumerate(spans)]
    for item_id, span in parts:
        where, part, src = f"new_joints/{cid}.npy", joints, origin
        if span is not None:
            where += f" [{span[0]:g}-{span[1]:g} s]"
            src += f" [{span[0]:g}-{span[1]:g} s]"
            part = joints[int(span[0] * FPS):int(span[1] * FPS)]  # truncation, as the original loaders do
        try:
            part = check_joints(part, where, Limits(min_frames=min_frames))
        except MotionError as exc:
            yield Reject(item_id, src, str(exc))
            continue
        yield MotionItem(id=item_id, source="humanml3d", joints=part, captions=groups[span], split=split,
                         origin=src)


def read_splits(root: Path, splits: tuple[str, ...]) -> dict[str, str]:
    """Original clip id -> split, in file order; ``M<id>`` entries count as their original."""
    split_of: dict[str, str] = {}
    for split in splits:
        path = root / f"{split}.txt"
        if not path.is_file():
            raise MotionError(f"{path}: no such split file")
        for line in read_utf8(path, str(path)).split():
            split_of.setdefault(line[1:] if line.startswith("M") else line, split)
    return split_of


def select(split_of: dict[str, str], subset: int | list[str] | None) -> tuple[list[str], list[str]]:
    """The original ids to load (all, the first ``subset``, or the listed ones) and the listed ids not found."""
    if subset is None:
        return list(split_of), []
    if isinstance(subset, int):
        return list(split_of)[:subset], []
    bases = {entry: entry[1:] if entry.startswith("M") else entry for entry in subset}
    chosen = [b for b in bases.values() if b in split_of]
    return list(dict.fromkeys(chosen)), [e for e, b in bases.items() if b not in split_of]


def load_humanml3d(cfg: HumanML3DConfig) -> Iterator[MotionItem | Reject]:
    """Yield every selected clip (and its trimmed parts and mirror) as a MotionItem, or a Reject saying why not.

    Raises MotionError only for a root that is not a HumanML3D folder (no new_joints/, a missing split file).
    """
    root = cfg.root
    if not (root / "new_joints").is_dir():
        raise MotionError(f"{root}: no new_joints folder (not a HumanML3D root?)")
    split_of = read_splits(root, cfg.splits)
    ids, unknown = select(split_of, cfg.subset)
    files = ", ".join(f"{s}.txt" for s in cfg.splits)
    for entry in unknown:
        yield Reject(entry, str(root), f"{entry}: not listed in {files}")
    min_frames = max(MIN_FRAMES, math.ceil(cfg.min_seconds * FPS))
    for base in ids:
        split = split_of[base]
        origin = str(root / f"new_joints/{base}.npy")
        clip: tuple[np.ndarray, list[Caption]] | MotionError
        try:
            clip = read_clip(root, base)
        except MotionError as exc:
            clip = exc
            yield Reject(base, origin, str(exc))
        else:
            yield from clip_items(base, *clip, split, origin, min_frames)
        if not cfg.mirrored:
            continue
        mid, m_path = f"M{base}", root / f"new_joints/M{base}.npy"
        m_origin = str(m_path) if m_path.is_file() else f"{origin} (mirrored)"
        try:
            joints, captions = read_clip(root, mid) if m_path.is_file() else mirror_clip(clip)
        except MotionError as exc:
            yield Reject(mid, m_origin, str(exc))
            continue
        yield from clip_items(mid, joints, captions, split, m_origin, min_frames)
