"""Natural captions written from a motion's ground truth, so they never name the wrong side, direction or count.

Each class has a handful of phrasings; ``write_captions`` picks 3-5 different ones at random.  Counts
appear as words or digits, sides and turns are taken from the facts, and anything the facts do not say is
left unsaid.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

SUBJECTS = ("a person", "someone", "the person", "a human", "an individual")
NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
                "twelve")
OTHER = {"left": "right", "right": "left"}


class Words:
    """Phrase builders for one motion: counts, sides and subjects drawn from its facts."""

    def __init__(self, facts: dict[str, Any], detail: dict[str, Any], rng: np.random.Generator) -> None:
        self.facts, self.detail, self.rng = facts, detail, rng
        self.n = int(facts.get("repetitions") or 0)

    def who(self) -> str:
        return SUBJECTS[int(self.rng.integers(len(SUBJECTS)))]

    def num(self, n: int | None = None) -> str:
        """A count as a word or as digits."""
        n = self.n if n is None else n
        return NUMBER_WORDS[n] if n < len(NUMBER_WORDS) and self.rng.random() < 0.6 else str(n)

    def times(self, n: int | None = None) -> str:
        """'once', 'twice', 'three times' or '3 times'."""
        n = self.n if n is None else n
        if n == 1:
            return "once"
        if n == 2 and self.rng.random() < 0.6:
            return "twice"
        return f"{self.num(n)} times"

    def many(self, noun: str, plural: str | None = None) -> str:
        """'a squat' or 'three squats'."""
        if self.n == 1:
            return f"a {noun}" if noun[0] not in "aeiou" else f"an {noun}"
        return f"{self.num()} {plural or noun + 's'}"

    @property
    def hand(self) -> str:
        return str(self.facts.get("hand"))


def cap(text: str) -> str:
    return text[0].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _pace(speed: float) -> list[str]:
    """Words for a walking speed (m/s): a stroll is under about 0.7, a normal walk 1.05-1.4."""
    if speed < 0.7:
        return ["very slowly", "at a very slow pace", "slowly, with short steps"]
    if speed < 1.05:
        return ["slowly", "at a slow pace", "at an easy pace"]
    if speed > 1.4:
        return ["briskly", "quickly", "at a fast pace"]
    return ["at a normal pace", "steadily", "at a steady pace"]


def _jog_pace(speed: float) -> str:
    """A word for a jogging speed (m/s)."""
    return "quickly" if speed > 2.9 else "at an easy pace" if speed < 2.2 else "at a steady pace"


def _walk(w: Words) -> list[str]:
    pace = _pace(float(w.detail.get("pace_mps", 1.2)))  # the speed walked, not the mean over a stop
    stop = " and then stops" if w.detail.get("stops") else ""
    out = [f"{w.who()} walks forward {pace[0]}{stop}", f"{w.who()} walks straight ahead {pace[1]}{stop}",
           f"{w.who()} takes several steps forward{stop}", f"{w.who()} walks forward in a straight line{stop}",
           f"{w.who()} is walking forward {pace[2]}"]
    if w.detail.get("from_rest"):
        out.append(f"{w.who()} starts from standing still and walks forward")
    return out


def _jog(w: Words) -> list[str]:
    stop = " and then stops" if w.detail.get("stops") else ""
    out = [f"{w.who()} jogs forward{stop}", f"{w.who()} runs straight ahead{stop}", f"{w.who()} is jogging forward",
           f"{w.who()} runs forward {_jog_pace(float(w.detail.get('pace_mps', 2.5)))}",
           f"{w.who()} jogs in a straight line{stop}"]
    if w.detail.get("stops"):
        out.append(f"{w.who()} jogs forward and slows down to a stop")
    if w.detail.get("from_rest"):
        out.append(f"{w.who()} starts from standing still and jogs forward")
    return out


def _walk_backward(w: Words) -> list[str]:
    stop = " and then stops" if w.detail.get("stops") else ""
    return [f"{w.who()} walks backwards{stop}", f"{w.who()} takes several steps backward{stop}",
            f"{w.who()} moves backward without turning around", f"{w.who()} walks backward slowly",
            f"{w.who()} backs up step by step"]


def _side_step(w: Words) -> list[str]:
    d = w.facts["direction"]
    stop = " and then stops" if w.detail.get("stops") else ""
    return [f"{w.who()} side-steps to the {d}{stop}", f"{w.who()} shuffles sideways to the {d}",
            f"{w.who()} steps sideways toward their {d}", f"{w.who()} moves to the {d} with side steps",
            f"{w.who()} sidesteps {d} a few times"]


def _turn_phrase(deg: float) -> tuple[str, str]:
    """How far a turn goes: ('around', 'a half turn') and the like."""
    a = abs(deg)
    if a >= 340:
        return "all the way around", "a full turn"
    if a >= 250:
        return "270 degrees", "a turn of 270 degrees"
    if a >= 160:
        return "around", "a half turn"
    if a >= 115:
        return "about 135 degrees", "a turn of about 135 degrees"
    return "90 degrees", "a quarter turn"


def _turn_in_place(w: Words) -> list[str]:
    d = w.facts["turn"]
    how_far, turn = _turn_phrase(float(w.facts["turn_deg"]))
    return [f"{w.who()} turns {how_far} to the {d}", f"{w.who()} makes {turn} to their {d} on the spot",
            f"{w.who()} stands in place and turns to the {d}", f"{w.who()} pivots to the {d}, turning {how_far}",
            f"{w.who()} rotates {d}ward in place"]


def _march(w: Words) -> list[str]:
    return [f"{w.who()} marches in place", f"{w.who()} marches on the spot, lifting the knees",
            f"{w.who()} marches without moving forward", f"{w.who()} takes {w.num()} marching steps in place",
            f"{w.who()} lifts their knees alternately, marching in place"]


def _walk_circle(w: Words) -> list[str]:
    d = w.facts["turn"]
    clock = "counterclockwise" if d == "left" else "clockwise"
    full = abs(float(w.facts.get("turn_deg", 0))) >= 340
    circle = "a full circle" if full else "a circle"
    stop = " and then stops" if w.detail.get("stops") else ""
    return [f"{w.who()} walks in {circle} {clock}{stop}", f"{w.who()} walks around in a circle, turning to the {d}",
            f"{w.who()} walks {clock} in {circle}{stop}", f"{w.who()} circles to the {d} while walking",
            f"{w.who()} walks along a curved path to the {d}"]


def _walk_away_and_back(w: Words) -> list[str]:
    d = w.facts["turn"]
    pace = _pace(float(w.detail["pace_mps"]))
    return [f"{w.who()} turns around to the {d}, walks away and comes back",
            f"{w.who()} walks away {pace[0]}, turns around and walks back to where they started",
            f"{w.who()} turns to the {d}, walks off, then turns to the {d} again and returns",
            f"{w.who()} walks away from the starting point and back again {pace[1]}",
            f"{w.who()} turns their back, walks a few steps away, turns around to the {d} and walks back"]


def _walk_across(w: Words) -> list[str]:
    d = w.facts["direction"]
    pace = _pace(float(w.detail["pace_mps"]))
    stop = " and then stops" if w.detail.get("stops") else ""
    return [f"{w.who()} turns to the {d} and walks across{', then stops' if stop else ''}",
            f"{w.who()} walks across to their {d} {pace[0]}",
            f"{w.who()} turns {d} and walks away to the side {pace[1]}{stop}",
            f"{w.who()} makes a quarter turn and walks off {pace[2]}",
            f"{w.who()} crosses in front of the starting point, walking to the {d}{stop}"]


def _jump_in_place(w: Words) -> list[str]:
    if w.detail.get("hops"):
        return [f"{w.who()} hops in place {w.times()}", f"{w.who()} does {w.num()} small jumps on the spot",
                f"{w.who()} bounces up and down on both feet {w.times()}",
                f"{w.who()} hops lightly on the balls of the feet {w.times()}",
                f"{w.who()} does {w.num()} quick hops in a row without moving"]
    return [f"{w.who()} jumps up {w.times()}", f"{w.who()} jumps in place {w.times()}",
            f"{w.who()} does {w.many('vertical jump')}", f"{w.who()} crouches and jumps straight up {w.times()}",
            f"{w.who()} jumps on the spot {w.times()}"]


def _jump_forward(w: Words) -> list[str]:
    return [f"{w.who()} jumps forward {w.times()}", f"{w.who()} does {w.many('broad jump')} forward",
            f"{w.who()} leaps forward with both feet {w.times()}", f"{w.who()} jumps ahead {w.times()}",
            f"{w.who()} swings the arms and jumps forward {w.times()}"]


def _jumping_jacks(w: Words) -> list[str]:
    return [f"{w.who()} does {w.many('jumping jack')}", f"{w.who()} performs {w.many('jumping jack')}",
            f"{w.who()} does jumping jacks, {w.num()} in total" if w.n > 1 else f"{w.who()} does one jumping jack",
            f"{w.who()} jumps, spreading arms and legs {w.times()}", f"{w.who()} does {w.many('star jump')}"]


def _squat(w: Words) -> list[str]:
    arms = "with arms held out in front" if w.detail.get("arms") == "forward" else "with hands in front of the chest"
    return [f"{w.who()} does {w.many('squat')}", f"{w.who()} squats down and stands up {w.times()}",
            f"{w.who()} performs {w.many('squat')} {arms}", f"{w.who()} bends the knees and squats {w.times()}",
            f"{w.who()} squats {w.times()}"]


def _sit_down(w: Words) -> list[str]:
    return [f"{w.who()} sits down", f"{w.who()} sits down on a chair", f"{w.who()} lowers themselves onto a seat",
            f"{w.who()} takes a seat", f"{w.who()} goes from standing to sitting"]


def _stand_up(w: Words) -> list[str]:
    return [f"{w.who()} stands up from a chair", f"{w.who()} gets up from sitting",
            f"{w.who()} rises from a seated position", f"{w.who()} stands up",
            f"{w.who()} leans forward and gets up from the seat"]


def _pick_up(w: Words) -> list[str]:
    hand = "both hands" if w.hand == "both" else f"the {w.hand} hand"
    their = "both hands" if w.hand == "both" else f"their {w.hand} hand"
    return [f"{w.who()} bends down and picks something up with {hand}",
            f"{w.who()} reaches down to the floor with {their} and picks up an object",
            f"{w.who()} bends over and lifts something off the ground",
            f"{w.who()} picks up an object from the floor using {hand}",
            f"{w.who()} stoops to pick something up"]


def _wave(w: Words) -> list[str]:
    h = w.hand
    where = " raised high" if w.detail.get("high") else ""
    return [f"{w.who()} waves the {h} hand {w.times()}", f"{w.who()} raises their {h} arm and waves {w.times()}",
            f"{w.who()} waves hello with the {h} hand{where}", f"{w.who()} lifts the {h} hand and waves",
            f"{w.who()} waves {w.times()} with their {h} hand"]


def _clap(w: Words) -> list[str]:
    return [f"{w.who()} claps {w.times()}", f"{w.who()} claps their hands {w.times()}",
            f"{w.who()} raises both hands and claps {w.times()}", f"{w.who()} claps in front of the chest",
            f"{w.who()} brings the hands together {w.times()}"]


def _punch(w: Words) -> list[str]:
    if w.detail.get("alternating"):
        return [f"{w.who()} throws {w.many('punch', 'punches')}, alternating left and right",
                f"{w.who()} punches forward {w.times()} with alternating fists",
                f"{w.who()} punches with the left and right hands in turn",
                f"{w.who()} does {w.many('punch', 'punches')} switching between both arms",
                f"{w.who()} raises both fists and punches forward {w.times()}, left and right"]
    h = w.hand
    return [f"{w.who()} punches forward with the {h} hand {w.times()}",
            f"{w.who()} throws {w.many(f'{h}-handed punch', f'{h}-handed punches')}",
            f"{w.who()} throws {w.many('punch', 'punches')} with their {h} fist",
            f"{w.who()} punches {w.times()} with the {h} arm", f"{w.who()} jabs forward with the {h} hand"]


def _kick(w: Words) -> list[str]:
    leg = w.facts["limbs"][0].split("_")[0]
    kick = "a high kick" if w.detail.get("high") else "a kick"
    return [f"{w.who()} kicks forward with the {leg} leg {w.times()}",
            f"{w.who()} does {w.many('front kick')} with their {leg} foot",
            f"{w.who()} lifts the {leg} knee and kicks {w.times()}", f"{w.who()} kicks {w.times()} with the {leg} leg",
            f"{w.who()} balances on a single leg and does {kick if w.n == 1 else w.many('kick')} with the {leg} leg"]


def _raise_arms(w: Words) -> list[str]:
    over, side = w.detail.get("overhead"), w.detail.get("sideways")
    sides = " out to the sides" if w.hand == "both" else " out to the side"
    where = ("above the head" if over else "to shoulder height") + (sides if side else " in front")
    arm = "both arms" if w.hand == "both" else f"the {w.hand} arm"
    their = "both arms" if w.hand == "both" else f"their {w.hand} arm"
    it = "them" if w.hand == "both" else "it"
    return [f"{w.who()} raises {arm} {where}", f"{w.who()} lifts {their} {where} and lowers {it} again",
            f"{w.who()} raises {arm} {w.times()}", f"{w.who()} puts {their} up {w.times()}",
            f"{w.who()} raises {their} {'up high' if over else 'to shoulder level'}"]


def _stretch(w: Words) -> list[str]:
    if w.detail.get("side_bend"):
        first = w.detail["first"]
        lean = (f"leaning to the {first}" if w.n == 1 else f"leaning to the {first} and then to the {OTHER[first]}")
        return [f"{w.who()} raises both arms and stretches, {lean}", f"{w.who()} stretches with arms overhead, {lean}",
                f"{w.who()} does a side stretch with both arms up",
                f"{w.who()} stretches the arms above the head and bends to the side",
                f"{w.who()} reaches up and leans sideways {w.times()}"]
    return [f"{w.who()} stretches both arms up and rises onto the toes", f"{w.who()} reaches up high {w.times()}",
            f"{w.who()} stretches upward with the arms above the head", f"{w.who()} does an overhead stretch",
            f"{w.who()} raises both arms and stretches up on tiptoes"]


def _bow(w: Words) -> list[str]:
    deep = "deeply " if w.detail.get("deep") else ""
    return [f"{w.who()} bows {deep}{w.times()}", f"{w.who()} bends forward at the waist in a bow",
            f"{w.who()} bows {w.times()}" if w.n > 1 else f"{w.who()} takes a bow",
            f"{w.who()} does {w.many('bow')}", f"{w.who()} bows {deep}and straightens up again"]


def _boxing(w: Words) -> list[str]:
    lead = w.detail.get("lead", "left")
    return [f"{w.who()} shadow boxes, throwing {w.many('punch', 'punches')}",
            f"{w.who()} boxes in a fighting stance",
            f"{w.who()} throws a series of punches while bouncing on their feet",
            f"{w.who()} steps into a boxing stance with the {lead} foot forward and throws punches",
            f"{w.who()} practises boxing, punching {w.times()}"]


PHRASES: dict[str, Callable[[Words], list[str]]] = {
    "walk": _walk, "jog": _jog, "walk_backward": _walk_backward, "side_step": _side_step,
    "turn_in_place": _turn_in_place, "march_in_place": _march, "walk_circle": _walk_circle,
    "walk_away_and_back": _walk_away_and_back, "walk_across": _walk_across,
    "jump_in_place": _jump_in_place, "jump_forward": _jump_forward, "jumping_jacks": _jumping_jacks,
    "squat": _squat, "sit_down": _sit_down, "stand_up": _stand_up, "pick_up": _pick_up, "bow": _bow,
    "kick": _kick, "wave": _wave, "clap": _clap, "punch": _punch, "raise_arms": _raise_arms,
    "stretch": _stretch, "boxing": _boxing,
}


def write_captions(label: str, facts: dict[str, Any], detail: dict[str, Any], rng: np.random.Generator) -> list[str]:
    """3-5 different captions for a motion of class ``label``."""
    options = list(dict.fromkeys(cap(s) for s in PHRASES[label](Words(facts, detail, rng))))
    k = int(rng.integers(3, min(5, len(options)) + 1))
    picked = rng.choice(len(options), size=k, replace=False)
    return [options[i] for i in sorted(picked)]
