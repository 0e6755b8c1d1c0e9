"""The one edge every stage's entry point goes through: logging set up, errors as one line, one exit code.

Exit codes (every ``python -m tasks.<stage>`` and the ``flywheel`` command):
  0  done;
  1  the stage failed: bad params, bad or missing input, a full disk, too many failed items.  The message
     is one line, ``<stage>: <file or dotted key>: <problem>``; no traceback;
  2  the command line itself is wrong (argparse's own convention).
A bug (any other exception) still prints its traceback, since that is what a developer needs.
``MMFLYWHEEL_DEBUG=1`` shows the traceback of the one-line errors too.
"""
from __future__ import annotations

import errno
import logging
import os
import sys
from collections.abc import Callable

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

_OS_PROBLEMS = {
    errno.ENOSPC: "no space left on the device (free some disk space, then rerun)",
    errno.EDQUOT: "disk quota exceeded (free some space, then rerun)",
    errno.EROFS: "read-only file system (point the output somewhere writable)",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EISDIR: "is a folder, not a file",
    errno.ENOTDIR: "a part of this path is a file, not a folder",
    errno.ENOENT: "no such file or folder",
}


class StageError(RuntimeError):
    """The stage as a whole cannot go on; the message names the file, key or items concerned."""


def describe_os_error(exc: OSError) -> str:
    """'path: problem' for an OSError, in words a user can act on."""
    problem = _OS_PROBLEMS.get(exc.errno) or exc.strerror or str(exc)
    where = exc.filename if exc.filename is not None else ""
    if exc.filename2 is not None:
        where = f"{where} -> {exc.filename2}"
    return f"{where}: {problem}" if where else problem


def one_line(exc: BaseException) -> str:
    """The message of an expected error on one line (OSErrors described, newlines folded)."""
    text = describe_os_error(exc) if isinstance(exc, OSError) else str(exc)
    return " ".join(text.split()) or type(exc).__name__


def configure_logging() -> None:
    """Log lines of the libraries (LLM cache hits, retries, ...) on stderr; ``MMFLYWHEEL_LOG_LEVEL`` sets the level."""
    level = os.environ.get("MMFLYWHEEL_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(level=level, format="%(name)s: %(message)s", stream=sys.stderr)
    for noisy in ("httpx", "httpcore", "httpx2", "httpcore2", "urllib3", "filelock", "openai._base_client"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))


def run_stage(name: str, body: Callable[[], int | None]) -> int:
    """Run ``body`` as stage ``name``: its return code, or 1 with one line on stderr for an expected failure.

    Expected failures are StageError, ValueError (bad params, bad input: ParamsError, MotionError,
    SignalsError, ... all derive from it) and OSError (missing files, full disk, read-only folders).
    """
    configure_logging()
    try:
        return int(body() or EXIT_OK)
    except (StageError, ValueError, OSError) as exc:
        if os.environ.get("MMFLYWHEEL_DEBUG"):
            raise
        print(f"{name}: {one_line(exc)}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print(f"{name}: interrupted", file=sys.stderr)
        return 130
