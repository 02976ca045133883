"""A PDF's pages as the text a reader sees: without running headers, footers and page numbers,
without table-of-contents and index pages, its hard-wrapped lines joined into paragraphs.

pypdf gives a page's text line by line, in the order the page draws it (a running header and
footer often first), with no blank line between paragraphs. Its ``visitor_text`` hook gives each
piece of text with its position and font, so each line here knows where it stands and in what
font and size. From that:

- page furniture: a line among the top or bottom lines of a page (by height, and first or last
  drawn) whose text, digits aside, comes back at the edge of other pages (``MIN_REPEATS``);
  numbers written "12", "iv", "Page 12 of 80", "- 12 -" all read alike;
- contents and index pages: most of the page's lines end in a page number after dot leaders
  ("Installing ........ 12"), or, on a page headed "Contents" or "Index" (and the pages that
  follow one), in page numbers;
  a line in a heading's size never is (a chapter's title atop its first page);
- paragraphs: a line ends its paragraph at a wider gap than the lines' usual spacing, at a change
  of size, at a short line followed by one drawn deeper, at a line back out at the margin (not
  after an indented paragraph's first line), at a short line all in bold, or when it ends a
  sentence well short of the lines' usual length; the lines of a paragraph are joined by a space,
  a word hyphenated at a line's end mended (the hyphen kept only where the document writes the
  word with it elsewhere); a paragraph that runs on to the next page is joined across the page
  break (by a space: the next page's text starts where its own characters do);
- headings: a line in a larger size than the body text, as a Markdown heading (the largest size
  "#"); code: lines all in a monospace font, in a document whose body is not, as a fenced block
  with their characters as drawn; an entry: a short line with its description drawn deeper below
  it (an option and what it does), the description indented by four spaces.

A document whose body is itself monospace (a manual page printed as a terminal shows it) writes
its layout in spaces: its lines are kept as drawn, with a blank line where a gap parts them, as a
text file's would be. Pages read another way (pdfplumber's tables, OCR) have no positions: their
furniture is found from their first and last lines, and their lines are kept as they are.
"""
from __future__ import annotations

import math
import re
import statistics
from collections import Counter
from dataclasses import dataclass, field

EDGE_LINES = 2  # lines at the top and at the bottom of a page that may be furniture
FURNITURE_DRIFT = 3.0  # how far (in PDF units) a running header or footer may stand from where it stands on other pages
MIN_REPEATS = 3  # pages a furniture line comes back on (2 in a document of 4 pages or fewer)
HEADING_RATIO = 1.15  # a line this much larger than the body text is a heading
PARAGRAPH_GAP = 1.3  # a gap this much wider than the usual line spacing ends a paragraph
SHORT_LINE = 0.75  # a line ending a sentence shorter than this share of a full line ends its paragraph
MAX_HEADING_WORDS = 20
MAX_TERM_WORDS = 8
ENTRY_INDENT = "    "
_ROMAN = re.compile(r"\b(?=[ivxlcdm]+\b)m{0,3}(?:cm|cd|d?c{0,3})(?:xc|xl|l?x{0,3})(?:ix|iv|v?i{0,3})\b", re.IGNORECASE)
_LEADER = re.compile(r"(?:\.\s?){4,}\s*(?:\d+|[ivxlcdm]+)\s*$|…\s*\d+\s*$", re.IGNORECASE)
_PAGE_REFS = re.compile(r"(?:\s|,)(?:\d+|[ivxlcdm]+)(?:[-–]\d+)?(?:,\s*(?:\d+|[ivxlcdm]+)(?:[-–]\d+)?)*\s*$", re.IGNORECASE)
_PAGE_NUMBER = re.compile(r"(?:page|p\.|seite|página|pagina)?\s*#(?:\s*(?:of|/|von|de|di)\s*#)?|[-–—]\s*#\s*[-–—]|\[\s*#\s*\]")
_CONTENTS_TITLE = re.compile(r"(?:table of )?contents|index|general index|contents at a glance", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?:;][\"'”’)\]]*$")
_HYPHENS = ("-", "\u2010", "\u00ad")
BOLD = re.compile(r"bold|black|heavy|semibold", re.IGNORECASE)
MONOSPACE = re.compile(r"courier|mono|consol|menlo|monaco|typewriter|code|fixed", re.IGNORECASE)


