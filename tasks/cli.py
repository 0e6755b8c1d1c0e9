"""The `flywheel` command: work on single items (look at a motion or its signals, simulate one, ...)."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from tasks.common.motions import MotionError


def cmd_show(args: argparse.Namespace) -> int:
    if args.item.lower().endswith(".npz") or args.signals:
        return _show_signals(args)
    from tasks.motion.dataset import load_motion
    from tasks.motion.render import render_motion

    name, joints = load_motion(args.item, args.data)
    out = args.out or Path(f"{name}.gif")
    render_motion(joints, out, title=name)
    print(out)
    return 0


def _show_signals(args: argparse.Namespace) -> int:
    from tasks.common.signals import load_signals
    from tasks.simulate.views import render_signals

    path = Path(args.item) if args.item.lower().endswith(".npz") else args.signals_dir / f"{args.item}.npz"
    out = args.out or Path(f"{path.stem}.png")
    render_signals(load_signals(path), out, title=path.stem)
    print(out)
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from tasks.common.params import load_params
    from tasks.motion.dataset import load_motion
    from tasks.common.skeleton import FPS
    from tasks.common.signals import save_signals
    from tasks.simulate.signals import SimulateConfig, simulate_motion

    cfg = SimulateConfig.from_params(load_params(args.params, "simulate"), method=args.method)
    name, joints = load_motion(args.motion, args.data)
    start = time.perf_counter()
    s = simulate_motion(joints, FPS, cfg.radar, cfg.imu, cfg.seed, name, cfg.method)
    out = save_signals(args.out or Path(f"{name}.npz"), s)
    frames = len(s["frame_time_s"])
    print(out)
    print(
        f"{name}: {len(joints) / FPS:.1f} s of motion -> {frames} radar frames "
        f"({len(s['range_m'])} range x {len(s['velocity_mps'])} Doppler x {len(s['azimuth_deg'])} azimuth bins), "
        f"{len(s['points'])} points ({len(s['points']) / max(frames, 1):.1f} per frame), "
        f"IMU {len(s['imu_time_s'])} samples x {len(s['imu_sites'])} sites; "
        f"{time.perf_counter() - start:.1f} s ({cfg.method}, {cfg.radar.torch_device()})"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="flywheel", description=__doc__)
    sub = ap.add_subparsers(dest="command", required=True)

    show = sub.add_parser(
        "show", help="render a motion (data-set id, .npy or .bvh) as a GIF or HTML animation, or signals as a PNG")
    show.add_argument("item", help="an id from data/motion, a HumanML3D-format .npy, a .bvh, or a signals .npz")
    show.add_argument("--out", type=Path, help="output .gif or .html for a motion, .png for signals "
                                               "(default: <name>.gif / <name>.png)")
    show.add_argument("--data", type=Path, default=Path("data/motion"), help="motion data set folder")
    show.add_argument("--signals", action="store_true", help="render the id's signals from --signals-dir")
    show.add_argument("--signals-dir", type=Path, default=Path("data/signals"), help="signals data set folder")
    show.set_defaults(func=cmd_show)

    simulate = sub.add_parser("simulate", help="simulate one motion's radar and IMU signals into an .npz")
    simulate.add_argument("motion", help="an id from data/motion, a HumanML3D-format .npy, or a .bvh file")
    simulate.add_argument("--out", type=Path, help="output .npz (default: <name>.npz)")
    simulate.add_argument("--params", type=Path, default=Path("params.yaml"),
                          help="params file whose 'simulate' section is used")
    simulate.add_argument("--method", choices=("fast", "reference"), help="radar synthesis (default: params)")
    simulate.add_argument("--data", type=Path, default=Path("data/motion"), help="motion data set folder")
    simulate.set_defaults(func=cmd_simulate)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (MotionError, FileNotFoundError, ValueError) as exc:
        print(f"flywheel {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
