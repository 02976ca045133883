"""Composing an extractive answer: quotes in reading order, the short answer's own quote first."""
from __future__ import annotations

from rag.answer.compose import compose
from rag.types import Passage, ScoredSentence

ROWS = ["Port: Lindqvist Harbor | Ships: 41", "Port: Cape Sorrel | Ships: 17", "Port: Greyhaven | Ships: 35"]


def _table() -> tuple[list[Passage], list[ScoredSentence]]:
    text = "\n".join(ROWS)
    passage = Passage("c1", "ports.csv", "", text, 100, 100 + len(text))
    starts = [text.index(r) for r in ROWS]
    rows = [ScoredSentence(0, s, s + len(r), r, 0.5, 0.5, 0.5) for s, r in zip(starts, ROWS)]
    return [passage], rows


def test_quotes_are_in_reading_order_without_a_lead():
    passages, rows = _table()
    text, cites = compose(rows[::-1], passages)
    assert [c.quote for c in cites] == ROWS
    assert text.startswith("Port: Lindqvist Harbor | Ships: 41 [1].")


def test_the_row_that_holds_the_short_answer_is_quoted_first():
    passages, rows = _table()
    text, cites = compose(rows, passages, lead=rows[2])
    assert [c.quote for c in cites] == [ROWS[2], ROWS[0], ROWS[1]]  # the others keep reading order
    assert text.startswith("Port: Greyhaven | Ships: 35 [1].")
    assert (cites[0].start, cites[0].end) == (100 + rows[2].start, 100 + rows[2].end)