@dataclass
class Line:
    """A line of a page's extracted text, with where it is drawn and in what size (of its first
    piece; None: not known), and whether all of it is in a monospace or a bold font."""

    text: str
    y: float | None = None
    x: float | None = None
    size: float = 0.0
    mono: bool = False
    bold: bool = False
    table: bool = False  # a ruled table's rows (pdfplumber's), standing where the table does
    text_x: float | None = None  # a list item's: where its text starts, after its bullet or number
    lead: int = 0  # leading characters drawn in another font than the line's (a stray space before code)

    def left(self) -> float | None:
        """Where the line's text starts: its position, and the spaces it starts with (a space is
        0.6 of the size in a monospace font, about 0.28 in others)."""
        if self.x is None:
            return None
        spaces = len(self.text) - len(self.text.lstrip(" "))
        return self.x + spaces * self.size * (0.6 if self.mono else 0.28)


@dataclass
class Block:
    kind: str  # "text", "heading", "code", "entry"
    text: str
    lines: list[Line] = field(default_factory=list)


def _position(cm: list, tm: list) -> tuple[float, float, float]:
    """x, y and the scale of a text piece, from its text and transformation matrices."""
    x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
    y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
    scale = math.hypot(tm[2], tm[3]) * math.hypot(cm[2], cm[3])
    return x, y, scale or 1.0


def page_lines(page) -> list[Line]:
    """A pypdf page's text as lines, each with the position, size and font of its first piece."""
    lines = [Line("")]
    pieces: list[tuple[str, list, list, object, float]] = []

    def visit(text, cm, tm, font, size):
        pieces.append((text, list(cm), list(tm), font, size))

    text = page.extract_text(visitor_text=visit) or ""
    if "".join(p[0] for p in pieces) != text:  # pieces that do not add up to the text: no positions
        return [Line(t) for t in text.split("\n")]
    for piece, cm, tm, font, size in pieces:
        name = str((font or {}).get("/BaseFont", "")) if hasattr(font, "get") else ""
        for n, part in enumerate(piece.split("\n")):
            if n:
                lines.append(Line(""))
            line = lines[-1]
            if part.strip() and line.y is None:
                x, y, scale = _position(cm, tm)
                line.x, line.y, line.size = x, y, size * scale
                line.mono, line.bold, line.lead = True, True, len(line.text)
            if part.strip():  # a line is code, or bold, when all of it is: not for a word of it
                line.mono = line.mono and bool(MONOSPACE.search(name))
                line.bold = line.bold and bool(BOLD.search(name))
            line.text += part
    if lines and not lines[-1].text and text.endswith("\n"):
        lines.pop()
    return _on_baselines(_with_markers(lines))


def _on_baselines(lines: list[Line]) -> list[Line]:
    """Lines drawn on one baseline, which pypdf gives apart when each is a text object of its own
    (a running header's left, centre and right parts; the columns of a table without rules), as
    one line: a space between them, or two where a wide gap parts them (a term and its
    description side by side)."""
    out: list[Line] = []
    for line in lines:
        prev = out[-1] if out else None
        if (prev is not None and prev.y is not None and line.y is not None and line.x is not None and prev.x is not None
                and line.text.strip() and prev.text.strip() and not prev.table and not line.table
                and abs(prev.y - line.y) < 0.2 * max(line.size, 1.0) and line.x > prev.x):
            end = prev.x + len(prev.text.rstrip()) * prev.size * (0.6 if prev.mono else 0.5)  # about where it ends
            gap = "  " if line.x - end > 2 * max(line.size, 1.0) else " "
            prev.text = prev.text.rstrip() + gap + line.text.lstrip()
            prev.mono, prev.bold = prev.mono and line.mono, prev.bold and line.bold
            continue
        out.append(line)
    return out


_BULLET = re.compile(r"[\u2022\u25e6\u25aa\u25ab\u2023\u2043\u2219\u00b7\x7f*\-\u2013\u25cf\u25cb\u25a0\u25a1]")
_NUMBER = re.compile(r"\(?(?:\d{1,3}|[a-z]|[ivx]{1,4})[.)]?", re.IGNORECASE)


