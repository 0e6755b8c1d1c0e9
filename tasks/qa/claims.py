"""Claims: an answer read as a list of checkable statements, each matched against the motion's facts.

``extract_claims(text)`` reads what a text states — quantities with their unit and what they measure,
repetition counts, trend statements (a value at a time, a change, "then" between two of them), travel
relative to the body and to the radar, a turn's side, body sides and sensor sites, the activity, posture
and objects.  ``verify(claims, facts, shown)`` gives each a verdict: ``true`` (with the fact line that
says so), ``false`` (with the fact it contradicts) or ``unsupported`` (nothing on the sheet says it).
``check(question, answer, facts, shown=...)`` runs both on a pair and names the first failed claim with its
fact; the qa stage keeps a pair only without any false or unsupported claim, and the evaluate stage can
score a model's answer by the same verdicts (``claim_verdicts`` gives them for display).

Precision before reach: a kind of statement that cannot be read reliably is not read at all (it is not
a claim), and every pattern lives in tasks/qa/lexicon.py.  The facts are ``ground_facts``' dict
(tasks/qa/facts.py); ``shown`` is the fact sheet the writer saw (numbers are checked against it; trend
statements against its trend lines).  A number whose meaning is not read is only checked to be on the
sheet in its unit; a number read as a duration must be the duration, one read as a distance travelled the
distance.

Text is lower-cased before reading; the question and the answer are read separately (a "then" joins
statements of one text) and both count for the qa stage (a question asserting a wrong side is as wrong).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from tasks.qa import lexicon as lx
from tasks.qa.facts import LINES, SheetConfig, fact_lines, fact_sheet

TRUE, FALSE, UNSUPPORTED = "true", "false", "unsupported"
OPPOSITE_SIDE = {"left": "right", "right": "left"}
_TIME_SLACK = 0.05  # the sheet's times are rounded to 0.1 s


@dataclass(frozen=True)
class Claim:
    """One statement: ``kind`` (the reason kind of a reject), ``said`` (the words, normalised), where it
    starts in its text, and what it asserts (the fields its kind uses)."""

    kind: str  # activity | object | posture | count | laterality | direction | duration | number | trend | order
    said: str
    start: int = 0
    what: str = ""  # the sub-kind: main/mention, hand/leg/sensor/both/only, travel/distance/turn/radar/radar_side
    name: str | None = None  # activity, object, posture, side, way
    value: float | None = None
    slack: float = 0.0  # rounding half-width of the value as written
    unit: str | None = None
    values: tuple[tuple[float, float], ...] = ()  # trend: (value, slack) ...
    times: tuple[tuple[float, float], ...] = ()  # trend: (seconds, slack) ...
    verb: str | None = None  # trend: up | down | peak | steady | oscillates
    group: int = 0  # trend: index of the "then"-separated statement it belongs to
    source: str = "answer"


@dataclass(frozen=True)
class Verdict:
    claim: Claim
    verdict: str  # true | false | unsupported
    fact: str  # the fact that decides it, or what the sheet lacks

    @property
    def reason(self) -> str:
        """'count: says 3, facts say 4' / 'object: says a ball, unsupported (no caption names a ball)'."""
        c = self.claim
        if self.verdict == FALSE:
            return f"{c.kind}: says {c.said}, facts say {self.fact}"
        return f"{c.kind}: says {c.said}, unsupported ({self.fact})"


@dataclass(frozen=True)
class Check:
    verdicts: list[Verdict] = field(default_factory=list)
    form: str | None = None  # a failed form check (tasks/qa/checks.py), which is no claim

    @property
    def failed(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.verdict != TRUE]

    @property
    def reason(self) -> str | None:
        """Why the pair is rejected (the first false claim, else the first unsupported one), or None."""
        if self.form:
            return self.form
        bad = sorted(self.failed, key=lambda v: v.verdict != FALSE)
        return bad[0].reason if bad else None


# ---------------------------------------------------------------- numbers


def numbers_in(text: str) -> list[tuple[float, float, str | None, int, int]]:
    """(|value|, rounding half-width, unit, start, end) of every number written with digits:
    "6 s" -> (6, 0.5, "s", ...), "1.8 metres" -> (1.8, 0.05, "m", ...), "25" -> (25, 0.5, None, ...)."""
    out = []
    for m in lx.NUMBER.finditer(text):
        unit = next((lx.UNIT_GROUPS[g] for g, v in m.groupdict().items() if v), None)
        out.append((float(m.group(1)), 0.5 * 10.0 ** -len(m.group(2) or ""), unit, m.start(), m.end()))
    return out


def unit_of(text: str) -> str | None:
    return next((name for name, regex in lx.UNITS.items() if re.fullmatch(regex, text.strip())), None)


def sheet_numbers(shown: str) -> list[tuple[float, float, str]]:
    """The fact sheet's numbers with their units.  A number without one takes its line's "(unit)" header
    (trend lines: "The left-wrist acceleration (m/s²) peaks at 25") or else counts something ("5 punches")."""
    out = []
    for line in shown.splitlines():
        header = next((u for h in re.findall(r"\(([^()]+)\)", line) if (u := unit_of(h))), "count")
        out += [(value, slack, unit or header) for value, slack, unit, _, _ in numbers_in(line.lower())]
    return out


def _near(a: float, slack_a: float, b: float, slack_b: float = 0.0) -> bool:
    return abs(a - b) <= slack_a + slack_b + 1e-9


def _sheet_slack(x: float) -> float:
    """The rounding of a sheet value (tasks/qa/trends.py ``num``: 25, 9.8)."""
    return 0.5 if abs(x) >= 10 else 0.05


def counts_in(text: str) -> list[tuple[int, int, int]]:
    """(count, start, end) of every repetition count the text states, in order of appearance."""
    found = [(int(m.group(1)) if m.group(1).isdigit() else lx.NUMBER_WORDS[m.group(1)], m.start(), m.end())
             for m in lx.COUNT.finditer(text)]
    for m in lx.ADVERB_COUNT.finditer(text):
        before = text[: m.start()].rstrip()
        previous = before.split()[-1] if before.split() else ""
        if before and before[-1].isalnum() and previous not in lx.CLAUSE_WORDS:
            found.append((lx.ADVERB_COUNTS[m.group(1)], m.start(), m.end()))
    return sorted(found, key=lambda f: f[1])


# ---------------------------------------------------------------- trends on the sheet


@dataclass(frozen=True)
class SheetSegment:
    """One clause of a trend line (tasks/qa/trends.py ``describe``); a spike clause gives one per event."""

    line: str  # the fact line's name: imu_trend | radar_trend
    index: int  # position in the line (the order of events)
    shape: str  # rises | falls | steady | oscillates | peaks | dips
    values: tuple[float, ...]
    t0: float
    t1: float
    text: str

    def fits_time(self, t: float, slack: float) -> bool:
        if self.shape in ("steady", "oscillates"):
            return self.t0 - slack - _TIME_SLACK <= t <= self.t1 + slack + _TIME_SLACK
        return any(_near(t, slack + _TIME_SLACK, x) for x in {self.t0, self.t1})


_N = r"(-?\d+(?:\.\d+)?)"
_CLAUSES = [
    ("oscillates", re.compile(rf"oscillates between {_N} and {_N} until {_N} s")),
    ("steady", re.compile(rf"stays near {_N} until {_N} s")),
    ("change", re.compile(rf"(rises|falls) (?:sharply |slightly )?from {_N} to {_N} until {_N} s")),
    ("spike", re.compile(rf"(peaks|dips) (?:at|to) {_N} at {_N} s")),
]


def sheet_trends(name: str, line: str) -> list[SheetSegment]:
    """The segments of one rendered trend line, in order; [] for a line not in describe()'s form."""
    head = re.match(r"the .*?\(([^()]+)\)\s+(?:from (\d+(?:\.\d+)?) s )?", line.lower())
    if head is None:
        return []
    t0 = float(head.group(2) or 0.0)
    out: list[SheetSegment] = []
    for text in line.lower()[head.end():].rstrip(".").split(", then "):
        for shape, regex in _CLAUSES:
            found = list(regex.finditer(text))
            if not found:
                continue
            if shape == "spike":
                for m in found:
                    t = float(m.group(3))
                    out.append(SheetSegment(name, len(out), m.group(1), (float(m.group(2)),), t, t, m.group(0)))
                    t0 = t
                break
            g = found[0].groups()
            if shape == "change":
                shape, g = g[0], g[1:]
            values, t1 = tuple(float(x) for x in g[:-1]), float(g[-1])
            out.append(SheetSegment(name, len(out), shape, values, t0, t1, text))
            t0 = t1
            break
    return out


