"""The words the fact checks look for: counts, sides of the body, travel and turn phrases, activities.

Kept apart from the checking logic so the vocabulary can grow without touching it.  Patterns are applied
to lower-cased text.
"""
from __future__ import annotations

import re

ARM_PARTS = r"hands?|arms?|wrists?|elbows?|shoulders?|fists?|palms?|fingers?|forearms?"
LEG_PARTS = r"legs?|feet|foot|knees?|ankles?|thighs?|shins?|heels?|toes?|hips?"

NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17,
    "eighteen": 18, "nineteen": 19, "twenty": 20,
}
ADVERB_COUNTS = {"once": 1, "twice": 2, "thrice": 3}
_NUM = r"(\d+|" + "|".join(NUMBER_WORDS) + r")"
# Nouns that count repetitions of a movement ("three claps", "6 jumping jacks"); steps are left out on
# purpose: a walk's repetition fact counts strides of one leg, not steps.
REP_NOUNS = (r"times?|repetitions?|reps|cycles|rounds|waves|claps|punches|jabs|kicks|squats|jumps|hops|leaps|jacks|"
             r"bows|raises|lifts|stretches|swings|bends")
# a count, at most one modifier, a repetition noun: "three times", "6 jumping jacks", "two quick claps"
# (not a body part: in "one hand waves" the noun is a verb)
COUNT = re.compile(rf"\b{_NUM}\s+(?:(?!(?:{ARM_PARTS}|{LEG_PARTS})\b)[\w-]+\s+)?(?:{REP_NOUNS})\b")
# "once" is a count after a verb ("kicks once") but a conjunction at a clause start ("once it stops")
ADVERB_COUNT = re.compile(r"\b(once|twice|thrice)\b")
CLAUSE_WORDS = {"and", "then", "but", "after", "so", "until", "when"}
# a count of jumps ("jumps four times", "3 hops") counts flights (both feet off the ground), not repetitions
JUMP_COUNT = re.compile(r"\b(?:jump|hop|leap)\w*\s+(?:\w+\s+)?$|\b(?:jumps|hops|leaps)\b")

# "left hand", "right-hand", "left-handed": a side named with a body part (so "left the room" is no side)
SIDED_PART = re.compile(rf"\b(left|right)[\s-]+({ARM_PARTS}|{LEG_PARTS}|handed|footed|legged)\b")
# "both hands", "two of their arms", "left and right legs": both sides at once
BOTH_SIDES = re.compile(r"\b(?:(?:both|two)(?:\s+of\s+(?:their|his|her|the))?"
                        r"|(?:left|right)\s+(?:and|or)\s+(?:left|right))"
                        rf"[\s-]+({ARM_PARTS}|{LEG_PARTS})\b")
LEG_WORDS = re.compile(rf"^(?:{LEG_PARTS}|footed|legged)$")
# a sided part followed by one of these names a sensor site ("the right-wrist sensor"), not a limb in action
SENSOR_AFTER = re.compile(r"[\s-]*(?:'s\s+)?(?:sensor|imu|acceleration|accelerometer|gyro\w*|signal|reading)")

TRAVEL_VERBS = (r"walk|mov|step|jog|run|jump|leap|hop|travel|goes|going|shuffl|strid|march|sidestep|side-step|"
                r"proceed|advanc|retreat|comes|coming|shift|slid|lung")
# the travel verb, at most three words, then the direction: "walks slowly forward", "steps to the left"
TRAVEL_FWD_BACK = re.compile(rf"\b(?:{TRAVEL_VERBS})\w*\s+(?:[\w-]+\s+){{0,3}}?(forwards?|backwards?|ahead)\b")
TRAVEL_SIDE = re.compile(
    rf"\b(?:{TRAVEL_VERBS})\w*\s+(?:[\w-]+\s+){{0,3}}?(?:to|towards?)\s+(?:the|their|his|her)\s+(left|right)\b"
    rf"(?!\s*(?:{ARM_PARTS}|{LEG_PARTS}))|\b(left|right)wards?\b")
# a distance travelled in a direction: "walks 1.8 m forward", "moves 0.9 metres to the right"
TRAVEL_DISTANCE = re.compile(r"\b(\d+(?:\.(\d+))?)\s*(?:m|met(?:er|re)s?)\s+(?:forwards?|backwards?|ahead|"
                             r"(?:to(?:wards?)?\s+(?:the|their|his|her)\s+)?(?:left|right))\b")
TURN = re.compile(
    rf"\b(?:turn|rotat|spin|pivot|twist)\w*\s+(?:[\w-]+\s+){{0,3}}?(?:to\s+(?:the|their|his|her)\s+)?(left|right)\b"
    rf"(?!\s*(?:{ARM_PARTS}|{LEG_PARTS}))")