def _with_markers(lines: list[Line]) -> list[Line]:
    """Lines with a list item's bullet or number, which pypdf gives as a line of its own, put
    before the item's first line ("• item", "2. item"): a lone marker is neither a heading nor a
    page number. A bullet is written "•" (its glyph is often outside the font's text encoding,
    and "- " would read as an option's dash)."""
    out: list[Line] = []
    for line in lines:
        prev = out[-1] if out else None
        marker = prev.text.strip() if prev is not None else ""
        if (prev is not None and prev.y is not None and line.y is not None and line.text.strip()
                and abs(prev.y - line.y) < 0.5 * max(line.size, 1.0) and line.x is not None and prev.x is not None
                and prev.x < line.x and (_BULLET.fullmatch(marker) or _NUMBER.fullmatch(marker))):
            shown = "•" if _BULLET.fullmatch(marker) else marker
            out[-1] = Line(shown + " " + line.text.lstrip(), line.y, prev.x, line.size, line.mono, line.bold,
                           text_x=line.left())
            continue
        out.append(line)
    return out


def with_tables(lines: list[Line], tables: list[tuple[float, float, str]]) -> list[Line] | None:
    """A page's placed lines with its tables' rows (top, bottom, rows) in place of the lines drawn
    inside them; None when the lines do not know where they stand."""
    if any(line.y is None for line in lines if line.text.strip()):
        return None
    out = list(lines)
    for top, bottom, rows in sorted(tables, key=lambda t: -t[0]):
        # a cell's text stands below the table's top rule by its padding and its letters' height:
        # a baseline within 2 units of the rule is the line above it
        inside = [i for i, line in enumerate(out) if line.y is not None and bottom <= line.y <= top - 2 and not line.table]
        below = [i for i, line in enumerate(out) if line.y is not None and line.y < bottom and not line.table]
        at = inside[0] if inside else below[0] if below else len(out)
        out = [line for i, line in enumerate(out) if i not in inside]
        at -= sum(1 for i in inside if i < at)
        out.insert(at, Line(rows, y=top, table=True))
    return out


def text_lines(text: str) -> list[Line]:
    """Lines without positions (a page read by pdfplumber or OCR)."""
    return [Line(t) for t in text.split("\n")]


def _key(text: str) -> str:
    """A line as furniture is compared: case, spacing and numbers (arabic or roman) aside."""
    text = " ".join(text.lower().split())
    text = re.sub(r"\d+", "#", _ROMAN.sub(lambda m: "#" if m.group(0) else "", text))
    return "#" if _PAGE_NUMBER.fullmatch(text) else text


def _edges(lines: list[Line]) -> set[int]:
    """The indexes of a page's lines that stand at its top or bottom: by height, and first or last drawn."""
    shown = [i for i, line in enumerate(lines) if line.text.strip()]
    edges = set(shown[:EDGE_LINES] + shown[-EDGE_LINES:])
    placed = sorted((i for i in shown if lines[i].y is not None), key=lambda i: lines[i].y)
    return edges | set(placed[:EDGE_LINES] + placed[-EDGE_LINES:])


def furniture(pages: list[list[Line]], body_size: float = 0.0, lone_lines: bool = False) -> list[set[int]]:
    """Each page's running headers, footers and page numbers (line indexes). A line in a heading's
    size (``body_size`` known) is not one: a chapter's title atop its first page reads like the
    running header of its other pages. The line of a page of one line is its content (an OCR'd
    note, a title page), unless ``lone_lines`` (asking whether a page is a scan with a header stamped on it)."""
    keys = [{i: _key(page[i].text) for i in _edges(page)} if lone_lines or sum(bool(ln.text.strip()) for ln in page) > 1
            else {} for page in pages]
    seen: dict[str, list[tuple[int, float | None]]] = {}  # key -> (page, height) of each edge line with it
    for n, page in enumerate(keys):
        for i, k in page.items():
            seen.setdefault(k, []).append((n, pages[n][i].y))
    least = MIN_REPEATS if len(pages) > 4 else 2
    out = []
    for n, page in enumerate(keys):
        gone = set()
        for i, k in page.items():
            y = pages[n][i].y
            # furniture stands where it stood on the other pages; a body line that happens to read alike does not
            repeats = {m for m, other in seen[k] if y is None or other is None or abs(other - y) <= FURNITURE_DRIFT}
            if (len(repeats) >= least and re.search(r"[a-z#]", k) and len(k.split()) <= MAX_HEADING_WORDS
                    and not (body_size and pages[n][i].size >= HEADING_RATIO * body_size)):
                gone.add(i)
        out.append(gone)
    return out


