"""Layout kept in plain text: tables as rows that keep their header, pages as offsets."""
from __future__ import annotations

import re


def clean(text: str) -> str:
    """Normalise line ends and drop control characters that confuse tokenizers."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return re.sub(r"[\x00-\x08\x0b\x0e-\x1f\x7f]", " ", text)


def table_rows(rows: list[list[str]]) -> list[str]:
    """A table as one line a row that keeps its header: "Country: Japan | Troops: 54,000".

    The first row is the header. A table of one row, or one whose header is empty, is written as
    plain cells.
    """
    rows = [[" ".join(c.split()) for c in r] for r in rows if any(c.strip() for c in r)]
    if not rows:
        return []
    header, body = rows[0], rows[1:]
    if not body or not any(header):
        return [" | ".join(c for c in r if c) for r in rows]
    lines = [" | ".join(c for c in header if c)]
    for row in body:
        cells = [f"{h}: {c}" if h else c for h, c in zip(header + [""] * len(row), row) if c]
        lines.append(" | ".join(cells))
    return lines


_CELL_BAR = re.compile(r"(?<!\\)\|")  # a bar that parts cells (an escaped one, "\\|", is text)


def markdown_tables(text: str) -> str:
    """``text`` with each Markdown pipe table written as ``table_rows`` writes a table (a row a
    line, each cell led by its column's header), so that a question about one cell finds and
    quotes its row; everything else is left as it is. markdown-it-py (GFM tables) finds them.
    Nothing of a cell is lost: a bar inside a cell ("x \\| y") is written "¦", so that it does not
    read as a cell's edge, and the cells a row has beyond its header's (which GFM drops) are kept,
    without a header."""
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    lines = text.split("\n")
    tables: list[tuple[int, int, list[list[str]]]] = []  # (first line, line after, rows)
    for token, nxt in zip(tokens, tokens[1:]):
        if token.type == "table_open":
            tables.append((*token.map, []))
        elif token.type == "tr_open":
            tables[-1][2].append([])
            source = [c.strip().replace("\\|", "¦") for c in _CELL_BAR.split(lines[token.map[0]].strip().strip("|"))]
        elif token.type in ("th_open", "td_open"):  # an empty cell has no inline token
            tables[-1][2][-1].append(nxt.content.replace("|", "¦") if nxt.type == "inline" else "")
        elif token.type == "tr_close":
            row = tables[-1][2][-1]
            if source[: len(row)] == row:  # the line holds just this row's cells (not "> | a |" in a quote)
                row += source[len(row):]
    for start, end, rows in reversed(tables):  # from the last, so earlier line numbers hold
        lines[start:end] = ["\n\n".join(table_rows(rows))]
    return "\n".join(lines)


ENTRY_INDENT = "    "  # a definition list's description sits this much deeper than its term
_PANDOC_DEFINITION = re.compile(r"^ {0,3}[:~](?: +|\t)(\S.*)$")  # ": description" (PHP Markdown Extra, pandoc)
_ASCIIDOC_ENTRY = re.compile(r"^(\S(?:.*?\S)?)(?:::|;;|:::|::::)(?:[ \t]+(\S.*))?$")  # "term:: description"
MAX_TERM_WORDS = 12


def _code_lines(text: str) -> set[int]:
    """The line numbers (0-based) of a Markdown text's code: fenced and indented blocks, raw HTML."""
    from markdown_it import MarkdownIt

    lines: set[int] = set()
    for token in MarkdownIt("commonmark").parse(text):
        if token.type in ("fence", "code_block", "html_block") and token.map:
            lines.update(range(*token.map))
    return lines


def _is_term(line: str) -> bool:
    """Whether a line may be a definition list's term: short, not a heading, list item or quote."""
    stripped = line.strip()
    return (bool(stripped) and not line[:1].isspace() and len(stripped.split()) <= MAX_TERM_WORDS
            and not re.match(r"(?:#|>|[-*+] |\d+[.)] |\||```|~~~)", stripped))


def _description(lines: list[str], at: int, code: set[int], first: str) -> tuple[list[str], int]:
    """A description's lines from ``first`` on: its continuation lines (indented, or lazy ones
    right after), up to a blank line that no indented line follows; where it ends."""
    out, i = [first.strip()], at
    while i < len(lines) and i not in code:
        line = lines[i]
        if not line.strip():
            nxt = i + 1
            if nxt < len(lines) and lines[nxt][:1] in (" ", "\t") and lines[nxt].strip() and nxt not in code:
                i = nxt  # a further paragraph of the same description
                continue
            break
        if _PANDOC_DEFINITION.match(line) or (not line[:1].isspace() and _ASCIIDOC_ENTRY.match(line)):
            break
        out.append(line.strip())
        i += 1
    return out, i


def _entry(term: str, description: list[str]) -> list[str]:
    return [term.strip(), *(ENTRY_INDENT + d for d in description if d)]


def definition_lists(text: str) -> str:
    """``text`` with its definition lists written as entries, a term on its line and its
    description indented below it, entries parted by a blank line: "Term\\n: description" (PHP
    Markdown Extra, pandoc; several ": " lines are one description) and "term:: description"
    (AsciiDoc, also with the description on the next line). Code (fenced or indented) and raw
    HTML are left exactly as they are."""
    lines = text.split("\n")
    code = _code_lines(text)
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if i in code:
            out.append(line)
            i += 1
            continue
        entry = _ASCIIDOC_ENTRY.match(line) if _is_term(line) else None
        if entry and (entry.group(2) or (i + 1 < len(lines) and lines[i + 1].strip() and i + 1 not in code
                                          and not _is_asciidoc(lines[i + 1]))):
            first = entry.group(2) or lines[i + 1]
            description, i = _description(lines, i + (1 if entry.group(2) else 2), code, first)
            out += _parted(out, _entry(entry.group(1), description), lines, i)
            continue
        term_at = _pandoc_term(lines, i, code)
        if term_at is not None:
            description: list[str] = []
            i = term_at
            while i < len(lines) and i not in code and (m := _PANDOC_DEFINITION.match(lines[i])):
                more, i = _description(lines, i + 1, code, m.group(1))
                description += more
                while i < len(lines) and not lines[i].strip() and i + 1 < len(lines) and _PANDOC_DEFINITION.match(lines[i + 1]):
                    i += 1  # a blank line between two definitions of one term
            out += _parted(out, _entry(line, description), lines, i)
            continue
        out.append(line)
        i += 1
    return "\n".join(out)


def _is_asciidoc(line: str) -> bool:
    return _is_term(line) and _ASCIIDOC_ENTRY.match(line) is not None


def _pandoc_term(lines: list[str], i: int, code: set[int]) -> int | None:
    """Where the first ": definition" line of the term on line ``i`` is (right below it, or after
    one blank line), or None when line ``i`` is not such a term."""
    if not _is_term(lines[i]) or (i > 0 and lines[i - 1].strip() and i - 1 not in code and not _PANDOC_DEFINITION.match(lines[i - 1])):
        return None  # a term starts a block: the line above it is blank
    for at in (i + 1, i + 2):
        if at < len(lines) and at not in code and _PANDOC_DEFINITION.match(lines[at]):
            return at if at == i + 1 or not lines[i + 1].strip() else None
    return None


def _parted(out: list[str], entry: list[str], lines: list[str], after: int) -> list[str]:
    """An entry with a blank line before and after it, unless one is there already."""
    before = [""] if out and out[-1].strip() else []
    return before + entry + ([""] if after < len(lines) and lines[after].strip() else [])


PAGE_SEPARATOR = "\n\n"


def join_pages(texts: list[str], separators: list[str] | None = None) -> tuple[str, list[int]]:
    """The pages' (or slides') texts joined by a blank line (or by ``separators[i]`` between page
    ``i`` and the next: a paragraph may run on across a page break), and where each one begins."""
    seps = separators if separators is not None else [PAGE_SEPARATOR] * max(0, len(texts) - 1)
    starts, at, parts = [], 0, []
    for i, t in enumerate(texts):
        starts.append(at)
        parts.append(t)
        at += len(t)
        if i < len(seps):
            parts.append(seps[i])
            at += len(seps[i])
    return "".join(parts[: 2 * len(texts) - 1]), starts
