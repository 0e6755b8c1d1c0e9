"""Small stand-ins for the tune stage's inputs: a randomly initialised tiny Llama with the embedded SmolLM2's
tokenizer (fast to train), and an embeddings / motion / QA folder set in the pretrain and qa stages' formats."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from safetensors.torch import save_file
from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

from tasks.common.config import validate_section
from tasks.tune.config import TuneConfig
from tasks.tune.export import save_tuned
from tasks.tune.train import build_model

WIDTH = 8  # encoder token width of the stand-in embeddings
TOWERS = {"doppler_time": 6, "imu": 9}  # tower -> tokens
WORDS = ["apple", "river", "stone", "cloud"]


def tiny_base(tokenizer_dir: Path, out: Path, seed: int = 0) -> Path:
    """A 2-layer Llama (hidden 32) with random weights and ``tokenizer_dir``'s tokenizer, saved to ``out``."""
    if (out / "config.json").is_file():
        return out
    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=1, tie_word_embeddings=True,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id)
    LlamaForCausalLM(config).save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    return out


def untrained_tuned(base: Path, out: Path, encoder_width: int) -> Path:
    """A tuned-model folder (tasks/tune/export.py) of ``base`` with a fresh projector and random LoRA weights:
    the real loading and answering paths without a training run."""
    cfg = validate_section(TuneConfig, {"model": {"base": str(base)}}, "tune")
    model, tokenizer, _ = build_model(cfg, encoder_width, torch.device("cpu"), torch.float32)
    with torch.no_grad():  # untrained, the random tiny LLM ends at once: weights that make it say something
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)
    return save_tuned(model, tokenizer, out, cfg, encoder_width)


def pattern(word: int, rng: np.random.Generator, noise: float = 0.3) -> np.ndarray:
    """A toy signal [tokens, WIDTH] per tower: the word's own direction in every token, plus noise."""
    base = np.zeros(WIDTH, np.float32)
    base[2 * word:2 * word + 2] = 2.0
    return base + rng.normal(0, noise, (1, WIDTH)).astype(np.float32)


def toy_data(root: Path, motions_per_split: dict[str, int], seed: int = 0, qa_per_motion: int = 1) -> Path:
    """``root`` with embeddings/ (each motion's towers carry its word's pattern), motion/manifest.parquet
    (a caption naming the word) and qa/qa.parquet; motion i of a split says WORDS[i % 4]."""
    rng = np.random.default_rng(seed)
    rows, manifest, qa = [], [], []
    for split, n in motions_per_split.items():
        for i in range(n):
            mid = f"{split}_{i:03d}"
            word = WORDS[i % len(WORDS)]
            rows.append((mid, split, word))
            manifest.append({"id": mid, "split": split, "source": "procedural", "label": word,
                             "captions": [f"The person shows {word}.", f"A motion that means {word}."]})
            qa += [{"motion_id": mid, "split": split, "category": "activity", "question": "Which word is it?",
                    "answer": word, "source": "test", "prompt_version": "t", "facts": "{}"}] * qa_per_motion
    arrays: dict[str, torch.Tensor] = {}
    for tower, n_tokens in TOWERS.items():
        tokens = np.stack([np.repeat(pattern(WORDS.index(w), rng), n_tokens, axis=0) for _, _, w in rows])
        mask = np.ones((len(rows), n_tokens), bool)
        mask[::3, -2:] = False  # some motions are shorter than the window
        arrays[f"tokens/{tower}"] = torch.from_numpy(tokens).half()
        arrays[f"token_mask/{tower}"] = torch.from_numpy(mask)
    (root / "embeddings").mkdir(parents=True)
    save_file(arrays, str(root / "embeddings/signals.safetensors"))
    pd.DataFrame(rows, columns=["id", "split", "label"]).to_parquet(root / "embeddings/index.parquet", index=False)
    (root / "motion").mkdir()
    pd.DataFrame(manifest).to_parquet(root / "motion/manifest.parquet", index=False)
    (root / "qa").mkdir()
    pd.DataFrame(qa).to_parquet(root / "qa/qa.parquet", index=False)
    return root
