"""The pretrain stage's test metrics (tasks/pretrain/metrics.py), on hand-built embeddings with known answers."""
from __future__ import annotations

import json

import numpy as np
import pytest
from matplotlib.image import imread

from tasks.pretrain.metrics import (
    bootstrap_ci,
    class_embeddings,
    class_prompts,
    confusion_rows,
    evaluate_embeddings,
    plot_confusion,
    ranks,
    retrieval,
)


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


# scores of 4 motions (rows) against 4 captions (columns); motion 1 has captions 1 and 3, caption 3 two motions
SCORES = np.array([[0.9, 0.1, 0.5, 0.3],
                   [0.2, 0.8, 0.7, 0.1],
                   [0.3, 0.6, 0.4, 0.2],
                   [0.1, 0.2, 0.3, 0.9]])
OWNER = np.zeros((4, 4), bool)
OWNER[[0, 1, 1, 2, 3], [2, 1, 3, 0, 3]] = True


def test_identity_retrieval_is_perfect():
    emb = unit(np.random.default_rng(0).normal(size=(30, 16)))
    r = retrieval(emb, emb, np.eye(30, dtype=bool))
    for d in r.values():
        assert (d["r1"], d["r5"], d["r10"], d["mrr"], d["median_rank"]) == (1.0, 1.0, 1.0, 1.0, 1.0)
        np.testing.assert_array_equal(d["ranks"], np.ones(30))


def test_hand_computed_ranks_best_positive_counts():
    # signal = the identity, so the score of motion i and caption j is SCORES[i, j] exactly
    r = retrieval(np.eye(4), SCORES.T, OWNER)
    s2t, t2s = r["signal_to_text"], r["text_to_signal"]
    # motion 1: caption 1 (0.8) beats every negative, caption 3 (0.1) would rank 4th
    np.testing.assert_array_equal(s2t["ranks"], [2, 1, 3, 1])
    # caption 3 belongs to motions 1 (0.1) and 3 (0.9): the better one counts
    np.testing.assert_array_equal(t2s["ranks"], [2, 1, 2, 1])
    assert s2t["r1"] == 0.5 and s2t["r5"] == 1.0 and s2t["median_rank"] == 1.5
    assert s2t["mrr"] == pytest.approx((1 / 2 + 1 + 1 / 3 + 1) / 4)
    assert t2s["mrr"] == pytest.approx(0.75) and t2s["median_rank"] == 1.5


def test_rotated_assignment_ranks_last():
    # each motion's caption is its neighbour's embedding: its own (a negative) wins, the rest tie with the positive
    emb = np.eye(6)
    r = retrieval(emb, emb, np.roll(np.eye(6, dtype=bool), 1, axis=1))
    np.testing.assert_array_equal(r["signal_to_text"]["ranks"], np.full(6, 6))
    assert r["signal_to_text"]["r1"] == 0.0 and r["signal_to_text"]["r5"] == 0.0
    assert r["signal_to_text"]["r10"] == 1.0 and r["signal_to_text"]["mrr"] == pytest.approx(1 / 6)


def test_ties_go_against_the_query_but_not_between_positives():
    assert ranks(np.array([[0.5, 0.5, 0.5]]), np.array([[False, True, False]]))[0] == 3
    assert ranks(np.array([[0.5, 0.5, 0.5]]), np.array([[True, True, False]]))[0] == 2
    assert ranks(np.array([[0.5 + 1e-13, 0.5, 0.4]]), np.array([[False, True, False]]))[0] == 2  # float noise
    assert ranks(np.array([[0.5 + 1e-6, 0.5, 0.4]]), np.array([[False, True, False]]))[0] == 2
    assert ranks(np.array([[0.5 - 1e-6, 0.5, 0.4]]), np.array([[False, True, False]]))[0] == 1
    # a collapsed encoder (one embedding for everything) ranks last, never first
    same = np.ones((5, 8)) / np.sqrt(8)
    r = retrieval(same, same, np.eye(5, dtype=bool))
    assert r["signal_to_text"]["r1"] == 0.0 and set(r["text_to_signal"]["ranks"]) == {5}


def test_a_query_without_a_positive_is_an_error():
    owner = OWNER.copy()
    owner[:, 0] = False  # caption 0 now describes no motion
    with pytest.raises(ValueError, match="no positive"):
        retrieval(np.eye(4), SCORES.T, owner)
    with pytest.raises(ValueError, match=r"\[N, M\]"):
        retrieval(np.eye(4), SCORES.T, OWNER[:3])


