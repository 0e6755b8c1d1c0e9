"""Reading users' files (caption texts, joint arrays) with one-line reasons instead of decoder tracebacks.

Both raise MotionError("<where>: <problem>"), ``where`` being the name the message should show (e.g.
``texts/7.txt``), so a source can record the item as a reject and carry on with the rest.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from tasks.common.motions import MotionError
from tasks.common.stage import describe_os_error

NPY_MAGIC = b"\x93NUMPY"


def read_utf8(path: Path, where: str) -> str:
    """The text of ``path``; a byte that is not UTF-8 is an error, never a silent U+FFFD ("caf\ufffd")."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise MotionError(f"{where}: unreadable: {_problem(exc)}") from exc
    try:
        return data.decode("utf-8-sig")  # a byte-order mark, as some editors write, is not part of the text
    except UnicodeDecodeError as exc:
        raise MotionError(f"{where}: not UTF-8 text (byte 0x{data[exc.start]:02x} at position {exc.start})") from None


def load_npy(path: Path, where: str) -> np.ndarray:
    """The array in the ``.npy`` file ``path``, refusing anything else (text, ``.npz``, pickled objects)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(len(NPY_MAGIC))
            if head == NPY_MAGIC:
                fh.seek(0)
                return np.load(fh, allow_pickle=False)
    except OSError as exc:
        raise MotionError(f"{where}: unreadable: {_problem(exc)}") from exc
    except ValueError as exc:  # numpy's reasons: pickled object arrays, truncated data or header
        if "allow_pickle" in str(exc):
            raise MotionError(f"{where}: holds Python objects, not numbers (pickled data is never loaded)") from None
        raise MotionError(f"{where}: unreadable .npy file ({' '.join(str(exc).split())})") from None
    raise MotionError(f"{where}: not a NumPy .npy file" + ("" if head else " (empty file)"))


def _problem(exc: OSError) -> str:
    """What went wrong, without the path (the message names the file already)."""
    return describe_os_error(OSError(exc.errno, exc.strerror))
