"""BVH: small CMU-like files with known motion, written here in different units and up axes."""

import bvhio
import numpy as np
import pytest
from motion_sources import CMU_SKELETON, CMU_UNIT, HIP_HEIGHT_M, SKELETON, bvh_text
from motion_sources import write_bvh as write_bvh_examples
from scipy.spatial.transform import Rotation

from tasks.common.motions import MotionError
from tasks.common.skeleton import JOINT
from tasks.motion.bvh import COLLAR_FRACTION, load_bvh_dir, load_bvh_file, read_bvh, split_name
from tasks.motion.config import BVHConfig
from tasks.motion.facts import measure_facts
from tasks.motion.item import MotionItem, Reject

FRAMES, FRAME_TIME = 121, 1 / 120  # 1 s at 120 fps


def pose(z_up: bool):
    """Walking 1 m forward in 1 s while facing world -x and bending the left elbow; with ``z_up`` the whole
    body is tipped onto world z by the root's X rotation, as some exporters do."""
    def at(name, t):
        if name == "Hips":
            position = (-t, 0.0, 0.93) if z_up else (-t, 0.93, 0.0)  # forward = world -x
            return position, ((90.0, 0.0, -90.0) if z_up else (0.0, -90.0, 0.0))  # x, y, z degrees
        if name == "LeftForeArm":
            return None, (20 * t, 10 * t, 40 * t)  # all three axes, so the order matters
        return None, (0.0, 0.0, 0.0)
    return at


def write_bvh(path, unit=1.0, z_up=False, prefix="", frames=FRAMES, drop=()):
    path.write_text(bvh_text(SKELETON, frames, FRAME_TIME, pose(z_up), unit=unit, prefix=prefix, drop=drop))
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

    entries = list(load_bvh_dir(BVHConfig(root=tmp_path)))
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
        list(load_bvh_dir(BVHConfig(root=tmp_path / "nope")))


def standing(name, t):
    return ((0.0, HIP_HEIGHT_M, 0.0) if name == "Hips" else None), (0.0, 0.0, 0.0)


def without_collars(node):
    """The skeleton with each ``*Shoulder`` (collar) joint replaced by what hangs below it."""
    name, offset, children = node
    kept = [grand for c in children for grand in (c[2] if c[0].endswith("Shoulder") else [c])]
    return name, offset, [without_collars(c) for c in kept]


@pytest.mark.parametrize("skeleton", [CMU_SKELETON, without_collars(CMU_SKELETON)], ids=["cmu", "no_collars"])
def test_collars_and_neck_on_the_chest_get_places_of_their_own(tmp_path, skeleton):
    """CMU's Neck, LeftShoulder and RightShoulder sit on Spine1 (zero offsets): each collar goes halfway from
    Spine1 to its shoulder, as for a file with no collars, and the neck goes to Neck1, above the collars."""
    path = tmp_path / "131_01.bvh"
    path.write_text(bvh_text(skeleton, 21, 0.05, standing, unit=CMU_UNIT, order="ZYX"))
    item = load_bvh_file(path)  # scale auto: CMU units
    j = item.joints[0]
    floor = HIP_HEIGHT_M - 0.91  # the toes, 0.91 m below the hips, are on y = 0
    spine1, shoulder = np.array([0, 1.25 - floor, 0]), np.array([0.18, 1.38 - floor, 0])
    np.testing.assert_allclose(j[JOINT["left_collar"]], spine1 + COLLAR_FRACTION * (shoulder - spine1), atol=1e-5)
    np.testing.assert_allclose(j[JOINT["right_collar"]], j[JOINT["left_collar"]] * [-1, 1, 1], atol=1e-5)
    np.testing.assert_allclose(j[JOINT["neck"]], [0, 1.42 - floor, 0], atol=1e-5)  # Neck1
    distance = np.linalg.norm(j[:, None] - j[None], axis=-1) + np.eye(len(j))
    assert distance.min() > 0.05  # all 22 joints apart
    assert j[JOINT["spine3"], 1] < j[JOINT["left_collar"], 1] < j[JOINT["neck"], 1]


def test_cmu_example_file_walks(tmp_path):
    walk, _ = write_bvh_examples(tmp_path)
    item = load_bvh_file(walk)
    j = item.joints
    assert j.shape == (61, 22, 3) and item.captions[0] == "a person walks forward."
    assert not np.allclose(j[:, JOINT["left_collar"]], j[:, JOINT["right_collar"]])
    facts = measure_facts(j, 20)
    assert facts["direction"] == "forward" and facts["speed_mps"] == pytest.approx(1.0, abs=0.05)
