"""The answerability gate's features: which words of a question count as unknown to the documents."""
from __future__ import annotations

import pytest

from rag.wording import ENGLISH
from rag.types import ScoredSentence
from rag.gate import features, index_terms
from rag.text import terms

from .test_extractive import passage

TEXT = (
    "Bases in Syria let Russia project power across the region. Competition for resources shapes partnerships. "
    "Real alliances change the world balance of power."
)
VOCABULARY = set(terms(TEXT))


def known(question: str, own: str | None = None) -> float:
    p = passage(TEXT)
    scored = [ScoredSentence(0, 0, 10, TEXT[:10], 0.5, 0.5, 0.5)]
    return features(question, [p], scored, VOCABULARY, own=own, wording=ENGLISH)["known_terms"]


@pytest.mark.parametrize(
    "text, split",
    [
        ("real-world case", ["real", "world", "case"]),
        ("the essay's argument", ["argument"]),  # a possessive is the word itself; 'essay' is a stopword
        ("U.S. bases", ["base"]),
    ],
)
def test_index_terms_split_as_the_lexical_index_does(text, split):
    assert index_terms(text) == split


@pytest.mark.parametrize(
    "question, share",
    [
        ("How do real-world alliances change the balance?", 1.0),  # a hyphenated word is known by its parts
        ("How does the upside of alliances contrast with their drawbacks?", 1.0),  # comparison frame, not subject
        ("What is the annual budget of alliances?", 1 / 3),
    ],
)
def test_known_terms_ignore_the_frame_of_a_question(question, share):
    assert known(question) == pytest.approx(share)
