"""The sim-to-real report: how far simulated point clouds are from real ones, per class and for a classifier.

``compare(real, sim, splits, options)`` builds the report (a JSON-able dict, docs/contracts.md, "Sim-to-real
report") from Recordings of both sides; ``run_compare`` loads them, writes ``report.json``, ``report.html`` and
``rejects.jsonl`` into the out folder.  The simulated side is a signals folder (``data/signals``) or, with
``simulate``, the params' procedural motions of the real set's classes simulated into ``<out>/sim_cache``
(kept between runs: a motion whose joints, params and code did not change is not simulated again).

Honesty: the classifier is trained on simulated windows of the ``train_splits`` only, with fixed settings
(classify.py); real labels are used for nothing but scoring, and the simulated test split shows what the same
classifier does on data like its training data.  Windows of a class the simulated training set lacks are
counted, not scored.
"""
from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from tasks.common.config import load_section
from tasks.common.io import RejectLog, atomic_file, write_atomic, write_json
from tasks.common.seeds import item_seed
from tasks.common.stage import StageError
from tasks.real import classify
from tasks.real.dataset import load_real_dir, split_windows
from tasks.real.features import FEATURES, feature_matrix
from tasks.real.schema import Recording
from tasks.real.simulated import load_signals_dir, params_pose, read_index
from tasks.real.stats import EDGES, class_samples, summarise

REPORT_VERSION = 1
CACHE = "sim_cache"


@dataclass(frozen=True)
class CompareOptions:
    window_s: float = 2.0
    hop_s: float = 1.0
    model: str = "logreg"
    seed: int = 0
    bootstrap: int = 1000  # resamples of the recordings for each 95 % interval
    train_splits: tuple[str, ...] = ("train", "val")
    test_split: str = "test"


@dataclass
class Windows:
    """Windows of a set of recordings: their labels, the recording each came from, and their features."""

    labels: list[str]
    groups: list[str]
    x: np.ndarray

    @classmethod
    def of(cls, recordings: Sequence[Recording], options: CompareOptions) -> Windows:
        labels, groups, windows = [], [], []
        for rec in recordings:
            for w in split_windows(rec, options.window_s, options.hop_s):
                labels.append(rec.label)
                groups.append(rec.id)
                windows.append(w)
        return cls(labels, groups, feature_matrix(windows))

    def only(self, classes: Sequence[str], groups: set[str] | None = None) -> Windows:
        """The windows of ``classes`` (and, if given, of the recordings ``groups``)."""
        keep = [k for k, (label, group) in enumerate(zip(self.labels, self.groups))
                if label in set(classes) and (groups is None or group in groups)]
        return Windows([self.labels[k] for k in keep], [self.groups[k] for k in keep], self.x[keep])


