"""Rules about how English questions and sentences are worded, in one place behind one protocol.

The chain asks a ``WordingRules`` object what a question asks for (a year, a number, a name), whether
it compares two sides, asks for a list, names a section, leans on the conversation, and whether a
sentence continues or points back to the one before it. ``EnglishWording`` holds today's hand-written
rules; ``NullWording`` knows no language: every method gives the neutral answer, so the chain runs on
retrieval, scores and the fitted gate alone. Pick one by name (``Settings.wording_rules``).
"""
from __future__ import annotations

import re
from typing import Callable, Protocol

from .errors import unknown_name
from .text import BULLET, CITATION, NAME_RUN, acronyms, name_key, name_words, numbers, proper_names, same_name, same_stem, terms


class WordingRules(Protocol):
    """What the answer steps need to know about a language's wording."""

    name: str
    question_frame: frozenset[str]  # stemmed words that frame a question rather than name its subject

    def answer_kind(self, question: str) -> str | None:
        """The kind of thing asked for ('when', 'how many', 'who', 'where', 'name', 'choice'), or None."""

    def answer_type_met(self, question: str, sentence: str) -> float:
        """1.0 when ``sentence`` holds the kind of thing the question asks for (or none is asked for)."""

    def aspects(self, question: str) -> list[set[str]]:
        """For a comparison, the terms that only one side, and only the other, is named by."""

    def continues(self, sentence: str) -> bool:
        """Whether a sentence goes on from the one before it ("For example, ...")."""

    def leans_back(self, sentence: str) -> bool:
        """Whether a sentence means nothing without the one before it ("This approach ...")."""

    def asks_for_list(self, question: str) -> bool:
        """Whether a question asks for several things of a kind."""

    def closes_list(self, sentence: str) -> bool:
        """Whether a paragraph's opening sentence is a list's last item ("Lastly, ...")."""

    def named_sections(self, question: str) -> list[tuple[str, bool]]:
        """The section headings a question points at: (the words naming it, named by what it explains)."""

    def leans_on_history(self, question: str) -> bool:
        """Whether a question's wording leans on earlier turns (pronouns, "what about ...")."""

    def ordinal(self, question: str) -> tuple[int, int, int] | None:
        """"the second of those": (start, end, place in the last answer's list), or None."""

    def novelty(self, history: list, question: str, sentences: list[str]) -> float | None:
        """How new a follow-up's answer is to the conversation (the best sentence), or None: not judged."""


# -- the English rules -----------------------------------------------------------------------------

