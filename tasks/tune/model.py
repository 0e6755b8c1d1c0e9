"""The signal-conditioned LLM: a Hugging Face causal LM with LoRA (peft) and the projector's soft tokens spliced
into its input embeddings.

A prompt is the base model's own chat template with the user turn ``<signal>`` + one ``<signal_patch>`` per
real soft token + ``</signal>`` + newline + the question.  The three markers are tokens added to the tokenizer
(so a prompt round-trips as text) whose ids lie past the LLM's vocabulary: ``splice_signal_tokens`` puts the
projected signal tokens at the patch positions and the projector's two boundary vectors at the start and end
positions before the LLM sees them.  Only the positions of the answer carry a label (-100 elsewhere); the
output head runs on those positions alone (the answer is a fifth of a sequence, and the vocabulary is big).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from peft import LoraConfig, PeftModel, get_peft_model
from torch import nn

from tasks.tune.config import LoraSection
from tasks.tune.projector import SignalProjector

SIGNAL_START, SIGNAL_END, SIGNAL_PATCH = "<signal>", "</signal>", "<signal_patch>"
IGNORE = -100  # the label of a position without loss (torch's cross_entropy default ignore_index)


@dataclass(frozen=True)
class SignalTokenIds:
    start: int
    end: int
    patch: int
    pad: int


def add_signal_tokens(tokenizer) -> SignalTokenIds:
    """Add the three markers to ``tokenizer`` (once) and return their ids and the padding id."""
    tokenizer.add_tokens([SIGNAL_START, SIGNAL_END, SIGNAL_PATCH], special_tokens=True)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    start, end, patch = tokenizer.convert_tokens_to_ids([SIGNAL_START, SIGNAL_END, SIGNAL_PATCH])
    return SignalTokenIds(start, end, patch, tokenizer.pad_token_id)


def splice_signal_tokens(embeds: torch.Tensor, input_ids: torch.Tensor, soft: torch.Tensor, soft_mask: torch.Tensor,
                         boundary: torch.Tensor, ids: SignalTokenIds) -> torch.Tensor:
    """``embeds`` [B, L, H] with row b's patch positions filled, in order, by its real soft tokens
    (``soft`` [B, N, H] where ``soft_mask`` [B, N]) and its start / end positions by ``boundary`` [2, H]."""
    patch = input_ids == ids.patch
    if not torch.equal(patch.sum(1), soft_mask.sum(1)):
        raise ValueError(f"prompts hold {patch.sum(1).tolist()} signal patches, the signals have "
                         f"{soft_mask.sum(1).tolist()} real tokens")
    out = embeds.masked_scatter(patch[..., None], soft[soft_mask].to(embeds.dtype))
    out = torch.where((input_ids == ids.start)[..., None], boundary[0].to(embeds.dtype), out)
    return torch.where((input_ids == ids.end)[..., None], boundary[1].to(embeds.dtype), out)


def add_lora(lm: nn.Module, cfg: LoraSection) -> PeftModel:
    """``lm`` with LoRA adapters (their B matrices start at zero: at first the model is the base model)."""
    rank, alpha = cfg.rank_alpha
    return get_peft_model(lm, LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=cfg.dropout,
                                         target_modules=cfg.target_modules, task_type="CAUSAL_LM"))


class SignalLM(nn.Module):
    """The LLM (with its adapters) and the projector; ``forward`` gives the answer positions' logits."""

    def __init__(self, lm: nn.Module, projector: SignalProjector, ids: SignalTokenIds):
        super().__init__()
        self.lm, self.projector, self.ids = lm, projector, ids
        self.vocab = lm.get_input_embeddings().num_embeddings

    def inputs_embeds(self, input_ids: torch.Tensor, signal: torch.Tensor | None,
                      signal_mask: torch.Tensor | None) -> torch.Tensor:
        """Token embeddings with the signal spliced in (the markers' ids lie past the vocabulary: looked up as
        padding, then overwritten)."""
        embeds = self.lm.get_input_embeddings()(input_ids.masked_fill(input_ids >= self.vocab, self.ids.pad))
        if signal is None:
            if (input_ids >= self.vocab).any():
                raise ValueError("prompts with signal markers but no signal")
            return embeds
        soft = self.projector(signal)
        return splice_signal_tokens(embeds, input_ids, soft, signal_mask.flatten(1), self.projector.boundary, self.ids)

    def forward(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits [n, V], targets [n]) of the n labelled next-token positions of ``batch``."""
        embeds = self.inputs_embeds(batch["input_ids"], batch.get("signal"), batch.get("signal_mask"))
        hidden = self.lm.get_decoder()(inputs_embeds=embeds, attention_mask=batch["attention_mask"]).last_hidden_state
        targets = batch["labels"][:, 1:]
        keep = targets != IGNORE
        return self.lm.get_output_embeddings()(hidden[:, :-1][keep]).float(), targets[keep]

    @torch.inference_mode()
    def generate(self, batch: dict[str, torch.Tensor], max_new_tokens: int, eos_id: int) -> list[list[int]]:
        """Greedy answers (token ids, end token dropped) of a left-padded batch of prompts, KV cache on."""
        embeds = self.inputs_embeds(batch["input_ids"], batch.get("signal"), batch.get("signal_mask"))
        out = self.lm.generate(inputs_embeds=embeds, attention_mask=batch["attention_mask"], do_sample=False,
                               max_new_tokens=max_new_tokens, eos_token_id=eos_id, pad_token_id=self.ids.pad,
                               use_cache=True)
        answers = []
        for row in out.tolist():
            answers.append(row[:row.index(eos_id)] if eos_id in row else row)
        return answers


def answer_loss(logits: torch.Tensor, targets: torch.Tensor, n_tokens: int) -> torch.Tensor:
    """Summed cross-entropy over the answer tokens, divided by ``n_tokens`` (the optimizer step's whole count,
    so micro-batches add up to the mean over the step's answer tokens)."""
    return F.cross_entropy(logits, targets, reduction="sum") / max(n_tokens, 1)
