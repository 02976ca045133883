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


PAGE_SEPARATOR = "\n\n"


def join_pages(texts: list[str]) -> tuple[str, list[int]]:
    """The pages' (or slides') texts joined by a blank line, and where each one begins."""
    starts, at = [], 0
    for t in texts:
        starts.append(at)
        at += len(t) + len(PAGE_SEPARATOR)
    return PAGE_SEPARATOR.join(texts), starts
