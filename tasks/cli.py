"""The `flywheel` command: work on single items (look at a motion or its signals, simulate one, ...).

Exit codes are every stage's (tasks/common/stage.py): 0 done; 1 failed, with one line on stderr naming the
file or params key and the problem; 2 a wrong command line.  An ``--out`` that names an existing folder
writes ``<name>.<ext>`` into it.
"""
from __future__ import annotations

import argparse
import errno
import os
import sys
import time
from pathlib import Path

from tasks.common.stage import run_stage


def output_path(out: Path | None, name: str) -> Path:
    """Where to write a file called ``name`` by default: ``out``, or ``name`` inside the folder ``out`` names."""
    if out is None:
        return Path(name)
    if out.is_dir():
        return out / name
    existing = next(p for p in out.parents if p.exists())
    if not existing.is_dir():  # creating the folders would fail with a puzzling "File exists"
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(existing))
    return out


def cmd_show(args: argparse.Namespace) -> int:
    if args.item.lower().endswith(".npz") or args.signals:
        return _show_signals(args)
    from tasks.motion.dataset import load_motion
    from tasks.motion.render import render_motion

    name, joints = load_motion(args.item, args.data)
    print(render_motion(joints, output_path(args.out, f"{name}.gif"), title=name))
    return 0


def _show_signals(args: argparse.Namespace) -> int:
    from tasks.common.signals import load_signals
    from tasks.simulate.views import render_signals

    path = Path(args.item) if args.item.lower().endswith(".npz") else args.signals_dir / f"{args.item}.npz"
    signals = load_signals(path)
    print(render_signals(signals, output_path(args.out, f"{path.stem}.png"), title=path.stem))
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    import torch

    from tasks.common.params import load_params
    from tasks.common.signals import save_signals
    from tasks.common.skeleton import FPS
    from tasks.motion.dataset import load_motion
    from tasks.simulate.config import SimulateConfig
    from tasks.simulate.resume import provenance_key, stamped
    from tasks.simulate.signals import simulate_motion

    cfg = SimulateConfig.from_params(load_params(args.params, "simulate"), method=args.method)
    torch.set_num_threads(cfg.torch_threads)
    name, joints = load_motion(args.motion, args.data)
    out = output_path(args.out, f"{name}.npz")
    start = time.perf_counter()
    s = simulate_motion(joints, FPS, cfg.radar, cfg.imu, cfg.seed, name, cfg.method, cfg.scene)
    save_signals(out, stamped(s, provenance_key(name, joints, FPS, cfg)))
    frames = len(s["frame_time_s"])
    print(out)
    print(
        f"{name}: {len(joints) / FPS:.1f} s of motion -> {frames} radar frames "
        f"({len(s['range_m'])} range x {len(s['velocity_mps'])} Doppler x {len(s['azimuth_deg'])} azimuth bins), "
        f"{len(s['points'])} points ({len(s['points']) / max(frames, 1):.1f} per frame), "
        f"IMU {len(s['imu_time_s'])} samples x {len(s['imu_sites'])} sites; radar at "
        f"{s['scene'][0]:.2f} m, {s['scene'][2]:.2f} m up, yaw {s['scene'][3]:+.1f} deg; "
        f"{time.perf_counter() - start:.1f} s ({cfg.method}, {cfg.radar.torch_device()}, "
        f"{torch.get_num_threads()} threads)"
    )
    return 0


def cmd_radar_info(args: argparse.Namespace) -> int:
    from tasks.common.params import load_params
    from tasks.simulate.config import SimulateConfig
    from tasks.simulate.radar import RadarConfig
    from tasks.simulate.radar.devices import DEVICES
    from tasks.simulate.radar.info import describe
    from tasks.simulate.radar.ti_cfg import profile_source, read_profile

    if args.ti_cfg is not None and args.ti_device is None:
        raise ValueError(f"--ti-cfg needs --ti-device, one of {', '.join(DEVICES)}")
    if args.ti_device is not None and args.ti_cfg is None and args.preset is None:
        raise ValueError("--ti-device goes with --ti-cfg or --preset")
    if args.ti_cfg is not None or args.preset is not None:
        section = {"preset": args.preset or "default", "ti_cfg": args.ti_cfg, "ti_device": args.ti_device}
        cfg = RadarConfig.from_params({**section, "device": "cpu"})
        title = f"preset {args.preset}" if args.preset else str(args.ti_cfg)
    else:
        params = load_params(args.params, "simulate")
        cfg = SimulateConfig.from_params(params).radar
        section = {"preset": "default", "ti_cfg": None, "ti_device": None, **((params or {}).get("radar") or {})}
        title = f"{args.params}: simulate.radar (preset {section['preset']})"
    source = profile_source(section["preset"], section["ti_cfg"], section["ti_device"])
    if source is not None:
        title += f", TI profile {source[0]} on {source[1]}"
    print("\n".join(describe(cfg, title, read_profile(source[0]) if source else None)))
    return 0


