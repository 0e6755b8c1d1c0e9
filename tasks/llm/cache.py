"""A persistent response cache: a re-run costs nothing and gives byte-identical answers.

SQLite in WAL mode, one row per answer, committed as each answer arrives so an interrupted run keeps
its finished work. Failures are never stored, so a re-run retries exactly those; nor are replies the
caller could not use (see ``LLMClient.complete_many``'s ``keep``). The key covers everything that changes
an answer: backend, model, where it is served or what weights it has, messages and sampling settings.

The cache only saves work, so it never stops a run: a cache that cannot be opened or written (a full
disk, a read-only folder) is reported in one warning line and the run goes on without it.
"""
from __future__ import annotations

import hashlib
import json
import logging
import random
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from tasks.common.stage import one_line
from tasks.llm.records import ChatRequest, ChatResult, TokenUsage

log = logging.getLogger(__name__)

_BUSY_TIMEOUT_S = 30.0
_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    backend TEXT NOT NULL,
    model TEXT NOT NULL,
    request TEXT NOT NULL,
    text TEXT NOT NULL,
    finish_reason TEXT,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    created REAL NOT NULL
)
"""


def request_fingerprint(backend: str, model: str, identity: dict[str, Any], request: ChatRequest) -> dict[str, Any]:
    """Everything that determines an answer (the item key is deliberately absent).

    ``identity`` is the backend's own part: the server's ``base_url`` (another server may serve other
    weights under the same model name), the embedded model folder's digest.
    """
    return {
        "backend": backend,
        "model": model,
        **identity,
        "messages": request.messages,
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "seed": request.seed,
    }


def cache_key(fingerprint: dict[str, Any]) -> str:
    blob = json.dumps(fingerprint, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


class ResponseCache:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # One connection shared behind a lock: writes come from one thread, but callers may differ.
        self._conn = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_S, check_same_thread=False)
        self._lock = threading.Lock()
        # After a failed write (a full disk) answers are still read; after a failed read the cache is skipped.
        self._skip: set[str] = set()
        # Processes sharing one cache (qa shards) may set it up at the same moment. Switching a new file
        # to WAL answers "database is locked" at once instead of waiting for the busy timeout, so retry.
        deadline = time.monotonic() + _BUSY_TIMEOUT_S
        while True:
            try:
                with self._lock:
                    self._conn.execute("PRAGMA journal_mode=WAL")
                    self._conn.execute("PRAGMA synchronous=NORMAL")
                    self._conn.execute(_SCHEMA)
                    self._conn.commit()
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    self._conn.close()
                    raise
                time.sleep(0.02 + 0.08 * random.random())

    @classmethod
    def open(cls, path: str | Path) -> ResponseCache | None:
        """The cache at ``path``, or None (after one warning line) where it cannot be opened."""
        try:
            return cls(path)
        except (OSError, sqlite3.Error) as exc:
            log.warning("%s: cannot open the LLM response cache (%s); going on without it", path, one_line(exc))
            return None

    def get(self, key: str, item_key: str) -> ChatResult | None:
        if "read" in self._skip:
            return None
        try:
            with self._lock:
                row = self._conn.execute(
                    "SELECT backend, model, text, finish_reason, prompt_tokens, completion_tokens "
                    "FROM responses WHERE key = ?",
                    (key,),
                ).fetchone()
        except sqlite3.Error as exc:
            self._give_up("read", exc)
            return None
        if row is None:
            return None
        backend, model, text, finish_reason, prompt_tokens, completion_tokens = row
        return ChatResult(
            key=item_key, text=text, model=model, backend=backend,
            usage=TokenUsage(prompt_tokens, completion_tokens),
            finish_reason=finish_reason, cached=True, attempts=0,
        )

    def put(self, key: str, fingerprint: dict[str, Any], result: ChatResult) -> None:
        if result.error is not None:
            raise ValueError(f"refusing to cache a failed result for {result.key!r}: {result.error}")
        if "write" in self._skip:
            return
        row = (key, result.backend, result.model, json.dumps(fingerprint, sort_keys=True, ensure_ascii=False),
               result.text, result.finish_reason, result.usage.prompt_tokens, result.usage.completion_tokens,
               time.time())
        try:
            with self._lock:
                self._conn.execute("INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
                self._conn.commit()
        except sqlite3.Error as exc:
            self._give_up("write", exc)

    def _give_up(self, action: str, exc: sqlite3.Error) -> None:
        """One warning line, then no more reads/writes (a read failure stops both) this run; answers are kept."""
        with self._lock:
            self._skip.update(("read", "write") if action == "read" else ("write",))
            try:
                self._conn.rollback()
            except sqlite3.Error:
                pass
        log.warning("%s: cannot %s the LLM response cache (%s); going on without %s (this run's answers are kept, "
                    "a rerun asks the uncached ones again)", self.path, action, one_line(exc),
                    "it" if action == "read" else "caching new answers")

    def __len__(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._conn.close()
