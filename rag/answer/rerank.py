"""Retrieval reordered by the reader: the first ``rerank_depth`` retrieved passages are read, and
each moves up by how sure the reader is that it answers the question.

A passage's place is its retrieval rank minus ``WEIGHT`` times the reader's answerability logit
plus its span margin, so a passage the reader finds an answer in climbs a few places and retrieval
still breaks close calls. The bi-encoder often ranks a manual's neighbouring option above the one
the question describes; the reader, reading question and passage together, tells them apart
better. Fitted on ``dev`` only (2026-12-08, reader v11, the first 8 hybrid passages): hit@5 on
manuals dev 0.830 -> 0.875, SQuAD 2.0 dev (300 questions) 0.947 -> 0.957, the essay's dev split
0.955 -> 0.955; ``WEIGHT`` 1 was best or within one question of the best of 0.5-5 on each.
"""
from __future__ import annotations

from dataclasses import replace

from .reader import sureness

WEIGHT = 1.0


def rerank(passages: list, readings: list, k: int) -> tuple[list, list]:
    """The ``k`` best of ``passages`` (each with its Reading, in the same order) by retrieval rank
    and reading, and their Readings renumbered to their new places."""
    order = sorted(range(len(passages)), key=lambda i: (i - WEIGHT * sureness(readings[i]), i))[:k]
    return [passages[i] for i in order], [replace(readings[i], passage=n) for n, i in enumerate(order)]
