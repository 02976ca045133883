"""The rules that decide what an answer must hold and where it comes from: answer kinds, names,
follow-ups that add nothing, lists that run through a section, questions that name a section,
and the gate's fit. Fakes only; tests/test_chain_integration.py runs the real models."""
from __future__ import annotations

import numpy as np
import pytest

from rag import build_chain
from eval.gate_fit import C_GRID, fit_gate
from rag.answer.scoring import _cache, encode_cached, score_sentences
from rag.answer.selection import follow_on, opens_section, referenced_sections, section_leads
from rag.gate import Gate, features
from rag.settings import Settings
from rag.text import acronyms, proper_names
from rag.types import Passage, ScoredSentence
from rag.wording import ENGLISH, says_new

answer_kind, answer_type_met, asks_for_list = ENGLISH.answer_kind, ENGLISH.answer_type_met, ENGLISH.asks_for_list

from .conftest import FakeEmbeddings

ALWAYS = Gate({}, 10.0, 0.5, {})


# -- answer kinds -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "question, kind",
    [
        ("When was NATO founded?", "when"),
        ("How many countries take part?", "how many"),
        ("Who coined the term soft power?", "who"),
        ("Where exactly are those bases located?", "where"),
        ("In which Middle Eastern country is Russia most engaged?", "where"),
        ("Which book did Joseph Nye publish on soft power?", "name"),
        ("Which international treaty regulates AI weapons?", "name"),
        ("Which weaker state does the essay name?", "name"),
        ("List what nations can achieve through engagements.", None),  # a clause, not "which nations"
        ("What does a country gain for its image?", None),
        ("Where do countries see their influence grow?", None),  # no physical place asked for
        ("What is soft power?", None),
        ("Which scholars does the essay name as critics?", "name"),  # people, in the plural too
        ("What kinds of agreements does partnership ease?", None),  # kinds of things, not names
        ("What is the name of the exchange program?", "name"),
        ("Which is more effective at crisis management, NATO or the United Nations?", "choice"),
        ("Which of them has proven most successful?", "choice"),
        ("Which cyberattack does the essay cite as the trigger?", "name"),  # one event among others
        ("What crisis management role does NATO play?", None),
    ],
)
def test_answer_kind(question, kind):
    assert answer_kind(question) == kind


@pytest.mark.parametrize(
    "question, sentence, met",
    [
        # the thing asked must be new: the question already holds Syria
        ("Where are the bases located? (context: Russia supports regimes such as Syria)", "Russia supports regimes such as Syria.", 0.0),
        ("Where has the U.S. set up bases?", "In Asia, the U.S. has established military bases.", 1.0),
        ("Which book did Joseph Nye publish?", "Soft power, a term coined by Joseph Nye, means attraction.", 0.0),
        ("Which regime did Russia back?", "By supporting the Assad regime, Russia secured its influence.", 1.0),
        # a number must count what is asked about, and 'one' counts nothing
        ("How many nuclear weapons does North Korea have?", "Bilateral ties bind two countries.", 0.0),
        ("How many countries take part in multilateral ones?", "They bring together three or more countries.", 1.0),
        ("How many troops are in Japan?", "One of the roles of troops is deterrence.", 0.0),
        ("How many troops are in Japan?", "The U.S. keeps 50,000 troops in Japan.", 1.0),
        # a choice needs the quality judged, compared, of one of the options named whole
        ("Which is more effective, NATO or the United Nations?", "Bodies such as NATO or the United Nations focus on crisis management.", 0.0),
        ("Which is more effective, NATO or the United Nations?", "Nations shape policies more effectively in forums.", 0.0),
        ("Which is more effective, NATO or the United Nations?", "NATO has proven more effective than other alliances.", 1.0),
        ("Which is more effective, NATO or the United Nations?", "The UN is the more effective body.", 1.0),
        ("Which scholars are the critics?", "Critics argue that presence seldom addresses root causes.", 0.0),
        ("Which scholars are the critics?", "Critics such as Joseph Nye argue otherwise.", 1.0),
    ],
)
def test_answer_type_needs_a_new_thing_of_the_kind(question, sentence, met):
    assert answer_type_met(question, sentence) == met


