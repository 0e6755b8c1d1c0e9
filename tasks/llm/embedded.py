"""Chat completions from a local transformers model (SmolLM2-135M-Instruct by default), on CPU.

Requests are batched with left padding (so every row's last prompt token sits at the same position).
Sampling uses the Gumbel-max trick with one seeded generator per row, run through greedy decoding:
a row's tokens depend only on its own prompt, temperature and seed, never on which other requests
share its batch, so batched and one-at-a-time runs agree and a seed means the same thing everywhere.
The cache key holds a digest of the model folder's files: other weights under the same name are another model.
"""
from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from transformers import LogitsProcessor, LogitsProcessorList

from tasks.llm.config import LLMConfig, LLMConfigError
from tasks.llm.records import ChatRequest, ChatResult, TokenUsage

log = logging.getLogger(__name__)


class RowSampler(LogitsProcessor):
    """Per-row temperature sampling for a batch decoded greedily.

    argmax(logits / T + Gumbel noise) is an exact sample from softmax(logits / T); rows with T = 0
    get no noise and stay greedy. Each row draws its noise from its own generator, one draw per step.
    """

    def __init__(self, temperatures: Sequence[float], seeds: Sequence[int]) -> None:
        self.temperatures = list(temperatures)
        self.generators = [
            torch.Generator().manual_seed(seed) if t > 0 else None for t, seed in zip(temperatures, seeds)
        ]

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        scores = scores.clone()
        for row, (t, gen) in enumerate(zip(self.temperatures, self.generators)):
            if gen is None:
                continue
            uniform = torch.rand(scores.shape[-1], generator=gen).clamp_(min=1e-20, max=1 - 1e-7)
            scores[row] = scores[row] / t - torch.log(-torch.log(uniform))
        return scores


class EmbeddedBackend:
    name = "embedded"

    def __init__(self, cfg: LLMConfig) -> None:
        self.model = cfg.model
        self.model_dir = Path(cfg.model_dir)
        if not (self.model_dir / "config.json").is_file():
            raise LLMConfigError(
                f"{self.model_dir}: no converted model here (run: python -m tasks.llm.convert {self.model_dir})"
            )
        self.batch_size = cfg.batch_size
        self.threads = cfg.torch_threads
        self._tokenizer = None
        self._lm = None

    @functools.cached_property
    def identity(self) -> dict[str, Any]:
        return {"model_digest": folder_digest(self.model_dir)}

    def _load(self) -> None:
        """Load on first use, so a run answered entirely from the cache never pays for the model."""
        if self._lm is not None:
            return
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # its "Loading weights" bar would tangle with the stage's own
        torch.set_num_threads(self.threads)
        tokenizer = AutoTokenizer.from_pretrained(self.model_dir)
        tokenizer.padding_side = "left"
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        self._tokenizer = tokenizer
        self._lm = AutoModelForCausalLM.from_pretrained(self.model_dir, dtype=torch.float32).eval()
        log.info("loaded %s from %s (%d torch threads)", self.model, self.model_dir, self.threads)

    def generate(self, requests: Sequence[ChatRequest], on_result: Callable[[int, ChatResult], None]) -> None:
        """Generate in batches of ``batch_size``; ``on_result(index, result)`` follows each batch."""
        if not requests:
            return
        self._load()
        prompts = [self._prompt(r) for r in requests]
        # Similar lengths side by side waste less compute on padding.
        order = sorted(range(len(requests)), key=lambda i: len(self._tokenizer(prompts[i]).input_ids))
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            results = self._generate_batch([requests[i] for i in rows], [prompts[i] for i in rows])
            for i, result in zip(rows, results):
                on_result(i, result)

    def close(self) -> None:
        self._lm = None
        self._tokenizer = None

    def _prompt(self, request: ChatRequest) -> str:
        return self._tokenizer.apply_chat_template(request.messages, tokenize=False, add_generation_prompt=True)

    @torch.inference_mode()
    def _generate_batch(self, requests: Sequence[ChatRequest], prompts: Sequence[str]) -> list[ChatResult]:
        tok = self._tokenizer
        # The chat template already writes every special token it wants.
        enc = tok(list(prompts), return_tensors="pt", padding=True, add_special_tokens=False)
        sampler = RowSampler([r.temperature for r in requests], [r.seed for r in requests])
        out = self._lm.generate(
            **enc,
            max_new_tokens=max(r.max_tokens for r in requests),
            do_sample=False,
            logits_processor=LogitsProcessorList([sampler]),
            pad_token_id=tok.pad_token_id,
            eos_token_id=tok.eos_token_id,
        )
        new_tokens = out[:, enc.input_ids.shape[1] :].tolist()
        prompt_lengths = enc.attention_mask.sum(dim=1).tolist()
        results = []
        for request, ids, n_prompt in zip(requests, new_tokens, prompt_lengths):
            ids = ids[: request.max_tokens]
            finish = "length"
            if tok.eos_token_id in ids:
                ids = ids[: ids.index(tok.eos_token_id) + 1]
                finish = "stop"
            results.append(
                ChatResult(
                    key=request.key,
                    text=tok.decode(ids, skip_special_tokens=True).strip(),
                    model=self.model,
                    backend=self.name,
                    usage=TokenUsage(int(n_prompt), len(ids)),
                    finish_reason=finish,
                )
            )
        return results


def folder_digest(folder: Path) -> str:
    """sha256 over every file's relative path and bytes (~0.3 s for SmolLM2's 540 MB, once per run)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        with path.open("rb") as fh:
            digest.update(hashlib.file_digest(fh, "sha256").digest())
    return digest.hexdigest()