# ---------------------------------------------------------------- reading claims


def _words(text: str) -> str:
    return " ".join(text.split()).strip(".,;:!? ")


def _covered(spans: list[tuple[int, int]], start: int, end: int) -> bool:
    return any(a <= start and end <= b for a, b in spans)


def _trend_claims(text: str, source: str, used: list[tuple[int, int]]) -> list[Claim]:
    """Statements of change with numbers ("peaks at 34 m/s² at 1.7 s"), grouped by "then"."""
    claims = []
    pos = 0
    for group, piece in enumerate(lx.THEN.split(text)):
        start = text.find(piece, pos)
        pos = start + len(piece)
        # clauses within one statement; "between 5 and 20" and "from 9.9 to 15" stay whole
        for m in re.finditer(r"(?:[^,;]|,(?=\d))+?(?=,\s|\swhile\s|\sas\s|\sand\s(?!\d)|$)", piece):
            clause, offset = m.group(0), start + m.start()
            verbs = [(v.start(), kind) for kind, regex in lx.TREND_VERB.items() if (v := regex.search(clause))]
            nums = [n for n in numbers_in(clause) if n[2] in (None, "s", "m/s²", "m")]
            if not verbs or not nums:
                continue
            values = tuple((v, s) for v, s, u, _, _ in nums if u != "s")
            times = tuple((v, s) for v, s, u, _, _ in nums if u == "s")
            units = {u for _, _, u, _, _ in nums if u not in (None, "s")}
            if not values and not times:
                continue
            claims.append(Claim("trend", _words(clause), offset, verb=min(verbs)[1], values=values,
                                times=times, unit=units.pop() if len(units) == 1 else None, group=group,
                                source=source))
            used += [(offset + n[3], offset + n[4]) for n in nums]
    return claims


