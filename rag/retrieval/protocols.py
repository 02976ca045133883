"""What the answer chain needs of a retriever: small protocols, and an adapter that completes a partial one."""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from ..types import Passage


@runtime_checkable
class Searcher(Protocol):
    """The one method a retriever must have."""

    def search(self, query: str, k: int | None = None, method: str = "hybrid") -> list[Passage]:
        """The ``k`` best passages for ``query``, best first."""


@runtime_checkable
class SectionSource(Protocol):
    """An index that knows its documents' sections."""

    def sections(self) -> list[tuple[str, str]]:
        """Every (source, section heading) in the index."""

    def section(self, source: str, section: str, limit: int = 12, query: np.ndarray | None = None) -> list[Passage]:
        """The passages of one section of one source, in reading order."""


@runtime_checkable
class VocabularySource(Protocol):
    """An index that knows its documents' (stemmed) terms."""

    def vocabulary(self) -> dict | set | None:
        """The stemmed terms of the indexed documents, or None when unknown."""


@runtime_checkable
class Retriever(Searcher, SectionSource, VocabularySource, Protocol):
    """Everything the chain asks of retrieval (``HybridRetriever`` is one)."""


class _Completed:
    """A Retriever over a partial one: what it lacks answers neutrally (no sections, vocabulary unknown)."""

    def __init__(self, searcher: Searcher):
        self._searcher = searcher
        self._sections = searcher if isinstance(searcher, SectionSource) else None
        self._vocabulary = searcher if isinstance(searcher, VocabularySource) else None

    def search(self, query: str, k: int | None = None, method: str = "hybrid") -> list[Passage]:
        return self._searcher.search(query, k)

    def sections(self) -> list[tuple[str, str]]:
        return self._sections.sections() if self._sections else []

    def section(self, source: str, section: str, limit: int = 12, query: np.ndarray | None = None) -> list[Passage]:
        return self._sections.section(source, section, limit=limit, query=query) if self._sections else []

    def vocabulary(self) -> dict | set | None:
        return self._vocabulary.vocabulary() if self._vocabulary else None


def as_retriever(obj: Searcher) -> Retriever:
    """``obj`` itself when it is a full Retriever, else completed so that it is one."""
    return obj if isinstance(obj, Retriever) else _Completed(obj)
