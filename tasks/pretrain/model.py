"""The contrastive signal-text model: a signal encoder (one transformer tower per modality, fused) and a text tower.

Tokens per tower (batch layout: tasks/pretrain/data.py):
  range_time, doppler_time, azimuth_time  ``patch_frames`` radar frames x every bin of the view
  points                                  a shared per-point MLP, max-pooled over the real points of a frame,
                                          then ``patch_frames`` frames per token
  imu                                     ``imu_patch`` samples of one site (a learned site embedding added)
A token is real if any frame (sample) in it is real; masked frames, points, samples and dropped sites are set
to zero before tokenising and their tokens are left out of attention and pooling, so what they hold never
reaches the output.  Each tower adds learned positions, runs a pre-norm transformer, mean-pools its real
tokens and projects to ``embed_dim``; the L2-normalised tower embeddings are fused (add | concat | attention)
into the signal embedding.  The text tower mean-pools a Hugging Face encoder (the embedded all-MiniLM-L6-v2
unless told otherwise) and projects it; ``freeze`` says which of its parameters train.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from transformers import AutoModel, AutoTokenizer

from tasks.pretrain.config import (
    HEATMAPS,
    EncoderConfig,
    PretrainModelConfig,
    SignalShapes,
    TextConfig,
    text_model_path,
)

MAX_LOGIT_SCALE = 100.0
Batch = dict[str, torch.Tensor]


def _table(n: int, width: int) -> nn.Embedding:
    """A learned table (positions, sites, modalities); an nn.Embedding so param_groups exempts it from decay."""
    table = nn.Embedding(n, width)
    nn.init.normal_(table.weight, std=0.02)
    return table


def _patches(x: torch.Tensor, real: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Group axis 1 (time) into patches of ``size``, padding the end with masked zeros.

    x [B, T, ...], real [B, T, ...] -> x [B, N, size, ...], real [B, N, ...] (a patch is real if any step is)."""
    n = math.ceil(x.shape[1] / size)
    pad = n * size - x.shape[1]
    if pad:
        x = torch.cat([x, x.new_zeros(x.shape[0], pad, *x.shape[2:])], dim=1)
        real = torch.cat([real, real.new_zeros(real.shape[0], pad, *real.shape[2:])], dim=1)
    x = x.reshape(x.shape[0], n, size, *x.shape[2:])
    return x, real.reshape(real.shape[0], n, size, *real.shape[2:]).any(dim=2)


