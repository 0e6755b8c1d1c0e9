"""Seeds derived from names, so an item's randomness does not depend on what else runs, or where."""
from __future__ import annotations

import hashlib


def item_seed(seed: int, *parts: str) -> int:
    """A 63-bit seed from a stage seed and names (motion id, stream, category): the same on every machine.

    Adding or removing other items changes nothing for this one; shards and plain runs agree.
    """
    digest = hashlib.blake2b("\0".join([str(seed), *map(str, parts)]).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1
