"""ragbot: offline Q&A over your documents with verified citations.

Importing is free: the chain, models and Chroma are built by ``build_chain`` on demand.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["Settings", "build_chain", "build_retriever", "Answer", "Citation", "Passage", "RagbotError"]

_LAZY = {
    "Settings": ("rag.settings", "Settings"),
    "build_chain": ("rag.answer.chain", "build_chain"),
    "build_retriever": ("rag.retrieval", "build_retriever"),
    "Answer": ("rag.types", "Answer"),
    "Citation": ("rag.types", "Citation"),
    "Passage": ("rag.types", "Passage"),
    "RagbotError": ("rag.errors", "RagbotError"),
}

if TYPE_CHECKING:  # pragma: no cover
    from .answer.chain import build_chain
    from .errors import RagbotError
    from .retrieval import build_retriever
    from .settings import Settings
    from .types import Answer, Citation, Passage


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'rag' has no attribute {name!r}")
