"""The tuned model on disk (``models/tune/``) and in use: one call loads it, one call answers questions.

``adapter/``               the LoRA adapter in peft's format (adapter_config.json + adapter_model.safetensors:
                           loadable by peft, and by servers that take LoRA adapters, e.g. vLLM)
``projector.safetensors``  the per-tower projectors and the signal boundary vectors
``tokenizer/``             the base tokenizer with the three signal markers added
``tune.json``              base model folder, modalities, tokens per modality, projector type, encoder token
                           width, system prompt, caption prompt, answer length: what rebuilding needs

    from tasks.tune.export import load_tuned
    tuned = load_tuned("models/tune")
    tuned.answer(["What is the person doing?"], signal, signal_mask)   # or signal=None: text only
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from peft import PeftModel
from safetensors.torch import load_file, save_file
from tqdm import tqdm
from transformers import AutoModelForCausalLM, AutoTokenizer

from tasks.common.io import atomic_dir, write_json
from tasks.tune.config import TuneConfig
from tasks.tune.data import Prompter, Sample, make_batch
from tasks.tune.model import SignalLM, add_signal_tokens
from tasks.tune.projector import SignalProjector

INFO, PROJECTOR, ADAPTER, TOKENIZER = "tune.json", "projector.safetensors", "adapter", "tokenizer"


@dataclass
class TunedModel:
    model: SignalLM
    prompter: Prompter
    info: dict[str, Any]

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def answer(self, questions: list[str], signal: torch.Tensor | None = None, signal_mask: torch.Tensor | None = None,
               max_new_tokens: int = 48, batch_size: int = 8, progress: str | None = None) -> list[str]:
        """Greedy answers to ``questions``, question i about signal row i ([N, M, K, W] pooled tokens,
        tasks/tune/data.py); ``signal`` None answers from the questions alone.  ``progress``: a progress bar
        with this label."""
        self.model.eval()
        out: list[str] = []
        for i in tqdm(range(0, len(questions), batch_size), desc=progress, unit="batch", disable=progress is None):
            part = questions[i:i + batch_size]
            rows = () if signal is None else (signal[i:i + batch_size], signal_mask[i:i + batch_size])
            batch = make_batch([Sample("", "", q, "") for q in part], self.prompter, *rows, left=True, answers=False)
            batch.pop("labels")
            ids = self.model.generate({k: v.to(self.device) for k, v in batch.items()}, max_new_tokens,
                                      self.prompter.eos)
            out.extend(self.prompter.tokenizer.decode(a, skip_special_tokens=True).strip() for a in ids)
        return out


def save_tuned(model: SignalLM, tokenizer, out: str | Path, cfg: TuneConfig, encoder_width: int) -> Path:
    """Write ``models/tune`` atomically (a failed write leaves the previous one)."""
    with atomic_dir(out) as tmp:
        model.lm.save_pretrained(str(tmp / ADAPTER))
        save_file({k: v.detach().cpu().contiguous() for k, v in model.projector.state_dict().items()},
                  str(tmp / PROJECTOR))
        tokenizer.save_pretrained(str(tmp / TOKENIZER))
        write_json(tmp / INFO, {"base": cfg.model.base, "modalities": list(cfg.model.modalities),
                                "tokens_per_modality": cfg.model.tokens_per_modality,
                                "projector": cfg.model.projector, "encoder_width": encoder_width,
                                "hidden": model.projector.boundary.shape[1], "system_prompt": cfg.model.system_prompt,
                                "caption_prompt": cfg.data.caption_prompt,
                                "max_answer_tokens": cfg.model.max_answer_tokens,
                                "lora": cfg.model.lora.model_dump(mode="json")})
    return Path(out)


def load_tuned(path: str | Path = "models/tune", device: str = "cpu", dtype: torch.dtype = torch.float32) -> TunedModel:
    """The tuned model saved by the tune stage, in eval mode."""
    path = Path(path)
    for name in (INFO, PROJECTOR, ADAPTER, TOKENIZER):
        if not (path / name).exists():
            raise FileNotFoundError(f"{path / name}: no tuned model here (run `dvc repro tune`)")
    info = json.loads((path / INFO).read_text())
    tokenizer = AutoTokenizer.from_pretrained(str(path / TOKENIZER))
    ids = add_signal_tokens(tokenizer)  # already there: this only reads their ids
    if not (Path(info["base"]) / "config.json").is_file():
        raise FileNotFoundError(f"{info['base']}: the base model of {path} is not here (its tune.json names it)")
    lm = AutoModelForCausalLM.from_pretrained(info["base"], dtype=dtype)
    lm = PeftModel.from_pretrained(lm, str(path / ADAPTER))
    projector = SignalProjector(info["projector"], tuple(info["modalities"]), info["encoder_width"], info["hidden"],
                                init_scale=0.0)
    projector.load_state_dict(load_file(str(path / PROJECTOR)))
    model = SignalLM(lm, projector, ids).to(device).eval()
    return TunedModel(model, Prompter(tokenizer, info["system_prompt"], ids, info["max_answer_tokens"]), info)