# -- names ----------------------------------------------------------------------------------------
def test_capitals_that_open_a_clause_are_not_names():
    q = "What might that encourage? (context: Can exercises change how a country is seen?: Yes. A country gains.)"
    assert proper_names(q) == set()
    assert proper_names("Where is the U.S. Navy's Seventh Fleet?") >= {"Seventh", "Fleet"}


def test_acronyms_of_multiword_names():
    assert acronyms("bodies such as the United Nations or the North Atlantic Treaty Organization") >= {"un", "nato"}


def p(text: str, section: str = "", start: int = 0, source: str = "essay.txt", score: float = 0.7) -> Passage:
    return Passage(f"c{start}", source, section, text, start, start + len(text), score)


def scored_of(passages: list[Passage], question: str) -> list[ScoredSentence]:
    return score_sentences(question, passages, FakeEmbeddings())


@pytest.mark.parametrize(
    "question, found",
    [
        ("In which Middle Eastern country is Russia's engagement most prominent?", 1.0),  # Eastern ~ East, Russia's ~ Russian
        ("What do bodies like NATO or the UN focus on?", 1.0),  # UN = United Nations
        ("What did Brazil's navy do?", 0.0),
    ],
)
def test_names_match_stems_adjectives_and_acronyms(question, found):
    ps = [p("Russian military engagement in the Middle East, notably in Syria, is led with NATO and the United Nations.")]
    assert features(question, ps, scored_of(ps, question), wording=ENGLISH)["names_found"] == found


# -- follow-ups -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "question, answer, resolved",
    [
        ("How can the second of those affect a country's standing?", "Military exchanges, joint exercises, and defense dialogues among states.",
         "How can joint exercises affect a country's standing?"),
        ("What about the latter?", "Cyber warfare and artificial intelligence [1].", "What about artificial intelligence?"),
        ("And the first one?", "Key elements include:\n- Protection of civilians\n- Monitoring ceasefires", "And Protection of civilians?"),
        ("In the second one, who was backed?", "The U.S. presence in Asia and Russian engagement in the Middle East.",
         "In Russian engagement in the Middle East, who was backed?"),  # "U.S." does not end the sentence
        ("What about the third?", "Cyber warfare and artificial intelligence.", "What about the third?"),  # no third item
        ("What about the first?", "It is a sentence without a list.", "What about the first?"),
        ("What does that lead to?", "Military exchanges, joint exercises, and defense dialogues.", "What does that lead to?"),
    ],
)
def test_an_ordinal_names_the_item_the_last_answer_listed(question, answer, resolved):
    from rag.answer.condense import resolve_ordinals

    assert resolve_ordinals(question, [("What is listed?", answer)], ENGLISH) == resolved


def test_the_standalone_question_names_the_item_an_ordinal_points_at():
    ps = [p("Joint exercises may enhance a country's credibility as a regional leader.")]
    history = [["What activities does military diplomacy include?", "Military exchanges, joint exercises, and defense dialogues among states."]]
    a = run(SectionRetriever(ps, ps), "How can the second of those affect its standing?", history)
    assert a.standalone_question.startswith("How can joint exercises affect its standing? (context:")
    assert a.question == "How can the second of those affect its standing?"


def test_says_new_measures_what_the_conversation_has_not_said():
    history = [("What about climate change?", "Competition for resources may lead to security partnerships [1].")]
    assert says_new(history, "Which resources?", "Competition for resources may lead to security partnerships.") < 0.5
    assert says_new(history, "Which resources?", "Water and arable land will be contested by rival states.") == 1.0


