"""Grounding facts of one motion — label, captions, kinematics, IMU and radar — and their fact-sheet text.

``ground_facts`` gathers the structured facts (all computed: tasks/qa/kinematics.py, imu.py, radar.py);
``fact_lines`` renders each fact group as one short line of plain language, keyed by a name the prompt
file uses to choose which lines a question category sees; ``fact_sheet`` joins the chosen lines.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from tasks.qa.imu import imu_facts, site_words
from tasks.qa.kinematics import motion_facts
from tasks.qa.radar import RadarFactConfig, radar_facts
from tasks.qa.trends import TrendConfig, num

MOVEMENT_WORDS = {
    "approaching": "moves toward the radar",
    "receding": "moves away from the radar",
    "approaches then recedes": "comes toward the radar, then moves away",
    "recedes then approaches": "moves away from the radar, then comes back",
    "no net movement": "stays at the same distance",
}
DOPPLER_WORDS = {"approaching": "mostly approaching", "receding": "mostly receding",
                 "mixed": "approaching and receding"}
ANGLE_CHANGE_DEG = 10.0  # a smaller change of the echo's azimuth is not called a sideways move
LOWER_SHARE = 0.15  # hips lowered by this share of the leg length or more is worth a mention
RISE_M = 0.1
DETOUR = 1.3  # a path this much longer than the net displacement is mentioned


def ground_facts(row: dict[str, Any], joints: np.ndarray, signals: dict[str, np.ndarray],
                 trend: TrendConfig = TrendConfig(), radar_cfg: RadarFactConfig = RadarFactConfig()) -> dict[str, Any]:
    """Facts of one manifest ``row`` (id, label, fps, captions, facts) from its joints and signals."""
    return {
        "motion_id": str(row["id"]),
        "label": row.get("label"),
        "captions": [str(c) for c in row.get("captions", [])],
        "motion": motion_facts(joints, float(row["fps"]), dict(row.get("facts") or {})),
        "imu": imu_facts(signals, trend),
        "radar": radar_facts(signals, radar_cfg, trend),
    }


def _travel(m: dict[str, Any]) -> str:
    if m.get("direction") in (None, "in place"):
        return "stays in place"
    way = m["direction"] if m["direction"] in ("forward", "backward") else f"to the {m['direction']}"
    detour = m["path_length_m"] > DETOUR * m["distance_m"] + 0.3  # e.g. a circle: say how far was walked
    return f"{num(m['distance_m'])} m {way}" + (f" ({num(m['path_length_m'])} m along the path)" if detour else "")


def _posture(m: dict[str, Any]) -> str | None:
    start, end = m.get("start_posture"), m.get("end_posture")
    if not start:
        return None
    return f"{start} throughout" if start == end else f"starts {start}, ends {end}"


def _repetitions(m: dict[str, Any]) -> str | None:
    if m.get("repetitions") is None:
        return None
    return f"{m['repetitions']}" + (" (estimated)" if m["repetitions_source"] == "estimated" else "")


def _speed(m: dict[str, Any]) -> str:
    text = f"mean {num(m['speed_mps'])} m/s, peak {num(m['peak_speed_mps'])} m/s"
    return text + (f", {m['cadence_steps_per_s']:.1f} steps/s" if m.get("cadence_steps_per_s") else "")


def _vertical(m: dict[str, Any]) -> str | None:
    parts = []
    if m["pelvis_drop_share"] >= LOWER_SHARE:
        parts.append(f"hips lower by {m['pelvis_drop_m']:.2f} m")
    if m["pelvis_rise_m"] >= RISE_M:
        parts.append(f"hips rise by {m['pelvis_rise_m']:.2f} m")
    if m["flights"]:
        parts.append(f"both feet leave the ground {m['flights']} time{'s' if m['flights'] > 1 else ''}")
    return "; ".join(parts) or None


def _imu_peak(i: dict[str, Any]) -> str:
    return (f"{site_words(i['site'])} acceleration up to {num(i['acc_max'])} m/s², "
            f"rotation up to {num(i['gyro_max_rad_s'])} rad/s")


def _radar_range(r: dict[str, Any]) -> str:
    if "movement" not in r:
        return "the radar barely sees the person (a still body is removed with the static clutter)"
    return (f"{num(r['range_start_m'])} m to {num(r['range_end_m'])} m, closest {num(r['closest_range_m'])} m: "
            f"{MOVEMENT_WORDS[r['movement']]}")


def _radar_doppler(r: dict[str, Any]) -> str | None:
    if "doppler_dominant" not in r:
        return None
    return f"{DOPPLER_WORDS[r['doppler_dominant']]}, radial speed up to {num(r['doppler_peak_speed_mps'])} m/s"


def _radar_angle(r: dict[str, Any]) -> str | None:
    """Only a sideways move is worth the tokens."""
    if "azimuth_start_deg" not in r:
        return None
    start, end = r["azimuth_start_deg"], r["azimuth_end_deg"]
    if abs(end - start) < ANGLE_CHANGE_DEG:
        return None
    return f"moves across to the radar's {'right' if end > start else 'left'} ({start:+.0f}° to {end:+.0f}°)"


# name -> (title on the fact sheet, how to render it from the facts); None renders nothing.  Lines are short on
# purpose: prompt tokens are most of a small local model's time.
LINES: dict[str, tuple[str, Callable[[dict[str, Any]], str | None]]] = {
    "activity": ("activity", lambda f: f["label"].replace("_", " ") if f.get("label") else None),
    "caption": ("caption", lambda f: f["captions"][0] if f["captions"] else None),
    "duration": ("duration", lambda f: f"{f['motion']['duration_s']:.1f} s"),
    "posture": ("posture", lambda f: _posture(f["motion"])),
    "travel": ("travel", lambda f: _travel(f["motion"])),
    "turn": ("turn", lambda f: (f"{abs(f['motion']['turn_deg']):.0f}° to the {f['motion']['turn']}"
                                if f["motion"].get("turn") else "none")),
    "speed": ("pelvis speed", lambda f: _speed(f["motion"])),
    "repetitions": ("repetitions", lambda f: _repetitions(f["motion"])),
    "limbs": ("most active limbs", lambda f: ", ".join(l.replace("_", " ") for l in f["motion"]["most_active_limbs"])
              or "none"),
    "hand": ("hand used", lambda f: f["motion"].get("hand")),
    "leg": ("leg used", lambda f: f["motion"].get("leg")),
    "vertical": ("height", lambda f: _vertical(f["motion"])),
    "imu_trend": ("IMU trend", lambda f: f["imu"]["acc_trend"]),
    "imu_peak": ("IMU", lambda f: _imu_peak(f["imu"])),
    "sensors": ("most active sensors", lambda f: ", ".join(s.replace("_", " ") for s in f["imu"]["most_active_sites"])),
    "radar_range": ("radar range", lambda f: _radar_range(f["radar"])),
    "radar_trend": ("radar trend", lambda f: f["radar"].get("range_trend")),
    "radar_doppler": ("radar Doppler", lambda f: _radar_doppler(f["radar"])),
    "radar_angle": ("radar angle", lambda f: _radar_angle(f["radar"])),
    "radar_points": ("radar points", lambda f: f"{f['radar']['points_per_frame']:.0f} per frame"),
}
def fact_lines(facts: dict[str, Any], names: list[str] | None = None) -> dict[str, str]:
    """The rendered lines ``names`` (default: all) that have something to say, name -> text."""
    out = {}
    for name in names or list(LINES):
        text = LINES[name][1](facts)
        if text:
            out[name] = text
    return out


def fact_sheet(lines: dict[str, str]) -> str:
    """'title: text' per line, in the given order."""
    return "\n".join(f"{LINES[name][0]}: {text}" for name, text in lines.items())