def compare(real: Sequence[Recording], sim: Sequence[Recording], splits: dict[str, str],
            options: CompareOptions = CompareOptions(), rejects: RejectLog | None = None,
            sources: dict[str, Any] | None = None) -> dict[str, Any]:
    """The report of ``real`` against ``sim`` (whose ``splits`` map recording id -> split); see the module doc."""
    if not real:
        raise StageError("no usable real recordings" + (f" ({len(rejects)} rejected)" if rejects else ""))
    real_classes = sorted({r.label for r in real})
    sim_of_real = [r for r in sim if r.label in set(real_classes)]
    sim_w = Windows.of(sim_of_real, options)
    train_ids = {r.id for r in sim_of_real if splits.get(r.id) in options.train_splits}
    common = sorted(set(sim_w.only(real_classes, train_ids).labels))
    if not common:
        raise no_common_class(real_classes, {r.label for r in sim if splits.get(r.id) in options.train_splits},
                              options.train_splits)
    train = sim_w.only(common, train_ids)
    real_w = Windows.of(real, options)
    scored = real_w.only(common)
    model = classify.train(train.x, train.labels, options.model, options.seed)
    boot_seed = item_seed(options.seed, "compare-real", "bootstrap")
    real_score = classify.score(scored.labels, model.predict(scored.x).tolist(), scored.groups, common,
                                options.bootstrap, boot_seed)
    test = sim_w.only(common, {r.id for r in sim_of_real if splits.get(r.id) == options.test_split})
    sim_score = (classify.score(test.labels, model.predict(test.x).tolist(), test.groups, common,
                                options.bootstrap, boot_seed) if test.labels else None)
    sim_stats = {k: summarise(v) for k, v in class_samples(sim_of_real).items()}
    real_stats = {k: summarise(v) for k, v in class_samples(real).items()}
    report = {
        "version": REPORT_VERSION,
        "sources": sources or {},
        "options": {**asdict(options), "train_splits": list(options.train_splits)},
        "features": list(FEATURES),
        "real": {
            "recordings": len(real), "windows": len(real_w.labels),
            "recordings_without_windows": len({r.id for r in real} - set(real_w.groups)),
            "classes": {c: sum(r.label == c for r in real) for c in real_classes},
            "rejects": list(rejects.records) if rejects else [],
        },
        "sim": {
            "recordings": len(sim), "splits": {s: sum(1 for r in sim if splits.get(r.id) == s)
                                                for s in sorted({splits.get(r.id) or "none" for r in sim})},
            "train_windows": len(train.labels), "test_windows": len(test.labels),
            "classes": {c: sum(r.label == c for r in sim) for c in sorted({r.label for r in sim})},
        },
        "common_classes": common,
        "real_only_classes": [c for c in real_classes if c not in common],
        "unscored_real_windows": len(real_w.labels) - len(scored.labels),
        "classifier": {
            "model": options.model, "trained_on": f"simulated windows of splits {', '.join(options.train_splits)}",
            "train_windows": len(train.labels), "chance_accuracy": 1.0 / len(common),
            "real": real_score, "sim_test": sim_score,
            "gap": ({"accuracy": sim_score["accuracy"] - real_score["accuracy"],
                     "macro_f1": sim_score["macro_f1"] - real_score["macro_f1"]} if sim_score else None),
        },
        "stats": {
            "edges": {name: edges.tolist() for name, edges in EDGES.items()},
            "classes": {c: {"sim": sim_stats.get(c), "real": real_stats.get(c)} for c in real_classes},
        },
        "feature_shift": feature_shift(sim_w.only(common), scored, common),
        "notes": notes(sim_stats, real_stats),
    }
    return _finite(report)


def notes(sim_stats: dict[str, Any], real_stats: dict[str, Any]) -> list[str]:
    """Warnings a reader needs before trusting a comparison: a side whose points carry no elevation."""
    out = []
    for side, stats in (("simulated", sim_stats), ("real", real_stats)):
        shares = [s["elevated_share"] for s in stats.values() if s["elevated_share"] is not None]
        if shares and max(shares) < 0.01:
            out.append(f"The {side} points lie in the radar's boresight plane (no elevation measured): their heights "
                       "are all the radar's own, so the height features and statistics say nothing on that side.")
    return out


def no_common_class(real: Sequence[str], sim: Sequence[str], splits: Sequence[str]) -> StageError:
    return StageError(f"no class in both sets: the real recordings have {', '.join(sorted(real))}; the simulated "
                      f"{'/'.join(splits)} windows have {', '.join(sorted(sim)) or 'none'}")


def feature_shift(sim: Windows, real: Windows, classes: Sequence[str]) -> dict[str, Any]:
    """Per class and feature, |real mean - sim mean| / sim std over windows; the median over classes.

    A large value marks a feature on which the simulated class looks unlike the real one (NaN-aware; None
    where a side has no value or the simulated windows do not vary).
    """
    per_class = {}
    for c in classes:
        s = sim.x[[k for k, label in enumerate(sim.labels) if label == c]]
        r = real.x[[k for k, label in enumerate(real.labels) if label == c]]
        per_class[c] = {name: _shift(s[:, j], r[:, j]) for j, name in enumerate(FEATURES)}
    median = {}
    for name in FEATURES:
        values = [v[name] for v in per_class.values() if v[name] is not None]
        median[name] = float(np.median(values)) if values else None
    return {"per_class": per_class, "median": median}


def _shift(sim: np.ndarray, real: np.ndarray) -> float | None:
    sim, real = sim[np.isfinite(sim)], real[np.isfinite(real)]
    if len(sim) < 2 or not len(real) or sim.std() == 0:
        return None
    return float(abs(real.mean() - sim.mean()) / sim.std())


