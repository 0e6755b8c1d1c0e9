"""Writers of valid own-data inputs for the motion stage, in the formats of docs/contracts.md.

``write_humanml3d(root, n)`` writes a HumanML3D folder, ``write_bvh(root)`` a folder of BVH files; both
are small (clips of 2-6 s) so a whole pipeline runs on them quickly.  ``bvh_text`` writes any BVH file
from a skeleton and a pose function (the BVH tests use it too).
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from tasks.motion.humanml3d import mirror_joints, swap_sides
from tasks.motion.procedural import generate

# (name, offset in metres, children): the body y up, facing +z, its left at +x; a leaf gets an End Site
Node = tuple[str, tuple[float, float, float], list]
# a joint's channel values at time t: the root's position (m) or None, and (x, y, z) rotations in degrees
Pose = Callable[[str, float], tuple[tuple[float, float, float] | None, tuple[float, float, float]]]

LEG: Node = ("{s}UpLeg", (0.09, -0.08, 0), [("{s}Leg", (0, -0.38, 0), [("{s}Foot", (0, -0.39, 0), [
    ("{s}ToeBase", (0.01, -0.06, 0.11), [])])])])
ARM: Node = ("{s}Shoulder", (0.08, 0.12, 0), [("{s}Arm", (0.10, 0.01, 0), [("{s}ForeArm", (0.02, -0.26, 0), [
    ("{s}Hand", (0.01, -0.24, 0), [])])])])
# CMU's arm: the collar (LeftShoulder) at zero offset from Spine1, fingers below the hand
CMU_ARM: Node = ("{s}Shoulder", (0, 0, 0), [("{s}Arm", (0.18, 0.13, 0), [("{s}ForeArm", (0.02, -0.26, 0), [
    ("{s}Hand", (0.01, -0.24, 0), [("{s}FingerBase", (0, 0, 0), [("{s}HandIndex1", (0, -0.03, 0), [])]),
                                   ("{c}Thumb", (0, 0, 0), [])])])])])


def sided(node: Node, side: str) -> Node:
    """The left template as the Left or Right limb (mirrored through x = 0); {c} is CMU's L or R."""
    name, (x, y, z), children = node
    return name.format(s=side, c=side[0]), (x if side == "Left" else -x, y, z), [sided(c, side) for c in children]


# a CMU-like skeleton whose collars sit off the spine (the loader keeps them where they are)
SKELETON: Node = ("Hips", (0, 0, 0), [
    ("LHipJoint", (0, 0, 0), [sided(LEG, "Left")]), ("RHipJoint", (0, 0, 0), [sided(LEG, "Right")]),
    ("LowerBack", (0, 0, 0), [("Spine", (0, 0.12, 0), [("Spine1", (0, 0.20, 0), [
        ("Neck", (0, 0.20, 0), [("Neck1", (0, 0.05, 0), [("Head", (0, 0.05, 0.03), [])])]),
        sided(ARM, "Left"), sided(ARM, "Right")])])]),
])
# CMU's own layout (131_01.bvh and the rest): Neck, LeftShoulder and RightShoulder all at zero offset
# from Spine1, so the file's collars and neck coincide with its chest joint
CMU_SKELETON: Node = ("Hips", (0, 0, 0), [
    ("LHipJoint", (0, 0, 0), [sided(LEG, "Left")]), ("RHipJoint", (0, 0, 0), [sided(LEG, "Right")]),
    ("LowerBack", (0, 0, 0), [("Spine", (0, 0.11, 0), [("Spine1", (0, 0.21, 0), [
        ("Neck", (0, 0, 0), [("Neck1", (0, 0.17, 0), [("Head", (0, 0.10, 0.02), [])])]),
        sided(CMU_ARM, "Left"), sided(CMU_ARM, "Right")])])]),
])
CMU_UNIT = 0.0254 / 0.45  # metres per CMU BVH unit
HIP_HEIGHT_M = 0.93  # the root's height when the legs hang straight


def joint_names(node: Node, drop: tuple[str, ...] = ()) -> list[str]:
    """Every joint below and including ``node`` in file order, without ``drop`` and what hangs below it."""
    if node[0] in drop:
        return []
    return [node[0], *(n for child in node[2] for n in joint_names(child, drop))]


def bvh_text(skeleton: Node, frames: int, frame_time: float, pose: Pose, unit: float = 1.0, prefix: str = "",
             drop: tuple[str, ...] = (), order: str = "ZXY") -> str:
    """A BVH file: ``skeleton`` in units of ``unit`` metres, rotation channels in ``order``, ``frames`` frames
    ``frame_time`` s apart posed by ``pose``; joints named in ``drop`` (and their children) left out."""
    lines = ["HIERARCHY"]
    rotations = " ".join(f"{axis}rotation" for axis in order)

    def joint(node: Node, depth: int) -> None:
        name, offset, children = node
        if name in drop:
            return
        pad = "  " * depth
        lines.extend([f"{pad}{'JOINT' if depth else 'ROOT'} {prefix}{name}", pad + "{",
                      f"{pad}  OFFSET {' '.join(f'{v / unit:.6f}' for v in offset)}",
                      f"{pad}  CHANNELS 6 Xposition Yposition Zposition {rotations}" if not depth
                      else f"{pad}  CHANNELS 3 {rotations}"])
        for child in children:
            joint(child, depth + 1)
        if not children:
            lines.extend([f"{pad}  End Site", pad + "  {", f"{pad}    OFFSET 0 {0.05 / unit:.6f} 0", pad + "  }"])
        lines.append(pad + "}")

    joint(skeleton, 0)
    names = joint_names(skeleton, drop)
    lines += ["MOTION", f"Frames: {frames}", f"Frame Time: {frame_time:.8f}"]
    for f in range(frames):
        values: list[float] = []
        for name in names:
            position, angles = pose(name, f * frame_time)
            if position is not None:
                values += [v / unit for v in position]
            values += [dict(zip("XYZ", angles))[axis] for axis in order]
        lines.append(" ".join(f"{v:.6f}" for v in values))
    return "\n".join(lines) + "\n"


