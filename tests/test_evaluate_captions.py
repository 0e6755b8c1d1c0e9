"""Reference metrics against known answers: exact and disjoint texts, BLEU and CIDEr-D by hand, METEOR's fallbacks."""
from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
from pycocoevalcap.meteor import meteor as pycoco_meteor

from tasks.evaluate.captions import METRICS, SPICE_SKIPPED, reference_scores, tokenize

SAME = "a person walks forward and then turns left"
DISJOINT = ("someone jumps twice", "the woman sits quietly")


@pytest.fixture(scope="module")
def scored():
    """The one run with METEOR and the embedder: an exact answer, a disjoint one and an empty one."""
    return reference_scores([SAME, DISJOINT[0], " ?! "],
                            [[SAME], [DISJOINT[1]], ["a man sits down", "he sits"]])


def test_tokenize_lowercases_and_drops_punctuation():
    assert tokenize("The person WALKS, 2.5 m!") == "the person walks 2.5 m"
    assert tokenize("Turns 90 degrees... then stops at 1.5.") == "turns 90 degrees then stops at 1.5"
    assert tokenize("  a 3d-scan (don't)  ") == "a 3d scan don t"
    assert tokenize("?!") == ""


def test_identical_texts_score_one(scored):
    assert set(scored.per_item) == set(METRICS)
    assert all(v.dtype == np.float64 and v.shape == (3,) for v in scored.per_item.values())
    assert scored.per_item["bleu4"][0] == pytest.approx(1.0, abs=1e-6)
    assert scored.per_item["rouge_l"][0] == 1.0
    assert scored.per_item["similarity"][0] == pytest.approx(1.0, abs=1e-5)
    assert scored.per_item["meteor"][0] > 0.9
    assert scored.skipped == {"spice": SPICE_SKIPPED}


def test_disjoint_texts_score_zero(scored):
    for n in range(1, 5):
        assert scored.per_item[f"bleu{n}"][1] < 1e-6
    assert scored.per_item["rouge_l"][1] == 0.0
    assert scored.per_item["cider"][1] == 0.0
    assert scored.per_item["similarity"][1] < 0.5


def test_empty_candidate_scores_zero(scored):
    for n in range(1, 5):
        assert scored.per_item[f"bleu{n}"][2] < 1e-6  # pycocoevalcap's epsilons, as for disjoint texts
    for metric in ("meteor", "rouge_l", "cider", "similarity"):
        assert scored.per_item[metric][2] == 0.0, metric
    assert scored.corpus["similarity"] == pytest.approx(scored.per_item["similarity"].mean())


def _ngrams(words: list[str], n: int) -> Counter:
    return Counter(tuple(words[i:i + n]) for i in range(len(words) - n + 1))


def test_bleu1_and_bleu2_by_hand():
    cand, ref = "the the person runs".split(), "the person walks home now".split()
    precisions = []
    for n in (1, 2):
        ref_counts = _ngrams(ref, n)
        clipped = sum(min(c, ref_counts[g]) for g, c in _ngrams(cand, n).items())
        precisions.append(clipped / (len(cand) - n + 1))
    assert precisions == [2 / 4, 1 / 3]  # "the" is clipped to the reference's one
    brevity = math.exp(1 - len(ref) / len(cand))
    got = reference_scores([" ".join(cand)], [[" ".join(ref)]], meteor=False, similarity=False)
    assert got.per_item["bleu1"][0] == pytest.approx(brevity * precisions[0], abs=1e-6)
    assert got.per_item["bleu2"][0] == pytest.approx(brevity * math.sqrt(precisions[0] * precisions[1]), abs=1e-6)
    assert got.corpus["bleu2"] == pytest.approx(got.per_item["bleu2"][0], abs=1e-6)  # one item: the same
    assert got.skipped["meteor"] == "METEOR: not requested (meteor=False)" and "similarity" not in got.per_item


def test_cider_d_by_hand():
    # "walks" twice (clipped to the reference's once), and lengths off by 1, 1 and 6 words (the penalty)
    cands = ["a person walks walks forward", "a man sits", "the man jumps high and then lands on the floor"]
    refs = ["a person walks forward", "a person sits down", "the man jumps"]
    words = [r.split() for r in refs]
    df = Counter(g for w in words for n in range(1, 5) for g in set(_ngrams(w, n)))

    def tfidf(text: list[str], n: int) -> dict[tuple[str, ...], float]:
        return {g: c * (math.log(len(refs)) - math.log(max(1.0, df[g]))) for g, c in _ngrams(text, n).items()}

    expected = []
    for cand, ref in zip(cands, words):
        cand = cand.split()
        sims = []
        for n in range(1, 5):
            vc, vr = tfidf(cand, n), tfidf(ref, n)
            norm = math.sqrt(sum(v * v for v in vc.values())) * math.sqrt(sum(v * v for v in vr.values()))
            clipped = sum(min(v, vr.get(g, 0.0)) * vr.get(g, 0.0) for g, v in vc.items())
            sims.append(clipped / norm if norm else 0.0)
        penalty = math.exp(-((len(cand) - len(ref)) ** 2) / (2 * 6.0 ** 2))
        expected.append(10 * penalty * sum(sims) / 4)
    got = reference_scores(cands, [[r] for r in refs], meteor=False, similarity=False)
    assert got.per_item["cider"] == pytest.approx(expected, abs=1e-6)
    assert got.corpus["cider"] == pytest.approx(sum(expected) / len(expected), abs=1e-6)
    assert 0.5 < got.corpus["cider"] < 10  # a real signal, not a degenerate all-zero idf


def test_meteor_skipped_without_java(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on PATH, so no java
    got = reference_scores([SAME], [[SAME]], similarity=False)
    assert "meteor" not in got.per_item and "meteor" not in got.corpus
    assert "java is not on PATH" in got.skipped["meteor"]
    assert got.per_item["rouge_l"][0] == 1.0


def test_meteor_skipped_when_the_jar_fails(monkeypatch):
    monkeypatch.setattr(pycoco_meteor, "METEOR_JAR", "no-such-meteor.jar")
    got = reference_scores([SAME], [[SAME]], similarity=False)
    assert "meteor" not in got.per_item
    assert got.skipped["meteor"].startswith("METEOR: the Java jar failed")
    assert "no-such-meteor.jar" in got.skipped["meteor"]  # java's own reason, passed on


def test_item_without_a_reference_is_an_error():
    with pytest.raises(ValueError, match="item 1 "):
        reference_scores(["a b", "c d"], [["a b"], []], meteor=False, similarity=False)
    with pytest.raises(ValueError, match="item 0 "):
        reference_scores(["a b"], [[" ... "]], meteor=False, similarity=False)
    with pytest.raises(ValueError, match="2 candidates but 1"):
        reference_scores(["a b", "c d"], [["a b"]], meteor=False, similarity=False)
