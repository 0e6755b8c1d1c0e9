"""`flywheel classify REAL_DIR`: zero-shot activity recognition of labelled real recordings by the trained encoder.

Real radar point clouds (tasks/real ``load_real_dir``, already in the project's radar frame) go through the
points tower alone, real IMU recordings (tasks/real/imu_csv.py, one sensor each) through the IMU tower alone:
each tower was also trained against text on its own, so its pooled embedding lies in the text space.  Each
window's embedding is compared with the class embeddings (every class of encoder.json in each template of
``PretrainConfig().eval.templates``, averaged) and a recording is predicted as the class of the highest mean
similarity over its windows.  Nothing is fitted or tuned: the real labels are used to score, nothing else.

Windows: back to back, ``window_s`` (encoder.json ``data``) each from the recording's first frame or sample;
a last partial window is kept if it holds at least half a window, and a recording shorter than half a window
is one window.  What a window lacks is padding at its end, masked as data.py masks a short clip.

Frames are mapped by time: slot f of a window stands for start + f / rate (rate = n_frames / window_s, the
simulated radar's frame rate) and holds the real frame nearest that time (a tie: the earlier one), with its
strongest ``max_points`` points by intensity (SNR), standardised with norm_stats["points"] as data.py does
(a feature without spread -> 0).  A device as fast as the simulated radar fills the slots one to one; a
faster one has frames skipped, a slower one has each frame held until the next one's time, so a frame keeps
its own density of points and time runs at its real speed.  Slots past the recording's end (its last frame
plus one frame period) are masked.  IMU: linear interpolation at the encoder's IMU rate (imu_steps /
window_s), scaled by ``Normaliser.imu_scale``, in the slot of the recording's site, every other site masked.
The batch has every key of data.py's layout, the other modalities' inputs zero and masked
(``frame_mask``, which the points share with the heatmap towers, is set; those towers' output is not used).

Output (``out_dir``): ``classify.json`` (``REPORT_VERSION``; per modality: recordings and windows scored,
accuracy and macro-F1 over recordings with bootstrap 95 % CIs resampling recordings, window accuracy, chance
= 1 / the encoder's classes, per-class counts, the confusion rows, every recording's prediction, and the
real classes the encoder does not know, ``not_in_library``, excluded from the scores but counted; and the
rejects of both loaders), ``confusion_<modality>.png`` and ``classify.md``.  Real labels are the label
folders (through labels.yaml): any folder name is a real class, so one the encoder lacks is reported, not
rejected.
"""
from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tasks.common.io import write_atomic, write_json
from tasks.common.seeds import item_seed
from tasks.common.stage import StageError
from tasks.motion.procedural import CLASSES
from tasks.pretrain.config import PretrainConfig, SignalShapes
from tasks.pretrain.data import VIEWS, Normaliser, collate, strongest_points
from tasks.pretrain.export import load_encoder
from tasks.pretrain.metrics import bootstrap_ci, class_embeddings, confusion_rows, macro_f1_of_pairs, plot_confusion
from tasks.pretrain.model import ContrastiveModel
from tasks.pretrain.train import text_features
from tasks.real.dataset import is_hidden, load_real_dir
from tasks.real.dataset import log as point_log
from tasks.real.imu_csv import ImuRecording, imu_files, load_imu_dir
from tasks.real.schema import RealDataError, Recording

REPORT_VERSION = 1
EPS = 1e-9
TIE = 1e-6  # frames: fractional indices this close to a half are ties
Window = dict[str, np.ndarray]


@dataclass(frozen=True)
class Inputs:
    """What a window needs from encoder.json: the signal shapes, the window, the normaliser, the IMU sites."""

    shapes: SignalShapes
    window_s: float
    norm: Normaliser
    sites: list[str]

    @classmethod
    def of(cls, info: dict[str, Any]) -> Inputs:
        sites = list(info["imu_sites"])
        return cls(SignalShapes(**info["shapes"]), float(info["data"]["window_s"]),
                   Normaliser(info["norm_stats"], sites), sites)

    @property
    def frame_rate(self) -> float:
        return self.shapes.n_frames / self.window_s

    @property
    def imu_rate(self) -> float:
        return self.shapes.imu_steps / self.window_s