def cmd_compare_real(args: argparse.Namespace) -> int:
    from tasks.real.compare import CompareOptions, run_compare, summary_line

    options = CompareOptions(window_s=args.window_s, hop_s=args.hop_s, model=args.model, seed=args.seed,
                             bootstrap=args.bootstrap)
    report = run_compare(args.real_dir, args.out, args.signals, args.params, args.simulate, options)
    print(args.out / "report.html")
    print(args.out / "report.json")
    print(summary_line(report))
    return 0


def cmd_classify(args: argparse.Namespace) -> int:
    from tasks.pretrain.classify import classify, summary_lines

    report = classify(args.real_dir, args.encoder, args.out, args.batch_size)
    print(args.out / "classify.json")
    print("\n".join(summary_lines(report)))
    return 0


def cmd_export_real(args: argparse.Namespace) -> int:
    from tasks.real.export import export_signals_dir
    from tasks.real.simulated import params_pose

    n = export_signals_dir(args.signals_dir, args.out_dir, lambda: params_pose(args.params), args.axes,
                           args.velocity_positive)
    print(args.out_dir)
    print(f"{n} recordings (axes {args.axes}, velocity + = {args.velocity_positive}) from {args.signals_dir}")
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    import torch

    from tasks.tune.ask import ask
    from tasks.tune.export import load_tuned

    torch.set_num_threads(args.threads)
    tuned = load_tuned(args.model)
    print(ask(tuned, args.item, args.question, no_signal=args.no_signal, encoder_dir=args.encoder,
              signals_dir=args.signals_dir, motion_dir=args.data, params=args.params,
              max_new_tokens=args.max_tokens))
    return 0


