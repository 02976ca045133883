"""A Word document's body as plain text: headings, paragraphs, code, definition entries and tables.

What reads as what (python-docx gives styles, runs and indents, not meaning):

- a heading: a "Heading N" or "Title" paragraph, written as a Markdown heading;
- code: a paragraph in a code style (a style name holding "code", "preformatted", "source",
  "verbatim", "listing" or "macro", as Word's "HTML Preformatted" and pandoc's "Source Code") or
  whose every run is in a monospace font (unless most of the document is: then that is its body
  font); consecutive ones are one fenced block, their characters kept;
- a definition entry: a term paragraph followed by one or more description paragraphs. A term
  is a paragraph in a term style ("Definition Term", as Word's HTML styles name it, "Glossary
  Term", "Term") or a short paragraph (at most ``MAX_TERM_WORDS`` words) all in bold; its
  description is the paragraphs after it in a definition style ("Definition", "Definition List",
  "Glossary Definition", "Description") or indented deeper than the term (an item of a bulleted
  or numbered list is indented too, but is not a description). A bold line with no deeper or
  definition-styled paragraph below it stays a paragraph (often a run-in heading);
- a table: rows that keep their header (``layout.table_rows``), except a two-column table whose
  first row is not a header (not marked to repeat, not all bold, and its second cell a
  description of ``MIN_DESCRIPTION_WORDS`` words or more, not a column's label) and whose first
  column is short terms: each row is then an entry, as a glossary or an option list laid out in a
  table reads. A plain first row of labels ("Country | Troops") stays a header: most tables have one.
"""
from __future__ import annotations

import re

from .layout import ENTRY_INDENT, table_rows
from .webpage import fence

MAX_TERM_WORDS = 12
MIN_DESCRIPTION_WORDS = 4
CODE_STYLE = re.compile(r"code|preformatted|source|verbatim|listing|macro", re.IGNORECASE)
TERM_STYLE = re.compile(r"definition term|glossary term|^term$|^dt$", re.IGNORECASE)
DEFINITION_STYLE = re.compile(r"^definition(?: list)?$|^dd$|glossary definition|^description$", re.IGNORECASE)
MONOSPACE = re.compile(r"courier|mono|consolas|menlo|monaco|lucida console|lucida sans typewriter|"
                       r"source code|fira code|inconsolata|hack|typewriter", re.IGNORECASE)


def _styles(para) -> list:
    """A paragraph's style and the styles it is based on, nearest first."""
    out, style = [], para.style
    while style is not None and len(out) < 10:
        out.append(style)
        style = style.base_style
    return out


def _style_names(para) -> list[str]:
    return [s.name or "" for s in _styles(para)]


def _font(para, run) -> str:
    if run.font.name:
        return run.font.name
    if run.style is not None and run.style.font.name:
        return run.style.font.name
    return next((s.font.name for s in _styles(para) if s.font.name), "") or ""


def _bold(para, run) -> bool:
    for value in (run.bold, run.style.font.bold if run.style is not None else None,
                  *(s.font.bold for s in _styles(para))):
        if value is not None:
            return bool(value)
    return False


def _text_runs(para) -> list:
    return [r for r in para.runs if r.text.strip()]


def _indent(para) -> int:
    """A paragraph's left indent in EMU (its own, or its style's)."""
    if para.paragraph_format.left_indent is not None:
        return int(para.paragraph_format.left_indent)
    return next((int(s.paragraph_format.left_indent) for s in _styles(para)
                 if s.paragraph_format.left_indent is not None), 0)


def _list_item(para) -> bool:
    """Whether a paragraph is an item of a bulleted or numbered list (indented, but not a description)."""
    p_pr = para._p.pPr
    return (p_pr is not None and p_pr.numPr is not None) or any("list" in n.lower() for n in _style_names(para))


def _monospace(para) -> bool:
    runs = _text_runs(para)
    return bool(runs) and all(MONOSPACE.search(_font(para, r)) for r in runs)


