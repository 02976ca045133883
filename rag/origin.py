"""Where reflowed text came from: offsets of a passage's text mapped back to its source file.

A laid-out text (a manual page, a hard-wrapped README, PDF text) is indexed reflowed: lines joined
into paragraphs, whitespace runs written as one space, a line-break hyphen mended. Its ``origin``
lists where each run of the reflowed text begins in the source, so a quote's span still covers the
exact original lines. An empty origin means the text is the source itself.
"""
from __future__ import annotations

import bisect
import re

Origin = tuple[tuple[int, int], ...]  # (offset in the reflowed text, offset in the source) where a run begins

_LINE_BREAK_HYPHEN = re.compile(r"(?<=[A-Za-z])\u2010[ \t]*\n\s*(?=[a-z])")  # dropped: only a line break's
_ASCII_BREAK_HYPHEN = re.compile(r"(?<=[A-Za-z])-[ \t]*\n\s*(?=[a-z])")  # kept, the break dropped: "command-line"


def source_offset(origin: Origin, at: int, fallback: int = 0) -> int:
    """The source offset of reflowed offset ``at`` (``fallback + at`` without an origin)."""
    if not origin:
        return fallback + at
    i = bisect.bisect_right(origin, (at, float("inf"))) - 1
    t, s = origin[max(i, 0)]
    return s + (at - t)


def source_span(origin: Origin, a: int, b: int, fallback: int = 0) -> tuple[int, int]:
    """The source span of reflowed ``[a, b)``: from its first character's source to just after its last's."""
    if b <= a:
        start = source_offset(origin, a, fallback)
        return start, start
    return source_offset(origin, a, fallback), source_offset(origin, b - 1, fallback) + 1


def text_offset(origin: Origin, source: int, fallback: int = 0) -> int:
    """The reflowed offset of source offset ``source``, the inverse of ``source_offset`` (in
    whitespace the reflowed text wrote shorter: the offset where that whitespace ends)."""
    if not origin:
        return source - fallback
    out = 0
    for n, (t, s) in enumerate(origin):
        if s > source:
            break
        length = origin[n + 1][0] - t if n + 1 < len(origin) else source - s
        out = t + min(source - s, length)
    return out


def shift_origin(origin: Origin, a: int, b: int, fallback: int = 0) -> Origin:
    """The origin of ``text[a:b]`` of a text whose origin is ``origin``."""
    out = [(0, source_offset(origin, a, fallback))]
    out += [(t - a, s) for t, s in origin if a < t < b]
    return tuple(out)


def encode_origin(origin: Origin) -> str:
    """An origin as a record's metadata string: "t:s t:s ..."."""
    return " ".join(f"{t}:{s}" for t, s in origin)


def decode_origin(value: object) -> Origin:
    """The origin a record's metadata string holds (``()`` for none)."""
    if not value:
        return ()
    return tuple((int(t), int(s)) for t, s in (pair.split(":") for pair in str(value).split()))


def reflowed(text: str) -> str:
    """Source text as a reflowed quote shows it: a line-break hyphen mended, whitespace runs as one
    space; for comparing a source span with its quote."""
    text = _ASCII_BREAK_HYPHEN.sub("-", _LINE_BREAK_HYPHEN.sub("", text))
    return " ".join(text.split())