class SectionRetriever:
    """A fixed retriever that also knows the sections, as HybridRetriever does."""

    def __init__(self, retrieved: list[Passage], everything: list[Passage]):
        self.retrieved, self.everything = retrieved, everything

    def search(self, query, k=None, method="hybrid"):
        return list(self.retrieved)[: k or 5]

    def sections(self):
        return list(dict.fromkeys((q.source, q.section) for q in self.everything if q.section))

    def section(self, source, section, limit=12, query=None):
        return sorted((q for q in self.everything if (q.source, q.section) == (source, section)), key=lambda q: q.start)[:limit]


def run(retriever, question, history=None):
    chain = build_chain(Settings(persist_dir="/nonexistent"), embeddings=FakeEmbeddings(), retriever=retriever, gate=ALWAYS)
    return chain.invoke({"question": question, "history": history or []})


CLIMATE = p(
    "Environmental challenges, such as climate change, will influence military diplomacy. "
    "Increased competition for resources may lead to security-oriented partnerships among countries.",
    "Future Trends",
)


def test_a_follow_up_answered_only_with_what_was_said_is_refused():
    history = [["What does the essay say about climate change?", "Increased competition for resources may lead to security-oriented partnerships among countries."]]
    a = run(SectionRetriever([CLIMATE], [CLIMATE]), "Which specific resources will they compete for?", history)
    assert a.refused and a.support["novelty"] < 0.5


def test_a_follow_up_goes_on_from_the_sentence_last_quoted():
    ethics = p(
        "Military diplomacy raises ethical questions about power. "
        "It can be perceived as a means for powerful nations to exert control over weaker states. "
        "Such actions may foster resentment and hinder genuine diplomatic efforts.\n"
        "Nations may perceive military engagement as a threat, which can lead to a dilemma.",
        "Criticisms",
    )
    said = "It can be perceived as a means for powerful nations to exert control over weaker states [1]."
    scored = scored_of([ethics], "What can that lead to?")
    assert not scored[0].text.startswith("Such actions")
    after = follow_on(scored, [ethics], said)
    assert [s.text.split()[0] for s in after[:2]].count("Such") == 1 and after[0].score == after[1].score
    a = run(SectionRetriever([ethics], [ethics]), "What can that lead to?", [["What ethical concerns are raised?", said]])
    assert "resentment" in a.answer and not a.refused


# -- lists that run through a section ----------------------------------------------------------
TRENDS = [
    p("Future Trends\nThe future trends in military diplomacy will reflect multipolarity. This shift will matter.\n"
      "Emerging technologies, such as cyber warfare, will redefine engagements. Nations may forge cyber alliances.", "Future Trends", 0),
    p("Environmental challenges, such as climate change, will also influence military diplomacy.\n"
      "Lastly, humanitarian missions could promote dialogue. This approach may help.\n"
      "The interaction between diplomacy and politics forms a nexus.", "Future Trends", 300),
]


def test_list_questions_are_recognised():
    assert asks_for_list("What trends does the essay expect?")
    assert asks_for_list("What are the main criticisms of military diplomacy?")
    assert asks_for_list("List the activities of military diplomacy.")
    assert not asks_for_list("What is soft power?")
    assert not asks_for_list("What does the essay discuss?")


def test_section_leads_take_each_paragraph_up_to_the_last_item():
    leads = [s.text.split()[0] for s in section_leads(TRENDS, [0, 1], ENGLISH)]
    # a short opening sentence brings the next; the closing "The interaction ..." is not an item
    assert leads == ["The", "This", "Emerging", "Nations", "Environmental", "Lastly,", "This"]


def test_a_list_question_answered_by_a_section_opener_quotes_the_whole_section():
    only_first = SectionRetriever([TRENDS[0]], TRENDS)  # the second chunk was not retrieved
    a = run(only_first, "What trends will shape military diplomacy in the future?")
    assert opens_section(scored_of([TRENDS[0]], "What trends will shape military diplomacy in the future?")[0], [TRENDS[0]])
    assert "climate change" in a.answer and "humanitarian" in a.answer and "nexus" not in a.answer
    assert {c.chunk_id for c in a.citations} == {"c0", "c300"} and len(a.retrieved) == 2


