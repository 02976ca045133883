"""Answers and sources as chat Markdown and panel HTML. Every piece of document text is escaped here.

Document text is untrusted: a corpus file may contain ``<script>`` or ``<img onerror=...>``.
Nothing from a document reaches the page without ``html.escape`` (and, in the chat, Markdown
escaping as well), so it always shows as text and never as markup.
"""
from __future__ import annotations

import html
import re
from typing import Callable

from rag.types import Answer, Citation, Passage

MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~$:])")
CONTEXT_CHARS = 500  # document text shown before and after a passage
REFUSAL_PREFIX = "🚫"
ERROR_PREFIX = "⚠️"


def escape_md(text: str) -> str:
    """Text that renders literally in the chat's Markdown: HTML escaped, Markdown syntax neutralised."""
    text = html.escape(text, quote=False)
    text = _MD_SPECIAL.sub(r"\\\1", text)
    # Keep the chat's line structure: a line starting with "> " or "    " would still be markup.
    return "\n".join(line.lstrip() for line in text.split("\n"))


def answer_markdown(text: str, *, refused: bool = False, notice: str = "", error: bool = False,
                    pending: bool = False) -> str:
    """The chat bubble for an answer: escaped text, ``[n]`` shown as citation badges."""
    parts: list[str] = []
    last = 0
    for m in MARKER.finditer(text):
        parts.append(escape_md(text[last : m.start()]))
        nums = [n.strip() for n in m.group(1).split(",")]
        parts.append("".join(f'<sup class="rb-cite">[{int(n)}]</sup>' for n in nums))
        last = m.end()
    parts.append(escape_md(text[last:]))
    body = "".join(parts).strip() or ("…" if pending else "")
    if error:
        body = f"{ERROR_PREFIX} **Could not answer:** {body}"
    elif refused:
        body = f"{REFUSAL_PREFIX} **Not found in the documents.** *{body}*" if body else f"{REFUSAL_PREFIX} **Not found in the documents.**"
    if notice:
        body += f"\n\nℹ️ *{escape_md(notice)}*"
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


def _marked(text: str, span: tuple[int, int] | None, css: str = "rb-quote") -> str:
    if span is None:
        return _e(text)
    a, b = span
    return f'{_e(text[:a])}<mark class="{css}">{_e(text[a:b])}</mark>{_e(text[b:])}'


def passage_for(citation: Citation, retrieved: tuple[Passage, ...] | list[Passage]) -> Passage | None:
    """The retrieved passage a citation points at."""
    for p in retrieved:
        if p.chunk_id == citation.chunk_id:
            return p
    return None


def context_html(doc_text: str, citation: Citation, passage: Passage | None) -> str:
    """The passage in its document, the passage span shaded and the quote marked."""
    q = None
    if 0 <= citation.start < citation.end <= len(doc_text) and doc_text[citation.start : citation.end] == citation.quote:
        q = (citation.start, citation.end)
    else:
        q = _find_quote(doc_text, citation.quote, None)
        if q is None:
            return '<p class="rb-muted">The document has changed since it was indexed; re-ingest it to see this passage in context.</p>'
    if passage is not None and 0 <= passage.start <= q[0] and q[1] <= passage.end <= len(doc_text):
        p = (passage.start, passage.end)
    else:
        p = q
    a = max(0, p[0] - CONTEXT_CHARS)
    b = min(len(doc_text), p[1] + CONTEXT_CHARS)
    # Start and end on whitespace so the window does not cut words.
    if a > 0:
        sp = doc_text.find(" ", a, p[0])
        a = sp + 1 if sp >= 0 else a
    if b < len(doc_text):
        sp = doc_text.rfind(" ", p[1], b)
        b = sp if sp >= 0 else b
    out = ["…" if a > 0 else ""]
    out.append(_e(doc_text[a : p[0]]))
    out.append('<span class="rb-span">')
    out.append(_e(doc_text[p[0] : q[0]]))
    out.append(f'<mark class="rb-quote">{_e(doc_text[q[0] : q[1]])}</mark>')
    out.append(_e(doc_text[q[1] : p[1]]))
    out.append("</span>")
    out.append(_e(doc_text[p[1] : b]))
    out.append("…" if b < len(doc_text) else "")
    return f'<div class="rb-doc">{"".join(out)}</div>'


def citation_html(citation: Citation, passage: Passage | None, doc_text: str | None) -> str:
    """One cited passage: file, section, the passage with its supporting quote marked, and its context."""
    text = citation.passage or (passage.text if passage else "") or citation.quote
    hint = citation.start - passage.start if passage is not None else None
    span = _find_quote(text, citation.quote, hint)
    quote_block = ""
    if span is None and citation.quote:
        quote_block = f'<div class="rb-quote-alone"><mark class="rb-quote">{_e(citation.quote)}</mark></div>'
    section = f'<span class="rb-section">§ {_e(citation.section)}</span>' if citation.section else ""
    if doc_text is None:
        context = '<p class="rb-muted">The document is not available to show this passage in context.</p>'
    else:
        context = context_html(doc_text, citation, passage)
    return (
        f'<div class="rb-source" id="rb-source-{int(citation.n)}">'
        f'<div class="rb-source-head"><span class="rb-n">[{int(citation.n)}]</span>'
        f'<span class="rb-file">{_e(citation.source)}</span>{section}</div>'
        f'{quote_block}<div class="rb-passage">{_marked(text, span)}</div>'
        f'<details class="rb-context"><summary>Show in document (characters {int(citation.start)}–{int(citation.end)})</summary>'
        f"{context}</details></div>"
    )


def sources_html(answer: Answer | None, load_text: Callable[[Citation], str | None] | None = None,
                 error: str = "") -> str:
    """The sources panel for one answer."""
    if error:
        return f'<div class="rb-sources"><div class="rb-error">{ERROR_PREFIX} {_e(error)}</div></div>'
    if answer is None:
        return (
            '<div class="rb-sources rb-empty"><p class="rb-muted">Sources of the latest answer appear here: '
            "each cited passage with its file, section and supporting sentence.</p></div>"
        )
    parts = ['<div class="rb-sources">']
    if answer.notice:
        parts.append(f'<div class="rb-notice">ℹ️ {_e(answer.notice)}</div>')
    if answer.refused or not answer.citations:
        parts.append(
            '<div class="rb-refusal"><strong>No supported answer.</strong> None of the passages found '
            "answers this question, so ragbot declines rather than guess.</div>"
        )
        if answer.retrieved:
            parts.append('<p class="rb-muted">Closest passages searched:</p>')
            for p in answer.retrieved[:3]:
                sec = f'<span class="rb-section">§ {_e(p.section)}</span>' if p.section else ""
                parts.append(
                    f'<div class="rb-source rb-dim"><div class="rb-source-head"><span class="rb-file">{_e(p.source)}</span>'
                    f'{sec}</div><div class="rb-passage">{_e(_clip(p.text, 400))}</div></div>'
                )
    else:
        for c in answer.citations:
            doc_text = load_text(c) if load_text else None
            parts.append(citation_html(c, passage_for(c, answer.retrieved), doc_text))
    parts.append("</div>")
    return "".join(parts)


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n].rsplit(" ", 1)[0] + " …"


def status_markdown(files: list[tuple[str, int]]) -> str:
    """A one-line index summary."""
    if not files:
        return "**Index:** empty. Add documents in the *Documents* tab."
    chunks = sum(n for _, n in files)
    return f"**Index:** {len(files)} file{'s' if len(files) != 1 else ''}, {chunks} passages."