_MEASURED = {u for _, u in lx.MEASURE_UNITS}
_MEASURE_NAMES = {"rad/s": "rotation rate", "m/s²": "acceleration", "m/s": "speed", "m": "distance"}


def _measure(text: str, start: int, end: int) -> str:
    """The unit the measure word right after the number ("1.8 m forward speed") or else the nearest one in
    the few words before it asks for ("" if none)."""
    after = re.match(r"\s+(?:[a-z-]+\s+)?([a-z]+)", text[end:])
    if after:
        unit = next((u for regex, u in lx.MEASURE_UNITS if regex.fullmatch(after.group(1))), None)
        if unit:
            return unit
    before = re.split(r"[,;]|\band\b|\bwhile\b", text[max(0, start - 40): start])[-1]
    found = [(m.end(), -rank, unit) for rank, (regex, unit) in enumerate(lx.MEASURE_UNITS)
             for m in regex.finditer(before)]
    return max(found)[2] if found else ""  # the nearest; "angular velocity" is a rotation


def extract_claims(text: str, source: str = "answer", trends: bool = True) -> list[Claim]:
    """Every claim ``text`` makes, in order of appearance.  ``trends``: read statements of change as trend
    claims (only where the sheet has a trend line; otherwise their numbers are plain numbers)."""
    text = text.lower()
    claims: list[Claim] = []
    used: list[tuple[int, int]] = []  # spans of numbers a specific claim has taken

    def add(kind: str, m: re.Match, **kw: Any) -> None:
        claims.append(Claim(kind, _words(m.group(0)), m.start(), source=source, **kw))

    for name, pattern in lx.ACTIVITY_PATTERNS.items():
        for m in pattern.finditer(text):
            add("activity", m, what="mention", name=name)
    for m in lx.DOING.finditer(text):
        phrase = m.group(1)
        named = [n for n, p in lx.ACTIVITY_PATTERNS_MAIN.items() if p.search(phrase)]
        first = phrase.split()[0]
        name = named[0] if named else lx.BARE_ACTIVITIES.get(first)
        if name:
            add("activity", m, what="main", name=name)
    for m in lx.OBJECT.finditer(text):
        noun = m.group(1)
        add("object", m, name=re.sub(r"(?<=[^s])s$|es$", "", noun) if noun not in ("glass", "bus") else noun)
    for m in lx.SELF_OBJECT.finditer(text):
        add("object", m, what="self", name=m.group(2))
    for name, pattern in lx.POSTURE_PATTERNS.items():
        for m in pattern.finditer(text):
            add("posture", m, name=name)
    for count, start, end in counts_in(text):
        before = text[max(0, start - 30): start]
        jumps = lx.JUMP_COUNT.search(before) or lx.JUMP_COUNT.search(text[start:end])
        what = "flights" if jumps else "gait" if lx.GAIT_COUNT.search(before) else ""
        claims.append(Claim("count", text[start:end], start, what=what, value=float(count), source=source))
        used.append((start, end))

    # sides of the body and sensor sites
    for m in lx.SIDED_PART.finditer(text):
        side, part = m.group(1), m.group(2)
        if lx.SENSOR_AFTER.match(text, m.end()):
            add("laterality", m, what="sensor", name=f"{side} {part}")
        else:
            add("laterality", m, what="leg" if lx.LEG_WORDS.match(part) else "hand", name=side)
    for m in lx.BOTH_SIDES.finditer(text):
        add("laterality", m, what="both", name="leg" if lx.LEG_WORDS.match(m.group(1)) else "hand")

    # travel, turns and the radar
    for m in lx.TRAVEL_FWD_BACK.finditer(text):
        add("direction", m, what="travel", name="forward" if m.group(1) == "ahead" else m.group(1).rstrip("s"))
    for m in lx.TRAVEL_SIDE.finditer(text):
        add("direction", m, what="travel", name=m.group(1) or m.group(2))
    for m in lx.TRAVEL_DISTANCE.finditer(text):
        if re.match(r"\s+(?:speed|velocity|pace)\b", text[m.end():]):  # "the 1.8 m forward speed": no distance
            continue
        add("direction", m, what="distance", value=float(m.group(1)), slack=0.5 * 10.0 ** -len(m.group(2) or ""))
        used.append((m.start(), m.end()))
        if not any(c.what == "travel" and c.start <= m.start() < c.start + len(c.said) for c in claims):
            way = re.search(r"forward|backward|ahead|left|right", m.group(0)).group(0)
            add("direction", m, what="travel", name="forward" if way == "ahead" else way)
    for m in lx.TURN.finditer(text):
        add("direction", m, what="turn", name=m.group(1))
    for pattern, way in ((lx.TOWARD_RADAR, "toward"), (lx.TOWARD_RADAR_MORE, "toward"),
                         (lx.AWAY_FROM_RADAR, "away"), (lx.AWAY_RADAR_MORE, "away")):
        for m in pattern.finditer(text):
            add("direction", m, what="radar", name=way)
    for m in lx.IN_PLACE.finditer(text):
        add("direction", m, what="travel", name="in place")
    for m in lx.SAME_DISTANCE.finditer(text):
        add("direction", m, what="radar", name="same")
    for m in lx.RADAR_SIDE.finditer(text):
        add("direction", m, what="radar_side", name=m.group(1) or m.group(2))

    if trends:
        claims += _trend_claims(text, source, used)
    for value, slack, unit, start, end in numbers_in(text):
        if _covered(used, start, end):
            continue
        before = text[max(0, start - 40): start]
        if unit == "s" and lx.DURATION_BEFORE.search(before):
            claims.append(Claim("duration", text[start:end], start, value=value, slack=slack, unit=unit,
                                source=source))
        else:
            claims.append(Claim("number", text[start:end], start, value=value, slack=slack, unit=unit,
                                what=_measure(text, start, end) if unit in (*_MEASURED, "m") else "",
                                source=source))
    return sorted(claims, key=lambda c: c.start)