def contents_page(lines: list[Line], after_contents: bool) -> bool:
    """Whether a page is a table of contents or an index: page numbers at the end of most lines."""
    shown = [line.text.strip() for line in lines if line.text.strip()]
    if len(shown) < 3:
        return False
    leaders = sum(bool(_LEADER.search(t)) for t in shown)
    if leaders >= 3 and leaders >= 0.4 * len(shown):
        return True
    titled = after_contents or any(_CONTENTS_TITLE.fullmatch(t.strip("# ")) for t in shown[:3])
    refs = sum(bool(_PAGE_REFS.search(t)) for t in shown)
    return titled and refs >= 0.5 * len(shown)


@dataclass(frozen=True)
class Style:
    """What a document's body text looks like, as its paragraphs are found against it."""

    size: float = 0.0  # the body text's size (the most common, by characters)
    mono: bool = False  # whether the body text itself is monospace
    spacing: float = 0.0  # the usual distance between two lines of a paragraph
    width: float = 0.0  # a full line's length in characters
    headings: tuple[float, ...] = ()  # the sizes of headings, largest first


def document_style(pages: list[list[Line]]) -> Style:
    """The body text's size, font kind, line spacing and line length, and the heading sizes."""
    sizes: Counter = Counter()
    mono = Counter()
    for page in pages:
        for line in page:
            if line.y is not None and line.text.strip() and not line.table:
                sizes[round(line.size, 1)] += len(line.text)
                mono[line.mono] += len(line.text)
    if not sizes:
        return Style()
    body = sizes.most_common(1)[0][0]
    gaps, widths = [], []
    for page in pages:
        body_lines = [ln for ln in page if ln.y is not None and abs(ln.size - body) < 0.5 and ln.text.strip() and not ln.table]
        gaps += [a.y - b.y for a, b in zip(body_lines, body_lines[1:]) if 0 < a.y - b.y < 3 * body]
        widths += [len(ln.text.strip()) for ln in body_lines]
    widths.sort()
    headings = sorted({s for s in sizes if s >= body * HEADING_RATIO}, reverse=True)
    return Style(body, mono.most_common(1)[0][0], _line_spacing(gaps) or body * 1.2,
                 widths[int(0.9 * (len(widths) - 1))] if widths else 0, tuple(headings[:6]))


def _line_spacing(gaps: list[float]) -> float:
    """The distance between two lines of a paragraph: the smallest gap that parts a good share of
    the lines (not the median: in a list of one-line items most gaps part paragraphs)."""
    if not gaps:
        return 0.0
    counts = Counter(round(g * 2) / 2 for g in gaps)
    common = [g for g in sorted(counts) if counts[g] >= max(2, 0.15 * len(gaps))]
    return common[0] if common else statistics.median(gaps)


def _kind(line: Line, style: Style) -> str:
    if line.table:
        return "table"
    if line.y is None or not style.size:
        return "text"
    if line.mono and not style.mono:
        return "code"
    if line.size >= style.size * HEADING_RATIO and len(line.text.split()) <= MAX_HEADING_WORDS \
            and re.search(r"[^\W\d_]{2}", line.text):  # a heading has a word: not a lone number or mark
        return "heading"
    return "text"


def _gap(prev: Line, line: Line, style: Style) -> bool:
    """Whether a wider gap than the lines' usual spacing parts two lines, or ``line`` starts a new column."""
    if prev.y is None or line.y is None or not style.spacing:
        return False
    gap = prev.y - line.y
    return gap > PARAGRAPH_GAP * style.spacing or gap < -style.spacing


def _short(line: Line, style: Style) -> bool:
    return style.width > 0 and len(line.text.strip()) < SHORT_LINE * style.width


def _breaks(prev: Line, line: Line, style: Style, head: Line) -> bool:
    """Whether ``line`` starts a new paragraph after ``prev`` (lines of text of one page; ``head``:
    the first line of ``prev``'s paragraph)."""
    first = head is prev
    if _gap(prev, line, style) or line.text_x is not None:  # a list item starts a paragraph of its own
        return True
    if head.text_x is not None and line.x is not None and line.left() < head.text_x - 0.5 * style.size:
        return True  # a list item's lines stand under its text, not under its bullet
    if prev.y is not None and line.y is not None and abs(prev.size - line.size) > 0.1 * max(prev.size, line.size):
        return True
    if prev.x is not None and line.x is not None and style.size:
        shift = line.left() - prev.left()
        if shift >= style.size and (_short(prev, style) or _SENTENCE_END.search(prev.text.rstrip())):
            return True  # a term and its description, or a paragraph's indented first line after a sentence's end
        if shift <= -style.size and not (first and not _short(prev, style)):
            return True  # back out to the margin, but not after an indented paragraph's first line
    if _alone(prev) or _alone(line):
        return True
    return _SENTENCE_END.search(prev.text.rstrip()) is not None and _short(prev, style)