_WHEN = re.compile(
    r"^\s*when (did|was|were|is|are|will|does|do|has|have|had|could|would)\b|\b(in|since|until|by) (what|which) year\b|"
    r"\b(what|which) (year|date|decade|century)\b|\bon what date\b",
    re.I,
)
_HOW_MANY = re.compile(r"\bhow (many|much|long|often|old)\b|\b(what|which) (percentage|number|amount|proportion|share)\b", re.I)
_WHO = re.compile(r"^\s*(who|whom|whose)\b", re.I)
_YEARISH = re.compile(r"\b(1\d{3}|20\d{2})s?\b|\b(January|February|March|April|May|June|July|August|September|October|November|December)\b")
_NUMERIC_WORD = re.compile(r"\b(two|three|four|five|six|seven|eight|nine|ten|hundreds?|thousands?|millions?|billions?|dozens?|several)\b", re.I)
_WHERE = re.compile(
    r"^\s*where\b.*\b(located|based|stationed|deployed|held|situated|headquartered|built|fought)\b|\b(in|to|from|at) (what|which)(?: [a-z]+){0,2}? (country|countries|city|cities|region|regions|place|places|location)\b"
    r"|\b(what|which) (country|countries|city|cities|region|regions|location|locations)\b",
    re.I,
)
# "Which book ...", "What treaty ...": things known by their names, so an answer names one.
_NOT_ADJECTIVE = (
    r"(?!(?:do|does|did|is|are|was|were|can|could|will|would|should|shall|has|have|had|might|may|must|"
    r"a|an|the|its|their|his|her)\b)"
)
_WHICH_NAMED = re.compile(
    r"\b(which|what)(?: " + _NOT_ADJECTIVE + r"[a-z]+){0,2}? (book|books|treaty|treaties|agreement|accord|pact|"
    r"organi[sz]ation|institution|government|regime|leader|president|minister|author|scholar|person|company|"
    r"companies|operation|war|document|report|article|law|doctrine|conference|summit|university|newspaper|fleet|"
    r"base|ship|program|programme)\b"
    # people are known by their names in the plural too ("which scholars"); "what kinds of
    # agreements" asks for kinds, so plural things are left out
    r"|\b(which|what)(?: " + _NOT_ADJECTIVE + r"[a-z]+){0,2}? (scholars|experts|authors|leaders|presidents|ministers|"
    r"officials|generals|commanders|people|persons|individuals)\b"
    # "what is the name of ...", "the names of the ..."
    r"|\bnames? of (?:the|a|an|this|that|these|those|its|their|his|her)\b"
    # "what nations can achieve" is a clause, "which nations" asks for names; so do "which attack",
    # "which crisis": one event among others is told by its name
    r"|\bwhich(?: " + _NOT_ADJECTIVE + r"[a-z]+){0,2}? (country|countries|nation|nations|state|states|attack|cyberattack|"
    r"incident|crisis|battle|event|mission|exercise|conflict)\b",
    re.I,
)
# "Which is more effective, NATO or the UN?": a judgement between things, which only a passage that
# compares them on that quality gives.
_CHOICE = re.compile(r"\b(which|who)\b[^?]*?\b(more|most|less|least|better|best|worse|worst)\b(?: ([a-z]+))?", re.I)
_COMPARATIVE = re.compile(r"\b(more|most|less|least|better|best|worse|worst|than)\b", re.I)
_NUMBER_THEN = r"\b(?:\d[\d,.]*|two|three|four|five|six|seven|eight|nine|ten|hundreds?|thousands?|millions?|billions?|dozens?|several)"
# "how many nuclear weapons does ...": the thing counted, which the number in an answer must count.
_COUNTED = re.compile(
    r"\bhow many\s+((?:(?!(?:do|does|did|is|are|was|were|can|could|will|would|have|has|had|take|took|exist)\b)[\w.'’-]+\s+){1,4})",
    re.I,
)


# Words that frame a question rather than name its subject ("the main tasks of", "who came up
# with the idea of"): a paraphrase uses them freely, so their absence from the documents says nothing.
QUESTION_FRAME = frozenset(
    terms(
        "main key primary major idea concept notion term came come comes coming up use used uses play plays role "
        "purpose aim goal effect effects impact way ways type types kind kinds sort sorts example examples reason "
        "reasons mean means meaning call called name named task tasks part parts thing things aspect aspects "
        "benefit benefits advantage advantages problem problems issue issues happen happens result results "
        "important importance significance significant factor factors feature features point points describe "
        "explain give given list name show shows help helps make makes get gets take takes "
        # comparing, and what a text argues or expects, frame a question too
        "compare compared comparison contrast contrasts differ differs difference differences similar similarity "
        "account argument argue argues claim claims view views expect expects upside downside drawback drawbacks "
        "disadvantage disadvantages gain gains "
        # qualifiers: "which specific ...", "what concrete ...", "who usually ..."
        "specific exactly particular concrete typically usually "
        # the document itself and its parts: "what does the essay say", "in the section on"
        "essay essays section sections author authors writer text document documents passage passages paragraph "
        "paragraphs chapter chapters mention mentions mentioned say says said according define defines defined "
        "definition definitions opening closing introduction introduces introducing conclusion summary summarize summarise"
    )
)

_NAME_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’.\-]*")
_KINDS = (("when", _WHEN), ("how many", _HOW_MANY), ("who", _WHO), ("where", _WHERE), ("name", _WHICH_NAMED), ("choice", _CHOICE))