def walking(name: str, t: float) -> tuple[tuple[float, float, float] | None, tuple[float, float, float]]:
    """A walk forward (+z) at 1 m/s, one stride per second: thighs, knees and arms swinging."""
    phase = 2 * np.pi * t
    swing = {"LeftUpLeg": (-25 * np.sin(phase), 0, 0), "RightUpLeg": (25 * np.sin(phase), 0, 0),
             "LeftLeg": (15 * (1 - np.cos(phase)), 0, 0), "RightLeg": (15 * (1 + np.cos(phase)), 0, 0),
             "LeftArm": (20 * np.sin(phase), 0, 0), "RightArm": (-20 * np.sin(phase), 0, 0)}
    if name == "Hips":
        return (0.0, HIP_HEIGHT_M + 0.01 * np.cos(2 * phase), t), (0.0, 0.0, 0.0)
    return None, swing.get(name, (0.0, 0.0, 0.0))


def waving(name: str, t: float) -> tuple[tuple[float, float, float] | None, tuple[float, float, float]]:
    """Standing still and waving the right hand above the head, twice a second."""
    raised = min(t / 0.6, 1.0)  # the arm goes up in the first 0.6 s
    if name == "Hips":
        return (0.0, HIP_HEIGHT_M, 0.0), (0.0, 0.0, 0.0)
    if name == "RightArm":
        return None, (0.0, 0.0, -150 * raised)  # about z, negative: the right arm rises out to the side
    if name == "RightForeArm":
        return None, (0.0, 0.0, raised * 25 * np.sin(4 * np.pi * t))
    return None, (0.0, 0.0, 0.0)


def write_bvh(root: Path, seconds: float = 3.0) -> list[Path]:
    """Two valid BVH files under ``root`` (made if needed), each ``seconds`` long:

    * ``cmu_walk.bvh``: CMU's skeleton and units (collars and neck at zero offset from Spine1), 60 fps,
      Z Y X channels, walking 1 m/s forward; captions in ``cmu_walk.txt``;
    * ``wave.bvh``: a skeleton in centimetres, 30 fps, Z X Y channels, waving the right hand; no captions.
    """
    root.mkdir(parents=True, exist_ok=True)
    walk, wave = root / "cmu_walk.bvh", root / "wave.bvh"
    walk.write_text(bvh_text(CMU_SKELETON, round(seconds * 60) + 1, 1 / 60, walking, unit=CMU_UNIT, order="ZYX"))
    (root / "cmu_walk.txt").write_text("a person walks forward.\nsomeone walks straight ahead at an easy pace.\n")
    wave.write_text(bvh_text(SKELETON, round(seconds * 30) + 1, 1 / 30, waving, unit=0.01))
    return [walk, wave]


HUMANML3D_CLASSES = ("wave", "squat", "march_in_place", "turn_in_place", "clap", "jumping_jacks")  # in place: >= 3 s
SPLITS = ("train", "val", "test")


def write_humanml3d(root: Path, n: int = 3, seconds: tuple[float, float] = (3.0, 4.0)) -> list[str]:
    """A HumanML3D folder under ``root`` with ``n`` clips (procedural motions in place: the same joint format,
    ``seconds`` long, at least 3 so the trimmed part is whole), ids ``000001``...; returns the ids.

    Clip i goes to split train/val/test in turn.  Its ``texts/<id>.txt`` has one whole-clip caption
    (``#0.0#0.0``) and one trimmed caption (``#1.0#3.0``), so it yields the motions ``<id>`` and ``<id>_0``.
    The split lists name ``M<id>`` too, as HumanML3D's do; only the first clip's mirror is on disk
    (``new_joints/M000001.npy``), the loader makes the others when ``humanml3d.mirrored`` is true.
    """
    (root / "new_joints").mkdir(parents=True, exist_ok=True)
    (root / "texts").mkdir(exist_ok=True)
    ids: list[str] = []
    lists: dict[str, list[str]] = {s: [] for s in SPLITS}
    for i in range(n):
        cid = f"{i + 1:06d}"
        item = generate(HUMANML3D_CLASSES[i % len(HUMANML3D_CLASSES)], i, seed=i, duration_s=seconds)
        whole, part = item.captions[0], item.captions[1]
        _write_clip(root, cid, item.joints, whole, part)
        if i == 0:
            _write_clip(root, f"M{cid}", mirror_joints(item.joints), swap_sides(whole), swap_sides(part))
        ids.append(cid)
        lists[SPLITS[i % 3]] += [cid, f"M{cid}"]
    for split, entries in lists.items():
        (root / f"{split}.txt").write_text("".join(f"{e}\n" for e in entries))
    return ids


def _write_clip(root: Path, cid: str, joints: np.ndarray, whole: str, part: str) -> None:
    np.save(root / f"new_joints/{cid}.npy", joints.astype(np.float32))
    (root / f"texts/{cid}.txt").write_text(f"{whole}#{_tags(whole)}#0.0#0.0\n{part}#{_tags(part)}#1.0#3.0\n")


def _tags(caption: str) -> str:
    """HumanML3D's tagged tokens, roughly ('a/OTHER person/OTHER ...'): the loader ignores them."""
    return " ".join(f"{word.strip('.,').lower()}/OTHER" for word in caption.split())
