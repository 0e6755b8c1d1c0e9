"""Params of the tune stage (section ``tune``), validated once (tasks/common/config.py's pattern).

The model is LLaVA-shaped (tasks/tune/model.py): the frozen encoder's token sequences, pooled to
``tokens_per_modality`` per tower, go through a projector (``linear`` or ``mlp2x_gelu``, one per tower) into
the base LLM's embedding space between ``<signal>`` and ``</signal>``; LoRA adapters (peft) tune the LLM.
LoRA sizes are data: ``lora.preset`` names a row of LORA_PRESETS (mmExpert's r4a8 / r8a16 / r16a32) and
``rank`` / ``alpha`` override it.  Training runs two phases (tasks/tune/train.py): ``align`` (captions, only
the projector and the signal boundary embeddings learn) then ``instruct`` (QA pairs and captions, projector
and LoRA).
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from tasks.common.config import Section, invalid
from tasks.pretrain.config import MODALITIES, Modality

LORA_PRESETS: dict[str, tuple[int, int]] = {"r4a8": (4, 8), "r8a16": (8, 16), "r16a32": (16, 32)}  # rank, alpha
PROJECTORS = ("linear", "mlp2x_gelu")


class LoraSection(Section):
    preset: Literal[tuple(LORA_PRESETS)] = "r8a16"
    rank: int | None = Field(None, ge=1)  # overrides the preset's
    alpha: float | None = Field(None, gt=0)  # overrides the preset's
    dropout: float = Field(0.05, ge=0, lt=1)
    # module names of the base LLM (Llama/Qwen/Phi-3 names), or "all-linear" (every Linear but the output head)
    target_modules: list[str] | Literal["all-linear"] = Field(default_factory=lambda: ["q_proj", "v_proj"])

    @property
    def rank_alpha(self) -> tuple[int, float]:
        rank, alpha = LORA_PRESETS[self.preset]
        return self.rank or rank, self.alpha or float(alpha)


class TuneModelSection(Section):
    base: str = "models/smollm2-135m-instruct"  # any Hugging Face causal LM folder (the llm_model stage's default)
    modalities: tuple[Modality, ...] = MODALITIES  # the encoder towers whose tokens the LLM sees
    tokens_per_modality: int = Field(4, ge=1)  # each tower's token sequence pooled to this many soft tokens
    projector: Literal[PROJECTORS] = "mlp2x_gelu"
    lora: LoraSection = Field(default_factory=LoraSection)
    system_prompt: str = "You describe a person's motion from radar and IMU signals."
    max_answer_tokens: int = Field(48, ge=4)  # longer answers are cut (an end token still closes them)

    @field_validator("modalities")
    @classmethod
    def _modalities(cls, modalities: tuple[str, ...]) -> tuple[str, ...]:
        if not modalities or len(set(modalities)) < len(modalities):
            raise invalid(f"each of {', '.join(MODALITIES)} at most once, at least one")
        return modalities


class PhaseSection(Section):
    epochs: int = Field(1, ge=0)  # 0 skips the phase
    lr: float = Field(1e-3, gt=0)
    batch_size: int = Field(16, ge=1)  # samples per optimizer step
    grad_accum: int = Field(1, ge=1)  # micro-batches each step is split into (same update, less memory)
    warmup_steps: int = Field(5, ge=0)
    # captions drawn per training motion and epoch (null = all); instruct adds every QA pair to them
    captions_per_motion: int | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _accum_divides(self) -> PhaseSection:
        if self.batch_size % self.grad_accum:
            raise invalid(f"grad_accum ({self.grad_accum}) must divide batch_size ({self.batch_size})")
        return self


class TuneDataSection(Section):
    caption_prompt: str = "Describe the motion."  # the question of every caption sample
    val_limit: int | None = Field(96, ge=1)  # validation samples per evaluation (a seeded draw; null = all)


class TuneTrainSection(Section):
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    precision: Literal["auto", "fp32", "bf16"] = "auto"  # auto: fp32 on CPU, bf16 on a CUDA device that has it
    torch_threads: int | None = Field(2, ge=1)
    weight_decay: float = Field(0.0, ge=0)
    grad_clip: float = Field(1.0, gt=0)
    checkpoint_every: int = Field(20, ge=1)  # optimizer steps
    align: PhaseSection = Field(default_factory=lambda: PhaseSection(epochs=1, lr=1e-3, captions_per_motion=3))
    instruct: PhaseSection = Field(default_factory=lambda: PhaseSection(epochs=2, lr=3e-4, captions_per_motion=1))


class TuneConfig(Section):
    seed: int = 0
    checkpoint_dir: str = "data/cache/tune"  # outside the stage's outputs: a killed run, rerun, continues
    model: TuneModelSection = Field(default_factory=TuneModelSection)
    data: TuneDataSection = Field(default_factory=TuneDataSection)
    train: TuneTrainSection = Field(default_factory=TuneTrainSection)
    generate_max_tokens: int = Field(48, ge=1)  # answers of the stage's examples and of `flywheel ask`
