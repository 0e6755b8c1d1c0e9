"""The HumanML3D source on a tiny folder in its real layout: splits, trimming, mirroring, rejects."""
import numpy as np
import pytest
from motion_bodies import STANDING, straight

from tasks.common.motions import MotionError
from tasks.common.skeleton import JOINT
from tasks.motion.config import HumanML3DConfig
from tasks.motion.humanml3d import load_humanml3d, mirror_joints, swap_sides
from tasks.motion.item import MotionItem, Reject

WALK = straight(STANDING, (0.0, 3.0), 100)  # 5 s, forward along +z
SIDESTEP = straight(STANDING, (1.0, 0.0), 60)  # 3 s, to the person's left (+x)


def write(root, clips, splits):
    (root / "new_joints").mkdir(parents=True, exist_ok=True)
    (root / "texts").mkdir(exist_ok=True)
    for cid, (joints, text) in clips.items():
        if joints is not None:
            np.save(root / f"new_joints/{cid}.npy", joints)
        if text is not None:
            (root / f"texts/{cid}.txt").write_text(text)
    for split, ids in splits.items():
        (root / f"{split}.txt").write_text("".join(i + "\n" for i in ids))


@pytest.fixture
def hml(tmp_path):
    bad_nan = WALK.copy()
    bad_nan[10, 3, 1] = np.nan
    write(tmp_path, {
        "000001": (WALK, "a person walks forward.#a/DET person/NOUN walk/VERB forward/ADV#0.0#0.0\n"
                         "someone strolls ahead.#x#nan#nan\n"
                         "a man walks then stops.#x#1.0#3.0\n"
                         "the person takes steps.#x#1.0#3.0\n"
                         "a quick shuffle.#x#4.0#4.5\n"),
        "000002": (SIDESTEP, "a person steps to the left with their left foot.#x#0.0#0.0\n"),
        "000003": (bad_nan, "a person walks.#x#0.0#0.0\n"),
        "000004": (WALK[:, :21], "a person walks.#x#0.0#0.0\n"),
        "000005": (WALK, None),
        "000006": (WALK, "\n\n"),
        "000007": (None, None),  # listed in a split file, no joints file
        "000008": (WALK * 100, "a person walks.#x#0.0#0.0\n"),  # centimetres
        "000009": (WALK[:15], "a person walks.#x#0.0#0.0\n"),  # 0.75 s
    }, {"train": ["000001", "M000001", "000002", "M000002", "000003", "000004"],
        "val": ["000005", "000006", "000007"], "test": ["000008", "000009"]})
    (tmp_path / "new_joints/000010.npy").write_bytes(b"not an npy file")
    (tmp_path / "texts/000010.txt").write_text("x#x#0#0\n")
    with open(tmp_path / "test.txt", "a") as fh:
        fh.write("000010\n")
    return tmp_path


def load(root, splits=("train", "val", "test"), subset=None, mirrored=False):
    return list(load_humanml3d(HumanML3DConfig(root=root, splits=splits, subset=subset, mirrored=mirrored)))


def by_id(entries):
    items = {e.id: e for e in entries if isinstance(e, MotionItem)}
    rejects = {r.item: r.reason for r in entries if isinstance(r, Reject)}
    return items, rejects


def test_whole_and_trimmed_items_and_rejects(hml):
    items, rejects = by_id(list(load(hml)))
    assert sorted(items) == ["000001", "000001_0", "000002"]
    whole, part = items["000001"], items["000001_0"]
    assert whole.captions == ["a person walks forward.", "someone strolls ahead."]  # NaN span = whole clip
    assert part.captions == ["a man walks then stops.", "the person takes steps."]
    np.testing.assert_array_equal(part.joints, WALK[20:60])  # frames [1.0*20, 3.0*20)
    assert whole.joints.dtype == np.float32 and whole.split == "train" and items["000002"].split == "train"
    assert whole.source == "humanml3d" and whole.label is None
    assert rejects == {
        "000001_1": "new_joints/000001.npy [4-4.5 s]: too short: 10 frames, need at least 20",
        "000003": "new_joints/000003.npy: NaN or inf in 1 of 6600 values (first in frame 10)",
        "000004": "new_joints/000004.npy: wrong shape (100, 21, 3), expected [T, 22, 3]",
        "000005": "texts/000005.txt: missing caption file",
        "000006": "texts/000006.txt: empty caption file",
        "000007": "new_joints/000007.npy: missing joints file",
        "000008": "new_joints/000008.npy: absurd coordinates: |coord| up to 311 m (limit 50 m), not metres?",
        "000009": "new_joints/000009.npy: too short: 15 frames, need at least 20",
        "000010": "new_joints/000010.npy: not a NumPy .npy file",
    }


