"""Throughput of the embedded backend, batched against one prompt at a time.

    python -m tasks.llm.bench --model-dir models/smollm2-135m-instruct --batch-sizes 8 1
"""
from __future__ import annotations

import argparse
import json
import time

from tasks.llm.config import LLMConfig
from tasks.llm.embedded import EmbeddedBackend
from tasks.llm.records import ChatRequest, ChatResult

ACTIVITIES = [
    "walking", "running", "jumping", "sitting down", "standing up", "waving", "climbing stairs", "dancing",
    "kicking a ball", "squatting", "crawling", "turning around", "bowing", "clapping", "stretching", "throwing",
]


def measure(backend: EmbeddedBackend, requests: list[ChatRequest], batch_size: int, repeats: int) -> dict[str, float]:
    """Best of ``repeats`` runs (other processes on a shared CPU only ever slow a run down)."""
    backend.batch_size = batch_size
    best_wall, best_cpu, tokens = float("inf"), float("inf"), 0
    for _ in range(repeats):
        results: list[ChatResult] = []
        wall, cpu = time.perf_counter(), time.process_time()
        backend.generate(requests, lambda _, result, out=results: out.append(result))
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
        tokens = sum(r.usage.completion_tokens for r in results)
    return {
        "batch_size": batch_size, "items": len(requests), "completion_tokens": tokens,
        "wall_s": round(best_wall, 2), "items_per_s": round(len(requests) / best_wall, 2),
        "tokens_per_s": round(tokens / best_wall, 1), "cpu_s": round(best_cpu, 2),
        "tokens_per_cpu_s": round(tokens / best_cpu, 1),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", default="models/smollm2-135m-instruct")
    parser.add_argument("--n", type=int, default=16, help="number of prompts")
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[8, 1])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2, help="report the best of this many runs")
    args = parser.parse_args(argv)
    backend = EmbeddedBackend(LLMConfig(model_dir=args.model_dir, torch_threads=args.threads))
    requests = [
        ChatRequest([{"role": "user", "content": f"Describe {ACTIVITIES[i % len(ACTIVITIES)]} in one sentence."}],
                    key=str(i), max_tokens=args.max_tokens, temperature=0.0, seed=0)
        for i in range(args.n)
    ]
    measure(backend, requests[:2], batch_size=2, repeats=1)  # warm-up: model load, first-call overheads
    for batch_size in args.batch_sizes:
        print(json.dumps(measure(backend, requests, batch_size, args.repeats)))


if __name__ == "__main__":
    main()