class HeatmapTokens(nn.Module):
    """[B, bins, F] of one view -> one token per ``patch_frames`` frames, spanning every bin."""

    def __init__(self, view: str, cfg: EncoderConfig, shapes: SignalShapes):
        super().__init__()
        self.view, self.patch = view, cfg.patch_frames
        self.embed = nn.Linear(shapes.bins(view) * cfg.patch_frames, cfg.width)
        self.pos = _table(math.ceil(shapes.n_frames / cfg.patch_frames), cfg.width)

    def forward(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        frames, real = batch[self.view].transpose(1, 2), batch["frame_mask"]  # [B, F, bins]
        frames = torch.where(real[..., None], frames, 0.0)
        patches, real = _patches(frames, real, self.patch)
        return self.embed(patches.flatten(2)) + self.pos.weight, real


class PointTokens(nn.Module):
    """[B, F, P, 5] -> a set encoder per frame (shared MLP, masked max-pool), then ``patch_frames`` frames a token."""

    def __init__(self, cfg: EncoderConfig, shapes: SignalShapes):
        super().__init__()
        self.patch = cfg.patch_frames
        width = cfg.point_width
        self.point = nn.Sequential(nn.Linear(5, width), nn.GELU(), nn.Linear(width, width))
        self.embed = nn.Linear(width * cfg.patch_frames, cfg.width)
        self.pos = _table(math.ceil(shapes.n_frames / cfg.patch_frames), cfg.width)

    def forward(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        frame_real = batch["frame_mask"]
        real = batch["points_mask"] & frame_real[..., None]  # [B, F, P]
        feats = self.point(torch.where(real[..., None], batch["points"], 0.0))
        frames = feats.masked_fill(~real[..., None], float("-inf")).amax(dim=2)
        frames = torch.where(real.any(dim=2, keepdim=True), frames, 0.0)  # a frame without points: zeros
        patches, frame_real = _patches(frames, frame_real, self.patch)
        return self.embed(patches.flatten(2)) + self.pos.weight, frame_real


class ImuTokens(nn.Module):
    """[B, T, S, 6] -> one token per (``imu_patch`` samples, site); a dropped site's tokens are masked."""

    def __init__(self, cfg: EncoderConfig, shapes: SignalShapes):
        super().__init__()
        self.patch = cfg.imu_patch
        self.embed = nn.Linear(6 * cfg.imu_patch, cfg.width)
        self.pos = _table(math.ceil(shapes.imu_steps / cfg.imu_patch), cfg.width)
        self.site = _table(shapes.n_sites, cfg.width)

    def forward(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        real = batch["imu_mask"][:, :, None] & batch["site_mask"][:, None, :]  # [B, T, S]
        samples = torch.where(real[..., None], batch["imu"], 0.0)
        patches, real = _patches(samples, real, self.patch)  # [B, N, patch, S, 6], [B, N, S]
        patches = patches.permute(0, 1, 3, 2, 4).flatten(3)  # [B, N, S, patch * 6]
        tokens = self.embed(patches) + self.pos.weight[:, None] + self.site.weight
        return tokens.flatten(1, 2), real.flatten(1)


class Tower(nn.Module):
    """Tokens of one modality -> pre-norm transformer -> mean over real tokens -> [B, embed_dim]."""

    def __init__(self, tokens: nn.Module, cfg: EncoderConfig):
        super().__init__()
        self.tokens = tokens
        layer = nn.TransformerEncoderLayer(cfg.width, cfg.heads, round(cfg.width * cfg.mlp_ratio), cfg.dropout,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, cfg.depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(cfg.width)
        self.proj = nn.Linear(cfg.width, cfg.embed_dim)

    def forward(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(tokens [B, N, width] after the transformer, which are real [B, N], the pooled projection [B, E])."""
        x, real = self.tokens(batch)
        # a sample without a real token attends to all of them (softmax over nothing is NaN); it pools to zero
        ignore = ~real & real.any(dim=1, keepdim=True)
        x = self.norm(self.blocks(x, src_key_padding_mask=ignore))
        weight = real[..., None].to(x.dtype)
        return x, real, self.proj((x * weight).sum(dim=1) / weight.sum(dim=1).clamp(min=1.0))


class Fusion(nn.Module):
    """[B, M, E] per-modality embeddings -> [B, E]: their sum, a linear map of their concatenation, or one
    self-attention layer over them (with a learned modality embedding) and their mean."""

    def __init__(self, method: str, n_modalities: int, dim: int, heads: int):
        super().__init__()
        self.method = method
        if method == "concat":
            self.proj = nn.Linear(n_modalities * dim, dim)
        elif method == "attention":
            self.modality = _table(n_modalities, dim)
            self.norm = nn.LayerNorm(dim)
            self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.method == "add":
            return x.sum(dim=1)
        if self.method == "concat":
            return self.proj(x.flatten(1))
        x = x + self.modality.weight
        h = self.norm(x)
        return (x + self.attn(h, h, h, need_weights=False)[0]).mean(dim=1)


class SignalEncoder(nn.Module):
    """The batch -> {"embedding": fused [B, E], "pooled": {modality: [B, E]}} (L2-normalised) and each tower's
    token sequence, {"tokens": {modality: [B, N, width]}, "token_mask": {modality: [B, N]}} (what the LLM sees)."""

    def __init__(self, cfg: EncoderConfig, shapes: SignalShapes):
        super().__init__()
        self.modalities = cfg.modalities

        def tokens(modality: str) -> nn.Module:
            if modality in HEATMAPS:
                return HeatmapTokens(modality, cfg, shapes)
            return PointTokens(cfg, shapes) if modality == "points" else ImuTokens(cfg, shapes)

        self.towers = nn.ModuleDict({m: Tower(tokens(m), cfg) for m in cfg.modalities})
        self.fusion = Fusion(cfg.fusion, len(cfg.modalities), cfg.embed_dim, cfg.heads)

    def forward(self, batch: Batch) -> dict:
        towers = {m: self.towers[m](batch) for m in self.modalities}
        pooled = {m: F.normalize(out[2], dim=-1) for m, out in towers.items()}
        fused = self.fusion(torch.stack([pooled[m] for m in self.modalities], dim=1))
        return {"embedding": F.normalize(fused, dim=-1), "pooled": pooled,
                "tokens": {m: out[0] for m, out in towers.items()},
                "token_mask": {m: out[1] for m, out in towers.items()}}


def _blocks(backbone: nn.Module) -> nn.ModuleList:
    """The transformer layers of a Hugging Face encoder: its ModuleList as long as config.num_hidden_layers."""
    n = backbone.config.num_hidden_layers
    for module in backbone.modules():
        if isinstance(module, nn.ModuleList) and len(module) == n:
            return module
    raise ValueError(f"{type(backbone).__name__}: no list of its {n} transformer layers found")


class TextTower(nn.Module):
    """Captions -> mean-pooled encoder features [N, hidden] -> projection -> L2-normalised [N, embed_dim]."""

    def __init__(self, cfg: TextConfig, embed_dim: int):
        super().__init__()
        path = text_model_path(cfg.path)
        self.freeze, self.max_tokens = cfg.freeze, cfg.max_tokens
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.backbone = AutoModel.from_pretrained(path)
        hidden = self.backbone.config.hidden_size
        self.proj: nn.Module = nn.Identity() if cfg.freeze == "frozen" else nn.Linear(hidden, embed_dim)
        self.backbone.requires_grad_(cfg.freeze == "full")
        if cfg.freeze == "last_n":
            _blocks(self.backbone)[-cfg.last_n:].requires_grad_(True)
        # a pooler head (BERT's) is computed but not used by mean pooling: it must not wait for a gradient (DDP)
        pooler = getattr(self.backbone, "pooler", None)
        if isinstance(pooler, nn.Module):
            pooler.requires_grad_(False)
        self.train()

    @property
    def trains_transformer(self) -> bool:
        return self.freeze in ("last_n", "full")

    def train(self, mode: bool = True) -> TextTower:
        super().train(mode)
        if not self.trains_transformer:  # a frozen backbone always runs without dropout
            self.backbone.eval()
        return self

    def pooled_features(self, texts: list[str], batch_size: int = 64) -> torch.Tensor:
        """[N, hidden] mean of the last hidden states over each caption's tokens (not normalised)."""
        device = next(self.backbone.parameters()).device
        out = [torch.zeros(0, self.backbone.config.hidden_size, device=device)]
        with torch.set_grad_enabled(self.trains_transformer and torch.is_grad_enabled()):
            for i in range(0, len(texts), batch_size):
                tokens = self.tokenizer(texts[i:i + batch_size], padding=True, truncation=True,
                                        max_length=self.max_tokens, return_tensors="pt").to(device)
                hidden = self.backbone(**tokens).last_hidden_state
                mask = tokens["attention_mask"][..., None].to(hidden.dtype)
                out.append((hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0))
        return torch.cat(out)

    def project(self, pooled: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.proj(pooled), dim=-1)

    def forward(self, texts: list[str] | torch.Tensor) -> torch.Tensor:
        return self.project(texts if isinstance(texts, torch.Tensor) else self.pooled_features(texts))


class ContrastiveModel(nn.Module):
    """Signal encoder, text tower and the loss's learnable temperature (and SigLIP's bias)."""

    def __init__(self, cfg: PretrainModelConfig, shapes: SignalShapes):
        super().__init__()
        siglip = cfg.loss == "siglip"
        self.signal_encoder = SignalEncoder(cfg.encoder, shapes)
        self.text = TextTower(cfg.text, cfg.encoder.embed_dim)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(10.0) if siglip else math.log(1 / 0.07)))
        # CLIP's loss has no bias: a constant 0, kept out of training (DDP would wait for its gradient)
        self.logit_bias = nn.Parameter(torch.tensor(-10.0 if siglip else 0.0), requires_grad=siglip)

    def signal(self, batch: Batch) -> dict:
        return self.signal_encoder(batch)

    def encode_signal(self, batch: Batch) -> torch.Tensor:
        return self.signal_encoder(batch)["embedding"]

    def forward(self, batch: Batch, texts: list[str] | torch.Tensor) -> dict[str, torch.Tensor]:
        """Fused and per-tower ("tower_features" [B, M, E], in cfg.modalities' order) signal features, text
        features, the temperature's inverse and the bias."""
        signal = self.signal_encoder(batch)
        return {"signal_features": signal["embedding"], "text_features": self.text(texts),
                "tower_features": torch.stack([signal["pooled"][m] for m in self.signal_encoder.modalities], dim=1),
                "logit_scale": self.logit_scale.exp().clamp(max=MAX_LOGIT_SCALE), "logit_bias": self.logit_bias}


def build_model(cfg: PretrainModelConfig, shapes: SignalShapes) -> ContrastiveModel:
    return ContrastiveModel(cfg, shapes)


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """AdamW groups: decay on trainable weight matrices, none on biases, norms, tables (nn.Embedding) or scalars."""
    decay, no_decay, seen = [], [], set()
    for module in model.modules():
        for p in module.parameters(recurse=False):
            if not p.requires_grad or id(p) in seen:
                continue
            seen.add(id(p))
            (decay if p.ndim >= 2 and not isinstance(module, nn.Embedding) else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
