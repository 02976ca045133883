"""Plain text read as it was written: hard-wrapped lines joined into their paragraph, definition
lists read as entries, real headings as sections, code kept as it is, page furniture left out.

A manual page, a README or text that PDF extraction hard-wraps is laid out for the eye: a sentence
runs across line breaks, a word is hyphenated at a line's end, an option's description is indented
under its term, a title line repeats at the top and the bottom. Cut into chunks line by line, such
a text gives quotes that stop mid-sentence ("it will send the follow‐"), sections named after a
stray short line, and chunks made of title lines. ``read_blocks`` reads it the way a person does and
gives ``Block``s whose text is reflowed (one paragraph a line, whitespace runs as one space, a
line-break hyphen mended) with an ``origin`` that maps every character back to the source text,
so a citation still names the exact span of the original lines.

Written here because no library reads plain-text layout this way: text splitters (LangChain's,
semchunk) cut by size and separators, and man-page or Markdown parsers need their own source
formats, not the rendered text a user has.

The conventions a loader's text may use (ingest/loaders.py writes HTML, DOCX and Markdown so):
Markdown headings (``# Title``), blank lines between paragraphs, a definition-list entry as its
term on one line and its description indented under it, and code in a fenced block.
"""
from __future__ import annotations

import bisect
import re
from collections import Counter
from dataclasses import dataclass

from rag.origin import Origin
from rag.text import BULLET, CODE_INDENT, ENTRY_GAP, TABLE_ROW


_MD_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.+?)\s*#*\s*$")
_BREAK_END = re.compile(r"\w[\u2010-]$")  # a line that ends inside a word hyphenated across the break
_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})\s*[\w+.-]*\s*$")
_RULE = re.compile(r"^\s*([-=~*_#+])\1{2,}\s*$")  # a line of one repeated character: a rule or an underline
_MAN_TITLE = re.compile(r"^\S+\([0-9a-zA-Z]+\)\s{2,}.*\S\s{2,}\S+\([0-9a-zA-Z]+\)$")  # "CUT(1)  User Commands  CUT(1)"
_MAN_FOOTER = re.compile(r"^\S.*\s{3,}\S+\([0-9a-zA-Z]+\)$")  # "GNU coreutils 9.1   September 2022   CUT(1)"
_NUMBERED = re.compile(r"^\d+(\.\d+)*\.?\s+\S")  # "1. Background", "2.1. When building ..."
_TERMINAL = ".!?:;,"
_HYPHENS = "-\u2010"
_SPACES = re.compile(r"[ \t]+")


@dataclass(frozen=True)
class Block:
    """A unit of a document as read: a paragraph, an entry, a code block or a heading."""

    kind: str  # "paragraph" | "entry" | "code" | "heading"
    text: str  # reflowed
    start: int  # the span of the source it was read from
    end: int
    origin: Origin  # where each run of ``text`` begins in the source
    section: str = ""  # the heading (and for an entry, its term) the block is under
    term: str = ""  # an entry's term


@dataclass(frozen=True)
class _Line:
    start: int  # offset of the line's first character in the source
    indent: int  # leading spaces (a tab counts to the next multiple of 8)
    a: int  # the line's content: source[a:b] without leading and trailing whitespace
    b: int

    def content(self, src: str) -> str:
        return src[self.a : self.b]


class _Flat:
    """Reflowed text built from source runs, with the origin of every run."""

    def __init__(self, src: str):
        self.src, self.parts, self.origin, self.n = src, [], [], 0
        self._next = -1  # the source offset that would continue the last run

    def copy(self, a: int, b: int) -> None:
        """Append ``src[a:b]`` with its whitespace runs written as one space."""
        pos = a
        for m in _SPACES.finditer(self.src, a, b):
            self._run(pos, m.start())
            if m.end() - m.start() == 1 and self.src[m.start()] == " ":
                self._run(m.start(), m.end())
            else:
                self.put(" ", m.start())
            pos = m.end()
        self._run(pos, b)

    def put(self, text: str, at: int) -> None:
        """Append ``text``, which stands for the source at ``at`` (a join, a gap)."""
        if text:
            self.origin.append((self.n, at))
            self.parts.append(text)
            self.n += len(text)
            self._next = -1

    def _run(self, a: int, b: int) -> None:
        if b <= a:
            return
        if a != self._next:
            self.origin.append((self.n, a))
        self.parts.append(self.src[a:b])
        self.n += b - a
        self._next = b

    def text(self) -> str:
        return "".join(self.parts)


