"""Stick-figure views of a motion: an animated GIF (front, side and top views) or one self-contained HTML page
(an orthographic 3D view you can turn with the mouse, play/pause and a frame slider; no network needed).

Left limbs are drawn red and right limbs blue, so a mirrored or laterally confused motion shows at a glance.
"""
from __future__ import annotations

import html
import json
import math
from pathlib import Path

import imageio.v3 as iio
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MultipleLocator

from tasks.common.io import write_atomic
from tasks.common.skeleton import CENTRE, JOINT, JOINT_NAMES, KINEMATIC_CHAINS, LEFT, RIGHT
from tasks.motion.validate import check_joints


def chain_colours() -> list[str]:
    """Colour of each kinematic chain, from the side its end joint is on."""
    side = [JOINT_NAMES[chain[-1]].split("_")[0] for chain in KINEMATIC_CHAINS]
    return [LEFT if s == "left" else RIGHT if s == "right" else CENTRE for s in side]


def render_motion(joints: np.ndarray, out: Path, title: str = "", fps: int = 20, max_frames: int = 80) -> Path:
    """Write ``out`` (.gif or .html) showing ``joints`` [T, 22, 3] (metres, y up) and return its path.

    A GIF shows at most ``max_frames`` frames (every k-th frame, still in real time); the HTML page keeps all.
    """
    out = Path(out)
    joints = check_joints(joints, str(out))
    suffix = out.suffix.lower()
    if suffix == ".gif":
        _write_gif(joints, out, title, fps, max_frames)
    elif suffix == ".html":
        write_atomic(out, motion_html(joints, title, fps))
    else:
        raise ValueError(f"{out}: can only render to .gif or .html, not '{out.suffix}'")
    return out


# (panel title, horizontal axis, sign, label) of each view; y is always up.  The top view is seen from above
# with +z up the page, so +x runs to the left and a counter-clockwise turn looks counter-clockwise.
VIEWS = (("front", 0, 1, "x (person's left →)"), ("right side", 2, 1, "z (forward →)"), ("top", 0, -1, "← x"))


def _span(values: np.ndarray, least: float = 1.2, pad: float = 0.25) -> tuple[float, float]:
    """Axis limits around ``values`` with a margin, at least ``least`` metres wide."""
    lo, hi = float(values.min()) - pad, float(values.max()) + pad
    grow = max(0.0, least - (hi - lo)) / 2
    return lo - grow, hi + grow


