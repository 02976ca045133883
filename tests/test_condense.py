"""Follow-ups made standalone: the option the last turn was about is named, and a conversation
about anything else keeps its context as before."""
from __future__ import annotations

import json

import pytest

from rag.answer.condense import condense, named_option
from rag.wording import load_wording

from .conftest import ROOT

ENGLISH = load_wording("english")


@pytest.mark.parametrize(
    "question, answer, option",
    [
        ("How do I make tee append?", "Use -a, --append: it appends to the given FILEs [1].", "-a, --append"),
        ("Which option sets tee's error mode?", "--output-error[=MODE] sets the behavior on write error [1].",
         "--output-error[=MODE]"),
        ("What does the -p flag of tee do?", "-p: diagnose errors writing to non pipes [1].", "-p"),
        ("How can uniq skip a field?", "-f, --skip-fields=N: avoid comparing the first N fields [1].", "-f, --skip-fields=N"),
        ("How do I retry?", "-t number, --tries=number: set number of tries to number [1].", "-t"),
        ("What does the -p flag of tee do?", "It diagnoses errors writing to non pipes [1].", "-p"),  # the question's
        ("Who led it?", "The U.S.-led coalition of non-state actors sent an e-mail [1].", ""),  # hyphens inside words
        ("What is soft power?", "Soft power is attraction - not coercion [1].", ""),  # a dash is no option
        ("How many troops?", "About -5 percent [1].", ""),
    ],
)
def test_named_option(question, answer, option):
    assert named_option([[question, answer]]) == option


def test_a_follow_up_on_an_option_names_it_and_leaves_its_description_out():
    history = [["Each log line starts with a timestamp field. How can uniq ignore that first field?",
                "-f, --skip-fields=N: avoid comparing the first N fields [1]."]]
    assert condense("What counts as a field for that option?", history, ENGLISH) == (
        "What counts as a field for -f, --skip-fields=N? (context: Each log line starts with a timestamp field. "
        "How can uniq ignore that first field; -f, --skip-fields=N)")
    assert condense("Can it also ignore case?", history, ENGLISH) == (
        "Can it also ignore case? (context: Each log line starts with a timestamp field. How can uniq ignore that "
        "first field; -f, --skip-fields=N)")


def test_a_follow_up_on_prose_keeps_the_last_answer_as_context():
    history = [["What is soft power?", "Soft power is the ability to influence others through attraction [1]."]]
    assert condense("Who coined that term?", history, ENGLISH) == (
        "Who coined that term? (context: What is soft power: Soft power is the ability to influence others "
        "through attraction.)")
    assert condense("Who coined the term soft power?", history, ENGLISH) == "Who coined the term soft power?"


def test_no_essay_follow_up_is_about_an_option():
    """The option rule leaves the essay's follow-ups as they were: none of their last turns names one."""
    cases = [json.loads(line) for path in sorted((ROOT / "eval" / "golden").glob("*.jsonl"))
             if "manuals" not in path.name for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    histories = [c["history"] for c in cases if c.get("history")]
    assert len(histories) >= 40
    assert [named_option(h) for h in histories] == [""] * len(histories)


def test_the_manuals_follow_ups_name_their_option():
    path = ROOT / "eval" / "golden" / "manuals-followups-dev.jsonl"
    cases = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    prose = []
    for case in cases:
        standalone = condense(case["question"], case["history"], ENGLISH)
        option = named_option(case["history"])
        if option:
            assert standalone.endswith(f"; {option})") and option in standalone, case["id"]
        else:  # a default stated in prose, a README's, a FAQ's: the last answer stays the context
            prose.append(case["id"])
            assert " ".join(case["history"][-1][1].replace(" [1]", "").split()) in standalone, case["id"]
    assert prose == ["manuals-fu-10", "manuals-fu-21", "manuals-fu-22"]