def _finite(obj: Any) -> Any:
    """``obj`` with NaN and inf floats as None, so report.json is strict JSON."""
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    if isinstance(obj, float | np.floating):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def simulate_procedural(params_path: str | Path, classes: Sequence[str], cache_dir: str | Path,
                        reuse: Sequence[Path] = ()) -> Path:
    """The params' procedural motions of ``classes`` simulated into ``cache_dir/signals``; that folder.

    Motions and splits are the motion stage's (same seeds, same stratified split), joints go to
    ``cache_dir/joints``; a motion whose signals in the cache or in a ``reuse`` folder were made from the same
    joints, params and code is kept (tasks/simulate/resume.py).
    """
    from tasks.motion.config import MotionConfig  # imported here: the simulator brings torch along
    from tasks.motion.procedural import generate_library
    from tasks.motion.stage import assign_splits
    from tasks.motion.validate import check_joints
    from tasks.simulate.config import SimulateConfig
    from tasks.simulate.stage import simulate_shard

    motion = load_section(MotionConfig, params_path, "motion")
    sim_cfg = load_section(SimulateConfig, params_path, "simulate")
    wanted = [c for c in motion.procedural.classes if c in set(classes)]
    if not wanted or not motion.procedural.motions_per_class:
        raise StageError(f"{params_path}: motion.procedural makes no motion of the real set's classes "
                         f"({', '.join(sorted(classes))})")
    procedural = motion.procedural.model_copy(update={"classes": tuple(wanted)})
    total = len(wanted) * procedural.motions_per_class
    items = list(tqdm(generate_library(procedural, motion.seed), total=total, desc="motion", unit="motion",
                      file=sys.stderr))
    assign_splits(items, motion.split_fractions)
    cache_dir = Path(cache_dir)
    rows = []
    for item in items:
        joints = check_joints(item.joints, item.id)
        path = cache_dir / "joints" / f"{item.id}.npy"
        with atomic_file(path) as fh:
            np.save(fh, joints)
        rows.append({"id": item.id, "split": item.split, "label": item.label, "fps": float(item.fps),
                     "duration_s": len(joints) / item.fps, "joints_file": str(path)})
    signals_dir = cache_dir / "signals"
    signals_dir.mkdir(parents=True, exist_ok=True)
    index, _ = simulate_shard(rows, sim_cfg, signals_dir, [p for p in reuse if p.resolve() != signals_dir.resolve()])
    if index.empty:
        raise StageError(f"{signals_dir}: every simulated motion was rejected (see rejects.jsonl there)")
    return signals_dir


def run_compare(real_dir: str | Path, out: str | Path, signals: str | Path = "data/signals",
                params: str | Path = "params.yaml", simulate: bool = False,
                options: CompareOptions = CompareOptions()) -> dict[str, Any]:
    """Load both sides, build the report and write report.json, report.html and rejects.jsonl into ``out``."""
    from tasks.real.report import render_html  # imported here: matplotlib

    out = Path(out)
    real, rejects = load_real_dir(real_dir)
    if not real:
        raise StageError(f"{real_dir}: no usable recordings" +
                         (f" ({len(rejects)} rejected: {rejects.records[0]['reason']} ...)" if rejects else
                          " (expected REAL_DIR/<label>/<recording>.csv, .parquet or .txt)"))
    classes = sorted({r.label for r in real})
    signals_dir = Path(signals)
    if simulate:
        signals_dir = simulate_procedural(params, classes, out / CACHE, reuse=[Path(signals)])
    sim, splits = load_signals_dir(signals_dir, lambda: params_pose(params), classes)
    if not sim:  # name what the simulated set has, which the filter above left out
        index = read_index(signals_dir)
        raise no_common_class(classes, set(index["label"][index["split"].isin(options.train_splits)]),
                              options.train_splits)
    sources = {"real_dir": str(real_dir), "signals": str(signals_dir), "params": str(params), "simulated": simulate}
    report = compare(real, sim, splits, options, rejects, sources)
    write_json(out / "report.json", report)
    write_atomic(out / "report.html", render_html(report))
    rejects.write(out / "rejects.jsonl")
    return report


def summary_line(report: dict[str, Any]) -> str:
    """One line of the numbers that matter, for the command's output."""
    clf, real = report["classifier"], report["classifier"]["real"]

    def ci(pair: list[float] | None) -> str:
        return f" [{pair[0]:.3f}, {pair[1]:.3f}]" if pair else ""

    line = (f"real: {report['real']['recordings']} recordings ({len(report['real']['rejects'])} rejected), "
            f"{real['windows']} windows of {len(report['common_classes'])} classes scored; "
            f"{clf['model']} trained on {clf['train_windows']} simulated windows: "
            f"real accuracy {_num(real['accuracy'])}{ci(real['accuracy_ci95'])}, "
            f"macro-F1 {_num(real['macro_f1'])}{ci(real['macro_f1_ci95'])}")
    if clf["sim_test"]:
        line += (f"; simulated test accuracy {_num(clf['sim_test']['accuracy'])}, "
                 f"macro-F1 {_num(clf['sim_test']['macro_f1'])}")
    return line


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
