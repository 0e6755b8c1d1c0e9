"""Grounding facts of one motion — label, captions, kinematics, IMU and radar — and their fact-sheet text.

``ground_facts`` gathers the structured facts (all computed: tasks/qa/kinematics.py, imu.py, radar.py);
``fact_lines`` renders each fact group as one short line of plain language, keyed by a name the prompt
file uses to choose which lines a question category sees; ``fact_sheet`` joins the chosen lines.

Manifest rows (docs/contracts.md) may hold a null label (HumanML3D, BVH), no captions (BVH without a
caption file) or null facts; read through pandas these arrive as NaN, empty arrays or None.
``manifest_fields`` turns them into None / [] / {}, and a line whose facts are unknown renders nothing.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from pydantic import Field

from tasks.common.config import Section
from tasks.qa.imu import ImuFactConfig, imu_facts, site_words
from tasks.qa.kinematics import KinematicsConfig, clean, motion_facts
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


class SheetConfig(Section):
    """``qa.sheet`` in params.yaml: where a number is worth a line of the fact sheet."""

    angle_change_deg: float = Field(10.0, ge=0)  # a smaller change of the echo's azimuth is no sideways move
    lower_share: float = Field(0.15, ge=0)  # hips lowered by this share of the leg length or more are mentioned
    rise_m: float = Field(0.1, ge=0)  # hips raised by this much or more are mentioned
    detour: float = Field(1.3, ge=1)  # a path this much longer than the net displacement ...
    detour_margin_m: float = Field(0.3, ge=0)  # ... plus this margin is mentioned (a circle: how far was walked)


def manifest_fields(row: dict[str, Any]) -> tuple[str | None, list[str], dict[str, Any]]:
    """(label, captions, facts) of a manifest row: None / [] / {} for null, NaN or missing values."""
    label = clean(row.get("label"))
    captions = clean(row.get("captions"))
    facts = row.get("facts")
    return (label if isinstance(label, str) and label else None,
            [str(c) for c in captions] if isinstance(captions, list) else [],
            dict(facts) if isinstance(facts, dict) else {})


def ground_facts(row: dict[str, Any], joints: np.ndarray, signals: dict[str, np.ndarray],
                 trend: TrendConfig = TrendConfig(), radar_cfg: RadarFactConfig = RadarFactConfig(),
                 kinematics: KinematicsConfig = KinematicsConfig(),
                 imu: ImuFactConfig = ImuFactConfig()) -> dict[str, Any]:
    """Facts of one manifest ``row`` (id, label, fps, captions, facts) from its joints and signals."""
    label, captions, manifest_facts = manifest_fields(row)
    return {
        "motion_id": str(row["id"]),
        "label": label,
        "captions": captions,
        "motion": motion_facts(joints, float(row["fps"]), manifest_facts, kinematics),
        "imu": imu_facts(signals, trend, imu),
        "radar": radar_facts(signals, radar_cfg, trend),
    }


def _travel(m: dict[str, Any], s: SheetConfig) -> str | None:
    if m.get("direction") == "in place":
        return "stays in place"
    if m.get("direction") is None or m.get("distance_m") is None:
        return None
    path = m.get("path_length_m")
    if m["direction"] == "away and back":  # out and back: the net distance alone would read as hardly moving
        along = f" ({num(path)} m along the path)" if path is not None else ""
        return f"away and back{along}, ending {num(m['distance_m'])} m from the start"
    way = m["direction"] if m["direction"] in ("forward", "backward") else f"to the {m['direction']}"
    detour = path is not None and path > s.detour * m["distance_m"] + s.detour_margin_m
    return f"{num(m['distance_m'])} m {way}" + (f" ({num(path)} m along the path)" if detour else "")


def _turn(m: dict[str, Any]) -> str | None:
    if m.get("turn"):
        return f"{abs(m['turn_deg']):.0f}° to the {m['turn']}"
    return "none" if m.get("turn_deg") is not None else None


def _posture(m: dict[str, Any]) -> str | None:
    start, end = m.get("start_posture"), m.get("end_posture")
    if not start:
        return None
    return f"{start} throughout" if start == end else f"starts {start}, ends {end}"


def _repetitions(m: dict[str, Any]) -> str | None:
    if m.get("repetitions") is None:
        return None
    return f"{m['repetitions']}" + (" (estimated)" if m["repetitions_source"] == "estimated" else "")


def _speed(m: dict[str, Any]) -> str | None:
    if m.get("speed_mps") is None or m.get("peak_speed_mps") is None:
        return None
    text = f"mean {num(m['speed_mps'])} m/s, peak {num(m['peak_speed_mps'])} m/s"
    return text + (f", {m['cadence_steps_per_s']:.1f} steps/s" if m.get("cadence_steps_per_s") else "")


def _limbs(m: dict[str, Any]) -> str | None:
    if m.get("most_active_limbs") is None:
        return None
    return ", ".join(limb.replace("_", " ") for limb in m["most_active_limbs"]) or "none"


def _vertical(m: dict[str, Any], s: SheetConfig) -> str | None:
    parts = []
    if m["pelvis_drop_share"] >= s.lower_share:
        parts.append(f"hips lower by {m['pelvis_drop_m']:.2f} m")
    if m["pelvis_rise_m"] >= s.rise_m:
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


def _radar_angle(r: dict[str, Any], s: SheetConfig) -> str | None:
    """Only a sideways move is worth the tokens."""
    if "azimuth_start_deg" not in r:
        return None
    start, end = r["azimuth_start_deg"], r["azimuth_end_deg"]
    if abs(end - start) < s.angle_change_deg:
        return None
    return f"moves across to the radar's {'right' if end > start else 'left'} ({start:+.0f}° to {end:+.0f}°)"


# name -> (title on the fact sheet, how to render it from the facts); None renders nothing.  Lines are short on
# purpose: prompt tokens are most of a small local model's time.
Render = Callable[[dict[str, Any], SheetConfig], str | None]
LINES: dict[str, tuple[str, Render]] = {
    "activity": ("activity", lambda f, s: f["label"].replace("_", " ") if f.get("label") else None),
    "caption": ("caption", lambda f, s: f["captions"][0] if f["captions"] else None),
    "duration": ("duration", lambda f, s: (f"{f['motion']['duration_s']:.1f} s"
                                           if f["motion"].get("duration_s") is not None else None)),
    "posture": ("posture", lambda f, s: _posture(f["motion"])),
    "travel": ("travel", lambda f, s: _travel(f["motion"], s)),
    "turn": ("turn", lambda f, s: _turn(f["motion"])),
    "speed": ("pelvis speed", lambda f, s: _speed(f["motion"])),
    "repetitions": ("repetitions", lambda f, s: _repetitions(f["motion"])),
    "limbs": ("most active limbs", lambda f, s: _limbs(f["motion"])),
    "hand": ("hand used", lambda f, s: f["motion"].get("hand")),
    "leg": ("leg used", lambda f, s: f["motion"].get("leg")),
    "vertical": ("height", lambda f, s: _vertical(f["motion"], s)),
    "imu_trend": ("IMU trend", lambda f, s: f["imu"]["acc_trend"]),
    "imu_peak": ("IMU", lambda f, s: _imu_peak(f["imu"])),
    "sensors": ("most active sensors", lambda f, s: ", ".join(x.replace("_", " ")
                                                              for x in f["imu"]["most_active_sites"])),
    "radar_range": ("radar range", lambda f, s: _radar_range(f["radar"])),
    "radar_trend": ("radar trend", lambda f, s: f["radar"].get("range_trend")),
    "radar_doppler": ("radar Doppler", lambda f, s: _radar_doppler(f["radar"])),
    "radar_angle": ("radar angle", lambda f, s: _radar_angle(f["radar"], s)),
    "radar_points": ("radar points", lambda f, s: f"{f['radar']['points_per_frame']:.0f} per frame"),
}


def fact_lines(facts: dict[str, Any], names: list[str] | None = None, sheet: SheetConfig = SheetConfig()
               ) -> dict[str, str]:
    """The rendered lines ``names`` (default: all) that have something to say, name -> text."""
    out = {}
    for name in names or list(LINES):
        text = LINES[name][1](facts, sheet)
        if text:
            out[name] = text
    return out


def fact_sheet(lines: dict[str, str]) -> str:
    """'title: text' per line, in the given order."""
    return "\n".join(f"{LINES[name][0]}: {text}" for name, text in lines.items())
