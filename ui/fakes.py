"""A deterministic stand-in for the answer chain, for tests and UI work without an index or models."""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Iterator

from rag.errors import InputError
from rag.types import Answer, Citation, Passage

_WORD = re.compile(r"\w+")
_STOP = {"the", "a", "an", "of", "to", "in", "is", "and", "what", "who", "which", "how", "does", "did", "do", "by",
         "for", "on", "it", "that", "this", "term", "was", "are", "about", "me", "tell"}


@dataclass(frozen=True)
class FakeDoc:
    """A document the fake chain answers from: ``text`` split into passages at blank lines."""

    source: str
    text: str
    section: str = ""


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP}


class FakeChain:
    """Answers with the best-overlapping sentence of its documents, citing it; refuses below ``min_overlap``.

    ``calls`` records every input it received (question and history), for tests of session isolation.
    """

    def __init__(self, docs: list[FakeDoc], *, mode: str = "extractive", min_overlap: int = 1, notice: str = "",
                 fail: Exception | None = None):
        self.docs = docs
        self.mode = mode
        self.min_overlap = min_overlap
        self.notice = notice
        self.fail = fail
        self.calls: list[dict] = []
        self._lock = threading.Lock()

    def _passages(self) -> list[Passage]:
        out = []
        for d in self.docs:
            pos = 0
            for block in re.split(r"\n\s*\n", d.text):
                start = d.text.find(block, pos)
                pos = start + len(block)
                if block.strip():
                    out.append(Passage(f"{d.source}:{start}", d.source, d.section, block, start, start + len(block)))
        return out

    def invoke(self, inputs: dict) -> Answer:
        answer = None
        for part in self.stream(inputs):
            if isinstance(part, Answer):
                answer = part
        return answer

    def stream(self, inputs: dict) -> Iterator[str | Answer]:
        question = str(inputs.get("question", "")).strip()
        history = [list(p) for p in inputs.get("history") or []]
        with self._lock:
            self.calls.append({"question": question, "history": history, "mode": inputs.get("mode"), "k": inputs.get("k"),
                               "refusal": inputs.get("refusal")})
        if self.fail is not None:
            raise self.fail
        if not question:
            raise InputError("the question is empty")
        q = _words(question)
        if history:  # a follow-up borrows the words of the previous question
            q |= _words(history[-1][0])
        best = (0, None, None)
        passages = self._passages()
        for p in passages:
            for m in re.finditer(r"[^.!?\n]+[.!?]?", p.text):
                score = len(q & _words(m.group(0)))
                if score > best[0]:
                    best = (score, p, m)
        if best[0] < self.min_overlap or best[1] is None:
            text = "The documents do not say."
            yield text
            yield Answer(question, question, text, True, self.mode, (), tuple(passages[:3]), {"total": 1.0},
                         self.notice)
            return
        _, p, m = best
        quote = m.group(0).strip()
        qstart = p.start + m.start() + (len(m.group(0)) - len(m.group(0).lstrip()))
        text = f"{quote} [1]"
        for word in re.findall(r"\S+\s*", text):
            yield word
        citation = Citation(1, p.chunk_id, p.source, p.section, quote, qstart, qstart + len(quote), 0.9, p.text)
        confidence = round(1 - 0.5 ** best[0], 4)  # more shared words, surer
        yield Answer(question, question, text, False, self.mode, (citation,), (p,), {"total": 1.0}, self.notice,
                     confidence=confidence)