def test_bootstrap_ci_contains_narrows_and_is_seeded():
    rng = np.random.default_rng(1)
    small, large = rng.random(100) < 0.5, rng.random(1600) < 0.5
    lo, hi = bootstrap_ci(small, 1000, seed=3)
    assert lo < small.mean() < hi
    # a mean of n coin flips: the 95 % interval is about 2 * 1.96 * 0.5 / sqrt(n) wide
    assert hi - lo == pytest.approx(1.96 / np.sqrt(100), rel=0.2)
    lo2, hi2 = bootstrap_ci(large, 1000, seed=3)
    assert lo2 < large.mean() < hi2 and hi2 - lo2 == pytest.approx(1.96 / 40, rel=0.2)
    assert bootstrap_ci(small, 300, seed=7) == bootstrap_ci(small, 300, seed=7)
    assert bootstrap_ci(small, 300, seed=7) != bootstrap_ci(small, 300, seed=8)
    assert bootstrap_ci(np.full(50, 0.25), 200, seed=0) == (0.25, 0.25)
    assert bootstrap_ci(np.arange(1, 100), 500, seed=0, stat=np.median)[0] > 35


def test_bootstrap_resamples_rows_whole():
    # a stat of (true, predicted) pairs: resampling must keep each pair together
    pairs = np.stack([np.arange(40), np.arange(40)], axis=1)
    assert bootstrap_ci(pairs, 200, seed=0, stat=lambda p: float(np.all(p[:, 0] == p[:, 1]))) == (1.0, 1.0)
    with pytest.raises(ValueError):
        bootstrap_ci(np.array([]), 100, seed=0)


def test_class_prompts_and_embeddings():
    templates = ["a person {}.", "{}, on radar"]
    assert class_prompts("walk_away_and_back", templates) == ["a person walk away and back.",
                                                              "walk away and back, on radar"]
    with pytest.raises(ValueError, match="without"):
        class_prompts("wave", ["no slot"])
    calls = []

    def encode(prompts: list[str]) -> np.ndarray:
        calls.append(prompts)
        # a class direction, plus a third axis that only the first template adds
        return np.array([[("walk" in p), ("run" in p), p.startswith("a person")] for p in prompts], float)

    emb = class_embeddings(encode, ["walk", "run"], templates)
    assert len(calls) == 1 and len(calls[0]) == 4
    np.testing.assert_allclose(emb, [[1, 0, 0.5], [0, 1, 0.5]] / np.sqrt(1.25))