# A sentence that opens like this leans on the one before it ("This approach enables ...",
# "Key elements include:"): it elaborates the chosen sentence, so it belongs in the answer.
_CONTINUES = re.compile(
    r"^(This|These|That|Those|It|Its|They|Their|Such|Key elements|For example|For instance|Furthermore|"
    r"Additionally|Moreover|Consequently|As a result|Thus|However|In addition|Similarly|Likewise|Conversely|-)\b"
    # "Through these engagements, ...", "In this context, ...": a demonstrative in the opening phrase
    r"|^[A-Z][a-z]+(?: [a-z]+)? (?:this|these|those|such(?! as))\b",
    re.I,
)


_CONTRAST = re.compile(
    r"\b(?:differs? from|different from|compared? (?:with|to)|contrasts? with|versus|vs\.?|as opposed to|rather than)\b"
    r"|(?<=\bbetween\b)(?=.*\band\b)",
    re.I,
)


# "How does the essay distinguish X from Y?", "Contrast X with Y.": the two sides stand around the
# second word.
_TWO_SIDED = re.compile(
    r"\bdistinguish(?:es|ed|ing)?\s+(?P<x>.+?)\s+from\s+(?P<y>.+)"
    r"|^\s*(?:compare|contrast)\s+(?P<x2>.+?)\s+(?:with|to|against)\s+(?P<y2>.+)",
    re.I,
)

# A sentence that opens with a pronoun ("This arrangement shapes ...") means nothing without the
# sentence it points back to: that one is quoted before it.
_LEANS_BACK = re.compile(r"^(This|These|That|Those|It|Its|They|Their|Such|Both)\b|^[A-Z][a-z]+(?: [a-z]+)? (?:this|these|those|such(?! as))\b")

# "What trends ...", "What are the main criticisms of ...", "Which challenges ...", "List the ...":
# a question that asks for several things of a kind.
_LIST_QUESTION = re.compile(
    r"^\s*(?:(?:what|which)\s+(?:(?:are|were|will be)\s+)?(?:the\s+)?(?:(?:main|key|major|primary|principal|different|various)\s+)?"
    r"(?!(?:is|was|has|does|this|its|as|us|yes|less|unless|perhaps)\b)(?P<noun>[a-z]+s)\b(?<!ss)(?<!us)|(?:list|name|enumerate)\b)",
    re.I,
)
_LAST_ITEM = re.compile(r"^(Lastly|Finally|In conclusion|To conclude|Overall)\b", re.I)

_SECTION_NAMED = re.compile(
    # "the section that explains what military diplomacy is": named by what it explains
    r"\b(?:section|part|chapter|subsection)\s+(?:that|which)\s+(?:explains|describes|introduces|covers|discusses|defines|"
    r"deals with|is about|talks about|looks at)\s+(?:what\s+)?(?:the\s+)?(?P<what>[^,.;:?!()]{3,80}?)(?:\s+(?:is|are|means))?(?=[,.;:?!()]|$)"
    r"|\b(?:section|part|chapter|heading|subsection)\s+(?:on|about|of|called|titled|named|headed|covering|dealing with)\s+"
    r"(?:the\s+)?(?P<after>[^,.;:?!()]{3,80})"
    r"|\bthe\s+(?P<before>(?:[\w’'-]+\s+){0,4}?[\w’'-]+)\s+(?:section|part|chapter|subsection)\b",
    re.I,
)

_ANAPHORA = re.compile(
    r"\b(it|its|it's|they|them|their|theirs|this|that|these|those|he|him|his|she|her|hers|there|then|"
    r"former|latter|first one|second one|other one|the second|the first|the other|the same|such|above|"
    r"previous|earlier|mentioned)\b"
    r"|\b(the|that|this|which) (\w+ )?ones?\b",  # "the economic one", "which ones"
    re.I,
)
_CONTINUATION = re.compile(
    r"^\s*(and|but|also|so|what about|how about|why|what else|anything else|more|expand|elaborate|go on|tell me more)\b"
    r"|\b(expand on|elaborate on|more about|more detail|say more|explain further)\b",  # "Can you expand on ...?"
    re.I,
)

_ORDINAL = re.compile(
    r"\bthe (first|second|third|fourth|fifth|last|former|latter)(?: one| kind| item)?(?: (?:of|among) (?:those|these|them|the \w+))?\b",
    re.I,
)
_PLACE = {"first": 0, "second": 1, "third": 2, "fourth": 3, "fifth": 4, "last": -1, "former": 0, "latter": -1}


