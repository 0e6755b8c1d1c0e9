"""`flywheel ask ITEM "question"`: the tuned model answers a question about one motion's signals.

ITEM is a signals ``.npz`` (tasks/common/signals.py), a data-set id (its ``data/signals/<id>.npz``), or a
motion (a ``.npy`` in HumanML3D's joint format, a ``.bvh``, or an id of ``data/motion`` without signals) that
is simulated first with the params' ``simulate`` section.  The signals go through the pretrain stage's encoder
(``models/encoder``: its centred window, its normalisation), are pooled as in training, and reach the LLM
as soft tokens; ``--no-signal`` answers from the question alone (the text-only baseline).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from tasks.common.signals import load_signals
from tasks.pretrain.config import SignalShapes
from tasks.pretrain.data import VIEWS, Normaliser, collate, motion_of, window
from tasks.pretrain.export import load_encoder
from tasks.tune.data import signal_tokens
from tasks.tune.export import TunedModel


def load_item_signals(item: str, signals_dir: Path, motion_dir: Path,
                      params: Path) -> tuple[str, dict[str, np.ndarray]]:
    """(name, signals) of ITEM: an .npz, a data-set id with signals, or a motion simulated now."""
    path = Path(item)
    if path.suffix.lower() == ".npz":
        return path.stem, load_signals(path)
    if (signals_dir / f"{item}.npz").is_file():
        return item, load_signals(signals_dir / f"{item}.npz")
    from tasks.common.params import load_params
    from tasks.common.skeleton import FPS
    from tasks.motion.dataset import load_motion
    from tasks.simulate.config import SimulateConfig
    from tasks.simulate.signals import simulate_motion

    name, joints = load_motion(item, motion_dir)
    cfg = SimulateConfig.from_params(load_params(params, "simulate"))
    print(f"ask: simulating {name} ({len(joints) / FPS:.1f} s) with {params}'s simulate section")
    return name, simulate_motion(joints, FPS, cfg.radar, cfg.imu, cfg.seed, name, cfg.method, cfg.scene)


@torch.no_grad()
def encode_item(signals: dict[str, np.ndarray], name: str, encoder_dir: Path, modalities: tuple[str, ...],
                k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """One motion's pooled signal tokens [1, M, k, W] and mask, through the saved encoder."""
    encoder, info = load_encoder(encoder_dir)
    shapes = SignalShapes(**info["shapes"])
    norm = Normaliser(info["norm_stats"], info["imu_sites"])
    for view in VIEWS:
        if signals[view].shape[0] != shapes.bins(view):
            raise ValueError(f"{name}: {view} has {signals[view].shape[0]} bins, the encoder {encoder_dir} was "
                             f"trained on {shapes.bins(view)}: simulate with the radar the encoder knows")
    motion = motion_of(signals, norm, shapes.max_points, name, id=name, split="", label=None, captions=[])
    out = encoder.signal(collate([window(motion, shapes, None, None)]))
    return signal_tokens(out["tokens"], out["token_mask"], modalities, k)


def ask(tuned: TunedModel, item: str, question: str, *, no_signal: bool, encoder_dir: Path, signals_dir: Path,
        motion_dir: Path, params: Path, max_new_tokens: int) -> str:
    if no_signal:
        return tuned.answer([question], None, None, max_new_tokens)[0]
    name, signals = load_item_signals(item, signals_dir, motion_dir, params)
    signal, mask = encode_item(signals, name, encoder_dir, tuple(tuned.info["modalities"]),
                               tuned.info["tokens_per_modality"])
    return tuned.answer([question], signal, mask, max_new_tokens)[0]