def _write_gif(joints: np.ndarray, out: Path, title: str, fps: int, max_frames: int) -> None:
    step = max(1, math.ceil(len(joints) / max_frames))
    fig = Figure(figsize=(7.5, 3.0), dpi=64, layout="constrained")
    canvas = FigureCanvasAgg(fig)
    fig.suptitle(title or "motion", fontsize=10)
    clock = fig.text(0.01, 0.93, "", fontsize=9, family="monospace", animated=True)
    colours = chain_colours()
    panels = []
    for ax, (name, h, sign, label) in zip(fig.subplots(1, 3), VIEWS):
        horiz = sign * joints[..., h]
        vert = joints[..., 2] if name == "top" else joints[..., 1]
        ax.set_title(name, fontsize=9)
        ax.set_xlabel(label, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_aspect("equal")
        ax.set_xlim(*_span(horiz))
        ax.grid(True, linewidth=0.5, alpha=0.6)  # half-metre floor grid (top) / floor marks (front, side)
        ax.xaxis.set_major_locator(MultipleLocator(0.5))
        ax.yaxis.set_major_locator(MultipleLocator(0.5))
        if name == "top":
            ax.set_ylim(*_span(vert))
            ax.set_ylabel("z (forward ↑)", fontsize=8)
            ax.plot(horiz[:, JOINT["pelvis"]], vert[:, JOINT["pelvis"]], color="#bbbbbb", linewidth=1)
        else:
            ax.set_ylim(-0.1, max(float(vert.max()), 1.0) + 0.15)
            ax.axhline(0.0, color="#888888", linewidth=1.5)
        lines = [ax.plot([], [], color=c, linewidth=2, marker="o", markersize=2, animated=True)[0]
                 for c in colours]
        panels.append((ax, lines, horiz, vert))
    # draw the still parts once, then only the figure and the clock on top of them (blitting)
    canvas.draw()
    background = canvas.copy_from_bbox(fig.bbox)
    images = []
    for f in range(0, len(joints), step):
        canvas.restore_region(background)
        for ax, lines, horiz, vert in panels:
            for line, chain in zip(lines, KINEMATIC_CHAINS):
                line.set_data(horiz[f, list(chain)], vert[f, list(chain)])
                ax.draw_artist(line)
        clock.set_text(f"t = {f / fps:5.2f} s")
        fig.draw_artist(clock)
        images.append(np.asarray(canvas.buffer_rgba())[..., :3].copy())
    data = iio.imwrite("<bytes>", np.stack(images), extension=".gif", duration=round(1000 * step / fps), loop=0)
    write_atomic(out, data)


def motion_html(joints: np.ndarray, title: str, fps: int) -> str:
    """One HTML page: the motion as JSON and a small canvas player written inline (no external files)."""
    data = {
        "fps": fps,
        "frames": np.round(joints.astype(np.float64), 3).tolist(),
        "chains": [list(c) for c in KINEMATIC_CHAINS],
        "colours": chain_colours(),
        "pelvis": JOINT["pelvis"],
    }
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    name = html.escape(title or "motion")
    return _PAGE.replace("{{title}}", name).replace("{{data}}", payload)


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{title}}</title>
<style>
body{font-family:sans-serif;margin:12px;color:#222}
canvas{border:1px solid #ccc;cursor:grab;display:block}
#bar{display:flex;gap:8px;align-items:center;margin-top:6px;width:640px}
#slider{flex:1}
.key{font-size:12px;color:#555}
</style></head><body>
<h3>{{title}}</h3>
<canvas id="view" width="640" height="480"></canvas>
<div id="bar"><button id="play">pause</button><input id="slider" type="range" min="0" value="0">
<span id="clock">0.00 s</span></div>
<div class="key"><span style="color:#d62728">left</span> / <span style="color:#1f77b4">right</span>
limbs; drag to turn the view; floor grid 0.5 m</div>
<script type="application/json" id="motion">{{data}}</script>
<script>
(function () {
  const M = JSON.parse(document.getElementById("motion").textContent);
  const F = M.frames, n = F.length;
  const canvas = document.getElementById("view"), ctx = canvas.getContext("2d");
  const slider = document.getElementById("slider"), clock = document.getElementById("clock");
  const button = document.getElementById("play");
  slider.max = n - 1;
  let lo = [1e9, 1e9, 1e9], hi = [-1e9, -1e9, -1e9];
  for (const fr of F) for (const p of fr) for (let k = 0; k < 3; k++) {
    lo[k] = Math.min(lo[k], p[k]); hi[k] = Math.max(hi[k], p[k]);
  }
  const c = [(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, (lo[2] + hi[2]) / 2];
  const size = Math.max(hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2], 1.5) + 0.5;
  const scale = 0.8 * Math.min(canvas.width, canvas.height) / size;
  let yaw = 0.6, pitch = 0.35, frame = 0, playing = true, last = null, acc = 0;
  function project(p) {  // orthographic, seen from +z (the person's front) turned by yaw and tilted by pitch
    const x = p[0] - c[0], y = p[1] - c[1], z = p[2] - c[2];
    const x1 = Math.cos(yaw) * x - Math.sin(yaw) * z, z1 = Math.sin(yaw) * x + Math.cos(yaw) * z;
    const y2 = Math.cos(pitch) * y - Math.sin(pitch) * z1;
    return [canvas.width / 2 + scale * x1, canvas.height / 2 - scale * y2];
  }
  function line(a, b, colour, width) {
    const p = project(a), q = project(b);
    ctx.strokeStyle = colour; ctx.lineWidth = width;
    ctx.beginPath(); ctx.moveTo(p[0], p[1]); ctx.lineTo(q[0], q[1]); ctx.stroke();
  }
  function draw() {
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    const g0x = Math.floor((lo[0] - 0.5) * 2) / 2, g1x = Math.ceil((hi[0] + 0.5) * 2) / 2;
    const g0z = Math.floor((lo[2] - 0.5) * 2) / 2, g1z = Math.ceil((hi[2] + 0.5) * 2) / 2;
    for (let x = g0x; x <= g1x + 1e-9; x += 0.5) line([x, 0, g0z], [x, 0, g1z], "#dddddd", 1);
    for (let z = g0z; z <= g1z + 1e-9; z += 0.5) line([g0x, 0, z], [g1x, 0, z], "#dddddd", 1);
    for (let f = 1; f < n; f++) {
      const a = F[f - 1][M.pelvis], b = F[f][M.pelvis];
      line([a[0], 0, a[2]], [b[0], 0, b[2]], "#bbbbbb", 1);
    }
    const fr = F[frame];
    M.chains.forEach(function (chain, i) {
      for (let k = 1; k < chain.length; k++) line(fr[chain[k - 1]], fr[chain[k]], M.colours[i], 3);
    });
    slider.value = frame;
    clock.textContent = (frame / M.fps).toFixed(2) + " s / " + ((n - 1) / M.fps).toFixed(2) + " s";
  }
  function tick(now) {
    if (playing && last !== null) {
      acc += (now - last) / 1000;
      const step = Math.floor(acc * M.fps);
      if (step > 0) { frame = (frame + step) % n; acc -= step / M.fps; draw(); }
    }
    last = now;
    requestAnimationFrame(tick);
  }
  button.onclick = function () { playing = !playing; button.textContent = playing ? "pause" : "play"; };
  slider.oninput = function () { frame = Number(slider.value); draw(); };
  let drag = null;
  canvas.onmousedown = function (e) { drag = [e.clientX, e.clientY, yaw, pitch]; };
  window.onmouseup = function () { drag = null; };
  window.onmousemove = function (e) {
    if (!drag) return;
    yaw = drag[2] + (e.clientX - drag[0]) * 0.01;
    pitch = Math.max(-1.5, Math.min(1.5, drag[3] + (e.clientY - drag[1]) * 0.01));
    draw();
  };
  draw();
  requestAnimationFrame(tick);
})();
</script></body></html>
"""
