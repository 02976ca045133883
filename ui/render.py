"""Answers and sources as chat Markdown and panel HTML. Every piece of document text is escaped here.

Document text is untrusted: a corpus file may contain ``<script>`` or ``<img onerror=...>``.
Nothing from a document reaches the page without ``html.escape`` (and, in the chat, Markdown
escaping as well), so it always shows as text and never as markup.
"""
from __future__ import annotations

import bisect
import html
import re
from datetime import datetime, timezone
from typing import Callable

from rag.origin import reflowed
from rag.records import cited_page, page_label
from rag.text import MARKER
from rag.types import Answer, Citation, Passage, ShortAnswer

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~$:])")
CONTEXT_CHARS = 500  # document text shown before and after a passage


def escape_md(text: str) -> str:
    """Text that renders literally in the chat's Markdown: HTML escaped, Markdown syntax neutralised."""
    text = html.escape(text, quote=False)
    text = _MD_SPECIAL.sub(r"\\\1", text)
    # Keep the chat's line structure: a line starting with "> " or "    " would still be markup.
    return "\n".join(line.lstrip() for line in text.split("\n"))


# How sure an answer is, in words: the calibrated confidence at or above each bound (rag/answer/decision.py)
SURENESS = ((0.85, "sure", "rb-sure-high"), (0.6, "fairly sure", "rb-sure-mid"), (0.0, "unsure", "rb-sure-low"))


def sureness_html(confidence: float | None) -> str:
    """A quiet marker of how sure an answer is (a dot and a word, the figure in its tooltip); empty without one."""
    if confidence is None:
        return ""
    word, cls = next((w, c) for bound, w, c in SURENESS if confidence >= bound)
    tip = f"{confidence:.0%} likely that the documents answer this question (calibrated confidence)"
    return f'<span class="rb-sure {cls}" title="{_e(tip)}">{word}</span>'


def answer_markdown(text: str, *, refused: bool = False, notice: str = "", error: bool = False,
                    pending: bool = False, short: str = "", confidence: float | None = None) -> str:
    """The chat bubble for an answer: escaped text, ``[n]`` shown as citation badges, the short
    answer it leads with (``short``) in bold, and how sure it is (``confidence``) as a quiet marker."""
    parts: list[str] = []
    last = 0
    if short and text.startswith(short):
        parts.append(f"**{escape_md(short)}**")
        last = len(short)
    for m in MARKER.finditer(text):
        parts.append(escape_md(text[last : m.start()].rstrip()))
        nums = [n.strip() for n in m.group(1).split(",")]
        parts.append("".join(f'<sup class="rb-cite">[{int(n)}]</sup>' for n in nums))
        last = m.end()
    parts.append(escape_md(text[last:]))
    body = "".join(parts).strip() or ("…" if pending else "")
    if error:
        body = f'<span class="rb-badge rb-error-msg">Could not answer</span> {body}'
    elif refused:
        head = '<span class="rb-badge rb-refusal-msg">Not found in the documents</span>'
        body = f"{head} *{body}*" if body else head
    elif not pending and confidence is not None:
        body += f" {sureness_html(confidence)}"
    if notice:
        body += f'\n\n<span class="rb-badge rb-notice-msg">Note</span> *{escape_md(notice)}*'
    return body


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _find_quote(passage: str, quote: str, hint: int | None) -> tuple[int, int] | None:
    """Where ``quote`` lies in ``passage``: at ``hint`` if it matches there, else the first match."""
    if not quote:
        return None
    if hint is not None and 0 <= hint and passage[hint : hint + len(quote)] == quote:
        return hint, hint + len(quote)
    i = passage.find(quote)
    if i >= 0:
        return i, i + len(quote)
    # Whitespace may differ (the chain may normalise it): match word by word.
    words = quote.split()
    if not words:
        return None
    m = re.search(r"\s+".join(re.escape(w) for w in words), passage)
    return (m.start(), m.end()) if m else None


Span = tuple[int, int, list[int]]  # start, end, citation numbers


def _marked(text: str, spans: list[Span], base: int = 0, answer: tuple[int, int] | None = None) -> str:
    """``text`` escaped, each quote span marked and followed by its citation numbers; the short
    answer (``answer``, absolute offsets inside one quote) in bold within its quote.

    ``spans`` hold absolute offsets; ``text`` starts at offset ``base``.
    """
    out, pos = [], base
    for a, b, nums in sorted(spans):
        if a < pos or b > base + len(text):  # overlapping or outside: already shown, or not here
            continue
        out.append(_e(text[pos - base : a - base]))
        if answer is not None and a <= answer[0] < answer[1] <= b:
            x, y = answer
            quote = (f"{_e(text[a - base : x - base])}<strong class=\"rb-answer\">{_e(text[x - base : y - base])}</strong>"
                     f"{_e(text[y - base : b - base])}")
        else:
            quote = _e(text[a - base : b - base])
        out.append(f'<mark class="rb-quote">{quote}</mark>')
        out.append("".join(f'<sup class="rb-cite">[{int(n)}]</sup>' for n in nums))
        pos = b
    out.append(_e(text[pos - base :]))
    return "".join(out)


