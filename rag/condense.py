"""Rewrite a follow-up question into a standalone one, only when it needs the history."""
from __future__ import annotations

import re

from .text import CITATION, sentence_spans, terms

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


def listed_items(answer: str) -> list[str]:
    """The items of a list an answer gives: its bullet lines, or the parts of its first sentence
    (after a colon, if it has one) separated by commas and 'and'."""
    text = CITATION.sub("", answer or "")
    bullets = [m.group(1).strip() for m in re.finditer(r"^\s*(?:[-*•]|\d+[.)])\s+(.+)$", text, re.M)]
    if len(bullets) >= 2:
        return [b.rstrip(".;") for b in bullets]
    flat = " ".join(text.split())
    spans = sentence_spans(flat)
    first = (flat[spans[0][0] : spans[0][1]] if spans else flat).rstrip(".!?")
    first = first.rsplit(":", 1)[-1]
    items = [i.strip() for i in re.split(r",\s*(?:and|or)\s+|,\s*|\s+(?:and|or)\s+", first) if i.strip()]
    return items if 2 <= len(items) <= 8 and all(len(i.split()) <= 8 for i in items) else []


def resolve_ordinals(question: str, history: list) -> str:
    """"How can the second of those affect ...?" after a list: the second item put in its place.
    Unchanged when there is no such reference, or the last answer lists nothing to count."""
    m = _ORDINAL.search(question)
    if not m or not history:
        return question
    items = listed_items(history[-1][1] if len(history[-1]) > 1 else "")
    place = _PLACE[m.group(1).lower()]
    if not items or place >= len(items):
        return question
    return question[: m.start()] + items[place] + question[m.end() :]


def is_follow_up(question: str, history: list) -> bool:
    """Whether the question leans on earlier turns (pronouns, 'what about ...', or too few terms of its own)."""
    if not history:
        return False
    return bool(_ANAPHORA.search(question) or _CONTINUATION.match(question) or len(set(terms(question))) <= 1)


def condense(question: str, history: list) -> str:
    """A standalone question: the follow-up, with the topic of the last turn added in brackets.

    Done without a model on purpose: a 135M model rewrites questions unreliably, and this rule is
    deterministic, fast and shows the user exactly what was searched for.
    """
    if not is_follow_up(question, history):
        return question
    last_user, last_answer = history[-1][0], history[-1][1] if len(history[-1]) > 1 else ""
    own = set(terms(question))
    context_terms = []
    for t in terms(last_user) + terms(CITATION.sub("", last_answer or ""))[:12]:
        if t not in own and t not in context_terms:
            context_terms.append(t)
    topic = last_user.strip().rstrip("?")
    answer = " ".join(CITATION.sub("", last_answer or "").split())
    if len(answer) > 200:
        answer = answer[:200].rsplit(" ", 1)[0] + " …"
    context = f"{topic}: {answer}" if answer else topic
    # "the second of those" after a list: the standalone question names that item
    return f"{resolve_ordinals(question, history).strip()} (context: {context})"