TOWARD_RADAR = re.compile(r"\b(?:towards?|approach\w*|closer to|nearer to)\s+(?:the\s+)?(?:radar|sensor)")
AWAY_FROM_RADAR = re.compile(
    r"\b(?:away from|further from|farther from|recede\w*\s+from)\s+(?:the\s+)?(?:radar|sensor)")

# Activities an answer may name, each a regex on word stems.  Only distinctive activity words are listed:
# "bends", "leans" or "moves" name no activity and appear in descriptions of almost anything.
ACTIVITY_TERMS = {
    "walk": r"walk(?:s|ed|ing)?",
    "run": r"run(?:s|ning)?|jog(?:s|ged|ging)?|sprint\w*",
    "jump": r"jump(?:s|ed|ing)?|hop(?:s|ped|ping)?|leap(?:s|t|ed|ing)?",
    "jumping_jacks": r"jumping jacks?|star jumps?",
    "squat": r"squat\w*",
    "sit": r"sit(?:s|ting)? down|sat down|sits on|seated|takes a seat",
    "stand_up": (r"stand(?:s|ing)? up|stood up|gets up|"  # "rises from" alone is also what a signal does
                 r"rises from (?:a |the |their |his |her )?(?:chair|seat|sitting|squat|crouch|floor|ground)"),
    "wave": r"wav(?:e|es|ed|ing)\b(?! of)",
    "clap": r"clap\w*|applau\w*",
    "punch": r"punch\w*|jab(?:s|bed|bing)?",
    "box": r"box(?:es|ed|ing)\b|shadow[- ]box\w*",
    "kick": r"kick\w*",
    "bow": r"bow(?:s|ed|ing)?\b",
    "stretch": r"stretch\w*",
    "march": r"march\w*",
    "pick_up": r"pick(?:s|ed|ing)? (?:\w+ )?up|picks? something",
    "raise_arms": r"rais(?:e|es|ed|ing) (?:\w+ )?(?:arms?|hands?)|lift(?:s|ed|ing)? (?:\w+ )?(?:arms?|hands?)",
    "turn": (r"turn(?:s|ed|ing)? (?:around|in place|on the spot)|spin(?:s|ning)?|pivot\w*"
             r"|rotat(?:es|ing) (?:in place|on the spot)"),
    "dance": r"danc\w*",
    "crawl": r"crawl\w*",
    "throw": r"throw(?:s|ing|n)?\b",
    "climb": r"climb\w*",
    "lie": r"lie(?:s)? down|lying down|lays? down",
}
ACTIVITY_PATTERNS = {name: re.compile(rf"\b(?:{regex})") for name, regex in ACTIVITY_TERMS.items()}

# Per label, the activities an answer may name without contradicting it.
LABEL_ACTIVITIES = {
    "walk": {"walk"},
    "jog": {"run", "walk"},
    "walk_backward": {"walk"},
    "side_step": {"walk", "turn"},
    "turn_in_place": {"turn", "walk"},
    "march_in_place": {"march", "walk"},
    "walk_circle": {"walk", "turn"},
    "walk_away_and_back": {"walk", "turn"},
    "walk_across": {"walk", "turn"},
    "jump_in_place": {"jump", "squat"},
    "jump_forward": {"jump", "squat"},
    "jumping_jacks": {"jumping_jacks", "jump", "raise_arms", "clap"},
    "squat": {"squat", "stand_up", "sit"},
    "sit_down": {"sit"},
    "stand_up": {"stand_up", "sit"},
    "pick_up": {"pick_up", "squat", "bow", "stand_up"},
    "bow": {"bow"},
    "kick": {"kick"},
    "wave": {"wave", "raise_arms"},
    "clap": {"clap", "raise_arms"},
    "punch": {"punch", "box", "throw"},  # one throws punches
    "raise_arms": {"raise_arms", "stretch"},
    "stretch": {"stretch", "raise_arms"},
    "boxing": {"box", "punch", "throw", "jump", "walk"},
}

# Units a number may carry, most specific first; a number's unit must agree with the fact it repeats
UNITS = {
    "m/s²": r"m/s(?:²|\^?2)|met(?:er|re)s? per second squared",
    "m/s": r"m/s|met(?:er|re)s? per second",
    "rad/s": r"rad/s|radians? per second",
    "deg": r"°|degrees?",
    "m": r"m\b|met(?:er|re)s?\b",
    "s": r"s\b|sec(?:ond)?s?\b",
}
UNIT_GROUPS = {name.replace("/", "_").replace("²", "2"): name for name in UNITS}  # regex group -> unit
# a number written with digits (not glued to letters: "3rd", "3D") and the unit right after it, if any
NUMBER = re.compile(r"(?<![\w.])[-+]?(\d+(?:\.(\d+))?)(?!\w)(?:\s*(?:"
                    + "|".join(f"(?P<{group}>{UNITS[name]})" for group, name in UNIT_GROUPS.items()) + "))?")