def window_starts(duration_s: float, window_s: float) -> list[float]:
    """Starts of the back-to-back windows (see the module doc): every whole one, then a half-full one or more."""
    whole = math.floor(duration_s / window_s + EPS)
    starts = [k * window_s for k in range(whole)]
    if not whole or duration_s - whole * window_s >= window_s / 2 - EPS:
        starts.append(whole * window_s)
    return starts


def blank_window(shapes: SignalShapes) -> Window:
    """One window of data.py's layout (no batch axis) with every input zero and every mask False."""
    F, P, T, S = shapes.n_frames, shapes.max_points, shapes.imu_steps, shapes.n_sites
    return {**{v: np.zeros((shapes.bins(v), F), np.float32) for v in VIEWS}, "frame_mask": np.zeros(F, bool),
            "points": np.zeros((F, P, 5), np.float32), "points_mask": np.zeros((F, P), bool),
            "imu": np.zeros((T, S, 6), np.float32), "imu_mask": np.zeros(T, bool), "site_mask": np.zeros(S, bool)}


def point_windows(rec: Recording, inputs: Inputs) -> list[Window]:
    """The windows of a point-cloud recording, each frame slot the nearest real frame (the module doc)."""
    shapes = inputs.shapes
    strongest, counts = strongest_points(rec.points, rec.points_frame, rec.n_frames, shapes.max_points)
    mask = np.arange(shapes.max_points)[None, :] < counts[:, None]
    standard = np.where(mask[..., None], inputs.norm.points(strongest), 0.0).astype(np.float32)
    end = max(rec.duration_s, 1.0 / inputs.frame_rate)  # a single frame of unknown period lasts one slot
    windows = []
    for start in window_starts(end, inputs.window_s):
        t = start + np.arange(shapes.n_frames) / inputs.frame_rate
        real = t < end - EPS
        # the nearest frame in time (its fractional index rounded), a tie to the earlier one: a slower device's
        # frame is then held until the next one's time
        at = np.interp(t[real], rec.frame_time_s, np.arange(rec.n_frames))
        nearest = np.maximum(np.ceil(at - 0.5 - TIE), 0).astype(np.int64)
        w = blank_window(shapes)
        w["frame_mask"][real] = True
        w["points"][real], w["points_mask"][real] = standard[nearest], mask[nearest]
        windows.append(w)
    return windows


def imu_windows(rec: ImuRecording, inputs: Inputs) -> list[Window]:
    """The windows of an IMU recording, resampled at the encoder's rate, in its site's slot alone."""
    shapes = inputs.shapes
    site = inputs.sites.index(rec.site)
    scaled = rec.data / inputs.norm.imu_scale
    windows = []
    for start in window_starts(rec.duration_s, inputs.window_s):
        t = start + np.arange(shapes.imu_steps) / inputs.imu_rate
        real = t <= rec.time_s[-1] + EPS  # interpolated, never extrapolated
        w = blank_window(shapes)
        w["imu"][real, site] = np.column_stack([np.interp(t[real], rec.time_s, scaled[:, c]) for c in range(6)])
        w["imu_mask"][real], w["site_mask"][site] = True, True
        windows.append(w)
    return windows


@torch.no_grad()
def embed(model: ContrastiveModel, windows: list[Window], modality: str, batch_size: int) -> np.ndarray:
    """[W, E] the ``modality`` tower's pooled (unit-norm) embedding of each window."""
    model.eval()
    parts = [model.signal(collate(windows[i:i + batch_size]))["pooled"][modality].float().numpy()
             for i in range(0, len(windows), batch_size)]
    return np.concatenate(parts)


def _estimate(values: np.ndarray, n_boot: int, seed: int, stat: Callable[[np.ndarray], float]) -> dict[str, Any]:
    lo, hi = bootstrap_ci(values, n_boot, seed, stat)
    return {"value": float(stat(values)), "ci95": [lo, hi]}


