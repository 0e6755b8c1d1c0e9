"""The ``--shard I/N`` argument of shardable stages (see flows/sharded.py for the convention)."""
from __future__ import annotations

import argparse


def shard_spec(text: str) -> tuple[int, int]:
    """'1/4' -> (1, 4): shard index I of N, 0 <= I < N."""
    try:
        i, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected I/N, e.g. 0/4, got {text!r}") from None
    if not 0 <= i < n:
        raise argparse.ArgumentTypeError(f"shard {text}: need 0 <= I < N")
    return i, n
