"""Retry pacing for remote LLM calls: exponential backoff with jitter, Retry-After, a rate limit."""
from __future__ import annotations

import email.utils
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Backoff:
    """Delay before retry ``n`` (1-based): half of ``base * 2**(n-1)`` (capped) fixed, half random.

    The fixed half guarantees real spacing; the random half spreads out clients that failed together.
    A server's Retry-After wins when it asks for longer, but never beyond ``cap_s``.
    """

    base_s: float
    cap_s: float
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, retry: int, retry_after_s: float | None = None) -> float:
        ceiling = min(self.cap_s, self.base_s * 2 ** (retry - 1))
        wait = ceiling / 2 + self.rng.uniform(0, ceiling / 2)
        if retry_after_s is not None:
            wait = max(wait, min(retry_after_s, self.cap_s))
        return wait


def retry_after_seconds(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds a server asked us to wait: ``retry-after-ms``, or ``retry-after`` as seconds or an HTTP date."""
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        if "retry-after-ms" in lowered:
            return max(0.0, float(lowered["retry-after-ms"]) / 1000)
        value = lowered.get("retry-after")
        if value is None:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            when = email.utils.parsedate_to_datetime(value).timestamp()
            return max(0.0, when - (time.time() if now is None else now))
    except (TypeError, ValueError):
        return None


class RateLimiter:
    """Spaces request starts at least ``60 / per_minute`` s apart across all threads (no bursts)."""

    def __init__(
        self,
        per_minute: float | None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = 60.0 / per_minute if per_minute else 0.0
        self._clock = clock
        self._sleep = sleep
        self._next = float("-inf")
        self._lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self._lock:
            now = self._clock()
            slot = max(now, self._next)
            self._next = slot + self.interval
        if slot > now:
            self._sleep(slot - now)