def score_recordings(recordings: Sequence[Recording | ImuRecording], similarity: Sequence[np.ndarray],
                     classes: list[str], n_boot: int, seed: int) -> dict[str, Any]:
    """One modality's report from each recording's window-by-class similarities [W_r, C] (the module doc)."""
    index = {c: k for k, c in enumerate(classes)}
    predictions = []
    for rec, sim in zip(recordings, similarity, strict=True):
        known = rec.label in index
        predictions.append({
            "id": rec.id, "source": str(rec.source), "label": rec.label, "in_library": known, "windows": len(sim),
            "predicted": classes[int(sim.mean(axis=0).argmax())],
            "windows_right": int((sim.argmax(axis=1) == index[rec.label]).sum()) if known else None})
    scored = [p for p in predictions if p["in_library"]]
    outside = Counter(p["label"] for p in predictions if not p["in_library"])
    report: dict[str, Any] = {
        "recordings": len(scored), "windows": sum(p["windows"] for p in scored), "chance": 1.0 / len(classes),
        "accuracy": None, "macro_f1": None, "window_accuracy": None, "per_class": {}, "confusion": [],
        "not_in_library": {"recordings": sum(outside.values()), "classes": dict(sorted(outside.items()))},
        "predictions": predictions}
    if not scored:
        return report
    truth = np.array([index[p["label"]] for p in scored])
    pred = np.array([index[p["predicted"]] for p in scored])
    report.update(
        accuracy=_estimate(truth == pred, n_boot, seed, np.mean),
        macro_f1=_estimate(np.stack([truth, pred], axis=1), n_boot, seed, macro_f1_of_pairs),
        window_accuracy=sum(p["windows_right"] for p in scored) / report["windows"],
        per_class={c: {"recordings": int((truth == k).sum()), "correct": int(((truth == k) & (pred == k)).sum()),
                       "predicted": int((pred == k).sum())}
                   for k, c in enumerate(classes) if (truth == k).any() or (pred == k).any()},
        confusion=confusion_rows([p["label"] for p in scored], [p["predicted"] for p in scored], classes))
    return report


def real_classes(root: Path, encoder_classes: Sequence[str]) -> list[str]:
    """Labels the loaders accept: every label folder's name, the project's classes and the encoder's (a
    labels.yaml may map onto any of them), so a class the encoder lacks is reported instead of rejected."""
    folders = {p.name for p in root.iterdir() if p.is_dir() and not is_hidden(p.relative_to(root))}
    return sorted(folders | set(CLASSES) | set(encoder_classes))


@contextmanager
def _unlogged(files: set[str]) -> Iterator[None]:
    """Silence the point loader's reject line for each IMU file: it does not know the IMU schema (the IMU
    loader logs that file's own verdict)."""
    prefixes = tuple(f"{f}: " for f in files)

    def keep(record: logging.LogRecord) -> bool:
        return not (record.args and str(record.args[0]).startswith(prefixes))

    point_log.addFilter(keep)
    try:
        yield
    finally:
        point_log.removeFilter(keep)


