"""Fact checks: a generated question-answer pair is rejected when its text contradicts a fact that decides it.

Each check reads the question and the answer together (a question that asserts a wrong side or count is
as bad as an answer that does) and returns a reason such as "count: says 3, facts say 4", or None.
What is checked, and how narrowly (see tasks/qa/lexicon.py for the words):

* form: the question has ``min_question_words`` words and asks something; the answer has
  ``min_answer_words``; the answer is not the question again, nor the worked example's answer;
* activity (when the label has a synonym table): no activity named that the label rules out;
* count (when a repetition count is known): every "N times" / "N <repetition noun>" / once / twice
  equals it;
* laterality: a side named together with an arm or leg word ("left the room" names no side) must be
  the side of the hand/leg fact; with no side in the facts for that limb, naming one is unsupported;
  with "both", naming only one side (and never both) is wrong; a sided sensor ("the right-wrist
  sensor") must be one of the busiest IMU sites the facts list;
* direction: forward/backward and left/right travel against the body-relative direction (any travel
  against "in place"; left/right also passes as the side of a turn in progress), a distance travelled
  ("1.8 m forward") against the net or path distance, a turn's side against the turn, and toward/away
  from the radar against the range change (either, for a person in place);
* numbers: every number written in digits must be on the fact sheet the model saw (or be the repetition
  count), equal up to the rounding of both and in the same unit where both give one ("6 seconds" for
  6.1 s passes; 48 for 50, or "4.6 metres" for a 4.6 s duration, does not).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tasks.qa import lexicon as lx

QUESTION_STARTS = {"what", "which", "how", "why", "when", "where", "who", "whom", "whose", "does", "did", "do", "is",
                   "are", "was", "were", "can", "could", "would", "will", "should", "has", "have", "describe",
                   "explain", "name", "tell", "in", "during", "from", "based", "according", "at", "after", "before"}
OPPOSITE = {"forward": "backward", "backward": "forward"}
OPPOSITE_SIDE = {"left": "right", "right": "left"}


@dataclass(frozen=True)
class CheckConfig:
    min_question_words: int = 4
    min_answer_words: int = 2


def _norm(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def check_form(question: str, answer: str, example: tuple[str, str] | None, cfg: CheckConfig) -> str | None:
    q, a = _norm(question), _norm(answer)
    if len(q.split()) < cfg.min_question_words:
        return f"short question: {len(q.split())} words"
    if len(a.split()) < cfg.min_answer_words:
        return f"short answer: {len(a.split())} words"
    if "?" not in question and q.split()[0] not in QUESTION_STARTS:
        return "not a question"
    if a == q or (len(q.split()) >= 4 and q in a and len(a.split()) < len(q.split()) + 3):
        return "echo: the answer repeats the question"
    # the example's question is a fine question for any motion; its answer is not an answer about this one
    if example is not None and a == _norm(example[1]):
        return "copied example"
    return None


def check_activity(text: str, label: str | None) -> str | None:
    allowed = lx.LABEL_ACTIVITIES.get(label or "")
    if allowed is None:
        return None
    for name, pattern in lx.ACTIVITY_PATTERNS.items():
        if name not in allowed and pattern.search(text):
            return f"activity: says {name.replace('_', ' ')}, label is {label}"
    return None


def counts_in(text: str) -> list[int]:
    """Every repetition count the text states, in order of appearance."""
    found = [(m.start(), int(m.group(1)) if m.group(1).isdigit() else lx.NUMBER_WORDS[m.group(1)])
             for m in lx.COUNT.finditer(text)]
    for m in lx.ADVERB_COUNT.finditer(text):
        before = text[: m.start()].rstrip()
        previous = before.split()[-1] if before.split() else ""
        if before and before[-1].isalnum() and previous not in lx.CLAUSE_WORDS:
            found.append((m.start(), lx.ADVERB_COUNTS[m.group(1)]))
    return [n for _, n in sorted(found)]


def check_count(text: str, repetitions: int | None) -> str | None:
    if repetitions is None:
        return None
    wrong = [n for n in counts_in(text) if n != repetitions]
    return f"count: says {wrong[0]}, facts say {repetitions}" if wrong else None


def check_laterality(text: str, motion: dict[str, Any], sensor_sites: list[str]) -> str | None:
    """Sides named with an arm or leg word against the hand/leg facts; sensor sites against the busiest ones."""
    sensors = {site.replace("_", " ") for site in sensor_sites}
    named: dict[str, set[str]] = {"hand": set(), "leg": set()}
    for m in lx.SIDED_PART.finditer(text):
        side, part = m.group(1), m.group(2)
        kind = "leg" if lx.LEG_WORDS.match(part) else "hand"
        if lx.SENSOR_AFTER.match(text, m.end()):
            if not any(site.startswith(side) and site.split()[-1] in part for site in sensors):
                return f"laterality: says {side} {part} sensor, the busiest sensors are {', '.join(sorted(sensors))}"
            continue
        fact = motion.get(kind)
        if fact != "both" and side != fact:
            return f"laterality: says {side} {part}, facts say {f'{fact} {kind}' if fact else f'no {kind} side'}"
        named[kind].add(side)
    both = {"leg" if lx.LEG_WORDS.match(m.group(1)) else "hand" for m in lx.BOTH_SIDES.finditer(text)}
    if motion.get("hand") in ("left", "right") and "hand" in both:
        return f"laterality: says both hands, facts say {motion['hand']} hand"
    for kind, sides in named.items():
        if motion.get(kind) == "both" and len(sides) == 1 and kind not in both:
            return f"laterality: says only the {sides.pop()} {kind}, facts say both"
    return None


def _travel_words(motion: dict[str, Any]) -> str:
    if motion.get("direction") is None:  # a source that measured nothing
        return "nothing about travel"
    if motion["direction"] == "in place":
        return "in place"
    return f"{motion.get('distance_m') or 0:.1f} m {motion['direction']}"


def check_direction(text: str, motion: dict[str, Any], radar: dict[str, Any]) -> str | None:
    direction, turn = motion.get("direction"), motion.get("turn")
    for m in lx.TRAVEL_FWD_BACK.finditer(text):
        said = "forward" if m.group(1) == "ahead" else m.group(1).rstrip("s")
        if direction == "in place" or said == OPPOSITE.get(direction):
            return f"direction: says moves {said}, facts say {direction}"
    for m in lx.TRAVEL_SIDE.finditer(text):
        said = m.group(1) or m.group(2)
        if direction in ("in place", OPPOSITE_SIDE.get(said)) and said != turn:
            return f"direction: says moves {said}, facts say {direction}"
    for m in lx.TRAVEL_DISTANCE.finditer(text):
        said, slack = float(m.group(1)), 0.5 * 10.0 ** -len(m.group(2) or "")
        travelled = ([motion.get(k) or 0.0 for k in ("distance_m", "path_length_m")]
                     if direction not in (None, "in place") else [])
        if not any(abs(said - d) <= slack + 0.05 for d in travelled):
            return f"direction: says travels {said:g} m, facts say {_travel_words(motion)}"
    if turn in ("left", "right"):
        for m in lx.TURN.finditer(text):
            if m.group(1) != turn:
                return f"direction: says turns {m.group(1)}, facts say turns {turn}"
    movement = radar.get("movement")
    still = movement == "no net movement" and direction == "in place"
    if (movement == "approaching" or still) and lx.AWAY_FROM_RADAR.search(text):
        return f"direction: says away from the radar, facts say {movement}"
    if (movement == "receding" or still) and lx.TOWARD_RADAR.search(text):
        return f"direction: says toward the radar, facts say {movement}"
    return None


def numbers_in(text: str) -> list[tuple[float, float, str | None]]:
    """(|value|, rounding half-width, unit) of every number written with digits:
    "6 s" -> (6, 0.5, "s"), "1.8 metres" -> (1.8, 0.05, "m"), "25" -> (25, 0.5, None)."""
    out = []
    for m in lx.NUMBER.finditer(text):
        unit = next((lx.UNIT_GROUPS[g] for g, v in m.groupdict().items() if v), None)
        out.append((float(m.group(1)), 0.5 * 10.0 ** -len(m.group(2) or ""), unit))
    return out


def sheet_numbers(shown: str) -> list[tuple[float, float, str]]:
    """The fact sheet's numbers with their units.  A number without one takes its line's "(unit)" header
    (trend lines: "The left-wrist acceleration (m/s²) peaks at 25") or else counts something ("5 punches")."""
    out = []
    for line in shown.splitlines():
        header = next((u for h in re.findall(r"\(([^()]+)\)", line) if (u := unit_of(h))), "count")
        out += [(value, slack, unit or header) for value, slack, unit in numbers_in(line)]
    return out


def unit_of(text: str) -> str | None:
    return next((name for name, regex in lx.UNITS.items() if re.fullmatch(regex, text.strip())), None)


def check_numbers(text: str, shown: str, repetitions: int | None) -> str | None:
    """Every number in the text must be one the fact sheet shows (or the repetition count), up to rounding,
    in the same unit where the text gives one (a duration of 4.6 s is no distance of 4.6 m, 5 punches no 5 m)."""
    known = sheet_numbers(shown) + ([(float(repetitions), 0.0, "count")] if repetitions is not None else [])
    for value, slack, unit in numbers_in(text):
        if not any(abs(value - fact) <= slack + fact_slack and unit in (None, fact_unit)
                   for fact, fact_slack, fact_unit in known):
            return f"number: says {value:g}{' ' + unit if unit else ''}, which the facts do not"
    return None


def check_pair(question: str, answer: str, facts: dict[str, Any], example: tuple[str, str] | None = None,
               cfg: CheckConfig = CheckConfig(), shown: str | None = None) -> str | None:
    """Why the pair must be rejected, or None when it passes every check (``shown``: the fact sheet the
    model saw, against which its numbers are checked)."""
    reason = check_form(question, answer, example, cfg)
    if reason:
        return reason
    text = f"{question} {answer}".lower()
    motion, radar, imu = facts.get("motion", {}), facts.get("radar", {}), facts.get("imu", {})
    return (check_activity(text, facts.get("label"))
            or check_count(text, motion.get("repetitions"))
            or check_laterality(text, motion, imu.get("most_active_sites", []))
            or check_direction(text, motion, radar)
            or (check_numbers(text, shown, motion.get("repetitions")) if shown is not None else None))