# -- questions that name a section ----------------------------------------------------------------
SECTIONS = [("essay.txt", "Shaping Foreign Policy"), ("essay.txt", "Military Diplomacy as a Tool for Conflict Resolution"), ("essay.txt", "Peacekeeping Operations")]


@pytest.mark.parametrize(
    "question, section",
    [
        ("In the section on shaping foreign policy, what can states do?", "Shaping Foreign Policy"),
        ("According to the conflict-resolution section, how do forces operate?", "Military Diplomacy as a Tool for Conflict Resolution"),
        ("How do peacekeeping operations operate?", None),  # no section named: 'operate' is not a reference
        ("What does the section introducing diplomacy say?", None),  # no heading holds those words
    ],
)
def test_referenced_section(question, section):
    got = (referenced_sections(question, SECTIONS, ENGLISH) or [None])[0]
    assert (got[1] if got else None) == section


def test_sections_named_by_what_they_explain_and_two_at_once():
    sections = SECTIONS + [("essay.txt", "Understanding Military Diplomacy"), ("essay.txt", "Soft Power and Military Diplomacy")]
    # the heading that holds 'military diplomacy' and fewest other words
    q = "In the section that explains what military diplomacy is, what does it shape?"
    assert referenced_sections(q, sections, ENGLISH) == [("essay.txt", "Understanding Military Diplomacy")]
    q = "Compare what the foreign-policy section says with what the soft-power section says."
    assert referenced_sections(q, sections, ENGLISH) == [("essay.txt", "Shaping Foreign Policy"), ("essay.txt", "Soft Power and Military Diplomacy")]
    # named by its heading, 'military diplomacy' alone matches several: no guess
    assert referenced_sections("In the section on military diplomacy, what is said?", sections, ENGLISH) == []


def test_a_comparison_of_two_named_sections_quotes_both():
    policy = p("Joint exercises may enhance a country's credibility as a regional leader.", "Shaping Foreign Policy", 900)
    soft = p("Joint exercises enhance soft power and cultivate a favorable reputation.", "Soft Power and Military Diplomacy", 2000)
    other = p("Joint exercises are common among allies.", "Peacekeeping Operations", 100)
    q = "Compare what joint exercises do in the foreign-policy section with what they do in the soft-power section."
    a = run(SectionRetriever([other], [other, policy, soft]), q)
    assert "regional leader" in a.answer and "favorable reputation" in a.answer and "common among allies" not in a.answer


def test_a_sentence_opening_with_a_demonstrative_phrase_continues_the_one_before():
    from rag.wording import _CONTINUES, _LEANS_BACK

    for text in ("Through these engagements, countries address needs.", "In this context, states act.", "This shift matters."):
        assert _CONTINUES.match(text) and _LEANS_BACK.match(text)
    for text in ("Through initiatives such as exchanges, countries gain.", "Military diplomacy is a tool.", "Nations that act this way gain."):
        assert not _LEANS_BACK.match(text)


def test_a_question_naming_a_section_is_answered_from_it():
    policy = p("Through military engagements, states can project power and foster alliances.", "Shaping Foreign Policy", 900)
    other = p("Through military engagements, states shape what they can do in peacekeeping.", "Peacekeeping Operations", 100)
    a = run(SectionRetriever([other], [other, policy]), "In the section on shaping foreign policy, what can states do through military engagements?")
    assert "project power" in a.answer and a.citations[0].chunk_id == "c900" and a.retrieved[0].chunk_id == "c900"