def test_mirrors_are_made_when_missing_and_keep_the_split(hml):
    items, rejects = by_id(list(load(hml, ["train"], ["000002", "000003"], mirrored=True)))
    assert sorted(items) == ["000002", "M000002"]
    mirror = items["M000002"]
    assert mirror.captions == ["a person steps to the right with their right foot."]
    assert mirror.split == "train"
    # the mirrored sidestep travels to -x, the person's right, and left/right joints traded places
    assert mirror.joints[-1, JOINT["pelvis"], 0] == pytest.approx(-1.0, abs=1e-6)
    assert mirror.joints[0, JOINT["left_hip"], 0] == pytest.approx(0.09, abs=1e-6)
    np.testing.assert_allclose(mirror.joints[:, JOINT["left_wrist"]] * [-1, 1, 1],
                               SIDESTEP[:, JOINT["right_wrist"]], atol=1e-6)
    assert rejects["M000003"] == "mirror of new_joints/000003.npy: NaN or inf in 1 of 6600 values (first in frame 10)"


def test_mirror_files_on_disk_are_used(hml):
    write(hml, {"M000002": (SIDESTEP + [0, 0, 7], "a mirrored file from disk.#x#0#0\n")}, {})
    items, _ = by_id(list(load(hml, ["train"], ["000002"], mirrored=True)))
    assert items["M000002"].captions == ["a mirrored file from disk."]
    assert items["M000002"].joints[0, 0, 2] == pytest.approx(7.0)


def test_subset_first_n_and_unknown_ids(hml):
    items, rejects = by_id(list(load(hml, ["train"], 2)))
    assert sorted(items) == ["000001", "000001_0", "000002"] and list(rejects) == ["000001_1"]
    _, rejects = by_id(list(load(hml, ["val"], ["000001", "000005"])))
    assert rejects == {"000001": "000001: not listed in val.txt", "000005": "texts/000005.txt: missing caption file"}


def test_not_a_humanml3d_root(tmp_path):
    with pytest.raises(MotionError, match="no new_joints folder"):
        load(tmp_path, ["train"])
    (tmp_path / "new_joints").mkdir()
    with pytest.raises(MotionError, match="train.txt: no such split file"):
        load(tmp_path, ["train"])


def test_malformed_caption_line(tmp_path):
    write(tmp_path, {"000001": (WALK, "fine.#x#0#0\nbroken#only two\n")}, {"train": ["000001"]})
    (reject,) = load(tmp_path, ["train"])
    assert reject.reason == "texts/000001.txt line 2: expected 'caption#tokens#start#end', got 'broken#only two'"


def test_swap_sides_keeps_case_and_other_words():
    assert swap_sides("Left hand up, then RIGHT; turns leftwards. Bright light, all rightly") == \
        "Right hand up, then LEFT; turns rightwards. Bright light, all rightly"


def test_mirroring_twice_is_the_identity():
    np.testing.assert_array_equal(mirror_joints(mirror_joints(WALK)), WALK)


def test_mirrored_clips_are_trimmed_like_their_originals(tmp_path):
    write(tmp_path, {"000001": (SIDESTEP, "a person turns left.#x#0.0#0.0\nthe person steps right.#x#1.0#3.0\n")},
          {"val": ["000001", "M000001"]})
    items, rejects = by_id(load(tmp_path, ["val"], ["M000001"], mirrored=True))  # an M id selects its original
    assert sorted(items) == ["000001", "000001_0", "M000001", "M000001_0"] and rejects == {}
    assert items["M000001"].captions == ["a person turns right."]
    assert items["M000001_0"].captions == ["the person steps left."]
    np.testing.assert_array_equal(items["M000001_0"].joints, mirror_joints(SIDESTEP[20:60]))
    assert {item.split for item in items.values()} == {"val"}
    assert items["M000001_0"].origin == f"{tmp_path / 'new_joints/000001.npy'} (mirrored) [1-3 s]"
