"""Rewrite a follow-up question into a standalone one, only when it needs the history."""
from __future__ import annotations

import re

from ..text import BULLET, CITATION, sentence_spans, terms
from ..wording import WordingRules


def listed_items(answer: str) -> list[str]:
    """The items of a list an answer gives: its bullet lines, or the parts of its first sentence
    (after a colon, if it has one) separated by commas and 'and'."""
    text = CITATION.sub("", answer or "")
    bullets = [line[m.end() :].strip() for line in text.splitlines() if (m := BULLET.match(line)) and line[m.end() :].strip()]
    if len(bullets) >= 2:
        return [b.rstrip(".;") for b in bullets]
    flat = " ".join(text.split())
    spans = sentence_spans(flat)
    first = (flat[spans[0][0] : spans[0][1]] if spans else flat).rstrip(".!?")
    first = first.rsplit(":", 1)[-1]
    items = [i.strip() for i in re.split(r",\s*(?:and|or)\s+|,\s*|\s+(?:and|or)\s+", first) if i.strip()]
    return items if 2 <= len(items) <= 8 and all(len(i.split()) <= 8 for i in items) else []


def resolve_ordinals(question: str, history: list, wording: WordingRules) -> str:
    """"How can the second of those affect ...?" after a list: the second item put in its place.
    Unchanged when there is no such reference, or the last answer lists nothing to count."""
    found = wording.ordinal(question)
    if not found or not history:
        return question
    start, end, place = found
    items = listed_items(history[-1][1] if len(history[-1]) > 1 else "")
    if not items or place >= len(items):
        return question
    return question[:start] + items[place] + question[end:]


def is_follow_up(question: str, history: list, wording: WordingRules) -> bool:
    """Whether the question leans on earlier turns (pronouns, 'what about ...', or too few terms of its own)."""
    if not history:
        return False
    return wording.leans_on_history(question) or len(set(terms(question))) <= 1


# A command-line option as a manual or an answer names it: "-a", "-cftuvSUX", "--append",
# "--output-error[=MODE]", "--lines=NUM", "-f, --skip-fields=N" (a short and a long form together).
# It starts a word (so "U.S.-led" and "non-state" hold none) and a short one is letters after one dash.
_OPTION_WORD = r"(?:--[A-Za-z][\w-]*(?:\[=[^\]\s]*\]|=[^\s,:;)\]]+)?|-[A-Za-z][A-Za-z0-9]*(?![\w-]))"
_OPTION = re.compile(rf"(?<![^\s(\"'\[]){_OPTION_WORD}(?:,\s*{_OPTION_WORD})?")
# "that option", "this flag", "the same setting": a reference to the option the last turn was about.
_OPTION_REFERENCE = re.compile(r"\b(?:that|this|the|the same|same) (?:option|flag|switch|setting)\b", re.I)


def named_option(history: list) -> str:
    """The option the last turn was about: the first its answer names, else the first of its question; "" when none."""
    last_user, last_answer = history[-1][0], history[-1][1] if len(history[-1]) > 1 else ""
    for text in (CITATION.sub("", last_answer or ""), last_user or ""):
        found = _OPTION.search(text)
        if found:
            return found.group(0)
    return ""


def condense(question: str, history: list, wording: WordingRules) -> str:
    """A standalone question: the follow-up, with the topic of the last turn added in brackets.

    When the last turn was about a command-line option (a manual's entry), the standalone names
    it: a reference to it ("that option") is replaced by the option, and the brackets hold the
    last question and the option rather than the answer's text, which is the option's own
    description: it led the reader back to the entry already given, which a follow-up does not
    ask about (eval/golden/manuals-followups-dev.jsonl: fewer false refusals and one or two more
    answers right; the evidence ranks a little lower, as neighbouring entries share words).

    Done without a model on purpose: a 135M model rewrites questions unreliably, and this rule is
    deterministic, fast and shows the user exactly what was searched for.
    """
    if not is_follow_up(question, history, wording):
        return question
    last_user, last_answer = history[-1][0], history[-1][1] if len(history[-1]) > 1 else ""
    topic = last_user.strip().rstrip("?")
    # "the second of those" after a list: the standalone question names that item
    asked = resolve_ordinals(question, history, wording).strip()
    option = named_option(history)
    if option:
        return f"{_OPTION_REFERENCE.sub(option, asked)} (context: {topic}; {option})"
    answer = " ".join(CITATION.sub("", last_answer or "").split())
    if len(answer) > 200:
        answer = answer[:200].rsplit(" ", 1)[0] + " …"
    context = f"{topic}: {answer}" if answer else topic
    return f"{asked} (context: {context})"
