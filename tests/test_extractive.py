"""Extractive sentence selection: what an answer quotes besides its best sentence, comparisons, follow-ups."""
from __future__ import annotations

from dataclasses import replace

import pytest

from rag.answer.scoring import score_sentences
from rag.answer.selection import select
from rag.types import ScoredSentence
from rag.wording import ENGLISH

aspects = ENGLISH.aspects
from rag.text import records, sentence_spans
from rag.types import Passage

from .conftest import FakeEmbeddings


def passage(text: str, section: str = "", source: str = "doc.txt", start: int = 0) -> Passage:
    return Passage(f"c{start}", source, section, text, start, start + len(text), 0.7)


def ranked(passages: list[Passage], order: list[str]) -> list[ScoredSentence]:
    """Scored sentences best first, in the order of the given sentence openings (score 1, 0.99, ...)."""
    out = []
    for rank, opening in enumerate(order):
        for pi, p in enumerate(passages):
            for a, b in sentence_spans(p.text):
                if p.text[a:b].startswith(opening):
                    out.append(ScoredSentence(pi, a, b, p.text[a:b], 0.5, 0.5, 1.0 - rank / 100))
    assert len(out) == len(order)
    return out


def quoted(chosen: list[ScoredSentence]) -> list[str]:
    return [s.text.split()[0] + " " + s.text.split()[1] for s in chosen]


def test_a_short_opening_sentence_brings_what_it_announces():
    p = passage(
        "Lastly, the costs of alliances warrant scrutiny. Defense spending may divert money from schools. "
        "Critics disagree.\nAnother paragraph starts here and goes on for a while about other things."
    )
    chosen = select(ranked([p], ["Lastly, the", "Another paragraph"]), [p], max_sentences=1, wording=ENGLISH)
    assert quoted(chosen) == ["Lastly, the", "Defense spending"]  # not "Critics disagree": no continuation


def test_a_long_sentence_does_not_bring_the_next():
    p = passage("Alliances shape the balance of power in a region by pooling the forces of many states together. Trade follows.")
    assert quoted(select(ranked([p], ["Alliances shape"]), [p], max_sentences=1, wording=ENGLISH)) == ["Alliances shape"]


def test_a_sentence_opening_with_a_pronoun_brings_the_one_it_points_to():
    p = passage(
        "The U.S. has long kept large military bases in Japan and South Korea for the defense of both. "
        "This arrangement shapes the foreign policy of these nations while enhancing regional security."
    )
    chosen = select(ranked([p], ["This arrangement"]), [p], max_sentences=1, wording=ENGLISH)
    assert quoted(chosen) == ["The U.S.", "This arrangement"]


def test_the_pointed_to_sentence_must_be_in_the_same_paragraph():
    p = passage("Some title sentence ends the paragraph here.\nThis arrangement shapes the foreign policy of these nations.")
    assert quoted(select(ranked([p], ["This arrangement"]), [p], max_sentences=1, wording=ENGLISH)) == ["This arrangement"]


def test_comparison_sides_are_told_by_their_specific_terms():
    """'engagements' names both sides of "bilateral engagements ... multilateral ones"; only the adjectives tell them apart."""
    p = passage(
        "Bilateral and multilateral engagements are pivotal mechanisms of diplomacy between many nations. "
        "Bilateral engagements involve direct interactions between two countries and many joint exercises. "
        "Multilateral engagements, on the other hand, bring together three or more countries in one forum.",
        section="Engagements",
    )
    question = "How do bilateral military engagements differ from multilateral ones?"
    assert aspects(question) == [{"bilater", "militari", "engag"}, {"multilater"}]
    scored = ranked([p], ["Bilateral and", "Bilateral engagements", "Multilateral engagements"])
    scored[2] = replace(scored[2], score=0.1)  # far below the ratio: only a side pick brings it
    chosen = select(scored, [p], question=question, wording=ENGLISH)
    assert {"Bilateral engagements", "Multilateral engagements,"} <= set(quoted(chosen))


