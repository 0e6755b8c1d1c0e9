"""The ``--shard I/N`` / ``--merge DIR...`` arguments of shardable stages (see flows/sharded.py for the convention)."""
from __future__ import annotations

import argparse
from pathlib import Path


def shard_spec(text: str) -> tuple[int, int]:
    """'1/4' -> (1, 4): shard index I of N, 0 <= I < N."""
    try:
        i, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected I/N, e.g. 0/4, got {text!r}") from None
    if not 0 <= i < n:
        raise argparse.ArgumentTypeError(f"shard {text}: need 0 <= I < N")
    return i, n


def add_shard_arguments(parser: argparse.ArgumentParser, shard_help: str) -> None:
    """``--shard I/N`` (work ``shard_help`` into --out, no merge) or ``--merge DIR...`` (shards into --out)."""
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--shard", type=shard_spec, metavar="I/N", help=shard_help)
    mode.add_argument("--merge", type=Path, nargs="+", metavar="DIR", help="merge shard folders into --out")
