"""BVH motion capture as a motion source: parse with bvhio, retarget to the 22 SMPL joints, normalise.

Steps for one file: bvhio parses it (channels -> local position + quaternion per joint and frame); forward
kinematics here gives world positions; joints are matched by name (CMU, Mixamo ``mixamorig:``, SMPL-style
``L_Hip``, Poser ``lShldr``, 3ds Max ``Bip01 L Thigh``); units become metres (see ``unit_scale``); the up axis
becomes +y; frames are resampled to 20 fps; finally the first frame's pelvis goes to the origin, the lowest
joint of the clip onto the floor (y = 0, as HumanML3D does) and the person turns to face +z.

Joints a file leaves out or puts at zero offset from their parent get a place of their own (see ``retarget``):
CMU files, for one, put Neck and both collars (LeftShoulder, RightShoulder) exactly on Spine1.

Captions come from a sidecar ``<stem>.txt`` (UTF-8, one per line).  BVH is still useful without captions, so
no sidecar means ``captions == []``; a sidecar that exists but holds no caption is a reject.  Channel values
that are not finite (NaN, inf) are a reject naming the first one, found before any rotation is computed.
"""
from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import bvhio
import numpy as np
from scipy.interpolate import make_interp_spline
from scipy.spatial.transform import Rotation

from tasks.common.motions import MotionError
from tasks.common.skeleton import FPS, JOINT, N_JOINTS
from tasks.motion.config import BVH_UNITS, BVHConfig
from tasks.motion.facts import headings
from tasks.motion.files import read_utf8
from tasks.motion.item import MotionItem, Reject
from tasks.motion.validate import check_joints

# ankle-to-head size (leg + pelvis-neck + neck-head) of a 1.7 m adult, in metres
REFERENCE_SIZE_M = 1.4

# name parts (lower case, separators removed) each SMPL joint answers to, best first; resolved in this order
# so that e.g. CMU's LeftShoulder becomes the collar once LeftArm has taken the shoulder
PART_NAMES: dict[str, tuple[str, ...]] = {
    "pelvis": ("hips", "pelvis", "hip", "root"),
    "hip": ("upleg", "thigh", "upperleg", "hip", "femur"),
    "knee": ("leg", "knee", "shin", "calf", "lowerleg", "lowleg", "tibia"),
    "ankle": ("ankle", "foot"),
    "foot": ("toebase", "toe", "toes", "toe0", "ball", "foot"),
    "shoulder": ("arm", "uparm", "upperarm", "shldr", "shoulder", "humerus"),
    "collar": ("collar", "clavicle", "shoulder"),
    "elbow": ("forearm", "lowarm", "lowerarm", "elbow", "radius"),
    "wrist": ("wrist", "hand"),
    "neck": ("neck", "neck1"),
    "head": ("head",),
}
# where SMPL's spine1..3 sit along the pelvis-to-neck chain, as fractions of its length
SPINE_FRACTIONS = {"spine1": 0.22, "spine2": 0.46, "spine3": 0.58}
# where a collar the file lacks (or puts on the chest joint) goes along the chest-to-shoulder segment: SMPL's
# collars sit about halfway out from the spine to the shoulder
COLLAR_FRACTION = 0.5


@dataclass
class Skeleton:
    """World positions of every joint and end site of one BVH file, in the file's units and axes."""

    file: str  # the file's name, for messages
    names: list[str]  # end sites are named "<joint>/End"
    parents: list[int]  # -1 for the root
    positions: np.ndarray  # [frames, joints, 3]
    frame_time: float  # seconds

    def coincide(self, a: int, b: int) -> bool:
        """Whether joints ``a`` and ``b`` are at one place in every frame (a zero offset between them)."""
        size = float(np.ptp(self.positions[0], axis=0).max())
        return float(np.abs(self.positions[:, a] - self.positions[:, b]).max()) <= 1e-6 * size

    def chain(self, top: int, bottom: int) -> list[int]:
        """Joint indices from ``top`` down to ``bottom``."""
        path = [bottom]
        while path[-1] != top:
            if self.parents[path[-1]] < 0:
                raise MotionError(f"{self.file}: {self.names[bottom]} does not hang below {self.names[top]}")
            path.append(self.parents[path[-1]])
        return path[::-1]


