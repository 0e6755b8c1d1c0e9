"""Renders: an animated GIF with the right frames and a self-contained HTML player."""
import json
import re
import shutil
import subprocess

import numpy as np
import pytest
from motion_bodies import STANDING, moving
from PIL import Image, ImageSequence

from tasks.common.skeleton import JOINT
from tasks.motion.render import render_motion

# 10 s: a walk along +z while turning a quarter to the left
CLIP = moving(STANDING, np.stack([np.zeros(200), np.linspace(0, 2, 200)], 1), np.linspace(0, 90, 200))


def test_gif_is_subsampled_in_real_time(tmp_path):
    out = render_motion(CLIP, tmp_path / "walk.gif", title="walk and turn left")
    with Image.open(out) as gif:
        frames = [f.copy() for f in ImageSequence.Iterator(gif)]
        assert gif.info["duration"] == 150 and gif.info["loop"] == 0  # every 3rd frame at 20 fps
    assert len(frames) == 67  # ceil(200 / 3)
    assert out.stat().st_size < 1_500_000
    first = np.asarray(frames[0].convert("RGB")).astype(int)
    red = (first[..., 0] > 180) & (first[..., 1] < 90) & (first[..., 2] < 90)
    blue = (first[..., 2] > 150) & (first[..., 0] < 80)
    assert red.sum() > 50 and blue.sum() > 50  # both sides drawn in their colours
    assert not np.array_equal(first, np.asarray(frames[-1].convert("RGB")))


def test_short_clip_keeps_every_frame(tmp_path):
    with Image.open(render_motion(CLIP[:12], tmp_path / "short.gif")) as gif:
        assert gif.n_frames == 12 and gif.info["duration"] == 50


def test_html_is_self_contained_and_embeds_every_frame(tmp_path):
    out = render_motion(CLIP, tmp_path / "walk.html", title="walk </script> & turn")
    page = out.read_text()
    assert "http" not in page and "<script src" not in page and "<link" not in page
    payload = re.search(r'<script type="application/json" id="motion">(.*?)</script>', page, re.S).group(1)
    data = json.loads(payload)
    assert len(data["frames"]) == 200 and np.array(data["frames"]).shape == (200, 22, 3)
    np.testing.assert_allclose(data["frames"][-1][JOINT["pelvis"]], CLIP[-1, JOINT["pelvis"]], atol=5e-4)
    assert "walk &lt;/script&gt; &amp; turn" in page and data["fps"] == 20


def test_bad_input(tmp_path):
    with pytest.raises(ValueError, match=r"walk\.mp4: can only render to \.gif or \.html"):
        render_motion(CLIP, tmp_path / "walk.mp4")
    with pytest.raises(ValueError, match="wrong shape"):
        render_motion(CLIP[:, :21], tmp_path / "walk.gif")


STUB_DOM = """
const fs = require("fs");
const page = fs.readFileSync(process.argv[1], "utf8");
const json = page.match(/<script type="application\\/json" id="motion">([\\s\\S]*?)<\\/script>/)[1];
const code = page.match(/<script>([\\s\\S]*?)<\\/script>/)[1];
let strokes = 0, frames = [];
const el = {textContent: json, value: 0, max: 0, width: 640, height: 480,
  getContext: () => ({clearRect() {}, beginPath() {}, moveTo() {}, lineTo() { strokes++; }, stroke() {}})};
const clock = {textContent: ""};
global.document = {getElementById: (id) => (id === "clock" ? clock : el)};
global.window = {};
let pending = null;
global.requestAnimationFrame = (f) => { pending = f; };
eval(code);
for (const t of [0, 1000, 3500]) { pending(t); frames.push(clock.textContent); }
console.log(JSON.stringify({strokes, frames}));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_html_player_script_runs(tmp_path):
    """The inline player under node with a stub canvas: it draws, and playing advances the clock."""
    page = render_motion(CLIP[:60], tmp_path / "walk.html")
    run = subprocess.run(["node", "-e", STUB_DOM, str(page)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["strokes"] > 21  # at least the 21 bones plus the floor grid
    assert result["frames"] == ["0.00 s / 2.95 s", "1.00 s / 2.95 s", "0.50 s / 2.95 s"]  # 3.5 s wraps to 0.5 s