def _new(found: set[str], question: str) -> bool:
    """Whether any of ``found`` is not already in the question: "Where are those bases?" is not
    answered by repeating the place the conversation already named."""
    asked = {name_key(w) for w in _NAME_WORD.findall(question)}
    return any(not any(same_name(name_key(f), a) for a in asked) for f in found)


def _names_an_option(question: str, sentence: str) -> bool:
    """Whether the sentence names one of the names in the question, a many-word name ("the United
    Nations") whole or by its initials; true when the question names none."""
    runs = [m.group(0) for m in NAME_RUN.finditer(question)]
    in_runs = {w for r in runs for w in r.split()}
    singles = {name_key(n) for n in proper_names(question) if n not in in_runs}
    if not runs and not singles:
        return True
    words = name_words(sentence)
    low = " ".join(sentence.lower().split())
    return any(r.lower() in low or acronyms(r) & words for r in runs) or any(same_name(n, w) for n in singles for w in words)


def says_new(history: list, question: str, answer: str) -> float:
    """The share of the answer's content words that neither the question nor the conversation so
    far has used: what a follow-up's answer adds."""
    said = set(terms(question))
    for turn in history:
        for text in turn:
            said |= set(terms(CITATION.sub(" ", str(text or ""))))
    words = set(terms(answer))
    return len(words - said) / len(words) if words else 0.0


class EnglishWording:
    """Today's rules for English questions: patterns fitted by hand on the golden set's dev split."""

    name = "english"
    question_frame = QUESTION_FRAME

    def answer_kind(self, question: str) -> str | None:
        for kind, pattern in _KINDS:
            if pattern.search(question):
                return kind
        return None

    def answer_type_met(self, question: str, sentence: str) -> float:
        kind = self.answer_kind(question)
        if kind is None:
            return 1.0
        if kind == "choice":
            # the quality judged ("more effective") must be stated of one of the options named
            m = _CHOICE.search(question)
            quality = terms(m.group(3) or "")
            compared = _COMPARATIVE.search(sentence) and (not quality or quality[0] in terms(sentence))
            return 1.0 if compared and _names_an_option(question, sentence) else 0.0
        found = _FOUND[kind](question, sentence)
        return 1.0 if found and _new(found, question) else 0.0

    def aspects(self, question: str) -> list[set[str]]:
        if two := _TWO_SIDED.search(question):
            left, right = two.group("x") or two.group("x2"), two.group("y") or two.group("y2")
        elif not (m := _CONTRAST.search(question)):
            return []
        elif m.group(0) == "":  # "between X and Y"
            left, _, right = question[m.end() :].partition(" and ")
        else:
            left, right = question[: m.start()], question[m.end() :]
        lt, rt = set(terms(left)), set(terms(right))
        sides = [lt - rt, rt - lt]
        return sides if all(sides) else []

    def continues(self, sentence: str) -> bool:
        return bool(_CONTINUES.match(sentence))

    def leans_back(self, sentence: str) -> bool:
        return bool(_LEANS_BACK.match(sentence))

    def asks_for_list(self, question: str) -> bool:
        return bool(_LIST_QUESTION.match(question))

    def closes_list(self, sentence: str) -> bool:
        return bool(_LAST_ITEM.match(sentence))

    def named_sections(self, question: str) -> list[tuple[str, bool]]:
        return [(m.group("what") or m.group("after") or m.group("before"), bool(m.group("what"))) for m in _SECTION_NAMED.finditer(question)]

    def leans_on_history(self, question: str) -> bool:
        return bool(_ANAPHORA.search(question) or _CONTINUATION.match(question))

    def ordinal(self, question: str) -> tuple[int, int, int] | None:
        m = _ORDINAL.search(question)
        return (m.start(), m.end(), _PLACE[m.group(1).lower()]) if m else None

    def novelty(self, history: list, question: str, sentences: list[str]) -> float | None:
        return max((says_new(history, question, s) for s in sentences), default=0.0)


