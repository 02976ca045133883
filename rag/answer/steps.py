"""The steps of answering, each a frozen record handed to the next:
Request -> Condensed -> Retrieved -> Decision -> Draft -> Verified -> Answer."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..types import Citation, Passage, ScoredSentence, ShortAnswer


@dataclass(frozen=True)
class Request:
    """A validated question with its conversation, mode and passage count."""

    question: str
    history: tuple[tuple[str, str], ...]
    mode: str
    k: int
    t0: float  # perf_counter at the start: every timing is measured from here


@dataclass(frozen=True)
class Condensed:
    """The standalone question; ``context`` is that question again for a follow-up, else empty."""

    request: Request
    standalone: str
    context: str


@dataclass(frozen=True)
class Retrieved:
    """The passages handed to the answer step (a named section's first), best first."""

    condensed: Condensed
    passages: tuple[Passage, ...]
    sections: tuple[tuple[str, str], ...]  # (source, heading) of each section the question names
    in_section: int  # how many of ``passages`` come from those sections
    qvec: Any  # the standalone question's vector for a follow-up, else None
    t_done: float


@dataclass(frozen=True)
class Decision:
    """The gate's verdict on the retrieved evidence, with the scored sentences it judged."""

    retrieved: Retrieved
    scored: tuple[ScoredSentence, ...]
    answerable: bool
    support: dict = field(default_factory=dict)  # gate score, threshold and features
    t_done: float = 0.0


@dataclass(frozen=True)
class Draft:
    """The sentences an extractive answer quotes and the passages they come from (maybe a whole section)."""

    decision: Decision
    scored: tuple[ScoredSentence, ...]  # re-ranked for a follow-up
    chosen: tuple[ScoredSentence, ...]
    passages: tuple[Passage, ...]
    answerable: bool
    support: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Verified:
    """The answer text with its citations, and what verification found."""

    draft: Draft
    text: str
    citations: tuple[Citation, ...]
    refused: bool = False
    notice: str = ""
    extra: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    short_answer: ShortAnswer | None = None