# ---- The claim reader's vocabulary (tasks/qa/claims.py) ----

# What a motion's "direction" fact says about travel relative to the body: the ways it supports, and the
# ways it contradicts (besides every way, for in place). A new direction value is one row here; a value
# without a row makes every travel claim unsupported, never a guess.
TRAVEL_WAYS: dict[str, dict[str, set[str]]] = {
    "forward": {"true": {"forward"}, "false": {"backward", "in place"}},
    "backward": {"true": {"backward"}, "false": {"forward", "in place"}},
    "left": {"true": {"left"}, "false": {"right", "in place"}},
    "right": {"true": {"right"}, "false": {"left", "in place"}},
    "in place": {"true": {"in place"}, "false": {"forward", "backward", "left", "right"}},
    "away and back": {"true": {"forward"}, "false": {"backward", "left", "right", "in place"}},
}
# What the radar range's movement says about "toward" / "away from" the radar, the same way.
RADAR_WAYS: dict[str, dict[str, set[str]]] = {
    "approaching": {"true": {"toward"}, "false": {"away", "same"}},
    "receding": {"true": {"away"}, "false": {"toward", "same"}},
    "approaches then recedes": {"true": {"toward", "away"}, "false": {"same"}},
    "recedes then approaches": {"true": {"toward", "away"}, "false": {"same"}},
    "no net movement": {"true": {"same"}, "false": {"toward", "away"}},
}
TOWARD_RADAR_MORE = re.compile(r"\b(?:range|distance)(?: to the (?:radar|person|sensor))? (?:falls|decreases|drops|"
                               r"shrinks|gets smaller)")
AWAY_RADAR_MORE = re.compile(r"\b(?:range|distance)(?: to the (?:radar|person|sensor))? (?:rises|increases|grows|"
                             r"gets larger)")
# a side of the radar ("to the radar's left", "the left of the radar"): only the radar-angle line decides it
RADAR_SIDE = re.compile(r"\b(?:radar|sensor)(?:'s|’s)\s+(left|right)\b|\b(left|right)\s+(?:side\s+)?of\s+the\s+"
                        r"(?:radar|sensor)\b")

# The activity an answer says the person is doing ("is doing a sit", "performs squats"): the phrase after
# the verb, read by ACTIVITY_PATTERNS or, for bare nouns the patterns leave out, by this table.
DOING = re.compile(r"\b(?:(?:is|are|was|were)\s+(?:doing|performing)\s+(?:an?\s+|the\s+|some\s+|their\s+)?"
                   r"|(?:does|performs)\s+(?:an?|some)\s+)((?:[\w-]+\s+){0,2}[\w-]+)")
BARE_ACTIVITIES = {"sit": "sit", "sits": "sit", "stand": "stand_up", "stand-up": "stand_up", "side-step": "side_step",
                   "side-steps": "side_step", "sidestep": "side_step", "step": "walk", "steps": "walk",
                   "jumping": "jump", "hopping": "jump"}
ACTIVITY_PATTERNS_MAIN = {**ACTIVITY_PATTERNS, "side_step": re.compile(r"\bside[- ]?steps?\b")}
# Per label, the activities that name it (what the person "is doing"); the mentions above are wider
# (a stand-up mentions sitting, but is no sit).
LABEL_NAMES = {
    "walk": {"walk"}, "jog": {"run"}, "walk_backward": {"walk"}, "side_step": {"side_step", "walk"},
    "turn_in_place": {"turn"}, "march_in_place": {"march", "walk"}, "walk_circle": {"walk", "turn"},
    "walk_away_and_back": {"walk", "turn"}, "walk_across": {"walk"},
    "jump_in_place": {"jump"}, "jump_forward": {"jump"}, "jumping_jacks": {"jumping_jacks", "jump"},
    "squat": {"squat"}, "sit_down": {"sit"}, "stand_up": {"stand_up"}, "pick_up": {"pick_up", "bow"},
    "bow": {"bow"}, "kick": {"kick"}, "wave": {"wave"}, "clap": {"clap"}, "punch": {"punch", "box"},
    "raise_arms": {"raise_arms", "stretch"}, "stretch": {"stretch", "raise_arms"}, "boxing": {"box", "punch"},
}

