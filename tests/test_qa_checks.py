"""Form checks, lenient parsing and near-duplicate removal of the qa stage (claims: test_qa_claims.py)."""
from __future__ import annotations

import numpy as np

from tasks.qa.checks import check_pair
from tasks.qa.claims import counts_in
from tasks.qa.dedup import duplicates, embed, load_embedder
from tasks.qa.prompts import salvage

Q = "What does the person do in this recording?"


def test_counts_are_read_from_words_and_digits():
    assert [n for n, _, _ in counts_in("he claps 6 times, then two quick claps, and kicks once.")] == [6, 2, 1]
    assert counts_in("one hand waves for 2 seconds; once done, he stops") == []


def test_a_pair_of_good_form_is_judged_by_its_claims():
    f = {"label": "wave", "captions": [], "motion": {"repetitions": 4, "hand": "right"}, "imu": {}, "radar": {}}
    assert check_pair(Q, "The person waves four times with the right hand.", f) is None
    assert check_pair(Q, "The person waves three times.", f) == "count: says three times, facts say 4"
    assert check_pair("Why?", "The person waves three times.", f) == "short question: 1 words"


def test_form_checks_reject_short_echoed_and_copied_pairs():
    f = {"label": "wave", "captions": [], "motion": {}, "imu": {}, "radar": {}}
    assert check_pair("Why?", "Because they wave.", f) == "short question: 1 words"
    assert check_pair(Q, "Waves.", f) == "short answer: 1 words"
    assert check_pair("The person waves a hand", "They wave a hand.", f) == "not a question"
    assert check_pair(Q, "What does the person do in this recording?", f) == "echo: the answer repeats the question"
    example = ("What activity is this?", "The person is doing squats.")
    assert check_pair(Q, "The person is doing squats.", {**f, "label": "squat"}, example) == "copied example"
    assert check_pair("What activity is this?", "The person is waving hello.", f, example) is None


def test_salvage_takes_an_intact_pair_from_broken_json():
    pair = salvage('{"question": "How far?", "answer": "About \\"3\\" m.", "duration": 8.0 s}')
    assert (pair.question, pair.answer) == ("How far?", 'About "3" m.')
    assert salvage('{"question": "How far?", "answer": "About 3') is None


def test_exact_and_near_duplicate_questions_are_found():
    texts = ["How many times does the person wave?", "What is the person doing?",
             "How often does the person wave?", "what is the person doing"]
    found = duplicates(texts, embed(texts, load_embedder()), threshold=0.92)
    assert found[0] is None and found[1] is None
    assert found[2][0] == 0 and found[2][1] >= 0.92
    assert found[3] == (1, 1.0)
    orthogonal = np.eye(4, 384, dtype=np.float32)
    assert duplicates(["a b", "a c", "A b!", "d"], orthogonal, 0.92) == [None, None, (0, 1.0), None]