def read_bvh(path: Path) -> Skeleton:
    """Parse ``path`` with bvhio and run forward kinematics; raises MotionError with the parser's message."""
    text = _read_text(path)
    _check_motion_section(text, path.name)
    try:
        container = bvhio.readAsBvh(str(path))
    except SyntaxError as exc:  # bvhio's line numbers are off, so quote the line instead
        at = f" at {_shorten(exc.text.strip())!r}" if isinstance(exc.text, str) else ""
        raise MotionError(f"{path.name}: unreadable BVH: {exc.msg}{at}") from exc
    except (ValueError, IndexError) as exc:
        raise MotionError(f"{path.name}: unreadable BVH: {exc}") from exc
    if not container.FrameCount:
        raise MotionError(f"{path.name}: no frames")
    if container.FrameTime <= 0:
        raise MotionError(f"{path.name}: frame time {container.FrameTime} is not positive")
    return Skeleton(path.name, *_forward_kinematics(container.Root), frame_time=container.FrameTime)


def _shorten(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise MotionError(f"{path.name}: unreadable: {exc.strerror or exc}") from exc


def _check_motion_section(text: str, name: str) -> None:
    """Check what bvhio assumes (it reads past the end of a truncated file forever) and that every channel
    value is finite (NaN turns into zero-norm quaternions deep inside the rotation code)."""
    lines = [ln.split() for ln in text.splitlines() if ln.strip()]
    heads = [i for i, tok in enumerate(lines) if tok == ["MOTION"]]
    if not heads:
        raise MotionError(f"{name}: unreadable BVH: no MOTION section")
    i = heads[0]
    if (len(lines) < i + 3 or lines[i + 1][:1] != ["Frames:"] or lines[i + 2][:2] != ["Frame", "Time:"]
            or len(lines[i + 1]) != 2 or not lines[i + 1][1].isdigit()):
        raise MotionError(f"{name}: unreadable BVH: MOTION must be followed by 'Frames: N' and 'Frame Time: t'")
    declared, frames = int(lines[i + 1][1]), lines[i + 3:]
    if len(frames) < declared:
        raise MotionError(f"{name}: unreadable BVH: declares {declared} frames but holds {len(frames)}")
    channels = _channel_names(lines[:i])
    for n, values in enumerate(frames[:declared]):
        if len(values) != len(channels):
            raise MotionError(f"{name}: unreadable BVH: frame {n} has {len(values)} values, expected {len(channels)}")
    try:
        values = np.array(frames[:declared], dtype=np.float64).reshape(declared, len(channels))
    except ValueError:
        return  # a value that is not a number: bvhio's message quotes the line
    bad = ~np.isfinite(values)
    if bad.any():
        frame, channel = np.argwhere(bad)[0]
        raise MotionError(f"{name}: NaN or inf in {int(bad.sum())} of {values.size} channel values "
                          f"(first in frame {frame}, {channels[channel]})")


def _channel_names(header: list[list[str]]) -> list[str]:
    """'<joint> <channel>' for every channel the hierarchy declares, in the order a frame lists them."""
    names: list[str] = []
    joint = "?"
    for tok in header:
        if tok[0] in ("ROOT", "JOINT"):
            joint = " ".join(tok[1:])
        elif tok[0] == "CHANNELS" and len(tok) > 1 and tok[1].isdigit():
            given = tok[2:]
            names += [f"{joint} {given[k] if k < len(given) else f'channel {k}'}" for k in range(int(tok[1]))]
    return names


def _forward_kinematics(root: bvhio.BvhJoint) -> tuple[list[str], list[int], np.ndarray]:
    """World positions of all joints (and end sites, named ``<joint>/End``) for every frame."""
    names: list[str] = []
    parents: list[int] = []
    positions: list[np.ndarray] = []
    rotations: list[Rotation] = []

    def visit(joint: bvhio.BvhJoint, parent: int) -> None:
        keys = np.array([(k.Position.x, k.Position.y, k.Position.z,
                          k.Rotation.x, k.Rotation.y, k.Rotation.z, k.Rotation.w) for k in joint.Keyframes])
        local_rot = Rotation.from_quat(keys[:, 3:])
        if parent < 0:
            pos, rot = keys[:, :3], local_rot
        else:  # bvhio stores the offset (or position channels) as the local translation
            pos = positions[parent] + rotations[parent].apply(keys[:, :3])
            rot = rotations[parent] * local_rot
        index = len(names)
        names.append(joint.Name)
        parents.append(parent)
        positions.append(pos)
        rotations.append(rot)
        if not joint.Children:
            end = np.array([joint.EndSite.x, joint.EndSite.y, joint.EndSite.z])
            names.append(f"{joint.Name}/End")
            parents.append(index)
            positions.append(pos + rot.apply(end))
            rotations.append(rot)
        for child in joint.Children:
            visit(child, index)

    visit(root, -1)
    return names, parents, np.stack(positions, axis=1)


_NAMESPACE = re.compile(r"^.*:|^bip0*1[ _]", re.IGNORECASE)
_SIDE_WORD = re.compile(r"^(left|right)[ _.]?(.+)$", re.IGNORECASE)
_SIDE_LETTER = re.compile(r"^([LRlr])(?:[ _.]|(?=[A-Z]))(.+)$")
_SIDE_SUFFIX = re.compile(r"^(.+?)[ _.](left|right|l|r)$", re.IGNORECASE)


def split_name(name: str) -> tuple[str | None, str]:
    """('left' | 'right' | None, part): 'mixamorig:LeftUpLeg' -> ('left', 'upleg'), 'lShldr' -> ('left', 'shldr'),
    'Bip01 R Calf' -> ('right', 'calf'), 'thigh.L' -> ('left', 'thigh'), 'LowerBack' -> (None, 'lowerback')."""
    base = _NAMESPACE.sub("", name.strip())
    side, rest = None, base
    if m := _SIDE_WORD.match(base) or _SIDE_LETTER.match(base):
        side, rest = m.group(1), m.group(2)
    elif m := _SIDE_SUFFIX.match(base):
        rest, side = m.group(1), m.group(2)
    if side is not None:
        side = "left" if side.lower().startswith("l") else "right"
    return side, re.sub(r"[ _.\-]", "", rest).lower()


def match_joints(skel: Skeleton) -> dict[str, int]:
    """SMPL joint name -> index in ``skel`` for every joint found by name (spine1..3 are derived later)."""
    parts: dict[tuple[str | None, str], int] = {}
    for i, joint in enumerate(skel.names):
        if not joint.endswith("/End"):
            parts.setdefault(split_name(joint), i)
    found: dict[str, int] = {}

    def pick(smpl: str, side: str | None, part: str) -> None:
        taken = set(found.values())
        for candidate in PART_NAMES[part]:
            i = parts.get((side, candidate))
            if i is not None and i not in taken:
                found[smpl] = i
                return

    pick("pelvis", None, "pelvis")
    pick("neck", None, "neck")
    pick("head", None, "head")
    for side in ("left", "right"):
        for part in ("hip", "knee", "ankle", "foot", "shoulder", "collar", "elbow", "wrist"):
            pick(f"{side}_{part}", side, part)
        ankle = found.get(f"{side}_ankle")
        if f"{side}_foot" not in found and ankle is not None and f"{skel.names[ankle]}/End" in skel.names:
            found[f"{side}_foot"] = skel.names.index(f"{skel.names[ankle]}/End")
    required = [n for n in JOINT if not n.startswith("spine") and not n.endswith("collar")]
    missing = [n for n in required if n not in found]
    if missing:
        raise MotionError(f"{skel.file}: no joint for {', '.join(missing)} "
                          f"(known names include {', '.join(PART_NAMES[missing[0].split('_')[-1]][:3])})")
    found["neck"] = _own_place(skel, found["neck"], found["head"])
    return found


def _own_place(skel: Skeleton, neck: int, head: int) -> int:
    """The file's neck joint; where that sits on its parent (CMU's Neck on Spine1), the first joint above it
    towards the head that does not (CMU's Neck1): SMPL's neck is at the base of the neck, above the collars."""
    if skel.parents[neck] < 0 or not skel.coincide(neck, skel.parents[neck]):
        return neck
    try:
        above = skel.chain(neck, head)[1:-1]
    except MotionError:  # the head does not hang below the neck: keep the file's neck
        return neck
    return next((j for j in above if not skel.coincide(j, neck)), neck)


def retarget(skel: Skeleton) -> np.ndarray:
    """[frames, 22, 3] in the file's units and axes."""
    found = match_joints(skel)
    pos = skel.positions
    out = np.zeros((len(pos), N_JOINTS, 3))
    for smpl, i in found.items():
        out[:, JOINT[smpl]] = pos[:, i]
    # spine1..3: points along the pelvis-to-neck chain, whatever number of spine joints the file has
    chain = pos[:, skel.chain(found["pelvis"], found["neck"])]  # [frames, links, 3]
    cum = np.concatenate([np.zeros((len(pos), 1)), np.cumsum(np.linalg.norm(np.diff(chain, axis=1), axis=-1), 1)], 1)
    frames = np.arange(len(pos))
    for smpl, frac in SPINE_FRACTIONS.items():
        target = frac * cum[:, -1]
        k = (cum[:, 1:-1] <= target[:, None]).sum(axis=1)  # the segment each target falls in
        lo, hi = cum[frames, k], cum[frames, k + 1]
        w = ((target - lo) / np.maximum(hi - lo, 1e-12))[:, None]
        out[:, JOINT[smpl]] = (1 - w) * chain[frames, k] + w * chain[frames, k + 1]
    for side in ("left", "right"):
        collar = found.get(f"{side}_collar")
        chest = _chest(skel, found[f"{side}_shoulder"], collar)
        if collar is None or skel.coincide(collar, chest):  # CMU: LeftShoulder/RightShoulder sit on Spine1
            shoulder = pos[:, found[f"{side}_shoulder"]]
            out[:, JOINT[f"{side}_collar"]] = pos[:, chest] + COLLAR_FRACTION * (shoulder - pos[:, chest])
    return out


def _chest(skel: Skeleton, shoulder: int, collar: int | None) -> int:
    """The joint an arm hangs from: the shoulder's nearest ancestor, past the collar and anything on the shoulder."""
    j = skel.parents[shoulder]
    while skel.parents[j] >= 0 and (j == collar or skel.coincide(j, shoulder)):
        j = skel.parents[j]
    return j


def body_size(joints: np.ndarray) -> float:
    """Ankle-to-head size in frame 0: left leg + pelvis-to-neck + neck-to-head (independent of the axes)."""
    j = joints[0]

    def dist(a: str, b: str) -> float:
        return float(np.linalg.norm(j[JOINT[a]] - j[JOINT[b]]))

    return (dist("left_hip", "left_knee") + dist("left_knee", "left_ankle")
            + dist("pelvis", "neck") + dist("neck", "head"))


def unit_scale(joints: np.ndarray, scale: float | str, name: str) -> float:
    """Metres per file unit (``scale`` as BVHConfig validates it).  A number is used as given; a unit name from
    BVH_UNITS picks that unit; "auto" picks the unit in BVH_UNITS that brings the skeleton's ankle-to-head size
    closest (in ratio) to 1.4 m."""
    if not isinstance(scale, str):
        return float(scale)
    if scale != "auto":
        return BVH_UNITS[scale]
    size = body_size(joints)
    if not size > 0:
        raise MotionError(f"{name}: skeleton has zero size")
    return min(BVH_UNITS.values(), key=lambda s: abs(math.log(size * s / REFERENCE_SIZE_M)))


def up_rotation(joints: np.ndarray) -> np.ndarray:
    """Rotation matrix taking the file's up axis to +y.  Up is the signed axis nearest to the mean
    pelvis-to-head direction over the clip (mocap files are axis-aligned; y-up and z-up are common)."""
    mean = (joints[:, JOINT["head"]] - joints[:, JOINT["pelvis"]]).mean(axis=0)
    axis = np.zeros(3)
    k = int(np.abs(mean).argmax())
    axis[k] = np.sign(mean[k]) or 1.0
    rot, _ = Rotation.align_vectors([[0.0, 1.0, 0.0]], [axis])
    return rot.as_matrix()


def resample(joints: np.ndarray, frame_time: float, fps: int = FPS) -> np.ndarray:
    """Linear interpolation from the file's frame time onto a ``fps`` grid starting at the first frame."""
    if len(joints) < 2:
        return joints
    rate = 1.0 / frame_time
    if abs(rate - round(rate)) < 1e-3 * rate:  # files round the frame time (0.008333 for 120 fps)
        frame_time = 1.0 / round(rate)
    t = np.arange(len(joints)) * frame_time
    n = int(math.floor(t[-1] * fps + 1e-6)) + 1
    return make_interp_spline(t, joints, k=1, axis=0)(np.arange(n) / fps)


def normalise(joints: np.ndarray) -> np.ndarray:
    """First pelvis over the origin, lowest joint of the clip on y = 0, first frame facing +z."""
    yaw = headings(joints[:1])[0]
    c, s = math.cos(-yaw), math.sin(-yaw)
    turn = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])  # rotation by -yaw about y
    out = (joints - joints[0, JOINT["pelvis"]] * [1, 0, 1]) @ turn.T
    out[..., 1] -= out[..., 1].min()
    return out


