"""BVH: small CMU-like files with known motion, written here in different units and up axes."""

import bvhio
import numpy as np
import pytest

from scipy.spatial.transform import Rotation

from tasks.motion.bvh import load_bvh_dir, load_bvh_file, read_bvh, split_name
from tasks.motion.facts import measure_facts
from tasks.common.motions import MotionError
from tasks.motion.item import MotionItem, Reject
from tasks.common.skeleton import JOINT

# (name, offset in metres, children) with the body y up, facing +z, its left at +x; a leaf gets an End Site
LEG = ("{s}UpLeg", (0.09, -0.08, 0), [("{s}Leg", (0, -0.38, 0), [("{s}Foot", (0, -0.39, 0), [
    ("{s}ToeBase", (0.01, -0.06, 0.11), [])])])])
ARM = ("{s}Shoulder", (0.08, 0.12, 0), [("{s}Arm", (0.10, 0.01, 0), [("{s}ForeArm", (0.02, -0.26, 0), [
    ("{s}Hand", (0.01, -0.24, 0), [])])])])


def sided(node, side):
    """The left template as the Left or Right limb (mirrored through x = 0)."""
    name, (x, y, z), children = node
    return name.format(s=side), (x if side == "Left" else -x, y, z), [sided(c, side) for c in children]


SKELETON = ("Hips", (0, 0, 0), [
    ("LHipJoint", (0, 0, 0), [sided(LEG, "Left")]), ("RHipJoint", (0, 0, 0), [sided(LEG, "Right")]),
    ("LowerBack", (0, 0, 0), [("Spine", (0, 0.12, 0), [("Spine1", (0, 0.20, 0), [
        ("Neck", (0, 0.20, 0), [("Neck1", (0, 0.05, 0), [("Head", (0, 0.05, 0.03), [])])]),
        sided(ARM, "Left"), sided(ARM, "Right")])])]),
])
FRAMES, FRAME_TIME = 121, 1 / 120  # 1 s at 120 fps


def joint_names(node):
    yield node[0]
    for child in node[2]:
        yield from joint_names(child)


def write_bvh(path, unit=1.0, z_up=False, prefix="", frames=FRAMES, drop=()):
    """The skeleton walking 1 m forward in 1 s while facing world -x and bending the left elbow.

    ``unit`` is metres per file unit; with ``z_up`` the whole body is tipped onto world z by the root's
    X rotation, as some exporters do."""
    lines = ["HIERARCHY"]

    def joint(node, depth, root=False):
        name, offset, children = node
        if name in drop:
            return
        pad = "  " * depth
        lines.append(f"{pad}{'ROOT' if root else 'JOINT'} {prefix}{name}")
        lines.append(pad + "{")
        lines.append(f"{pad}  OFFSET {' '.join(f'{v / unit:.6f}' for v in offset)}")
        channels = "Xposition Yposition Zposition Zrotation Xrotation Yrotation" if root else \
            "Zrotation Xrotation Yrotation"
        lines.append(f"{pad}  CHANNELS {6 if root else 3} {channels}")
        for child in children:
            joint(child, depth + 1)
        if not children:
            lines.extend([f"{pad}  End Site", pad + "  {", f"{pad}    OFFSET 0 {0.05 / unit:.6f} 0", pad + "  }"])
        lines.append(pad + "}")

    joint(SKELETON, 0, root=True)
    names = [n for n in joint_names(SKELETON) if n not in drop]
    lines += ["MOTION", f"Frames: {frames}", f"Frame Time: {FRAME_TIME:.8f}"]
    for f in range(frames):
        t = f * FRAME_TIME
        values = []
        for name in names:
            if name == "Hips":
                pos = (-t, 0.0, 0.93) if z_up else (-t, 0.93, 0.0)  # forward = world -x
                rot = (-90.0, 90.0, 0.0) if z_up else (0.0, 0.0, -90.0)  # Z X Y, degrees
                values += [v / unit for v in pos] + list(rot)
            elif name == "LeftForeArm":
                values += [40 * t, 20 * t, 10 * t]  # all three axes, so the order matters
            else:
                values += [0.0, 0.0, 0.0]
        lines.append(" ".join(f"{v:.6f}" for v in values))
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return load_bvh_file(write_bvh(tmp_path_factory.mktemp("ref") / "walk.bvh"), scale=1.0)


def test_metres_y_up_facing_and_twenty_fps(reference):
    j = reference.joints
    assert j.shape == (21, 22, 3) and j.dtype == np.float32  # 1 s at 120 fps -> 21 frames at 20 fps
    np.testing.assert_allclose(j[0, JOINT["pelvis"]], [0, 0.91, 0], atol=1e-5)  # the toes (0.02 below) on y = 0
    np.testing.assert_allclose(j[-1, JOINT["pelvis"]], [0, 0.91, 1.0], atol=1e-5)  # walked 1 m forward = +z
    np.testing.assert_allclose(j[0, JOINT["left_wrist"]], [0.21, 0.86, 0], atol=1e-5)  # the left hand is at +x
    np.testing.assert_allclose(j[0, JOINT["left_collar"]], [0.08, 1.35, 0], atol=1e-5)  # CMU LeftShoulder
    np.testing.assert_allclose(j[0, JOINT["left_shoulder"]], [0.18, 1.36, 0], atol=1e-5)  # CMU LeftArm
    np.testing.assert_allclose(j[0, JOINT["spine1"]], [0, 0.91 + 0.22 * 0.52, 0], atol=1e-5)
    np.testing.assert_allclose(j[0, JOINT["head"]], [0, 0.91 + 0.62, 0.03], atol=1e-5)
    assert j[:, :, 1].min() == pytest.approx(0.0, abs=1e-6)
    facts = measure_facts(j, 20)
    assert facts["direction"] == "forward" and facts["speed_mps"] == pytest.approx(1.0, abs=1e-4)
    assert reference.source == "bvh" and reference.captions == [] and reference.id == "walk"