def _alone(line: Line) -> bool:
    """A short bold line (a heading in the body's size, a term) stands as a paragraph of its own."""
    return line.bold and len(line.text.split()) <= MAX_HEADING_WORDS and not _SENTENCE_END.search(line.text.rstrip())


def join_lines(parts: list[str], vocabulary: set[str]) -> str:
    """Lines of a paragraph as one line: a space between them, a word hyphenated at a line's end
    mended (its hyphen kept where ``vocabulary``, the document's hyphenated words, holds it)."""
    out = ""
    for part in (p.strip() for p in parts):
        if not part:
            continue
        if not out:
            out = part
        elif out.endswith(_HYPHENS) and out[-2:-1].isalpha() and part[:1].islower():
            head = re.search(r"[\w\u00ad\u2010-]*$", out).group(0)
            word = head[:-1] + "-" + re.match(r"\w*", part).group(0)
            out = out[:-1] + ("-" if out[-1] == "-" and word.lower() in vocabulary else "") + part
        else:
            out += " " + part
    return out


def hyphenated_words(text: str) -> set[str]:
    """The words a text writes with a hyphen inside a line ("follow-up"), lower-cased."""
    return {w.lower() for w in re.findall(r"\w+-\w+", text)}


def _indent(line: Line, base: Line, style: Style) -> bool:
    """Whether ``line`` is drawn indented from ``base`` by two characters or more."""
    return line.x is not None and base.x is not None and line.left() - base.left() >= 1.0 * (style.size or line.size)


def page_blocks(lines: list[Line], style: Style) -> list[Block]:
    """A page's lines (furniture taken out) as blocks: paragraphs, headings, code and entries."""
    blocks: list[Block] = []
    for line in lines:
        if not line.text.strip():
            if blocks and blocks[-1].kind == "code":
                blocks[-1].lines.append(line)  # a blank line inside code is code
            elif blocks:
                blocks.append(Block("gap", ""))
            continue
        kind = _kind(line, style)
        last = blocks[-1] if blocks else None
        same = last is not None and last.kind == kind and kind not in ("gap", "table")
        if same and kind == "text":
            same = not _breaks(last.lines[-1], line, style, last.lines[0])
        elif same and kind == "heading":
            same = abs(last.lines[-1].size - line.size) < 0.5
        if same:
            last.lines.append(line)
        else:
            blocks.append(Block(kind, "", [line]))
    return _entries([b for b in blocks if b.kind != "gap"], style)


def _entries(blocks: list[Block], style: Style) -> list[Block]:
    """A one-line paragraph whose next paragraph is drawn indented from it, line by line, is a
    definition list's term and its description."""
    out: list[Block] = []
    for block in blocks:
        prev = out[-1] if out else None
        if (prev is not None and prev.kind == "text" and block.kind == "text" and len(prev.lines) == 1
                and len(prev.lines[0].text.split()) <= MAX_TERM_WORDS
                and all(_indent(line, prev.lines[0], style) for line in block.lines)):
            prev.kind = "entry"
            prev.lines = prev.lines + block.lines
            continue
        out.append(block)
    return out


def block_text(block: Block, style: Style, vocabulary: set[str]) -> str:
    """A block written in the structure pass's conventions."""
    if block.kind == "code":
        body = "\n".join(line.text[line.lead:].rstrip() for line in block.lines).strip("\n")
        return f"```\n{body}\n```"
    if block.kind == "heading":
        level = max(1, min(6, sum(s >= round(block.lines[0].size, 1) for s in style.headings)))
        return "#" * level + " " + join_lines([line.text for line in block.lines], vocabulary)
    if block.kind == "table":
        return block.lines[0].text
    if block.kind == "entry":
        return block.lines[0].text.strip() + "\n" + ENTRY_INDENT + join_lines([line.text for line in block.lines[1:]], vocabulary)
    return join_lines([line.text for line in block.lines], vocabulary)


