"""A persistent response cache: a re-run costs nothing and gives byte-identical answers.

SQLite in WAL mode, one row per answer, committed as each answer arrives so an interrupted run keeps
its finished work. Failures are never stored, so a re-run retries exactly those.
"""
from __future__ import annotations

import hashlib
import json
import random
import sqlite3
import threading
import time
from pathlib import Path

from tasks.llm.records import ChatRequest, ChatResult, TokenUsage

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


def request_fingerprint(backend: str, model: str, request: ChatRequest) -> dict:
    """Everything that determines an answer (the item key is deliberately absent)."""
    return {
        "backend": backend,
        "model": model,
        "messages": request.messages,
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "seed": request.seed,
    }


def cache_key(fingerprint: dict) -> str:
    blob = json.dumps(fingerprint, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


class ResponseCache:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # One connection shared behind a lock: writes come from one thread, but callers may differ.
        self._conn = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_S, check_same_thread=False)
        self._lock = threading.Lock()
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
                    raise
                time.sleep(0.02 + 0.08 * random.random())

    def get(self, key: str, item_key: str) -> ChatResult | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT backend, model, text, finish_reason, prompt_tokens, completion_tokens "
                "FROM responses WHERE key = ?",
                (key,),
            ).fetchone()
        if row is None:
            return None
        backend, model, text, finish_reason, prompt_tokens, completion_tokens = row
        return ChatResult(
            key=item_key, text=text, model=model, backend=backend,
            usage=TokenUsage(prompt_tokens, completion_tokens),
            finish_reason=finish_reason, cached=True, attempts=0,
        )

    def put(self, key: str, fingerprint: dict, result: ChatResult) -> None:
        if result.error is not None:
            raise ValueError(f"refusing to cache a failed result for {result.key!r}: {result.error}")
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key, result.backend, result.model,
                    json.dumps(fingerprint, sort_keys=True, ensure_ascii=False),
                    result.text, result.finish_reason,
                    result.usage.prompt_tokens, result.usage.completion_tokens, time.time(),
                ),
            )
            self._conn.commit()

    def __len__(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._conn.close()
