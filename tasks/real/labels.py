"""Class labels of real recordings: the label folder's name, optionally mapped by ``REAL_DIR/labels.yaml``.

``labels.yaml`` maps folder names to the project's class names (``walking: walk``); a folder it does not
name must be a class name itself.  A mapping to an unknown class is an error naming the file and key.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import yaml

from tasks.real.schema import RealDataError, read_utf8

LABELS_FILE = "labels.yaml"


def read_label_map(path: Path, classes: Sequence[str]) -> dict[str, str]:
    """Folder name -> class name from the mapping file ``path`` ({} if there is none), every target checked."""
    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(read_utf8(path))
    except yaml.YAMLError as exc:
        raise RealDataError(path, f"not valid YAML: {' '.join(str(exc).split())}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise RealDataError(path, f"must map folder names to class names, got {type(data).__name__}")
    mapping = {}
    for key, value in data.items():
        if not isinstance(key, str):
            raise RealDataError(path, f"{key}: folder names must be text (quote a name such as '01')")
        if not isinstance(value, str) or value not in classes:
            raise RealDataError(path, f"{key}: unknown class {value!r} (valid: {', '.join(classes)})")
        mapping[key] = value
    return mapping


def resolve_label(folder: str, mapping: dict[str, str], classes: Sequence[str], where: str | Path) -> str:
    """The class of recordings in ``folder``; RealDataError naming the recording ``where`` if it has none."""
    label = mapping.get(folder, folder)
    if label not in classes:
        raise RealDataError(where, f"label folder '{folder}' is neither a class nor mapped in {LABELS_FILE} "
                                    f"(valid: {', '.join(classes)})")
    return label