# ---------------------------------------------------------------- verdicts


def _line(facts: dict[str, Any], name: str, sheet: SheetConfig, fallback: str) -> str:
    """The fact line ``name`` as the sheet renders it; ``fallback`` where the facts are too partial to render."""
    try:
        return fact_sheet(fact_lines(facts, [name], sheet)) or fallback
    except (KeyError, TypeError):
        return fallback


def _label_words(facts: dict[str, Any]) -> list[str]:
    """What names the activity when the label has no synonym table: the label's words and the captions."""
    return [t.lower() for t in [(facts.get("label") or "").replace("_", " "), *(facts.get("captions") or [])] if t]


class _Verifier:
    def __init__(self, facts: dict[str, Any], shown: str, sheet: SheetConfig) -> None:
        self.facts, self.shown, self.sheet = facts, shown, sheet
        self.motion = facts.get("motion", {})
        self.radar = facts.get("radar", {})
        self.label = facts.get("label")
        self.known = sheet_numbers(shown)
        reps = self.motion.get("repetitions")
        if reps is not None:
            self.known.append((float(reps), 0.0, "count"))
        self.segments = [s for line in shown.splitlines() for s in _shown_trend(line)]

    def line(self, name: str, fallback: str = "") -> str:
        return _line(self.facts, name, self.sheet, fallback or f"no {name.replace('_', ' ')} line")

    def activity(self, c: Claim) -> tuple[str, str]:
        table = lx.LABEL_NAMES if c.what == "main" else lx.LABEL_ACTIVITIES
        allowed = table.get(self.label or "")
        if allowed is not None:
            verdict = TRUE if c.name in allowed else FALSE
            return verdict, f"activity: {self.label.replace('_', ' ')}"
        pattern = lx.ACTIVITY_PATTERNS_MAIN[c.name]
        support = next((t for t in _label_words(self.facts) if pattern.search(t)), None)
        return (TRUE, support) if support else (UNSUPPORTED, "neither label nor caption names it")

    def object(self, c: Claim) -> tuple[str, str]:
        if c.what == "self":
            return UNSUPPORTED, f"a {c.name} is the activity, not a thing"
        if c.name in lx.LABEL_OBJECTS.get(self.label or "", set()):
            return TRUE, f"activity: {self.label.replace('_', ' ')}"
        noun = re.compile(rf"\b{re.escape(c.name)}(?:e?s)?\b")
        support = next((t for t in self.facts.get("captions") or [] if noun.search(t.lower())), None)
        return (TRUE, f"caption: {support}") if support else (UNSUPPORTED, f"no caption names a {c.name}")

    def posture(self, c: Claim) -> tuple[str, str]:
        postures = {self.motion.get("start_posture"), self.motion.get("end_posture")} - {None}
        if not postures and not self.label:
            return UNSUPPORTED, "no posture on the sheet"
        if c.name in postures or c.name in lx.LABEL_POSTURES.get(self.label or "", set()):
            return TRUE, self.line("posture") if c.name in postures else f"activity: {self.label}"
        return (FALSE, self.line("posture")) if postures else (UNSUPPORTED, "no posture on the sheet")

    def count(self, c: Claim) -> tuple[str, str]:
        flights = self.motion.get("flights")
        if c.what == "flights" and flights:  # "jumps four times" of 4 jumping jacks is 8 flights
            return (TRUE if c.value == flights else FALSE), f"both feet leave the ground {flights} times"
        reps = self.motion.get("repetitions")
        if reps is None:
            return UNSUPPORTED, "no repetition count"
        if c.what == "gait" and self.motion.get("repetitions_source") == "estimated":
            return UNSUPPORTED, f"the {reps} estimated repetitions are strides, not walks"
        return (TRUE if c.value == reps else FALSE), f"{reps}"

    def laterality(self, c: Claim) -> tuple[str, str]:
        if c.what == "sensor":
            sensors = {s.replace("_", " ") for s in self.facts.get("imu", {}).get("most_active_sites", [])}
            side, part = c.name.split(" ", 1)
            ok = any(s.startswith(side) and s.split()[-1] in part for s in sensors)
            return (TRUE if ok else FALSE), f"the busiest sensors are {', '.join(sorted(sensors)) or 'unknown'}"
        if c.what == "both":
            fact = self.motion.get("hand")
            if c.name == "hand" and fact in ("left", "right"):
                return FALSE, f"{fact} hand"
            return TRUE, f"hand used: {fact}" if c.name == "hand" else "both legs"
        fact = self.motion.get(c.what)
        if fact is None:
            return UNSUPPORTED, f"no {c.what} side"
        return (TRUE if fact in ("both", c.name) else FALSE), f"{fact} {c.what}"

    def direction(self, c: Claim) -> tuple[str, str]:
        direction = self.motion.get("direction")
        if c.what == "travel":
            ways = lx.TRAVEL_WAYS.get(direction or "")
            fact = self.line("travel", f"travel: {direction}")
            if c.name == self.motion.get("turn") and direction not in lx.TRAVEL_WAYS.get(c.name, {}).get("false", ()):
                return TRUE, self.line("turn")  # "steps to the left" of a turn in progress
            if ways is None:
                return UNSUPPORTED, f"travel: {direction}" if direction else "nothing about travel"
            if c.name in ways["true"]:
                return TRUE, fact
            return (FALSE if c.name in ways["false"] else UNSUPPORTED), fact
        if c.what == "distance":
            if direction in (None, "in place"):
                return FALSE if direction else UNSUPPORTED, self.line("travel")
            travelled = [self.motion.get(k) or 0.0 for k in ("distance_m", "path_length_m")]
            ok = any(_near(c.value, c.slack + 0.05, d) for d in travelled)
            return (TRUE if ok else FALSE), self.line("travel")
        if c.what == "turn":
            turn = self.motion.get("turn")
            if turn in ("left", "right"):
                return (TRUE if c.name == turn else FALSE), self.line("turn")
            return (FALSE, self.line("turn")) if self.motion.get("turn_deg") is not None else (
                UNSUPPORTED, "no turn line")
        if c.what == "radar":
            ways = lx.RADAR_WAYS.get(self.radar.get("movement", ""))
            if ways is None:
                return UNSUPPORTED, "no radar movement"
            fact = self.line("radar_range", f"radar range: {self.radar['movement']}")
            if c.name in ways["true"]:
                return TRUE, fact
            return (FALSE if c.name in ways["false"] else UNSUPPORTED), fact
        # a side of the radar: only a sideways move across its view says one
        start, end = self.radar.get("azimuth_start_deg"), self.radar.get("azimuth_end_deg")
        if start is None or abs(end - start) < self.sheet.angle_change_deg:
            return UNSUPPORTED, "no radar angle line"
        return (TRUE if c.name == ("right" if end > start else "left") else FALSE), self.line("radar_angle")

    def duration(self, c: Claim) -> tuple[str, str]:
        duration = self.motion.get("duration_s")
        if duration is None:
            return UNSUPPORTED, "no duration"
        return (TRUE if _near(c.value, c.slack, duration, 0.05) else FALSE), self.line("duration")

    def number(self, c: Claim) -> tuple[str, str]:
        ok = any(_near(c.value, c.slack, v, s) and c.unit in (None, u) for v, s, u in self.known)
        if ok and c.what and c.what != c.unit:  # a sheet number put on another measure
            return FALSE, f"{c.value:g} {c.unit} is no {_MEASURE_NAMES[c.what]}"
        return (TRUE, "on the sheet") if ok else (UNSUPPORTED, "not on the sheet")

    def trend(self, c: Claim) -> tuple[str, str, list[int]]:
        """Verdict, fact, and the indices of the segments it fits (for the order of events)."""
        unit_lines = {"m/s²": "imu_trend", "m": "radar_trend"}
        segments = [s for s in self.segments if c.unit is None or unit_lines.get(c.unit) == s.line]
        shapes = lx.VERB_SHAPES[c.verb]

        def shape_ok(s: SheetSegment) -> bool:
            if s.shape in shapes:
                return True
            # "settles back to 9.8": where a rise or fall ends
            return (c.verb == "steady" and s.shape in ("rises", "falls") and bool(c.values)
                    and _near(*c.values[-1], s.values[-1], _sheet_slack(s.values[-1])))

        def fits(s: SheetSegment, shape_too: bool) -> bool:
            return (all(any(_near(v, sl, x, _sheet_slack(x)) for x in s.values) for v, sl in c.values)
                    and all(s.fits_time(t, sl) for t, sl in c.times) and (not shape_too or shape_ok(s)))

        good = [s.index for s in segments if fits(s, True)]
        if good:
            return TRUE, " / ".join(s.text for s in segments if s.index in good), good
        near = [s for s in segments if fits(s, False)]
        if near:
            return FALSE, near[0].text, []
        has_value = [s for s in segments
                     if any(_near(v, sl, x, _sheet_slack(x)) for x in s.values for v, sl in c.values)]
        if has_value:
            return FALSE, has_value[0].text, []
        return UNSUPPORTED, "the trend line does not say it", []


