"""The pretrain stage's windows and batches (tasks/pretrain/data.py), on hand-made motions with known answers."""
from __future__ import annotations

import numpy as np
import pytest

from tasks.pretrain.config import AugmentConfig, SignalShapes
from tasks.pretrain.data import Motion, positives, strongest_points, train_batch, window

FPS, IMU_HZ, SITES = 20.0, 50.0, 3


class Identity:
    """A normaliser that leaves points as they are (heatmaps are stored standardised already)."""

    view = {v: (0.0, 1.0) for v in ("range_time", "doppler_time", "azimuth_time")}

    @staticmethod
    def points(points):
        return points


def motion(name: str, seconds: float, captions=("a person waves.",), split="train") -> Motion:
    """Heatmaps whose every bin holds its frame's index, the IMU its sample's time, one point per frame."""
    frames, samples = round(seconds * FPS), round(seconds * IMU_HZ)
    views = {v: np.tile(np.arange(frames, dtype=np.float32), (4, 1)) for v in Identity.view}
    points = np.zeros((frames, 2, 5), np.float32)
    points[:, 0, 3] = np.arange(frames)  # the velocity feature holds the frame index
    imu = np.zeros((samples, SITES, 6), np.float32)
    imu[..., 0] = (np.arange(samples) / IMU_HZ)[:, None]
    imu[..., 4] = 1.0  # a unit rotation rate about the gyroscope's y axis
    return Motion(name, split, "wave", list(captions), views, points, np.ones(frames, np.int64), imu, FPS,
                  IMU_HZ, Identity())


SHAPES = SignalShapes(range_bins=4, doppler_bins=4, angle_bins=4, n_frames=40, max_points=2, imu_steps=100,
                      n_sites=SITES)
NO_AUG = AugmentConfig(shift_frames=0, db_gain=0, db_noise=0, point_dropout=0, point_jitter_m=0,
                       velocity_jitter_mps=0, site_dropout=0, rotate_deg=0)


def test_the_strongest_points_of_each_frame_are_kept():
    pts = np.array([[0, 0, 0, 0, 5], [1, 0, 0, 0, 9], [2, 0, 0, 0, 7], [3, 0, 0, 0, 1]], np.float32)
    kept, counts = strongest_points(pts, np.array([0, 0, 0, 2]), n_frames=3, keep=2)
    assert counts.tolist() == [2, 0, 1]
    assert kept[0, :, 0].tolist() == [1, 2] and kept[2, 0, 0] == 3 and not kept[1].any()


def test_an_evaluation_window_is_centred_and_the_imu_covers_the_same_span():
    w = window(motion("m", 4.0), SHAPES, None, None)  # 80 frames, window 40: frames 20..59
    assert w["range_time"][0, 0] == 20 and w["range_time"][0, -1] == 59 and w["frame_mask"].all()
    assert w["points"][0, 0, 3] == 20 and w["points_mask"][:, 0].all() and not w["points_mask"][:, 1].any()
    assert w["imu"][0, 0, 0] == pytest.approx(20 / FPS) and w["imu_mask"].all()  # radar frame 20 starts at 1.0 s


def test_a_short_clip_is_padded_and_masked():
    w = window(motion("m", 1.5), SHAPES, None, None)  # 30 frames in a 40-frame window
    assert w["frame_mask"].sum() == 30 and not w["frame_mask"][30:].any() and not w["range_time"][:, 30:].any()
    assert w["imu_mask"].sum() == 75 and not w["imu"][75:].any()
    assert not w["points_mask"][30:].any()


def test_augmentation_rotates_sensors_without_changing_magnitudes_and_keeps_a_site():
    aug = NO_AUG.model_copy(update={"rotate_deg": 90.0, "site_dropout": 0.9})
    m = motion("m", 2.0)
    for seed in range(20):
        w = window(m, SHAPES, aug, np.random.default_rng(seed))
        kept = w["site_mask"]
        assert kept.any()
        assert not w["imu"][:, ~kept].any()
        acc = w["imu"][w["imu_mask"]][:, kept, :3]
        assert np.allclose(np.linalg.norm(acc, axis=-1), np.linalg.norm(m.imu[:, kept, :3], axis=-1), atol=1e-5)
        assert np.allclose(np.linalg.norm(w["imu"][w["imu_mask"]][:, kept, 3:], axis=-1), 1.0, atol=1e-5)
    assert not np.allclose(w["imu"][:, kept, 3:], m.imu[:100, kept, 3:])  # it did rotate


def test_a_training_crop_lies_inside_the_clip_and_is_seeded():
    m = motion("m", 4.0)
    starts = {window(m, SHAPES, NO_AUG, np.random.default_rng(s))["range_time"][0, 0] for s in range(30)}
    assert min(starts) >= 0 and max(starts) <= 40 and len(starts) > 5
    a, b = (window(m, SHAPES, AugmentConfig(), np.random.default_rng(3)) for _ in range(2))
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_captions_shared_by_two_motions_are_positives_of_both():
    a, b, c = motion("a", 2, ["walks.", "a person walks."]), motion("b", 2, ["walks."]), motion("c", 2, ["waves."])
    assert positives(["walks.", "walks.", "waves."], [a, b, c]).tolist() == [
        [True, True, False], [True, True, False], [False, False, True]]


def test_the_shares_of_two_processes_make_the_batch_of_one():
    train = [motion(f"m{k}", 2 + k % 3, [f"caption {k}", f"other {k}"]) for k in range(10)]
    one, texts, pos, mine = train_batch(train, SHAPES, 7, 4, 0, AugmentConfig())
    assert mine == [0, 1, 2, 3] and pos.diagonal().all()
    again = train_batch(train, SHAPES, 7, 4, 0, AugmentConfig())
    assert again[1] == texts and all(np.array_equal(again[0][k], one[k]) for k in one)
    for rank in (0, 1):
        share, texts2, pos2, rows = train_batch(train, SHAPES, 7, 4, 0, AugmentConfig(), rank, 2)
        assert rows == [rank, rank + 2] and texts2 == texts and np.array_equal(pos2, pos)
        assert all(np.array_equal(share[k], one[k][rows]) for k in one)
    # an epoch visits every motion's batch once (2 steps of 4 from 10 motions: 8 distinct motions)
    seen = [t for step in (0, 1) for t in train_batch(train, SHAPES, step, 4, 0, AugmentConfig())[1]]
    assert len({t.split()[-1] for t in seen}) == 8
