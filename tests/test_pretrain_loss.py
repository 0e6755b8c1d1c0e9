"""The contrastive losses (tasks/pretrain/loss.py) against hand-computed values and their known limits."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from tasks.pretrain.loss import clip_loss, make_loss, siglip_loss

B, E = 6, 16


def features(seed: int, n: int = B, dim: int = E) -> torch.Tensor:
    return F.normalize(torch.randn(n, dim, generator=torch.Generator().manual_seed(seed)), dim=1)


def test_clip_with_one_positive_per_row_is_the_mean_of_both_cross_entropies():
    s, t, scale = features(0), features(1), torch.tensor(7.0)
    logits = scale * s @ t.T
    labels = torch.arange(B)
    expected = 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels))
    assert clip_loss(s, t, scale, torch.tensor(3.0), torch.eye(B, dtype=torch.bool)) == pytest.approx(float(expected))
    # the bias is no part of CLIP's loss
    assert clip_loss(s, t, scale, torch.tensor(0.0), torch.eye(B, dtype=torch.bool)) == pytest.approx(float(expected))


def test_clip_of_an_aligned_batch_is_zero_and_of_random_features_about_log_b():
    eye = torch.eye(B, dtype=torch.bool)
    aligned = torch.eye(B, E)  # orthogonal unit rows, signal i = text i
    assert clip_loss(aligned, aligned, torch.tensor(100.0), torch.tensor(0.0), eye) < 1e-6
    n = 256
    random = [float(clip_loss(features(2 * k, n), features(2 * k + 1, n), torch.tensor(1.0), torch.tensor(0.0),
                              torch.eye(n, dtype=torch.bool))) for k in range(4)]
    assert sum(random) / len(random) == pytest.approx(math.log(n), rel=0.02)


def shared_captions() -> torch.Tensor:
    """Positives of a batch whose motions 0 and 1 both own captions 0 and 1 (two clips captioned alike)."""
    positives = torch.eye(B, dtype=torch.bool)
    positives[0, 1] = positives[1, 0] = True
    return positives


def test_clip_does_not_penalise_ranking_either_motion_of_a_shared_caption_first():
    signal, text, positives = features(4), features(3), shared_captions()
    swapped = signal[[1, 0, *range(2, B)]]  # motion 0's signal where motion 1's was, and back
    scale, bias = torch.tensor(10.0), torch.tensor(0.0)
    assert clip_loss(swapped, text, scale, bias, positives) == pytest.approx(float(clip_loss(signal, text, scale,
                                                                                             bias, positives)))
    # with only the diagonal as positives, the same swap changes the loss (the caption's motions compete)
    eye = torch.eye(B, dtype=torch.bool)
    assert clip_loss(swapped, text, scale, bias, eye) != pytest.approx(float(clip_loss(signal, text, scale, bias,
                                                                                       eye)))


def test_clip_of_an_aligned_batch_with_shared_captions_reaches_the_floor_of_its_soft_targets():
    text = torch.eye(B, E)
    signal = text.clone()
    signal[0] = signal[1] = F.normalize(text[0] + text[1], dim=0)  # both motions equally close to both captions
    # rows 0, 1 and columns 0, 1 have a uniform target over two equal logits: log 2 each; the rest ~0
    loss = clip_loss(signal, text, torch.tensor(100.0), torch.tensor(0.0), shared_captions())
    assert float(loss) == pytest.approx(2 * math.log(2) / B, abs=1e-6)


def test_siglip_matches_a_loop_over_pairs():
    s, t, scale, bias = features(5), features(6), torch.tensor(10.0), torch.tensor(-3.0)
    positives = torch.eye(B, dtype=torch.bool)
    positives[2, 4] = True
    total = 0.0
    for i in range(B):
        for j in range(B):
            label = 1.0 if positives[i, j] else -1.0
            logit = float(scale) * float(s[i] @ t[j]) + float(bias)
            total += -math.log(1.0 / (1.0 + math.exp(-label * logit)))
    assert siglip_loss(s, t, scale, bias, positives) == pytest.approx(total / B, rel=1e-5)


def test_siglip_of_an_aligned_batch_is_small_and_of_a_wrong_one_large():
    eye = torch.eye(B, dtype=torch.bool)
    aligned = torch.eye(B, E)
    scale, bias = torch.tensor(30.0), torch.tensor(-15.0)  # positives at +15, negatives at -15
    assert siglip_loss(aligned, aligned, scale, bias, eye) < 1e-5
    shifted = aligned[[*range(1, B), 0]]  # every text paired with the next motion's signal
    assert siglip_loss(shifted, aligned, scale, bias, eye) > 14.0


@pytest.mark.parametrize("name", ["clip", "siglip"])
def test_gradients_reach_features_and_the_learnable_scale(name):
    s, t = features(7).requires_grad_(), features(8).requires_grad_()
    log_scale, bias = torch.tensor(math.log(10.0), requires_grad=True), torch.tensor(-10.0, requires_grad=True)
    make_loss(name)(s, t, log_scale.exp(), bias, torch.eye(B, dtype=torch.bool)).backward()
    assert s.grad.abs().sum() > 0 and t.grad.abs().sum() > 0 and log_scale.grad != 0
    assert (bias.grad is not None and bias.grad != 0) == (name == "siglip")  # CLIP has no bias


def test_an_unknown_loss_is_refused():
    assert make_loss("clip") is clip_loss and make_loss("siglip") is siglip_loss
    with pytest.raises(ValueError, match="unknown loss"):
        make_loss("triplet")