def _shown_trend(line: str) -> list[SheetSegment]:
    title, _, text = line.partition(": ")
    name = {"IMU trend": "imu_trend", "radar trend": "radar_trend"}.get(title)
    return sheet_trends(name, text) if name else []


def verify(claims: list[Claim], facts: dict[str, Any], shown: str | None = None,
           sheet: SheetConfig = SheetConfig()) -> list[Verdict]:
    """A verdict for every claim (and one for each "then" whose order the sheet's times contradict).

    ``shown``: the fact sheet the writer saw (default: every line of ``facts``); numbers must be on it and
    trend statements are read against its trend lines.
    """
    if shown is None:  # every line the facts can render (facts from elsewhere may be partial)
        shown = "\n".join(line for name in LINES if (line := _line(facts, name, sheet, "")))
    v = _Verifier(facts, shown, sheet)
    out: list[Verdict] = []
    trend_fit: list[tuple[Claim, list[int]]] = []
    for c in claims:
        if c.kind == "trend":
            if not v.segments:  # no trend on the sheet: its numbers are plain numbers
                out += [Verdict(n, *v.number(n)) for n in _as_numbers(c)]
                continue
            verdict, fact, fit = v.trend(c)
            out.append(Verdict(c, verdict, fact))
            trend_fit.append((c, fit))
            continue
        verdict, fact = getattr(v, c.kind)(c)
        out.append(Verdict(c, verdict, fact))
    out += _only_one_side(claims, v.motion)
    out += _order(trend_fit)
    return out