@pytest.mark.parametrize("unit, z_up", [(0.01, False), (0.0254, True), (0.0254 / 0.45, True), (1.0, True)])
def test_units_and_up_axis_are_detected(tmp_path, reference, unit, z_up):
    item = load_bvh_file(write_bvh(tmp_path / "w.bvh", unit=unit, z_up=z_up))  # scale="auto"
    np.testing.assert_allclose(item.joints, reference.joints, atol=2e-4)


def test_forward_kinematics_matches_bvhio_and_the_zxy_channel_order(tmp_path):
    """Our vectorised forward kinematics against bvhio's own joint hierarchy, joint by joint."""
    path = write_bvh(tmp_path / "w.bvh", unit=0.01, z_up=True)
    skel = read_bvh(path)
    root = bvhio.readAsHierarchy(str(path))
    for frame in (0, 77, FRAMES - 1):
        root.loadPose(frame)
        for joint, _, _ in root.layout():
            i = skel.names.index(joint.Name)
            np.testing.assert_allclose(skel.positions[frame, i], list(joint.PositionWorld), atol=1e-3)
    # and by hand: the hand bone turned by the root (yaw -90 about z, tip +90 about x) and the forearm's
    # channels 40, 20, 10 degrees about its intrinsic Z, X, Y axes in the last frame (t = 1 s)
    rel = skel.positions[-1, skel.names.index("LeftHand")] - skel.positions[-1, skel.names.index("LeftForeArm")]
    root_turn = Rotation.from_euler("ZXY", [-90, 90, 0], degrees=True)
    turn = root_turn * Rotation.from_euler("ZXY", [40, 20, 10], degrees=True)  # upper case: intrinsic
    np.testing.assert_allclose(rel / 100, turn.apply([0.01, -0.24, 0]), atol=1e-6)
    wrong_order = root_turn * Rotation.from_euler("XYZ", [20, 10, 40], degrees=True)
    assert np.linalg.norm(rel / 100 - wrong_order.apply([0.01, -0.24, 0])) > 0.01


def test_mixamo_prefix_and_sidecar_captions(tmp_path, reference):
    path = write_bvh(tmp_path / "clip.bvh", prefix="mixamorig:")
    (tmp_path / "clip.txt").write_text("a person walks forward.\n\nsomeone strolls ahead.\n")
    item = load_bvh_file(path, scale="m")
    assert item.captions == ["a person walks forward.", "someone strolls ahead."]
    np.testing.assert_allclose(item.joints, reference.joints, atol=1e-5)


@pytest.mark.parametrize("name, expected", [
    ("mixamorig:LeftUpLeg", ("left", "upleg")), ("LHipJoint", ("left", "hipjoint")), ("lShldr", ("left", "shldr")),
    ("R_Knee", ("right", "knee")), ("Bip01 R Calf", ("right", "calf")), ("thigh.L", ("left", "thigh")),
    ("LowerBack", (None, "lowerback")), ("Root", (None, "root")), ("RightHand", ("right", "hand")),
    ("l_elbow", ("left", "elbow")), ("Spine1", (None, "spine1")),
])
def test_joint_name_conventions(name, expected):
    assert split_name(name) == expected


def test_directory_yields_items_and_rejects(tmp_path):
    (tmp_path / "a").mkdir()
    write_bvh(tmp_path / "a" / "good.bvh", unit=0.01)
    text = write_bvh(tmp_path / "truncated.bvh").read_text().splitlines()
    (tmp_path / "truncated.bvh").write_text("\n".join(text[:-5]) + "\n")
    garbled = write_bvh(tmp_path / "garbled.bvh").read_text().replace("JOINT LeftLeg", "JIONT LeftLeg")
    (tmp_path / "garbled.bvh").write_text(garbled)
    letters = write_bvh(tmp_path / "letters.bvh").read_text().splitlines()
    (tmp_path / "letters.bvh").write_text("\n".join(letters[:-1] + ["zero " + letters[-1].split(" ", 1)[1]]) + "\n")
    write_bvh(tmp_path / "headless.bvh", drop=("Head",))
    write_bvh(tmp_path / "silent.bvh")
    (tmp_path / "silent.txt").write_text("\n \n")
    (tmp_path / "empty.bvh").write_text("")

    entries = list(load_bvh_dir(tmp_path))
    items = [e for e in entries if isinstance(e, MotionItem)]
    rejects = {r.item: r.reason for r in entries if isinstance(r, Reject)}
    assert [i.id for i in items] == ["a_good"] and items[0].joints.shape == (21, 22, 3)
    assert rejects == {
        "empty": "empty.bvh: unreadable BVH: no MOTION section",
        "garbled": "garbled.bvh: unreadable BVH: Joint definition must end with an child joint, "
                   "end site or closing bracket at 'JIONT LeftLeg'",
        "headless": "headless.bvh: no joint for head (known names include head)",
        "letters": "letters.bvh: unreadable BVH: Keyframe must be numerics only "
                   "at 'zero 0.930000 0.000000 0.000000 0.000...'",
        "silent": "silent.txt: empty caption file",
        "truncated": "truncated.bvh: unreadable BVH: declares 121 frames but holds 116",
    }


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(MotionError, match="no such file"):
        load_bvh_file(tmp_path / "nope.bvh")
    with pytest.raises(MotionError, match="no such folder"):
        list(load_bvh_dir(tmp_path / "nope"))
