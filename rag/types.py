"""Typed results of the answer chain; ``to_dict`` gives the Answer JSON of interfaces.md."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .origin import source_span, text_offset


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk, as handed to the answer step."""

    chunk_id: str
    source: str
    section: str
    text: str
    start: int
    end: int
    score: float = 0.0
    page: int | None = None  # a paged document's (PDF) page at ``start``, 1-based
    page_breaks: tuple[int, ...] = ()  # offsets in the source text where later pages of this passage begin
    origin: tuple[tuple[int, int], ...] = ()  # a reflowed text's runs in the source (rag/origin.py); () when text is the source's
    page_labels: tuple[str, ...] = ()  # the PDF's labels of its pages ("iv", "12"), one a page, when they differ from the numbers

    def source_span(self, a: int, b: int) -> tuple[int, int]:
        """The span of the source text that ``text[a:b]`` was read from."""
        return source_span(self.origin, a, b, self.start)

    def text_offset(self, source: int) -> int:
        """The offset in ``text`` of a source text offset inside this passage."""
        return text_offset(self.origin, source, self.start)

    def page_at(self, offset: int) -> int | None:
        """The page of a character offset of the source text inside this passage, if it has pages."""
        if self.page is None:
            return None
        return self.page + sum(1 for b in self.page_breaks if b <= offset)

    def page_label_at(self, offset: int) -> str | None:
        """The PDF's label of the page of a character offset inside this passage ("iv"), if it labels its pages."""
        if self.page is None or not self.page_labels:
            return None
        return self.page_labels[min(sum(1 for b in self.page_breaks if b <= offset), len(self.page_labels) - 1)]

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("page_breaks")
        d.pop("origin")
        labels = d.pop("page_labels")
        if labels:
            d["page_label"] = labels[0]
        return d


@dataclass(frozen=True)
class ScoredSentence:
    """A sentence of a retrieved passage, scored against the question."""

    passage: int  # index into the retrieved passages
    start: int  # offsets within the passage text
    end: int
    text: str
    similarity: float  # embedding cosine to the question
    overlap: float  # share of the question's terms the sentence (or its section) contains
    score: float


@dataclass(frozen=True)
class Citation:
    """``[n]`` in the answer: the passage it points at and the sentence in it that supports the claim."""

    n: int
    chunk_id: str
    source: str
    section: str
    quote: str
    start: int  # character offsets of ``quote`` in the source file's text
    end: int
    score: float = 0.0
    passage: str = ""  # the whole passage text, for display
    page: int | None = None  # the page the quote starts on, for a paged document (PDF)
    page_label: str | None = None  # that page's label, when the PDF labels its pages otherwise ("iv", "12")
    origin: tuple[tuple[int, int], ...] = ()  # a reflowed quote's runs in the source (rag/origin.py)

    def source_span(self, a: int, b: int) -> tuple[int, int]:
        """The span of the source text that ``quote[a:b]`` was read from."""
        return source_span(self.origin, a, b, self.start)

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("passage")
        d.pop("origin")
        if d["page_label"] is None:
            d.pop("page_label")
        return d


@dataclass(frozen=True)
class ShortAnswer:
    """The span of a cited quote that answers a factoid question ("Joseph Nye"), with ``[n]`` of that quote."""

    text: str
    n: int
    start: int  # character offsets of ``text`` in the source file's text
    end: int
    score: float  # confidence: the reader's span margin over "no answer" (the gate core: the span model's probability)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Answer:
    """What the chain returns for one question."""

    question: str
    standalone_question: str
    answer: str
    refused: bool
    mode: str
    citations: tuple[Citation, ...] = ()
    retrieved: tuple[Passage, ...] = ()
    timings_ms: dict = field(default_factory=dict)
    notice: str = ""  # e.g. "the local model failed; this is the extractive answer"
    support: dict = field(default_factory=dict)  # gate score and verification figures
    short_answer: ShortAnswer | None = None  # extractive answers to factoid questions
    confidence: float | None = None  # calibrated probability that the documents answer the question

    def to_dict(self) -> dict:
        return {
            "question": self.question,
            "standalone_question": self.standalone_question,
            "answer": self.answer,
            "refused": self.refused,
            "confidence": self.confidence,
            "mode": self.mode,
            "citations": [c.to_dict() for c in self.citations],
            "retrieved": [p.to_dict() for p in self.retrieved],
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
            "notice": self.notice,
            "support": self.support,
            "short_answer": self.short_answer.to_dict() if self.short_answer else None,
        }