# --- lines -----------------------------------------------------------------------------------


def _lines(src: str) -> list[_Line | None]:
    """Every line of ``src``: ``None`` for a blank one."""
    out: list[_Line | None] = []
    pos = 0
    for raw in src.split("\n"):
        body = raw.rstrip()
        stripped = body.lstrip(" \t")
        if not stripped:
            out.append(None)
        else:
            lead = raw[: len(body) - len(stripped)]
            indent = 0
            for ch in lead:
                indent = (indent // 8 + 1) * 8 if ch == "\t" else indent + 1
            out.append(_Line(pos, indent, pos + len(lead), pos + len(body)))
        pos += len(raw) + 1
    return out


def _furniture(src: str, lines: list[_Line | None]) -> set[int]:
    """Lines that are page furniture, not content: a manual page's title and footer lines, and any
    line with wide gaps repeated three times or more (a running title of a text export)."""
    present = [i for i, ln in enumerate(lines) if ln is not None]
    out: set[int] = set()
    if not present:
        return out
    first, last = present[0], present[-1]
    title = lines[first].content(src)
    if _MAN_TITLE.match(title):
        out |= {i for i in present if lines[i].content(src) == title}
    if _MAN_FOOTER.match(lines[last].content(src)):
        out.add(last)
    counts = Counter(" ".join(lines[i].content(src).split()) for i in present)
    for i in present:
        text = lines[i].content(src)
        if counts[" ".join(text.split())] >= 3 and re.search(r"\S\s{3,}\S", text):
            out.add(i)
    return out


def _wrap_width(src: str, lines: list[_Line | None]) -> int | None:
    """The column a hard-wrapped text is wrapped at, or ``None`` when its lines are not wrapped:
    filled or justified lines end at (or a few columns short of) one width that few lines pass
    (a long URL or code line may); a text of one paragraph a line has lines of every length."""
    ends = sorted(ln.b - ln.start for ln in lines if ln is not None and ln.b - ln.a >= 30)
    if len(ends) < 3:
        return None
    best, width = 0, None
    for w in sorted(set(ends)):
        if w > 200:
            break
        over = len(ends) - bisect.bisect_right(ends, w)
        near = bisect.bisect_right(ends, w) - bisect.bisect_left(ends, w - 12)
        if over <= 0.05 * len(ends) and near > best:
            best, width = near, w
    return width if best >= max(3, 0.05 * len(ends)) else None


def is_laid_out(src: str) -> bool:
    """Whether ``src`` is text laid out for the eye (hard-wrapped, indented, with page furniture or
    fenced code), which ``read_blocks`` reads; plain one-paragraph-a-line text is left to the
    sentence chunker as it is."""
    lines = _lines(src)
    present = [ln for ln in lines if ln is not None]
    if not present:
        return False
    if _wrap_width(src, lines) is not None or _furniture(src, lines):
        return True
    indented = sum(1 for ln in present if ln.indent >= 2 and not BULLET.match(ln.content(src)))
    return indented >= max(3, 0.3 * len(present)) or any(_FENCE.match(ln.content(src)) for ln in present)


# --- reading ---------------------------------------------------------------------------------


class _Reader:
    """One pass over the lines of a laid-out text, giving its blocks in order."""

    def __init__(self, src: str):
        self.src = src
        self.lines = _lines(src)
        skip = _furniture(src, self.lines)
        self.lines = [None if i in skip else ln for i, ln in enumerate(self.lines)]
        self.width = _wrap_width(src, self.lines)
        indents = Counter()
        for ln in self.lines:
            if ln is not None:
                indents[ln.indent] += ln.b - ln.a
        total = sum(indents.values())
        # the body's indent: the least indent of much of the text (short headings stand out to its left)
        self.body = min((i for i, n in indents.items() if n >= 0.15 * total), default=0)
        self.markdown = any(ln is not None and _MD_HEADING.match(ln.content(src)) for ln in self.lines)
        self.columns = self.description_columns()
        self.headings: list[tuple[int, str]] = []  # (level, text) open now
        self.blocks: list[Block] = []

    # the section a block is under
    @property
    def section(self) -> str:
        return " › ".join(text for _, text in self.headings)

    def heading(self, level: int, text: str, ln: _Line, end: int) -> None:
        self.headings = [h for h in self.headings if h[0] < level] + [(level, text)]
        flat = _Flat(self.src)
        flat.copy(ln.a, ln.b)
        self.blocks.append(Block("heading", flat.text(), ln.a, end, tuple(flat.origin), self.section))

    def text(self, i: int) -> str:
        return self.lines[i].content(self.src)

    def blank(self, i: int) -> bool:
        return i >= len(self.lines) or self.lines[i] is None

    def read(self) -> list[Block]:
        i = 0
        while i < len(self.lines):
            if self.lines[i] is None:
                i += 1
                continue
            i = self.step(i)
        return self.blocks

    def step(self, i: int) -> int:
        """Read the block that begins at line ``i``; the index of the line after it."""
        ln, text = self.lines[i], self.text(i)
        if _RULE.match(text) and not self.blank(i - 1):
            return i + 1  # an underline or a rule under text
        if _FENCE.match(text):
            return self.fence(i)
        if _RULE.match(text):
            return i + 1
        m = _MD_HEADING.match(text)
        if m:
            self.heading(len(m.group(1)), m.group(2).strip(), ln, ln.b)
            return i + 1
        if not self.blank(i + 1) and _RULE.match(self.text(i + 1)) and ln.b - ln.a <= 80 \
                and abs((self.lines[i + 1].b - self.lines[i + 1].a) - (ln.b - ln.a)) <= 4:
            level = 1 if self.text(i + 1).strip()[0] in "=#~*" else 2
            self.heading(level, text, ln, self.lines[i + 1].b)
            return i + 2
        level = self.heading_level(i)
        if level:
            self.heading(level, text.rstrip(":").strip(), ln, ln.b)
            return i + 1
        entry = self.entry_at(i)
        if entry is not None:
            return self.entry(i, *entry)
        if ln.indent > self.body and self.blocks and self.blocks[-1].kind in ("paragraph", "code") \
                and self.blank(i - 1) and self.looks_like_code(i):
            return self.code(i, ln.indent)
        return self.paragraph(i)

    def just_after_heading(self, i: int) -> bool:
        """Whether line ``i`` follows a heading's line at once (a manual's "OPTIONS" and its first
        subsection line, "General", with no blank line between)."""
        last = self.blocks[-1] if self.blocks else None
        return last is not None and last.kind == "heading" and self.lines[i - 1] is not None and last.end == self.lines[i - 1].b

    def heading_level(self, i: int) -> int:
        """1 or 2 when line ``i`` is a heading of a laid-out text, else 0: a short line alone (a
        blank line or a rule before it) that stands left of the body's indent with the body after
        it (a manual's all-capitals section line, its indented subsection line, a numbered
        question of a FAQ), or a numbered title flush with the body and alone."""
        ln, text = self.lines[i], self.text(i)
        if len(text) > 80 or BULLET.match(text) and not _NUMBERED.match(text) or TABLE_ROW.match(text):
            return 0
        if not (i == 0 or self.blank(i - 1) or _RULE.match(self.text(i - 1)) or self.just_after_heading(i)):
            return 0
        nxt = next((ln for ln in self.lines[i + 1 :] if ln is not None), None)
        if ln.indent < self.body and (nxt is None or nxt.indent >= self.body or nxt.indent > ln.indent):
            if text.upper() == text and any(c.isalpha() for c in text) or _NUMBERED.match(text):
                return 1 if ln.indent == 0 else 2
            if text[-1] not in ".!?;," and len(text.split()) <= 8 and not text.startswith(("-", "+")):
                return 1 if ln.indent == 0 else 2
        if ln.indent <= self.body and _NUMBERED.match(text) and text[-1] not in ".;,":
            if self.blank(i + 1) or _RULE.match(self.text(i + 1)) or text.endswith("?"):
                return 2 if "." in text.split()[0].rstrip(".") else 1
        return 0

    # entries

    def description_columns(self) -> set[int]:
        """The columns descriptions start at in this text's definition lists: the indent of a line
        that follows an option's term line at once, or of a line that continues a description
        begun on its term's line (``README          This file``)."""
        out: Counter = Counter()
        for ln, nxt in zip(self.lines, self.lines[1:]):
            if ln is None or nxt is None or nxt.indent < ln.indent + 2:
                continue
            if self.src[ln.a] in "-+" and ln.b - ln.a <= 60:
                out[nxt.indent] += 2
            gap = re.search(r"\S(\s+)\S", self.src[ln.a : ln.b])
            if gap and ln.indent + gap.end(1) == nxt.indent and self.is_term(self.src[ln.a : ln.a + gap.start(1)]):
                out[nxt.indent] += 1
        return {c for c, n in out.items() if n >= 2}

    def entry_at(self, i: int) -> tuple[int, int, int] | None:
        """``(term lines, description indent, inline column)`` when line ``i`` begins a
        definition-list entry: term lines at one indent followed at once by a description indented
        deeper, or a term and its description on one line, parted by a gap at the description's
        column (after term lines of their own, "-E var" over "--env=var   Remove var ...").
        ``inline column`` is that column, or 0."""
        ln, text = self.lines[i], self.text(i)
        if TABLE_ROW.match(text) or BULLET.match(text) and not text.startswith("-"):
            return None
        j = i
        while j < len(self.lines) and self.lines[j] is not None and self.lines[j].indent == ln.indent \
                and self.is_term(self.text(j)) and j - i < 4:
            j += 1
        nxt = self.lines[j] if j < len(self.lines) else None
        if j > i and nxt is not None and nxt.indent >= ln.indent + 2 and not self.begins_own_entry(j):
            return j - i, nxt.indent, 0
        if j > i and nxt is not None and nxt.indent == ln.indent and not any(self.inline_column(n) for n in range(i, j)):
            column = self.inline_column(j)
            if column:
                return j - i + 1, column, column
        column = self.inline_column(i)
        return (1, column, column) if column else None

    def begins_own_entry(self, j: int) -> bool:
        """Whether line ``j``, indented deeper than a term-like line before it, begins an entry of
        its own rather than that line's description (then the line before is a subheading, as
        "General" over "-e expr     A qualifying ..."). A line at a description column describes."""
        if self.columns and self.lines[j].indent in self.columns:
            return False
        return self.entry_at(j) is not None

    def inline_column(self, i: int) -> int:
        """The column at which line ``i``'s description begins when the line is a term and its
        description parted by a gap at a description column; else 0."""
        ln, text = self.lines[i], self.text(i)
        nxt = self.lines[i + 1] if i + 1 < len(self.lines) else None
        gaps = [g for g in re.finditer(r"\S(\s+)\S", text) if ln.indent + g.end(1) in (self.columns or {ln.indent + 7, ln.indent + 8})]
        gap = gaps[0] if gaps else None
        if gap is None or not self.is_term(text[: gap.start(1)]):
            return 0  # no gap at a description's column: a gap of justified text, not a term's
        column = ln.indent + gap.end(1)
        if len(gap.group(1)) < 2 and text[0] not in "-+" and not (nxt is not None and nxt.indent == column):
            return 0
        if nxt is not None and not self.blank(i + 1) and nxt.indent == ln.indent and _BREAK_END.search(text):
            return 0  # a word split across the line break goes on at the same indent: justified prose
        if nxt is None or self.blank(i + 1) or nxt.indent <= ln.indent or nxt.indent == column:
            return column
        return 0

    @staticmethod
    def is_term(text: str) -> bool:
        """A definition-list term: short, and an option ("-r, --recursive") or a name without a
        sentence's end ("N-M", "MODE", "--output=FILE")."""
        text = text.strip()
        if not text or len(text) > 60:
            return False
        if text[0] in "-+":
            return True
        return text[-1] not in _TERMINAL and len(text.split()) <= 5

    def entry(self, i: int, term_lines: int, indent: int, inline: int) -> int:
        """An entry: its term and its description (paragraphs and indented examples) as one block."""
        flat, first = _Flat(self.src), self.lines[i]
        if inline:
            for n in range(term_lines - 1):  # term lines of their own before the one the description begins on
                flat.copy(self.lines[i + n].a, self.lines[i + n].b)
                flat.put(" ", self.lines[i + n].b)
            last = self.lines[i + term_lines - 1]
            cut = last.start + inline  # the description's first character
            term_end = last.a + len(self.src[last.a : cut].rstrip())
            flat.copy(last.a, term_end)
            parts: list[tuple[str, list]] = [("text", [(cut, last.b)])]
            k = i + term_lines
        else:
            for n in range(term_lines):
                if n:
                    flat.put(" ", self.lines[i + n - 1].b)
                flat.copy(self.lines[i + n].a, self.lines[i + n].b)
            term_end = self.lines[i + term_lines - 1].b
            parts, k = [("text", [])], i + term_lines
        term = flat.text()
        flat.put(ENTRY_GAP, term_end)
        end = first.b
        while k < len(self.lines):
            ln = self.lines[k]
            if ln is None:
                nxt = self.lines[k + 1] if k + 1 < len(self.lines) else None
                if nxt is not None and nxt.indent >= indent and not _FENCE.match(self.text(k + 1)):
                    parts.append(("text", []))
                    k += 1
                    continue
                break
            if ln.indent < indent:
                break
            kind, items = parts[-1]
            if ln.indent > indent and not (kind == "text" and items and self.continues(k - 1)):
                if kind != "code":
                    parts.append(("code", []))
                parts[-1][1].append(k)
            else:
                if kind == "code" or (items and self.breaks_before(k, items)):
                    parts.append(("text", []))
                parts[-1][1].append((ln.a, ln.b))
            end = ln.b
            k += 1
        parts = [(kind, items) for kind, items in parts if items]
        for n, (kind, items) in enumerate(parts):
            if n:
                flat.put("\n", self.lines[items[0]].start if kind == "code" else items[0][0])
            if kind == "code":
                self.code_lines(flat, items, indent + 1)
            else:
                self.join(flat, items)
        section = f"{self.section} › {term}" if self.section else term
        self.blocks.append(Block("entry", flat.text(), first.a, end, tuple(flat.origin), section, term))
        return k

    def code_lines(self, flat: _Flat, indices: list[int], indent: int) -> None:
        """Lines kept as they are, each led by ``CODE_INDENT`` (and its own indent beyond ``indent``)."""
        base = min(self.lines[k].indent for k in indices)
        for n, k in enumerate(indices):
            ln = self.lines[k]
            if n:
                flat.put("\n", ln.start)
            flat.put(CODE_INDENT + " " * (ln.indent - base), ln.a)
            flat._run(ln.a, ln.b)

    # paragraphs and code

    def continues(self, i: int) -> bool:
        """Whether the line after line ``i``, indented deeper, continues its text (a wrapped line
        of a hanging paragraph) rather than starting an indented example."""
        return self.width is not None and self.lines[i].b - self.lines[i].start >= self.width - 20 \
            and self.text(i)[-1] not in ".:"

    def breaks_before(self, k: int, para: list[tuple[int, int]]) -> bool:
        """Whether a new paragraph begins at line ``k`` though no blank line parts it from the one
        before: a list item, a table row, or a line after a short one in a wrapped text."""
        text = self.text(k)
        if BULLET.match(text) or TABLE_ROW.match(text) or TABLE_ROW.match(self.src[para[-1][0] : para[-1][1]]):
            return True
        prev = self.lines[k - 1]
        if prev is None:
            return True
        if self.width is None:
            return not self.markdown  # not wrapped: every line is its own, but in Markdown a paragraph's lines are one
        first_word = text.split()[0]
        return (prev.b - prev.start) + 1 + len(first_word) <= self.width - 8

    def paragraph(self, i: int) -> int:
        """A run of lines that forms paragraphs (wrapped lines joined), up to a blank line, a line
        indented otherwise, a heading or an entry."""
        indent = self.lines[i].indent
        paras: list[list[tuple[int, int]]] = [[(self.lines[i].a, self.lines[i].b)]]
        k = i + 1
        while k < len(self.lines) and self.lines[k] is not None:
            ln, text = self.lines[k], self.text(k)
            hanging = BULLET.match(self.src[paras[-1][0][0] : paras[-1][0][1]])
            same = ln.indent == indent or (hanging and ln.indent > indent)
            underlined = not self.blank(k + 1) and _RULE.match(self.text(k + 1)) \
                and abs((self.lines[k + 1].b - self.lines[k + 1].a) - (ln.b - ln.a)) <= 4
            if not same or _RULE.match(text) or _FENCE.match(text) or _MD_HEADING.match(text) or underlined:
                break
            new = self.breaks_before(k, paras[-1])
            if new and (self.heading_level(k) or (ln.indent == indent and self.entry_at(k) and not hanging)):
                break
            if new:
                paras.append([])
            paras[-1].append((ln.a, ln.b))
            k += 1
        for para in paras:
            flat = _Flat(self.src)
            self.join(flat, para)
            self.blocks.append(Block("paragraph", flat.text(), para[0][0], para[-1][1], tuple(flat.origin), self.section))
        return k

    def join(self, flat: _Flat, para: list[tuple[int, int]]) -> None:
        """The lines ``para`` as one line: a space at each line break, a word hyphenated across a
        break mended (U+2010, which man pages write only there, is dropped; an ASCII hyphen stays:
        "command-line")."""
        src = self.src
        for n, (a, b) in enumerate(para):
            if n:
                prev_b = para[n - 1][1]
                soft = src[prev_b - 1] in _HYPHENS and prev_b - 2 >= 0 and src[prev_b - 2].isalpha() \
                    and src[a].islower()
                if not soft:
                    flat.put(" ", prev_b)
            if n + 1 < len(para) and src[b - 1] == "\u2010" and b - 2 >= 0 and src[b - 2].isalpha() \
                    and src[para[n + 1][0]].islower():
                flat.copy(a, b - 1)
            else:
                flat.copy(a, b)

    def looks_like_code(self, i: int) -> bool:
        """An indented example after a paragraph: announced by it ("like this:"), or lines not
        wrapped to the text's width."""
        if self.blocks and self.blocks[-1].text.rstrip().endswith(":"):
            return True
        k = i
        while k < len(self.lines) and self.lines[k] is not None:
            if self.width is not None and self.lines[k].b - self.lines[k].start >= self.width - 8:
                return False
            k += 1
        return True

    def code(self, i: int, indent: int) -> int:
        """Indented example lines, kept as they are."""
        k = i
        while k < len(self.lines) and self.lines[k] is not None and self.lines[k].indent >= indent:
            k += 1
        flat = _Flat(self.src)
        self.code_lines(flat, list(range(i, k)), indent)
        self.blocks.append(Block("code", flat.text(), self.lines[i].a, self.lines[k - 1].b, tuple(flat.origin), self.section))
        return k

    def fence(self, i: int) -> int:
        """A fenced code block, its lines kept as they are (the fences left out)."""
        marker = _FENCE.match(self.text(i)).group(1)
        k, inside = i + 1, []
        while k < len(self.lines):
            if self.lines[k] is not None and self.text(k).startswith(marker):
                k += 1
                break
            if self.lines[k] is not None:
                inside.append(k)
            k += 1
        if inside:
            flat = _Flat(self.src)
            self.code_lines(flat, inside, 0)
            first, last = self.lines[inside[0]], self.lines[inside[-1]]
            self.blocks.append(Block("code", flat.text(), first.a, last.b, tuple(flat.origin), self.section))
        return k


def read_blocks(src: str) -> list[Block]:
    """The blocks of a laid-out text, in reading order (headings among them)."""
    return _Reader(src).read()
