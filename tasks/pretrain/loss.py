"""Contrastive losses between L2-normalised signal and text features of one batch (row i of each: motion i).

``positives[i, j]`` is True when text j is a caption of motion i: two motions that share a caption are not
each other's negatives.  Both losses take (signal, text, scale, bias, positives) so the train loop can call
either the same way.

clip    symmetric InfoNCE over logits ``scale * signal @ text.T``: the mean of the signal->text and the
        text->signal cross-entropy, the target of a row spread evenly over its positives; ``bias`` unused.
siglip  every pair an independent binary decision over ``scale * signal @ text.T + bias``, label +1 for a
        positive and -1 otherwise: -sum log sigmoid(label * logit) / B (the SigLIP paper's normalisation).
"""
from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

Loss = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def clip_loss(signal: torch.Tensor, text: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor,
              positives: torch.Tensor) -> torch.Tensor:
    logits = scale * signal @ text.T
    targets = positives.to(logits.dtype)
    to_text = F.cross_entropy(logits, targets / targets.sum(dim=1, keepdim=True))
    to_signal = F.cross_entropy(logits.T, targets.T / targets.sum(dim=0)[:, None])
    return 0.5 * (to_text + to_signal)


def siglip_loss(signal: torch.Tensor, text: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor,
                positives: torch.Tensor) -> torch.Tensor:
    logits = scale * signal @ text.T + bias
    labels = 2.0 * positives.to(logits.dtype) - 1.0
    return -F.logsigmoid(labels * logits).sum() / signal.shape[0]


LOSSES: dict[str, Loss] = {"clip": clip_loss, "siglip": siglip_loss}


def make_loss(name: str) -> Loss:
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}: one of {', '.join(LOSSES)}")
    return LOSSES[name]