def read_sidecar(path: Path) -> list[str]:
    """Captions from ``<stem>.txt`` beside the BVH; [] when there is none."""
    side = path.with_suffix(".txt")
    if not side.is_file():
        return []
    captions = [ln.strip() for ln in read_utf8(side, side.name).splitlines() if ln.strip()]
    if not captions:
        raise MotionError(f"{side.name}: empty caption file")
    return captions


def load_bvh_file(path: Path, scale: float | str = "auto", item_id: str | None = None) -> MotionItem:
    """One BVH file as a MotionItem in the HumanML3D format; raises MotionError with a one-line reason."""
    path = Path(path)
    if not path.is_file():
        raise MotionError(f"{path}: no such file")
    skel = read_bvh(path)
    joints = retarget(skel)
    joints = joints * unit_scale(joints, scale, path.name)
    joints = joints @ up_rotation(joints).T
    joints = normalise(resample(joints, skel.frame_time))
    return MotionItem(id=item_id or path.stem, source="bvh", joints=check_joints(joints, path.name),
                      captions=read_sidecar(path), origin=str(path))


def load_bvh_dir(cfg: BVHConfig) -> Iterator[MotionItem | Reject]:
    """Every ``*.bvh`` under ``cfg.root`` (sorted); ids are the relative paths without suffix, '/' -> '_'."""
    root = cfg.root
    if not root.is_dir():
        raise MotionError(f"{root}: no such folder")
    for path in sorted(p for p in root.rglob("*") if p.suffix.lower() == ".bvh" and p.is_file()):
        item_id = "_".join(path.relative_to(root).with_suffix("").parts)
        try:
            yield load_bvh_file(path, cfg.scale, item_id)
        except MotionError as exc:
            yield Reject(item_id, str(path), str(exc))
