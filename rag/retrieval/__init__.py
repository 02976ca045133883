"""Retrieval: Chroma (dense) and BM25 (lexical) fused by reciprocal rank; the stage after condensing."""
from __future__ import annotations

from typing import TYPE_CHECKING

from .hybrid import METHODS, HybridRetriever, mmr, rrf, to_document
from .protocols import Retriever, Searcher, SectionSource, VocabularySource, as_retriever

if TYPE_CHECKING:  # pragma: no cover
    from ..settings import Settings


def build_retriever(settings: "Settings", embeddings=None) -> HybridRetriever:
    """A retriever over the index named by ``settings`` (also a LangChain ``BaseRetriever``); the index is opened on first use."""
    if embeddings is None:
        from ..embeddings import SentenceEmbeddings

        embeddings = SentenceEmbeddings.for_settings(settings)
    return HybridRetriever(settings, embeddings)


__all__ = ["METHODS", "HybridRetriever", "Retriever", "Searcher", "SectionSource", "VocabularySource", "as_retriever", "build_retriever", "mmr", "rrf", "to_document"]