def runs_on(before: Block | None, after: Block | None, style: Style = Style()) -> str:
    """How a page's last block goes on as the next page's first: " " (a paragraph, or an entry's
    description, going on mid-sentence), ``"\n" + ENTRY_INDENT`` (a term whose description is
    on the next page, or a description going on with a new sentence), or "" (it does not)."""
    if before is None or after is None or after.kind != "text":
        return ""
    ended = _SENTENCE_END.search(before.lines[-1].text.rstrip()) is not None
    if before.kind == "text" and len(before.lines) == 1 and len(before.lines[0].text.split()) <= MAX_TERM_WORDS \
            and all(_indent(line, before.lines[0], style) for line in after.lines):
        return "\n" + ENTRY_INDENT  # a term at a page's foot, its description atop the next
    if before.kind == "entry" and len(before.lines) > 1 and all(
            line.left() is not None and abs(line.left() - before.lines[-1].left()) < 0.5 * (style.size or line.size)
            for line in after.lines):
        return "\n" + ENTRY_INDENT if ended else " "  # its description goes on at the same column
    return " " if before.kind == "text" and not ended else ""


def _page_text(blocks: list[Block] | None, lines: list[Line], style: Style, vocabulary: set[str]) -> str:
    if blocks is None:  # its lines as they are, without blank lines before and after them
        kept = []
        for prev, line in zip([None, *lines], lines):
            if prev is not None and _gap(prev, line, style) and prev.text.strip():
                kept.append("")  # pypdf writes no blank line for the space between two paragraphs
            kept.append(line.text.rstrip())
        while kept and not kept[0].strip():
            kept.pop(0)
        while kept and not kept[-1].strip():
            kept.pop()
        return "\n".join(kept)
    return "\n\n".join(block_text(b, style, vocabulary) for b in blocks)


def _hyphen_joined(before: str, after: str, vocabulary: set[str]) -> str | None:
    """``before`` with its line-break hyphen taken out, when ``after`` goes on with the word."""
    if not (before.endswith(_HYPHENS) and before[-2:-1].isalpha() and after[:1].islower()):
        return None
    head = re.search(r"\w*.$", before).group(0)
    word = head[:-1] + "-" + re.match(r"\w*", after).group(0)
    return before if before[-1] == "-" and word.lower() in vocabulary else before[:-1]


def _lines_run_on(before: str, after: str) -> bool:
    """Whether a page's last line (kept as drawn) goes on as the next page's first: it ends no
    sentence and the next starts as deep."""
    last, first = before.rstrip().rsplit("\n", 1)[-1], after.lstrip("\n").split("\n", 1)[0]
    if not last.strip() or not first.strip() or _SENTENCE_END.search(last):
        return False
    return len(last) - len(last.lstrip()) == len(first) - len(first.lstrip())


def assemble(pages: list[list[Line]], placed: list[bool]) -> tuple[list[str], list[str]]:
    """The pages' texts, and what goes between each page and the next: a blank line, or a space
    (nothing after a mended hyphen) where a paragraph runs on. ``placed``: the pages whose lines
    know their positions (the others are kept line by line)."""
    drop = furniture(pages, document_style([lines for lines, ok in zip(pages, placed) if ok]).size)
    kept = [[line for i, line in enumerate(page) if i not in gone] for page, gone in zip(pages, drop)]
    contents, after = [], False
    for lines in kept:
        after = contents_page(lines, after)
        contents.append(after)
    style = document_style([lines for lines, ok in zip(kept, placed) if ok])
    vocabulary = hyphenated_words("\n".join(line.text for lines in kept for line in lines))
    # A document set in a monospace font (a manual page printed as it shows on a terminal) writes its
    # layout in spaces: its lines are kept as they are, as a plain text file's would be.
    blocks = [page_blocks(lines, style) if ok and not c and not style.mono else None
              for lines, ok, c in zip(kept, placed, contents)]
    texts = ["" if c else _page_text(b, lines, style, vocabulary) for b, lines, c in zip(blocks, kept, contents)]
    separators = []
    for i in range(len(texts) - 1):
        first, second = blocks[i], blocks[i + 1]
        sep = "\n\n"
        if style.mono and _lines_run_on(texts[i], texts[i + 1]):
            sep = "\n"  # a hard-wrapped paragraph going on: one line break, as in a text file
        elif first and second and (going_on := runs_on(first[-1], second[0], style)):
            mended = _hyphen_joined(texts[i], texts[i + 1], vocabulary) if going_on == " " else None
            sep = going_on if mended is None else ""
            texts[i] = texts[i] if mended is None else mended
        separators.append(sep)
    return texts, separators