def test_a_side_sentence_may_not_name_the_other_side_even_as_an_adjective():
    russia = passage("Russian engagement in the Middle East is led from bases in Syria and elsewhere.", "Russia")
    asia = passage("Alliances in Asia rest on bases in Japan and South Korea and many exercises.", "Asia", start=500)
    both = passage("Both the Russian role and the American role in Asia illustrate the argument of the essay.", "Cases", start=900)
    other = passage("Trade grows with trust. Exercises build trust. Talks ease tension. Budgets rise.", "Other", start=1500)
    passages = [both, russia, asia, other]
    scored = ranked(passages, ["Both the", "Russian engagement", "Alliances in", "Trade", "Exercises", "Talks", "Budgets"])
    scored = [scored[0]] + [replace(s, score=0.1) for s in scored[1:]]
    chosen = select(scored, passages, max_sentences=3, question="How does Russia's approach contrast with the approach in Asia?", wording=ENGLISH)
    assert "Alliances in" in quoted(chosen)


def test_a_follow_ups_own_words_outweigh_a_long_context():
    p = passage(
        "Key elements of peacekeeping include protection of civilians, monitoring ceasefires, disarming combatants and aid. "
        "These missions are often led by organizations such as the United Nations."
    )
    context = (
        "And which organization leads those missions? (context: What are the key elements of peacekeeping: "
        "protection of civilians, monitoring ceasefires, disarming combatants and aid)"
    )
    scored = score_sentences("And which organization leads those missions?", [p], FakeEmbeddings(), context=context)
    assert scored[0].text.startswith("These missions")


@pytest.mark.parametrize(
    "question, sides",
    [
        ("How does soft power differ from hard power?", [{"soft"}, {"hard"}]),
        ("What is the difference between bilateral and multilateral talks?", [{"bilater"}, {"multilater", "talk"}]),
        ("What is soft power?", []),
        ("How does the essay distinguish bilateral engagements from multilateral ones?", [{"bilater", "engag"}, {"multilater"}]),
        ("Contrast soft power with hard power.", [{"soft"}, {"hard"}]),
        ("Compare the foreign-policy section to the soft-power section.", [{"foreign-polici"}, {"soft-pow"}]),
        ("Where does the essay come from?", []),  # 'from' alone names no sides
    ],
)
def test_aspects(question, sides):
    assert aspects(question) == sides


def test_a_reader_reads_each_table_row_as_its_own_record():
    text = ("The garrisons were reinforced.\nCity | Soldiers\nCity: Lindqvist Harbor | Soldiers: 1,350\n"
            "City: Marrow Bay | Soldiers: 820\nSupplies came by sea.\nThey came weekly.")
    assert [text[a:b] for a, b, _ in records(text)] == [
        "The garrisons were reinforced.\nCity | Soldiers", "City: Lindqvist Harbor | Soldiers: 1,350",
        "City: Marrow Bay | Soldiers: 820", "Supplies came by sea.\nThey came weekly."]
    prose = "No table here. Only prose | with a bar."
    assert [row for _, _, row in records(text)] == [False, True, True, False]
    assert records(prose) == [(0, len(prose), False)]


def test_a_table_row_is_one_unit_and_its_header_line_is_not():
    """Rows as ingestion writes them ("City: Lindqvist Harbor | Soldiers: 1,350") are quoted whole,
    so a question about one cell can be answered from its row; the bare header line is context."""
    text = ("The garrisons were reinforced.\nCity | Soldiers\nCity: Lindqvist Harbor | Soldiers: 1,350\n"
            "City: Marrow Bay | Soldiers: 820\nSupplies came by sea.")
    units = [text[a:b] for a, b in sentence_spans(text)]
    assert units == ["The garrisons were reinforced.", "City: Lindqvist Harbor | Soldiers: 1,350",
                     "City: Marrow Bay | Soldiers: 820", "Supplies came by sea."]