def clusters(n: int, n_classes: int, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Balanced labels; class one-hot in the first dims and a motion's own random part in the rest."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % n_classes
    own = unit(rng.normal(size=(n, dim - n_classes)))
    return unit(np.concatenate([np.eye(n_classes)[labels], own], axis=1)), labels


def separable(n: int = 200, n_classes: int = 4, dim: int = 32) -> dict:
    rng = np.random.default_rng(5)
    fused, labels = clusters(n, n_classes, dim, seed=6)
    train, train_labels = clusters(200, n_classes, dim, seed=7)
    train_labels[::5] = -1  # unlabelled train motions are left out of the probe
    return dict(signal={"fused": fused, "imu": fused.copy(), "points": unit(rng.normal(size=(n, dim)))},
                text=unit(fused + 0.02 * rng.normal(size=fused.shape)), positives=np.eye(n, dtype=bool),
                class_emb=np.eye(n_classes, dim), labels=labels, labelled=np.arange(n),
                probe_train={"fused": train}, probe_labels=train_labels,
                class_names=[f"class_{c}" for c in range(n_classes)], n_boot=200, seed=0)


def test_separable_clusters_score_perfectly_and_the_control_falls_to_chance():
    out = evaluate_embeddings(**separable())
    for key in ("retrieval/signal_to_text/r1", "retrieval/text_to_signal/r1", "retrieval/signal_to_text/mrr",
                "zero_shot/top1", "zero_shot/top5", "zero_shot/macro_f1", "probe/accuracy", "probe/macro_f1",
                "modality/imu/retrieval/signal_to_text/r1", "modality/imu/zero_shot/top1"):
        assert out[key] == {"value": 1.0, "ci95": [1.0, 1.0]}, key
    assert out["retrieval/text_to_signal/median_rank"]["value"] == 1.0
    # a modality of noise, and the signals shuffled across motions: chance (1/200 retrieval, 1/4 zero-shot)
    for key in ("modality/points/retrieval/signal_to_text/r1", "modality/points/retrieval/text_to_signal/r1",
                "control/retrieval/signal_to_text/r1", "control/retrieval/text_to_signal/r1"):
        assert out[key]["value"] < 0.03, key
    assert abs(out["control/zero_shot/top1"]["value"] - 0.25) < 0.1
    assert abs(out["modality/points/zero_shot/top1"]["value"] - 0.25) < 0.1
    assert out["chance/zero_shot/top1"] == {"value": 0.25, "ci95": [0.25, 0.25]}
    assert out["chance/retrieval/signal_to_text/r1"]["value"] == 0.005
    assert out["_labels"][:5] == ["class_0", "class_1", "class_2", "class_3", "class_0"]
    assert out["_predictions"] == out["_labels"]
    json.loads(json.dumps(out))
    for key, v in out.items():
        if not key.startswith("_"):
            assert set(v) == {"value", "ci95"} and v["ci95"][0] <= v["value"] <= v["ci95"][1], key
            assert all(x == round(x, 4) for x in (v["value"], *v["ci95"])), key


def test_probe_learns_what_the_prompts_miss():
    case = separable()
    case["class_emb"] = np.roll(np.eye(4, 32), 1, axis=0)  # class c's prompts point at class c-1's motions
    out = evaluate_embeddings(**case)
    assert out["zero_shot/top1"]["value"] == 0.0 and out["probe/accuracy"]["value"] == 1.0
    assert out["_predictions"][:2] == ["class_1", "class_2"]


def test_hand_computed_zero_shot_f1_chance_and_labelled_rows():
    # 5 motions, 3 classes; motion 2 is unlabelled; labelled motions' true classes 0, 0, 1, 1
    signal = np.array([[1, 0, 0], [0, 0, 1], [0.6, 0.8, 0], [0, 1, 0], [0, 1, 0]], float)
    owner = np.zeros((5, 4), bool)
    owner[[0, 0, 0, 1, 2, 3, 4], [0, 1, 2, 3, 3, 3, 3]] = True  # 7 pairs of 5 motions x 4 captions
    out = evaluate_embeddings(signal={"fused": signal}, text=np.eye(4, 3), positives=owner, class_emb=np.eye(3),
                              labels=np.array([0, 0, 1, 1]), labelled=np.array([0, 1, 3, 4]),
                              probe_train={"fused": signal}, probe_labels=np.array([0, 0, -1, 0, 0]),
                              class_names=["sit", "stand", "wave"], n_boot=100, seed=0)
    assert out["_labels"] == ["sit", "sit", "stand", "stand"]
    assert out["_predictions"] == ["sit", "wave", "stand", "stand"]
    assert out["zero_shot/top1"]["value"] == 0.75 and out["zero_shot/top5"]["value"] == 1.0
    # F1 over the true classes only: sit (P 1, R 1/2) 2/3, stand 1; "wave", never true, is not averaged
    assert out["zero_shot/macro_f1"]["value"] == pytest.approx((2 / 3 + 1) / 2, abs=1e-4)
    assert out["chance/retrieval/signal_to_text/r1"]["value"] == pytest.approx(7 / 20, abs=1e-4)
    assert out["chance/retrieval/text_to_signal/r1"]["value"] == pytest.approx(7 / 20, abs=1e-4)
    assert out["chance/zero_shot/top1"]["value"] == pytest.approx(1 / 3, abs=1e-4)
    assert not any(k.startswith("probe/") for k in out)  # one labelled train class: no probe


def test_without_classes_only_retrieval_is_measured():
    case = separable()
    case.update(class_emb=None, labels=None)
    out = evaluate_embeddings(**case)
    assert out["retrieval/signal_to_text/r1"]["value"] == 1.0
    assert not any("zero_shot" in k or k.startswith("probe/") for k in out)
    assert out["_labels"] == [] and out["_predictions"] == []
    case = separable()
    case["signal"]["imu"] = case["signal"]["imu"][:, :8]  # a tower left outside the shared space
    with pytest.raises(ValueError, match="imu"):
        evaluate_embeddings(**case)


def test_confusion_rows_and_plot(tmp_path):
    classes = [f"activity_number_{i:02d}" for i in range(24)]
    labels = [classes[i % 24] for i in range(96)]
    predictions = [classes[(i + (i % 3 == 0)) % 24] for i in range(96)]
    rows = confusion_rows(labels, predictions, classes)
    assert len(rows) == 96 and rows[3] == {"actual": classes[3], "predicted": classes[4]}
    with pytest.raises(ValueError, match="not among"):
        confusion_rows(["jump"], ["sit"], ["sit"])
    path = tmp_path / "confusion.png"
    plot_confusion(rows, classes, path)
    image = imread(path)
    assert image.shape[0] > 600 and image.shape[1] > image.shape[0]  # room for 24 names and the colour bar
    assert image[..., :3].std() > 0.05  # not a blank canvas
    before = path.read_bytes()
    with pytest.raises(ValueError, match="jump"):
        plot_confusion([{"actual": "jump", "predicted": "sit"}], classes, path)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["confusion.png"]
