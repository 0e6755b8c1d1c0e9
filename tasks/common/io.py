"""Outputs that appear whole or not at all, and the reject log every stage keeps."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO


@contextlib.contextmanager
def atomic_dir(final: str | Path) -> Iterator[Path]:
    """Yield a scratch folder beside ``final``; on success it replaces ``final`` in one rename.

    On an exception the scratch folder is removed and ``final`` is left as it was.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    replace_dir(tmp, final)


def replace_dir(src: Path, final: Path) -> None:
    """Put the folder ``src`` in place of ``final`` (which may not exist) with renames, then drop the old one."""
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        os.replace(final, old)
    os.replace(src, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def atomic_file(path: str | Path, suffix: str = ".tmp") -> Iterator[BinaryIO]:
    """Yield a binary handle on a temporary sibling of ``path``; on success it replaces ``path`` in one rename.

    On an exception (a full disk, a kill) the temporary is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        if exc.filename is None and exc.errno is not None:  # a failed write (full disk) names no file: name it
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomic(path: str | Path, data: bytes | str) -> None:
    """Write a file through a temporary sibling and a rename."""
    with atomic_file(path) as fh:
        fh.write(data.encode() if isinstance(data, str) else data)


def write_json(path: str | Path, obj: Any) -> None:
    write_atomic(path, json.dumps(obj, indent=2, sort_keys=True, default=_jsonable) + "\n")


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


class RejectLog:
    """Collects items a stage could not use: which item, from where, and why."""

    def __init__(self, stage: str) -> None:
        self.stage = stage
        self.records: list[dict[str, str]] = []

    def add(self, item: str, reason: str, source: str = "") -> None:
        self.records.append({"stage": self.stage, "item": str(item), "source": source, "reason": reason})

    def __len__(self) -> int:
        return len(self.records)

    def write(self, path: str | Path) -> None:
        """One JSON object per line, so the file is easy to grep and to load with pandas."""
        write_atomic(path, "".join(json.dumps(r, sort_keys=True) + "\n" for r in self.records))