def classify(real_dir: str | Path, encoder_dir: str | Path, out_dir: str | Path, batch_size: int = 64,
             cfg: PretrainConfig | None = None) -> dict[str, Any]:
    """Score every labelled real recording under ``real_dir`` zero-shot with the encoder in ``encoder_dir``;
    write classify.json, a confusion PNG per modality and classify.md into ``out_dir``; return the report.
    ``cfg``: the templates, bootstrap and seed to use (the pretrain stage passes its own; default: defaults)."""
    if batch_size < 1:
        raise ValueError(f"batch size must be at least 1, got {batch_size}")
    root, out = Path(real_dir), Path(out_dir)
    model, info = load_encoder(encoder_dir)
    classes = info.get("classes")
    if not classes:
        raise StageError(f"{Path(encoder_dir) / 'encoder.json'}: no 'classes' (the labels the encoder was trained "
                         "on); retrain it with the current pretrain stage")
    inputs = Inputs.of(info)
    if not root.is_dir():
        raise RealDataError(root, "no such folder of real recordings")
    labels = real_classes(root, classes)
    imu_recs, imu_rejects = load_imu_dir(root, inputs.sites, labels)
    imu_items = {p.relative_to(root).as_posix(): str(p) for p in imu_files(root)}
    with _unlogged(set(imu_items.values())):
        point_recs, point_rejects = load_real_dir(root, labels)
    rejects = sorted([r for r in point_rejects.records if r["item"] not in imu_items] + imu_rejects.records,
                     key=lambda r: r["item"])
    if not point_recs and not imu_recs:
        raise StageError(f"{root}: no usable recordings" + (f" ({len(rejects)} rejected: {rejects[0]['reason']} ...)"
                                                             if rejects else ""))
    cfg = cfg or PretrainConfig()
    class_emb = class_embeddings(lambda texts: text_features(model, texts, batch_size).float().numpy(), classes,
                                 cfg.eval.templates)
    modalities: dict[str, Any] = {}
    for modality, recs, make in (("points", point_recs, point_windows), ("imu", imu_recs, imu_windows)):
        if not recs:
            continue
        if modality not in model.signal_encoder.modalities:
            rejects += [{"stage": "classify", "item": r.source.relative_to(root).as_posix(), "source": str(r.source),
                         "reason": f"{r.source}: the encoder has no {modality} tower"} for r in recs]
            continue
        windows = [make(r, inputs) for r in recs]
        emb = embed(model, [w for ws in windows for w in ws], modality, batch_size)
        sims = np.split(emb.astype(np.float64) @ class_emb.T, np.cumsum([len(ws) for ws in windows])[:-1])
        modalities[modality] = score_recordings(recs, sims, classes, cfg.eval.bootstrap,
                                                item_seed(cfg.seed, "classify", modality))
    report = {"version": REPORT_VERSION, "real_dir": str(root), "encoder": str(encoder_dir), "classes": classes,
              "templates": cfg.eval.templates, "chance": 1.0 / len(classes), "bootstrap": cfg.eval.bootstrap,
              "inputs": {"window_s": inputs.window_s, "frame_rate_hz": inputs.frame_rate,
                         "imu_rate_hz": inputs.imu_rate, "max_points": inputs.shapes.max_points},
              "modalities": modalities, "rejects": rejects}
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "classify.json", report)
    for modality, found in modalities.items():
        if found["confusion"]:
            plot_confusion(found["confusion"], classes, out / f"confusion_{modality}.png")
    write_atomic(out / "classify.md", markdown(report))
    return report


def _ci(entry: dict[str, Any] | None) -> str:
    return "n/a" if entry is None else f"{entry['value']:.3f} [{entry['ci95'][0]:.3f}, {entry['ci95'][1]:.3f}]"


def summary_lines(report: dict[str, Any]) -> list[str]:
    """One line per modality scored, then the rejects' count."""
    lines = []
    for modality, m in report["modalities"].items():
        outside = m["not_in_library"]
        lines.append(f"{modality}: {m['recordings']} recordings ({m['windows']} windows) scored, accuracy "
                     f"{_ci(m['accuracy'])}, macro-F1 {_ci(m['macro_f1'])}, chance {m['chance']:.3f}; "
                     f"{outside['recordings']} of classes not in the library "
                     f"({', '.join(outside['classes']) or 'none'})")
    return [*lines, f"{len(report['rejects'])} files rejected"]


def markdown(report: dict[str, Any]) -> str:
    """classify.md: the scores per modality, the classes not in the library and the rejects."""
    out = [f"# Zero-shot classification of {report['real_dir']}", "",
           f"Encoder `{report['encoder']}` ({len(report['classes'])} classes, chance {report['chance']:.3f}); "
           f"windows of {report['inputs']['window_s']:g} s; 95 % intervals: bootstrap over recordings.", "",
           "| modality | recordings | windows | accuracy | macro-F1 | window accuracy | not in the library |",
           "|---|---|---|---|---|---|---|"]
    for modality, m in report["modalities"].items():
        window = "n/a" if m["window_accuracy"] is None else f"{m['window_accuracy']:.3f}"
        outside = ", ".join(f"{c} ({n})" for c, n in m["not_in_library"]["classes"].items()) or "none"
        out.append(f"| {modality} | {m['recordings']} | {m['windows']} | {_ci(m['accuracy'])} | "
                   f"{_ci(m['macro_f1'])} | {window} | {outside} |")
    out += ["", f"## Rejected files ({len(report['rejects'])})", ""]
    out += [f"* {r['reason']}" for r in report["rejects"]] or ["none"]
    return "\n".join(out) + "\n"