# Things a person could handle or use; a claim of one needs a caption that names it (or the label's table).
OBJECTS = (r"balls?|chairs?|seats?|stools?|benches|bench|boxes|box|bags?|cups?|glass(?:es)?|bottles?|doors?|tables?|"
           r"desks?|ropes?|weights?|dumbbells?|barbells?|bats?|rackets?|sticks?|phones?|books?|toys?|swords?|"
           r"shields?|umbrellas?|hats?|towels?|drums?|guitars?|objects?|items?|sofas?|couch|beds?|walls?|steps? stool|"
           r"targets?|arrows?|flags?|roads?|streets?|stairs|hills?|cars?|dogs?|partners?|friends?|opponents?|music|songs?")
OBJECT = re.compile(rf"\b(?:an?|the|their|his|her|some)\s+(?:[a-z-]+\s+)?({OBJECTS})\b")
LABEL_OBJECTS = {"pick_up": {"object", "item"}}  # named by every pick-up, whichever caption is shown
# an activity made its own object ("bow a bow", "punch a punch"): nothing is bowed or punched
SELF_OBJECT = re.compile(r"\b(bow|punch|kick|wave|clap|jump|squat|stretch|box)(?:s|es|ing)?\s+an?\s+(\1)\b")
# gait verbs: their counts read an estimated repetition fact (strides of one leg) as whole walks
GAIT_COUNT = re.compile(r"\b(?:walk|run|jog)\w*\s+(?:[\w-]+\s+){0,3}?$")

# Postures a claim may state ("while standing", "from sitting"); activities that pass through one more.
POSTURES = {"standing": r"standing(?! up)|upright", "sitting": r"sitting(?! down)|seated",
            "crouching": r"crouch(?:ing|ed)|squatting position", "lying": r"lying"}
POSTURE_PATTERNS = {name: re.compile(rf"\b(?:{regex})\b") for name, regex in POSTURES.items()}
LABEL_POSTURES = {"squat": {"crouching"}, "pick_up": {"crouching"}, "sit_down": {"sitting"}, "stand_up": {"sitting"}}

# Trend statements: a verb of change and the shapes on the fact sheet (tasks/qa/trends.py) it can describe.
TREND_VERBS = {
    "up": r"ris\w*|increas\w*|climb\w*|goes up|jumps? up|grows?|ramps? up|builds? up",
    "down": r"fall\w*|fell|drop\w*|decreas\w*|declin\w*|goes down|lower\w*|sinks?|dips?|dipping|dipped",
    "peak": r"peak\w*|spik\w*|maxim\w*|reach\w*|tops? out|highest",
    "steady": r"stay\w*|remain\w*|steady|constant|stable|holds?|level\w*|hover\w*|near|around|settl\w*|returns?|back",
    "oscillates": r"oscillat\w*|fluctuat\w*|swing\w*|alternat\w*|vari\w*|between",
}
TREND_VERB = {kind: re.compile(rf"\b(?:{regex})\b") for kind, regex in TREND_VERBS.items()}
# which sheet shapes (trends.py) a verb fits; the value a verb names must be one of those segments' values
VERB_SHAPES = {"up": {"rises", "peaks", "oscillates"}, "down": {"falls", "dips", "oscillates"},
               "peak": {"peaks", "rises", "oscillates"}, "steady": {"steady"},
               "oscillates": {"oscillates"}}
# "then" and its kin join two statements in time order
THEN = re.compile(r",?\s*\b(?:and then|then|after that|afterwards|before finally|finally|later)\b,?\s*|;\s*")
# a number of seconds read as a duration ("for 6 s"), not a time since the start ("at 1.2 s")
DURATION_BEFORE = re.compile(r"\b(?:for|lasts?|lasting|over|within|takes?|taking|spanning|spans?|duration(?: of)?|"
                             r"in)\s+(?:about\s+|around\s+|roughly\s+|approximately\s+|nearly\s+|almost\s+|just\s+"
                             r"(?:over|under)\s+|some\s+)?$")
# "stays in place" and "at the same distance from the radar": claims of no travel (way "in place" / "same")
IN_PLACE = re.compile(r"\b(?:stays?|staying|remains?|remaining|stands?|standing|is|stays? put)\s+(?:\w+\s+)?"
                      r"(?:in place|on the spot)|\bwithout (?:moving|travel\w*)\b|\bdoes not (?:move|travel)\b")
SAME_DISTANCE = re.compile(r"\b(?:at|keeps?|keeping|stays? at|remains? at) (?:about |roughly )?the same distance\b")
# The measure a word before a number names, and the unit that measure takes ("head acceleration up to
# 1.9 rad/s" puts a rotation's number on an acceleration)
MEASURE_UNITS = [
    (re.compile(r"\b(?:rotation\w*|rotat\w+|angular(?: velocity| speed| rate)?|gyro\w*|spin\w*|turn\w* rate)\b"),
     "rad/s"),
    (re.compile(r"\baccelerat\w*\b"), "m/s²"),
    (re.compile(r"\b(?:speed|velocity|pace)\b"), "m/s"),
]