def _merge(spans: list[Span]) -> list[Span]:
    """One span per distinct quote, carrying every citation number that points at it."""
    merged: dict[tuple[int, int], list[int]] = {}
    for a, b, nums in spans:
        have = merged.setdefault((a, b), [])
        have.extend(n for n in list(nums) if n not in have)
    return [(a, b, nums) for (a, b), nums in sorted(merged.items())]


def passage_for(citation: Citation, retrieved: tuple[Passage, ...] | list[Passage]) -> Passage | None:
    """The retrieved passage a citation points at."""
    for p in retrieved:
        if p.chunk_id == citation.chunk_id:
            return p
    return None


def _page_window(page_starts: tuple[int, ...], lo: int, hi: int, n: int) -> tuple[int, int]:
    """The text of the page(s) holding ``[lo, hi)``: from its first page's start to the next page's
    (what parts two pages is a blank line, or a space where a paragraph runs on: it is not cut off)."""
    first = max(0, bisect.bisect_right(page_starts, lo) - 1)
    after = bisect.bisect_right(page_starts, max(lo, hi - 1))
    end = page_starts[after] if after < len(page_starts) else n
    return page_starts[first], max(end, hi)


def _window(doc_text: str, p: tuple[int, int]) -> tuple[int, int]:
    """``CONTEXT_CHARS`` around ``p``, starting and ending on whitespace so no word is cut."""
    a = max(0, p[0] - CONTEXT_CHARS)
    b = min(len(doc_text), p[1] + CONTEXT_CHARS)
    if a > 0:
        sp = doc_text.find(" ", a, p[0])
        a = sp + 1 if sp >= 0 else a
    if b < len(doc_text):
        sp = doc_text.rfind(" ", p[1], b)
        b = sp if sp >= 0 else b
    return a, b


def context_html(doc_text: str, citations: list[Citation], passage: Passage | None,
                 page_starts: tuple[int, ...] = ()) -> str:
    """The passage in its document: the passage span shaded, its quotes marked. For a paged
    document (PDF, slides) the window is the whole page the quotes are on."""
    spans: list[Span] = []
    for c in citations:
        if 0 <= c.start < c.end <= len(doc_text) and reflowed(doc_text[c.start : c.end]) == reflowed(c.quote):
            spans.append((c.start, c.end, [c.n]))
        else:
            found = _find_quote(doc_text, c.quote, None)
            if found is not None:
                spans.append((found[0], found[1], [c.n]))
    if not spans:
        return '<p class="rb-muted">The document has changed since it was indexed; re-ingest it to see this passage in context.</p>'
    spans = _merge(spans)
    lo, hi = min(a for a, _, _ in spans), max(b for _, b, _ in spans)
    if passage is not None and 0 <= passage.start <= lo and hi <= passage.end <= len(doc_text):
        p = (passage.start, passage.end)
    else:
        p = (lo, hi)
    if page_starts:
        a, b = _page_window(page_starts, lo, hi, len(doc_text))
        p = (max(p[0], a), min(p[1], b))
    else:
        a, b = _window(doc_text, p)
    inner = [s for s in spans if p[0] <= s[0] and s[1] <= p[1]]
    return (
        f'<div class="rb-doc">{"…" if a > 0 else ""}{_e(doc_text[a : p[0]])}'
        f'<span class="rb-span">{_marked(doc_text[p[0] : p[1]], inner, p[0])}</span>'
        f'{_e(doc_text[p[1] : b])}{"…" if b < len(doc_text) else ""}</div>'
    )


def _text_and_pages(doc) -> tuple[str | None, tuple[int, ...]]:
    """A loaded document (a Document, or its text alone) as its text and its pages' starts."""
    if doc is None or isinstance(doc, str):
        return doc, ()
    return doc.text, tuple(doc.meta.get("page_starts") or ())