# -- encoding and fitting -------------------------------------------------------------------------
class BatchSensitive(FakeEmbeddings):
    """Vectors that change with their batch-mates, as int8 activations quantized per batch do."""

    id = "batch-sensitive"

    def encode(self, texts, batch_size=None):
        out = super().encode(texts)
        return out * (1.0 + 0.01 * (len(texts) - 1))


def test_sentence_vectors_do_not_depend_on_their_batch():
    _cache.clear()
    emb = BatchSensitive()
    together = encode_cached(emb, ["Alpha beta gamma.", "Delta epsilon."])
    _cache.clear()
    alone = encode_cached(emb, ["Alpha beta gamma."])
    assert np.array_equal(together[0], alone[0])
    _cache.clear()


def gate_rows(seed: int, n: int, refuse_every: int, levels: tuple[float, float], spread: float, noise: float, feats: tuple[str, ...]):
    """Synthetic gate rows: every ``refuse_every``-th case unanswerable, the rest around the higher
    level; the rules' features met."""
    rng = np.random.default_rng(seed)
    rows, labels = [], []
    for i in range(n):
        answerable = i % refuse_every != 0
        level = levels[0 if answerable else 1] + rng.normal(0, spread)
        rows.append({**{f: float(np.clip(level + rng.normal(0, noise), 0, 1)) for f in feats}, "answer_type": 1.0, "names_found": 1.0, "names_in_best": 1.0})
        labels.append(answerable)
    return rows, labels


def test_fit_gate_chooses_its_regularisation_and_counts_the_follow_up_rule():
    rows, labels = gate_rows(0, 27, 3, (0.7, 0.4), 0.12, 0.05, ("best_similarity", "best_overlap", "top_passage", "coverage", "known_terms"))
    # an unanswerable follow-up that looks answerable, refused by the novelty rule whatever its score
    rows.append({**rows[1], "novelty": 0.2})
    labels.append(False)
    gate = fit_gate(rows, labels)
    assert gate.info["C"] in C_GRID and gate.info["cv_balanced_accuracy"] > 0.75
    assert not gate.answerable(rows[-1])[0]
    answered = [gate.answerable(r)[0] for r in rows]
    tpr = np.mean([a for a, y in zip(answered, labels) if y])
    tnr = np.mean([not a for a, y in zip(answered, labels) if not y])
    assert min(tpr, tnr) > 0.75


def test_fit_gate_on_noisy_features_answers_and_refuses_well_above_chance():
    # Overlapping classes: the threshold, set on leave-one-out scores, must still separate them.
    rows, labels = gate_rows(1, 40, 4, (0.62, 0.45), 0.1, 0.1, ("best_similarity", "top_passage", "coverage"))
    gate = fit_gate(rows, labels)
    assert 0.0 < gate.threshold < 1.0 and 0.5 < gate.info["cv_balanced_accuracy"] <= 1.0
    answered = np.array([gate.answerable(r)[0] for r in rows])
    y = np.array(labels)
    assert answered[y].mean() + (~answered[~y]).mean() > 1.2  # well above chance on the cases it was fitted on


def test_a_runner_up_that_repeats_a_quoted_sentence_gives_way_to_one_that_does_not():
    from rag.answer.selection import select

    text = (
        "Military diplomacy shapes foreign policy and national security strategies.\n"
        "Military diplomacy shapes the foreign policy and security strategies of states.\n"
        "Such shifts make foreign policy prioritize collective security commitments."
    )
    ps = [p(text)]
    spans = [(0, text.index("\n")), (text.index("\n") + 1, text.rindex("\n")), (text.rindex("\n") + 1, len(text))]
    scores = [1.0, 0.98, 0.95]  # the near-repeat scores higher than the new point
    scored = [ScoredSentence(0, a, b, text[a:b], 0.5, 0.5, sc) for (a, b), sc in zip(spans, scores)]
    chosen = select(scored, ps, max_sentences=2, wording=ENGLISH)
    assert [c.text.split()[0] for c in chosen] == ["Military", "Such"]