def _found_time(question: str, sentence: str) -> set[str]:
    return {m.group(0) for m in _YEARISH.finditer(sentence)}


def _found_count(question: str, sentence: str) -> set[str]:
    found = {w.lower() for w in _NUMERIC_WORD.findall(sentence)} | numbers(sentence)
    counted = _COUNTED.search(question)
    if counted and found:
        # "two countries" answers "how many countries", not "how many nuclear weapons"
        head = terms(counted.group(1).split()[-1])
        near = re.findall(_NUMBER_THEN + r"((?:\s+[\w’'-]+){1,4})", sentence, re.I)
        if head and not any(same_stem(head[0], t) for w in near for t in terms(w)):
            return set()
    return found


def _found_name(question: str, sentence: str) -> set[str]:
    """A person, a place or a named thing: a capitalised word that does not open the sentence."""
    return set().union(*(proper_names(BULLET.sub("", line)) for line in sentence.splitlines()))


_FOUND: dict[str, Callable[[str, str], set[str]]] = {"when": _found_time, "how many": _found_count, "who": _found_name, "where": _found_name, "name": _found_name}


class NullWording:
    """No wording rules: every answer is the neutral one (nothing asked for, no sides, no lists)."""

    name = "none"
    question_frame: frozenset[str] = frozenset()

    def answer_kind(self, question: str) -> str | None:
        return None

    def answer_type_met(self, question: str, sentence: str) -> float:
        return 1.0

    def aspects(self, question: str) -> list[set[str]]:
        return []

    def continues(self, sentence: str) -> bool:
        return False

    def leans_back(self, sentence: str) -> bool:
        return False

    def asks_for_list(self, question: str) -> bool:
        return False

    def closes_list(self, sentence: str) -> bool:
        return False

    def named_sections(self, question: str) -> list[tuple[str, bool]]:
        return []

    def leans_on_history(self, question: str) -> bool:
        return False

    def ordinal(self, question: str) -> tuple[int, int, int] | None:
        return None

    def novelty(self, history: list, question: str, sentences: list[str]) -> float | None:
        return None


ENGLISH = EnglishWording()
WORDING_RULES: dict[str, Callable[[], WordingRules]] = {"english": EnglishWording, "none": NullWording}

# The English rules by family, for the ablation (``english-without:FAMILY[+FAMILY...]``): each family
# is the protocol members that switch off together, a switched-off member giving NullWording's answer.
FAMILIES: dict[str, tuple[str, ...]] = {
    "answer_type": ("answer_kind", "answer_type_met"),
    "comparison": ("aspects",),
    "continuation": ("continues",),
    "leans_back": ("leans_back",),
    "lists": ("asks_for_list", "closes_list"),
    "sections": ("named_sections",),
    "history": ("leans_on_history",),
    "ordinal": ("ordinal",),
    "novelty": ("novelty",),
    "question_frame": ("question_frame",),
}
WITHOUT = "english-without:"


class AblatedWording:
    """The English rules with some families switched off (NullWording's answers in their place)."""

    def __init__(self, off: tuple[str, ...]):
        self.name = WITHOUT + "+".join(off)
        members, null = {m for family in off for m in FAMILIES[family]}, NullWording()
        for member in {m for ms in FAMILIES.values() for m in ms}:
            setattr(self, member, getattr(null if member in members else ENGLISH, member))


def wording_families_off(name: str) -> tuple[str, ...] | None:
    """The families an ``english-without:`` name switches off (validated), or None for another name."""
    if not name.startswith(WITHOUT):
        return None
    off = tuple(f for f in name[len(WITHOUT):].split("+") if f)
    for family in off:
        if family not in FAMILIES:
            raise unknown_name("wording rule family", family, list(FAMILIES))
    return off


def load_wording(name: str) -> WordingRules:
    """The wording rules registered under ``name``; an unknown name lists the known ones."""
    off = wording_families_off(name)
    if off is not None:
        return AblatedWording(off)
    if name not in WORDING_RULES:
        raise unknown_name("wording rules", name, [*WORDING_RULES, WITHOUT + "FAMILY[+FAMILY]"])
    return ENGLISH if name == "english" else WORDING_RULES[name]()