def _as_numbers(c: Claim) -> list[Claim]:
    return ([Claim("number", f"{x:g}{' ' + c.unit if c.unit else ''}", c.start, value=x, slack=s, unit=c.unit,
                   source=c.source) for x, s in c.values]
            + [Claim("number", f"{t:g} s", c.start, value=t, slack=s, unit="s", source=c.source) for t, s in c.times])


def _only_one_side(claims: list[Claim], motion: dict[str, Any]) -> list[Verdict]:
    """With both hands (legs) in the facts, naming one side only and never both is wrong."""
    out = []
    for kind in ("hand", "leg"):
        sides = {c.name for c in claims if c.kind == "laterality" and c.what == kind}
        both = any(c.kind == "laterality" and c.what == "both" and c.name == kind for c in claims)
        if motion.get(kind) == "both" and len(sides) == 1 and not both:
            first = next(c for c in claims if c.kind == "laterality" and c.what == kind)
            out.append(Verdict(Claim("laterality", f"only the {first.name} {kind}", first.start, what="only",
                                     name=first.name, source=first.source), FALSE, "both"))
    return out


def _order(fits: list[tuple[Claim, list[int]]]) -> list[Verdict]:
    """Each "then" between two trend statements of one text: the later one's times (or its segments on the
    sheet) may not come before the earlier one's."""
    out = []
    for (a, fa), (b, fb) in zip(fits, fits[1:]):
        if a.source != b.source or b.group == a.group:
            continue
        said = f"{b.said!r} after {a.said!r}"
        if a.times and b.times:
            late_a, early_b = max(t for t, _ in a.times), min(t for t, _ in b.times)
            ok = early_b >= late_a - 0.05
            fact = f"{early_b:g} s comes before {late_a:g} s" if not ok else "times in order"
        elif fa and fb:
            ok = max(fb) >= min(fa)
            fact = "the sheet has them the other way round" if not ok else "segments in order"
        else:
            continue
        out.append(Verdict(Claim("order", said, b.start, source=b.source), TRUE if ok else FALSE, fact))
    return out


def check(question: str, answer: str, facts: dict[str, Any], shown: str | None = None,
          sheet: SheetConfig = SheetConfig(), form: str | None = None) -> Check:
    """The verdicts of every claim of the question and the answer (``form``: a failed form check)."""
    claims = extract_claims(question, "question") + extract_claims(answer, "answer")
    return Check(verify(claims, facts, shown, sheet), form)


def claim_verdicts(question: str, answer: str, facts: dict[str, Any], shown: str | None = None,
                   sheet: SheetConfig = SheetConfig()) -> list[dict[str, Any]]:
    """The verdicts of one pair as plain rows, for display (an audit CLI, sample.md)."""
    return [{"source": v.claim.source, "kind": v.claim.kind, "what": v.claim.what, "said": v.claim.said,
             "verdict": v.verdict, "fact": v.fact} for v in check(question, answer, facts, shown, sheet).verdicts]
