"""The answerability gate: the one stage between retrieval and answering (features, then the fitted model)."""
from __future__ import annotations

from .features import FEATURES, features, index_terms
from .model import NOVELTY_MIN, Gate, load_gate, vetoed

__all__ = ["FEATURES", "NOVELTY_MIN", "Gate", "features", "index_terms", "load_gate", "vetoed"]
