"""The record a question carries through the answer steps.

``Turn`` is one flat, frozen record: each step of ``AnswerChain.steps`` takes it and returns a copy
with its own fields filled (``dataclasses.replace``), so a step reads what earlier steps wrote
without knowing which step wrote it, and replacing a step means putting another function in the
list. ``QuestionFacts`` is what understanding the question found, written once by that step.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from ..types import Citation, Passage, ScoredSentence, ShortAnswer


@dataclass(frozen=True)
class QuestionFacts:
    """What the wording rules say about a question, found once (rag/wording.py)."""

    standalone: str  # a follow-up made standalone; the question itself otherwise
    follow_up: bool  # it leans on the conversation
    answer_kind: str | None  # 'when', 'how many', 'who', ... or None
    asks_for_list: bool
    sections: tuple[tuple[str, str], ...] = ()  # (source, heading) of each section the question names


@dataclass(frozen=True)
class Turn:
    """One question on its way through the steps; each group of fields is one step's output."""

    # request: the validated input
    question: str
    history: tuple[tuple[str, str], ...]
    mode: str
    k: int
    t0: float  # perf_counter at the start: every timing is measured from here
    refusal: str = "balanced"  # how strict refusal is (rag/settings.py REFUSAL_LEVELS)
    # understand
    facts: QuestionFacts | None = None
    # retrieve: the passages handed to the answer step (a named section's first), best first
    passages: tuple[Passage, ...] = ()
    in_section: int = 0  # how many of ``passages`` come from the sections the question names
    qvec: Any = None  # the standalone question's vector for a follow-up, else None
    # evidence: every sentence scored; the evidence features and the evidence gate's score
    scored: tuple[ScoredSentence, ...] = ()
    evidence: dict = field(default_factory=dict)
    evidence_score: float = 0.0
    support: dict = field(default_factory=dict)  # what the answer reports of how it was decided
    # read: the reader's Reading of each passage it read (rag/answer/reader.py)
    readings: tuple = ()
    # decide
    answerable: bool = False
    confidence: float | None = None  # the calibrated probability that the question is answerable
    # draft: the sentences an extractive answer quotes
    chosen: tuple[ScoredSentence, ...] = ()
    # answer (extract or generate)
    text: str = ""
    citations: tuple[Citation, ...] = ()
    refused: bool = False
    notice: str = ""
    short_answer: ShortAnswer | None = None
    timings: dict = field(default_factory=dict)  # generate, verify, first_token (ms)
    marks: dict = field(default_factory=dict)  # step name -> perf_counter when it ended

    @property
    def standalone(self) -> str:
        return self.facts.standalone if self.facts else self.question

    @property
    def context(self) -> str:
        """The standalone question again for a follow-up, else empty (scoring weighs it lower)."""
        return self.facts.standalone if self.facts and self.facts.follow_up else ""


Step = Callable[[Turn], Turn]
