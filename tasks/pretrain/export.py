"""The trained encoder on disk (``models/encoder/``), loadable with one call.

``model.safetensors``  every weight of the ContrastiveModel except a frozen text backbone's (those are the
                       published MiniLM's, loaded from its path)
``encoder.json``       the model config, the signal shapes it was built for, the IMU sites in order, the
                       activity classes it was trained on, the data config (window, points per frame) and
                       the normalisation statistics the inputs were standardised with: what a user needs to
                       feed it their own signals

    from tasks.pretrain.export import load_encoder
    model, info = load_encoder("models/encoder")   # eval mode, CPU

and, for the tune stage, every motion through the trained encoder (``data/embeddings/``, save_embeddings):

``index.parquet``        id, split, label of each motion, in the order of the arrays' first axis
``signals.safetensors``  ``embedding`` [N, E] the fused L2-normalised embedding; ``pooled/<modality>`` [N, E]
                       each tower's; ``tokens/<modality>`` [N, T_m, width] float16 each tower's token sequence
                       after its transformer; ``token_mask/<modality>`` [N, T_m] bool, which tokens are real
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from safetensors.torch import load_file, save_file

from tasks.common.io import atomic_dir, write_json
from tasks.pretrain.config import DataConfig, PretrainModelConfig, SignalShapes
from tasks.pretrain.data import Dataset, eval_batches
from tasks.pretrain.model import ContrastiveModel, build_model

WEIGHTS, INFO = "model.safetensors", "encoder.json"
EMBEDDINGS, INDEX = "signals.safetensors", "index.parquet"


def _frozen_backbone(model: ContrastiveModel) -> set[str]:
    return {f"text.{name}" for name, p in model.text.named_parameters() if not p.requires_grad}


def save_encoder(model: ContrastiveModel, out: str | Path, cfg: PretrainModelConfig, data: DataConfig,
                 shapes: SignalShapes, sites: list[str], classes: list[str], norm_stats: dict[str, Any]) -> Path:
    """Write the encoder folder ``out`` atomically (a failed write leaves the previous one)."""
    skip = _frozen_backbone(model)
    weights = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items() if k not in skip}
    with atomic_dir(out) as tmp:
        save_file(weights, str(tmp / WEIGHTS))
        write_json(tmp / INFO, {"model": cfg.model_dump(mode="json"), "data": data.model_dump(mode="json"),
                                "shapes": dataclasses.asdict(shapes), "imu_sites": sites, "classes": classes,
                                "norm_stats": norm_stats})
    return Path(out)


def load_encoder(path: str | Path = "models/encoder") -> tuple[ContrastiveModel, dict[str, Any]]:
    """The saved ContrastiveModel (eval mode, CPU) and its ``encoder.json``."""
    path = Path(path)
    for name in (WEIGHTS, INFO):
        if not (path / name).is_file():
            raise FileNotFoundError(f"{path / name}: no trained encoder here (run `dvc repro pretrain`)")
    info = json.loads((path / INFO).read_text())
    model = build_model(PretrainModelConfig.model_validate(info["model"]), SignalShapes(**info["shapes"]))
    missing, unexpected = model.load_state_dict(load_file(str(path / WEIGHTS)), strict=False)
    if unexpected or set(missing) - _frozen_backbone(model):
        raise ValueError(f"{path / WEIGHTS}: does not fit {path / INFO} (missing {sorted(missing)[:3]}, "
                         f"unexpected {sorted(unexpected)[:3]})")
    return model.eval(), info


@torch.no_grad()
def save_embeddings(model: ContrastiveModel, data: Dataset, out: str | Path, batch_size: int) -> Path:
    """Every motion's embeddings and token sequences (centred windows) into the folder ``out``, atomically."""
    model.eval()
    parts: dict[str, list[torch.Tensor]] = {}
    for batch in eval_batches(data.motions, data.shapes, batch_size):
        signal = model.signal(batch)
        named = {"embedding": signal["embedding"], **{f"pooled/{m}": v for m, v in signal["pooled"].items()},
                 **{f"tokens/{m}": v.half() for m, v in signal["tokens"].items()},
                 **{f"token_mask/{m}": v for m, v in signal["token_mask"].items()}}
        for name, value in named.items():
            parts.setdefault(name, []).append(value.cpu())
    with atomic_dir(out) as tmp:
        save_file({name: torch.cat(p).contiguous() for name, p in parts.items()}, str(tmp / EMBEDDINGS))
        pd.DataFrame({"id": [m.id for m in data.motions], "split": [m.split for m in data.motions],
                      "label": [m.label for m in data.motions]}).to_parquet(tmp / INDEX, index=False)
    return Path(out)