def passage_html(citations: list[Citation], passage: Passage | None, doc=None, short: ShortAnswer | None = None) -> str:
    """One cited passage: file, section, the passage with its supporting quotes marked (the short
    answer in bold inside its quote), and its context."""
    first = citations[0]
    text = first.passage or (passage.text if passage else "")
    base = passage.start if passage is not None else 0
    spans: list[Span] = []
    alone: list[Citation] = []
    for c in citations:
        found = _find_quote(text, c.quote, c.start - base if passage is not None else None)
        if found is None:
            alone.append(c)
        else:
            spans.append((base + found[0], base + found[1], [c.n]))
    quote_block = "".join(
        f'<div class="rb-quote-alone"><mark class="rb-quote">{_e(c.quote)}</mark><sup class="rb-cite">[{int(c.n)}]</sup></div>'
        for c in alone
        if c.quote
    )
    answer = (short.start, short.end) if short is not None and any(c.n == short.n for c in citations) else None
    numbers = "".join(f'<span class="rb-n">[{int(c.n)}]</span>' for c in citations)
    section = f'<span class="rb-section">§ {_e(first.section)}</span>' if first.section else ""
    shown_page = cited_page(first, [passage] if passage is not None else [])
    page = f'<span class="rb-page">{_e(shown_page)}</span>' if shown_page else ""
    doc_text, page_starts = _text_and_pages(doc)
    if doc_text is None:
        context = '<p class="rb-muted">The document is not available to show this passage in context.</p>'
    else:
        context = context_html(doc_text, citations, passage, page_starts)
    if page_starts and first.page:
        where = f" ({shown_page})"
    else:
        where = f" (characters {int(passage.start)}–{int(passage.end)})" if passage is not None else ""
    return (
        f'<div class="rb-source" id="rb-source-{int(first.n)}">'
        f'<div class="rb-source-head">{numbers}<span class="rb-file">{_e(first.source)}</span>{page}{section}</div>'
        f'{quote_block}<div class="rb-passage">{_marked(text, _merge(spans), base, answer)}</div>'
        f'<details class="rb-context"><summary>Show in document{where}</summary>{context}</details></div>'
    )


def sources_html(answer: Answer | None, load_text: Callable[[Citation], object] | None = None,
                 error: str = "") -> str:
    """The sources panel for one answer; ``load_text`` gives a citation's document (an
    ``ingest.types.Document``, or its text alone) for the context view."""
    if error:
        return f'<div class="rb-sources"><div class="rb-error"><strong>Could not answer.</strong> {_e(error)}</div></div>'
    if answer is None:
        return (
            '<div class="rb-sources rb-empty"><p class="rb-muted">Sources of the latest answer appear here: '
            "each cited passage with its file, section and supporting sentence.</p></div>"
        )
    parts = ['<div class="rb-sources">']
    if answer.notice:
        parts.append(f'<div class="rb-notice"><strong>Note:</strong> {_e(answer.notice)}</div>')
    if answer.refused or not answer.citations:
        parts.append(
            '<div class="rb-refusal"><strong>No supported answer.</strong> None of the passages found '
            "answers this question, so ragbot declines rather than guess.</div>"
        )
        if answer.retrieved:
            parts.append('<p class="rb-muted">Closest passages searched:</p>')
            for p in answer.retrieved[:3]:
                sec = f'<span class="rb-section">§ {_e(p.section)}</span>' if p.section else ""
                sec = _page_tag(p.source, p.page, p.page_labels[0] if p.page_labels else None) + sec
                parts.append(
                    f'<div class="rb-source rb-dim"><div class="rb-source-head"><span class="rb-file">{_e(p.source)}</span>'
                    f'{sec}</div><div class="rb-passage">{_e(_clip(p.text, 400))}</div></div>'
                )
    else:
        groups: dict[str, list[Citation]] = {}
        for c in answer.citations:  # one card a passage, however many of its sentences are cited
            groups.setdefault(c.chunk_id or f"#{c.n}", []).append(c)
        for cites in groups.values():
            doc = load_text(cites[0]) if load_text else None
            parts.append(passage_html(cites, passage_for(cites[0], answer.retrieved), doc, answer.short_answer))
    parts.append("</div>")
    return "".join(parts)


def _page_tag(source: str, page: int | None, label: str | None = None) -> str:
    """"p. 7" (or "slide 7", "p. iv (PDF page 4)") for a passage of a paged document; nothing otherwise."""
    return f'<span class="rb-page">{_e(page_label(source, page, label))}</span>' if page else ""


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n].rsplit(" ", 1)[0] + " …"


def status_markdown(files: list[tuple[str, int]], changed_at: float | None = None) -> str:
    """A one-line index summary, with when an ingestion last changed the index (UTC)."""
    if not files:
        return "**Index:** empty. Add documents in the *Documents* tab."
    chunks = sum(n for _, n in files)
    when = ""
    if changed_at is not None:
        when = f"; last changed {datetime.fromtimestamp(changed_at, timezone.utc):%Y-%m-%d %H:%M:%S} UTC"
    return f"**Index:** {len(files)} file{'s' if len(files) != 1 else ''}, {chunks} passages{when}."
