"""The glue between the frozen signal encoder and the LLM: per-tower projectors and the signal boundary vectors.

Each encoder tower has its own token space, so each gets its own projector (LLaVA's two types, built from a
type string): ``linear`` or ``mlp2x_gelu`` (Linear, GELU, Linear).  The embeddings of ``<signal>`` and
``</signal>`` are two trained vectors held here, not rows of the LLM's vocabulary: the LLM's embedding table
and its (often tied) output head stay untouched, and the model can never emit them.
"""
from __future__ import annotations

import torch
from torch import nn


def build_projector(kind: str, in_dim: int, out_dim: int) -> nn.Module:
    """``linear`` or ``mlp2x_gelu`` from ``in_dim`` (encoder token width) to ``out_dim`` (LLM hidden size)."""
    if kind == "linear":
        return nn.Linear(in_dim, out_dim)
    if kind == "mlp2x_gelu":
        return nn.Sequential(nn.Linear(in_dim, out_dim), nn.GELU(), nn.Linear(out_dim, out_dim))
    raise ValueError(f"unknown projector type {kind!r} (linear, mlp2x_gelu)")


class SignalProjector(nn.Module):
    """[B, M, K, W] encoder tokens (M towers in ``modalities`` order, K tokens each) -> [B, M*K, H] soft tokens."""

    def __init__(self, kind: str, modalities: tuple[str, ...], in_dim: int, hidden: int, init_scale: float):
        super().__init__()
        self.modalities = tuple(modalities)
        self.towers = nn.ModuleDict({m: build_projector(kind, in_dim, hidden) for m in self.modalities})
        # start and end vectors, drawn at the scale of the LLM's own token embeddings
        self.boundary = nn.Parameter(torch.randn(2, hidden) * init_scale)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        if tokens.shape[1] != len(self.modalities):
            raise ValueError(f"signal tokens of {tokens.shape[1]} towers, the projector has {len(self.modalities)}")
        out = [self.towers[m](tokens[:, i]) for i, m in enumerate(self.modalities)]
        return torch.cat(out, dim=1)
