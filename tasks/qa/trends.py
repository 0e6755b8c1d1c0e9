"""Plain-language trend descriptions of a 1-D signal, in the manner of SensorLLM.

A series is smoothed, cut into a few equal time segments, and each segment is named by its shape:

* ``oscillates``: at least ``min_swings`` swings (peaks plus troughs) each as prominent as
  ``swing_share`` of the whole series' range — a ramp has none, a sine has two per cycle;
* ``spikes``: one or two such swings (a landing, a single punch), named with their values and times;
* ``rises`` / ``falls``: otherwise, when the straight-line fit changes by at least ``change_share`` of
  the range (and by at least ``min_change`` in the signal's unit, so sensor noise never "rises");
* ``steady``: anything else.

Neighbouring segments of the same shape (but spikes) are merged, and each is rendered with its numbers, e.g.
"The left-wrist acceleration (m/s²) stays near 9.8 until 1.2 s, then rises sharply from 9.9 to 15 until 2.4 s".
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from pydantic import Field
from scipy.signal import find_peaks

from tasks.common.config import Section


class TrendConfig(Section):
    """``qa.trends`` in params.yaml."""

    segments: int = Field(4, ge=1)
    smooth_s: float = Field(0.1, ge=0)  # moving-average window applied before anything else
    swing_share: float = Field(0.25, gt=0)
    min_swings: int = Field(3, ge=1)
    change_share: float = Field(0.2, gt=0)
    sharp_share: float = Field(0.5, gt=0)  # share of the range: "sharp" from here, "slight" under 1.5 x change_share


@dataclass(frozen=True)
class Segment:
    start_s: float
    end_s: float
    shape: str  # rises | falls | steady | oscillates | spikes
    first: float
    last: float
    low: float
    high: float
    mean: float
    change_share: float  # |change| of the fitted line over the series' range
    events: tuple[tuple[str, float, float], ...] = ()  # spikes: ("peaks" | "dips", value, time)

    def merge(self, later: Segment, spread: float) -> Segment:
        """This segment and the next one of the same shape as one (spikes are never merged)."""
        span, more = self.end_s - self.start_s, later.end_s - later.start_s
        mean = (self.mean * span + later.mean * more) / max(span + more, 1e-12)
        return Segment(self.start_s, later.end_s, self.shape, self.first, later.last, min(self.low, later.low),
                       max(self.high, later.high), mean, abs(later.last - self.first) / spread)


def smooth(x: np.ndarray, rate_hz: float, window_s: float) -> np.ndarray:
    """Centred moving average; the ends use the samples available."""
    n = max(1, int(round(window_s * rate_hz)))
    if n == 1 or len(x) < n:
        return np.asarray(x, dtype=np.float64)
    kernel = np.ones(n)
    return np.convolve(x, kernel, mode="same") / np.convolve(np.ones(len(x)), kernel, mode="same")


def _extrema(t: np.ndarray, x: np.ndarray, prominence: float) -> list[tuple[str, float, float]]:
    """("peaks" | "dips", value, time) of every extremum at least ``prominence`` high, in time order."""
    peaks, troughs = find_peaks(x, prominence=prominence)[0], find_peaks(-x, prominence=prominence)[0]
    found = [("peaks", i) for i in peaks] + [("dips", i) for i in troughs]
    return [(kind, float(x[i]), float(t[i])) for kind, i in sorted(found, key=lambda e: e[1])]


def segment_trends(t: np.ndarray, x: np.ndarray, min_change: float, cfg: TrendConfig = TrendConfig()) -> list[Segment]:
    """The segments of series ``x`` sampled at times ``t`` (seconds, increasing), neighbours of one shape merged.

    A segment with ``min_swings`` or more prominent extrema oscillates; one with fewer (but some) spikes.
    """
    t, x = np.asarray(t, dtype=np.float64), np.asarray(x, dtype=np.float64)
    if len(t) < 2 or len(t) != len(x):
        raise ValueError(f"need matching time and value arrays of 2+ samples, got {len(t)} and {len(x)}")
    x = smooth(x, (len(t) - 1) / (t[-1] - t[0]), cfg.smooth_s)
    spread = max(float(np.percentile(x, 98) - np.percentile(x, 2)), min_change, 1e-12)
    bounds = np.linspace(0, len(x) - 1, min(cfg.segments, len(x) - 1) + 1).round().astype(int)
    segments: list[Segment] = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        ts, xs = t[a : b + 1], x[a : b + 1]
        change = np.polyfit(ts, xs, 1)[0] * (ts[-1] - ts[0]) if len(ts) > 2 else xs[-1] - xs[0]
        events = _extrema(ts, xs, max(cfg.swing_share * spread, min_change))
        if len(events) >= cfg.min_swings:
            shape = "oscillates"
        elif events:
            shape = "spikes"
        elif abs(change) >= max(cfg.change_share * spread, min_change):
            shape = "rises" if change > 0 else "falls"
        else:
            shape = "steady"
        seg = Segment(float(ts[0]), float(ts[-1]), shape, float(xs[0]), float(xs[-1]), float(xs.min()),
                      float(xs.max()), float(xs.mean()), abs(change) / spread,
                      tuple(events) if shape == "spikes" else ())
        if segments and segments[-1].shape == shape != "spikes":
            seg = segments.pop().merge(seg, spread)
            if shape == "steady" and seg.change_share * spread >= max(cfg.change_share * spread, min_change):
                # small steps that each looked steady add up to a slow rise or fall
                seg = replace(seg, shape="rises" if seg.last > seg.first else "falls")
        segments.append(seg)
    return segments


def num(value: float) -> str:
    """Two or three significant figures: 25, 9.8, 0.7 (every digit costs the prompt a token)."""
    return f"{value:.0f}" if abs(value) >= 10 else f"{value:.1f}"


def _clause(seg: Segment, cfg: TrendConfig) -> str:
    until = f"until {seg.end_s:.1f} s"
    if seg.shape == "oscillates":
        return f"oscillates between {num(seg.low)} and {num(seg.high)} {until}"
    if seg.shape == "steady":
        return f"stays near {num(seg.mean)} {until}"
    if seg.shape == "spikes":
        return " and ".join(f"{kind} {'at' if kind == 'peaks' else 'to'} {num(value)} at {time:.1f} s"
                            for kind, value, time in seg.events)
    degree = ("sharply " if seg.change_share >= cfg.sharp_share
              else "slightly " if seg.change_share < 1.5 * cfg.change_share else "")
    return f"{seg.shape} {degree}from {num(seg.first)} to {num(seg.last)} {until}"


def describe(name: str, unit: str, segments: list[Segment], cfg: TrendConfig = TrendConfig()) -> str:
    """One sentence: "The <name> (<unit>) <clause>, then <clause>, ..."; each clause ends where the next begins."""
    start = f"from {segments[0].start_s:.1f} s " if segments[0].start_s >= 0.05 else ""
    return f"The {name} ({unit}) {start}" + ", then ".join(_clause(s, cfg) for s in segments) + "."