def cmd_qa_audit(args: argparse.Namespace) -> int:
    from tasks.qa.audit import score, write_audit

    if args.score is not None:
        result = score(args.score)
        for group in ("accepted", "rejected"):
            g = result[group]
            share = "-" if g["share_right"] is None else f"{g['share_right']:.1%}"
            print(f"{group}: {g['right']} of {g['graded']} graded right ({share}, 95% CI "
                  f"{g['ci95'][0]:.1%}-{g['ci95'][1]:.1%}); {g['pairs'] - g['graded']} not graded")
        print(f"precision of accepted pairs: {result['accepted']['share_right']}")
        return 0
    page, grades = write_audit(args.qa, args.out, args.n, args.seed)
    print(page)
    print(grades)
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="flywheel", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)

    show = sub.add_parser(
        "show", help="render a motion (data-set id, .npy or .bvh) as a GIF or HTML animation, or signals as a PNG")
    show.add_argument("item", help="an id from data/motion, a HumanML3D-format .npy, a .bvh, or a signals .npz")
    show.add_argument("--out", type=Path, help="output .gif or .html for a motion, .png for signals, or a folder "
                                               "(default: <name>.gif / <name>.png)")
    show.add_argument("--data", type=Path, default=Path("data/motion"), help="motion data set folder")
    show.add_argument("--signals", action="store_true", help="render the id's signals from --signals-dir")
    show.add_argument("--signals-dir", type=Path, default=Path("data/signals"), help="signals data set folder")
    show.set_defaults(func=cmd_show)

    simulate = sub.add_parser("simulate", help="simulate one motion's radar and IMU signals into an .npz")
    simulate.add_argument("motion", help="an id from data/motion, a HumanML3D-format .npy, or a .bvh file")
    simulate.add_argument("--out", type=Path, help="output .npz, or a folder (default: <name>.npz)")
    simulate.add_argument("--params", type=Path, default=Path("params.yaml"),
                          help="params file whose 'simulate' section is used")
    simulate.add_argument("--method", choices=("fast", "reference"), help="radar synthesis (default: params)")
    simulate.add_argument("--data", type=Path, default=Path("data/motion"), help="motion data set folder")
    simulate.set_defaults(func=cmd_simulate)

    info = sub.add_parser("radar-info", help="print what a radar set-up measures: range and velocity resolution and "
                                             "limits, frame time, virtual array (compare with TI's Sensing Estimator)")
    source = info.add_mutually_exclusive_group()
    source.add_argument("--ti-cfg", type=Path, help="a TI mmWave SDK profile (.cfg); needs --ti-device")
    source.add_argument("--preset", help="a radar preset (default, udoppler, ti1843, iwr1443_short_range, "
                                         "iwr1843_best_range_res, iwr6843_people_counting)")
    source.add_argument("--params", type=Path, default=Path("params.yaml"),
                        help="params file whose simulate.radar section is described (the default)")
    info.add_argument("--ti-device", help="device family of --ti-cfg (or another device for a TI --preset): "
                                          "iwr1443, iwr1843, awr1843, iwr6843isk, iwr6843aop")
    info.set_defaults(func=cmd_radar_info)

    compare = sub.add_parser(
        "compare-real", help="the sim-to-real report: simulated vs real point clouds per class, and a classifier "
                             "trained on simulated windows tested on the real recordings (HTML + JSON)")
    compare.add_argument("real_dir", type=Path, help="labelled real recordings (docs/contracts.md, 'Real recordings')")
    compare.add_argument("--signals", type=Path, default=Path("data/signals"),
                         help="simulated signals folder with index.parquet (used as is unless --simulate)")
    compare.add_argument("--params", type=Path, default=Path("params.yaml"),
                         help="params file: the radar pose of signals without radar_pose; with --simulate also "
                              "the motion.procedural and simulate sections")
    compare.add_argument("--simulate", action="store_true",
                         help="simulate the params' procedural motions of the real set's classes into "
                              "OUT/sim_cache (kept between runs) instead of reading --signals")
    compare.add_argument("--out", type=Path, default=Path("reports/compare_real"),
                         help="folder for report.html, report.json, rejects.jsonl")
    compare.add_argument("--window-s", type=float, default=2.0, help="window length, seconds")
    compare.add_argument("--hop-s", type=float, default=1.0, help="seconds between window starts")
    compare.add_argument("--model", choices=("logreg", "forest"), default="logreg",
                         help="classifier: standardised logistic regression or a random forest")
    compare.add_argument("--seed", type=int, default=0, help="seeds the classifier and the bootstrap")
    compare.add_argument("--bootstrap", type=int, default=1000, help="resamples of the recordings per 95%% CI")
    compare.set_defaults(func=cmd_compare_real)

    zero_shot = sub.add_parser(
        "classify", help="zero-shot activity recognition of labelled real recordings (radar point clouds, IMU CSVs) "
                         "by the trained encoder: accuracy and macro-F1 with 95%% CIs (JSON, confusion PNGs)")
    zero_shot.add_argument("real_dir", type=Path,
                           help="labelled real recordings (docs/contracts.md, 'Real recordings', 'IMU recordings')")
    zero_shot.add_argument("--encoder", type=Path, default=Path("models/encoder"), help="the pretrain stage's encoder")
    zero_shot.add_argument("--out", type=Path, default=Path("reports/classify"),
                           help="folder for classify.json, classify.md, confusion_<modality>.png")
    zero_shot.add_argument("--batch-size", type=int, default=64, help="windows per forward pass")
    zero_shot.set_defaults(func=cmd_classify)

    export = sub.add_parser("export-real", help="write a signals folder's labelled motions as real recordings "
                                                "(CSV + sidecar): a stand-in real set for compare-real")
    export.add_argument("signals_dir", type=Path, help="simulated signals folder with index.parquet")
    export.add_argument("out_dir", type=Path, help="new folder: OUT_DIR/<label>/<id>.csv and <id>.json")
    export.add_argument("--axes", choices=("ti", "radar", "ros"), default="ti", help="axes the positions are in")
    export.add_argument("--velocity-positive", choices=("away", "towards"), default="away",
                        help="what a positive velocity means in the files")
    export.add_argument("--params", type=Path, default=Path("params.yaml"),
                        help="params file whose simulate radar pose is used for signals without radar_pose")
    export.set_defaults(func=cmd_export_real)

    asking = sub.add_parser("ask", help="the tuned model answers a question about one motion's signals (an .npz, a "
                                        "data-set id, or a .npy / .bvh motion simulated first)")
    asking.add_argument("item", help="a signals .npz, an id with data/signals/<id>.npz, or a motion (.npy, .bvh, id)")
    asking.add_argument("question", help='e.g. "What is the person doing?"')
    asking.add_argument("--no-signal", action="store_true", help="answer from the question alone (text-only baseline)")
    asking.add_argument("--model", type=Path, default=Path("models/tune"), help="the tune stage's model folder")
    asking.add_argument("--encoder", type=Path, default=Path("models/encoder"), help="the pretrain stage's encoder")
    asking.add_argument("--signals-dir", type=Path, default=Path("data/signals"), help="signals data set folder")
    asking.add_argument("--data", type=Path, default=Path("data/motion"), help="motion data set folder")
    asking.add_argument("--params", type=Path, default=Path("params.yaml"),
                        help="params file whose 'simulate' section simulates a motion given as ITEM")
    asking.add_argument("--max-tokens", type=int, default=48, help="longest answer in tokens")
    asking.add_argument("--threads", type=int, default=2, help="torch threads")
    asking.set_defaults(func=cmd_ask)

    audit = sub.add_parser("qa-audit", help="a seeded sample of accepted and rejected QA pairs on one offline page "
                                            "to grade right/wrong; --score FILE prints the precision with a 95%% CI")
    audit.add_argument("--qa", type=Path, default=Path("data/qa"), help="the qa stage's output folder")
    audit.add_argument("--n", type=int, default=50, help="pairs drawn from the accepted and from the rejected")
    audit.add_argument("--seed", type=int, default=0, help="seeds the draw")
    audit.add_argument("--out", type=Path, default=Path("reports/qa_audit.html"),
                       help="the page; its grades template goes beside it as <stem>.grades.json")
    audit.add_argument("--score", type=Path, metavar="FILE", help="score a saved grades file instead")
    audit.set_defaults(func=cmd_qa_audit)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_stage(f"flywheel {args.command}", lambda: args.func(args))


if __name__ == "__main__":
    sys.exit(main())