def kind(para, mono_body: bool = False) -> str:
    """What a paragraph is: "heading N", "code", "term", "definition", "bold" (a short bold
    line, a term if a description follows), "text" or "" (empty). In a document set in a
    monospace font (``mono_body``) only a code style makes code."""
    names = _style_names(para)
    name = names[0] if names else ""
    heading = re.match(r"Heading (\d)", name)
    if heading:
        return f"heading {heading.group(1)}"
    if name == "Title":
        return "heading 1"
    runs = _text_runs(para)
    if any(CODE_STYLE.search(n) for n in names) or (not mono_body and _monospace(para)):
        return "code"
    if not para.text.strip():
        return ""
    if any(TERM_STYLE.search(n) for n in names):
        return "term"
    if any(DEFINITION_STYLE.search(n) for n in names):
        return "definition"
    if runs and len(para.text.split()) <= MAX_TERM_WORDS and all(_bold(para, r) for r in runs):
        return "bold"
    return "text"


def paragraph_blocks(paras: list, mono_body: bool = False) -> list[str]:
    """A run of consecutive paragraphs as blocks of text, in the conventions above."""
    kinds = [kind(p, mono_body) for p in paras]
    blocks: list[str] = []
    i = 0
    while i < len(paras):
        k, para = kinds[i], paras[i]
        if k == "code":
            j = i
            while j < len(paras) and kinds[j] == "code":
                j += 1
            blocks.append(fence("\n".join(p.text for p in paras[i:j])))
            i = j
        elif k in ("term", "bold"):
            j = i + 1
            while j < len(paras) and (kinds[j] == "definition" or (kinds[j] == "text" and _indent(paras[j]) > _indent(para)
                                                                    and not _list_item(paras[j]))):
                j += 1
            if j > i + 1:
                blocks.append("\n".join([_line(para), *(ENTRY_INDENT + _line(p) for p in paras[i + 1 : j])]))
            else:
                blocks.append(_line(para))
            i = j
        elif k.startswith("heading"):
            blocks.append("#" * int(k.split()[1]) + " " + _line(para))
            i += 1
        else:
            if k:
                blocks.append(para.text.strip())
            i += 1
    return blocks


def _line(para) -> str:
    return " ".join(para.text.split())


def _cells(row) -> list[str]:
    """A row's cell texts; python-docx returns a merged cell once per grid column it spans: kept once."""
    seen, out = [], []  # the cells' XML elements, held so lxml keeps one proxy per element
    for cell in row.cells:
        if not any(cell._tc is tc for tc in seen):
            seen.append(cell._tc)
            out.append(cell.text.strip())
    return out


def _header_row(table, first_cells: list[str]) -> bool:
    """Whether a table's first row is a header: marked to repeat on each page, all in bold, or
    a row of labels (its last cell too short to describe anything)."""
    if len(first_cells[-1].split()) < MIN_DESCRIPTION_WORDS:
        return True
    first = table.rows[0]
    tr_pr = first._tr.trPr
    if tr_pr is not None and any(el.tag.endswith("}tblHeader") for el in tr_pr):
        return True
    runs = [(p, r) for cell in first.cells for p in cell.paragraphs for r in _text_runs(p)]
    return bool(runs) and all(_bold(p, r) for p, r in runs)


def table_blocks(table) -> list[str]:
    """A table as rows that keep their header, or as entries (see the module's docstring)."""
    rows = [_cells(row) for row in table.rows]
    if rows and all(len(r) == 2 for r in rows) and not _header_row(table, rows[0]) \
            and all(0 < len(r[0].split()) <= MAX_TERM_WORDS for r in rows):
        return ["\n".join([" ".join(term.split()), *(ENTRY_INDENT + line.strip() for line in text.split("\n") if line.strip())])
                for term, text in rows]
    return table_rows(rows)


def body_blocks(document) -> list[str]:
    """A document's body in reading order: paragraphs and tables."""
    from docx.table import Table

    items = list(document.iter_inner_content())
    shown = [p for p in items if not isinstance(p, Table) and p.text.strip()]
    mono_body = 2 * sum(_monospace(p) for p in shown) > len(shown)  # most of it monospace: its body font
    blocks: list[str] = []
    paras: list = []
    for item in items:
        if isinstance(item, Table):
            blocks += paragraph_blocks(paras, mono_body)
            paras = []
            blocks += table_blocks(item)
        else:
            paras.append(item)
    return blocks + paragraph_blocks(paras, mono_body)
