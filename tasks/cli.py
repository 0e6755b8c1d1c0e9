"""The `flywheel` command: work on single items (look at a motion, simulate one, ...)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tasks.motion.item import MotionError


def cmd_show(args: argparse.Namespace) -> int:
    from tasks.motion.dataset import load_motion
    from tasks.motion.render import render_motion

    name, joints = load_motion(args.item, args.data)
    out = args.out or Path(f"{name}.gif")
    render_motion(joints, out, title=name)
    print(out)
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="flywheel", description=__doc__)
    sub = ap.add_subparsers(dest="command", required=True)

    show = sub.add_parser("show", help="render a motion (data-set id, .npy or .bvh) as a GIF or HTML animation")
    show.add_argument("item", help="an id from data/motion, a HumanML3D-format .npy, or a .bvh file")
    show.add_argument("--out", type=Path, help="output .gif or .html (default: <name>.gif)")
    show.add_argument("--data", type=Path, default=Path("data/motion"), help="motion data set folder")
    show.set_defaults(func=cmd_show)
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
