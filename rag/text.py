"""Sentence spans and content terms: the units that answers, citations and checks are made of."""
from __future__ import annotations

import re
from functools import lru_cache

_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’\-]*")
_NUMBER = re.compile(r"\b\d[\d,.]*\b")
BULLET = re.compile(r"^\s*([-*+•]|\d+[.)])\s+")  # a list item's lead: "- ", "* ", "• ", "1. ", "2) "
# A table row as ingestion writes it (ingest/layout.table_rows): cells joined by " | ", each body
# cell led by its column's header: "City: Lindqvist Harbor | Soldiers: 1,350".
TABLE_ROW = re.compile(r"^[^|\n]+?: [^|\n]+( \| [^|\n]+)+$")
_TERMINAL = ".!?…:;\"'”’)"

STOPWORDS = frozenset(
    """a about above after again against all am an and any are aren't as at be because been before being
    below between both but by can could did do does doing down during each few for from further had has
    have having he her here hers herself him himself his how i if in into is it its itself just me more
    most my myself no nor not now of off on once only or other our ours ourselves out over own same she
    should so some such than that the their theirs them themselves then there these they this those
    through to too under until up very was we were what when where which while who whom why will with
    would you your yours yourself yourselves also according essay document documents text passage
    say says said does doing describe described mention mentioned tell give explain kind kinds way ways
    like one ones two many much well""".split()
)


@lru_cache(maxsize=1)
def _segmenter():
    import pysbd

    return pysbd.Segmenter(language="en", clean=False, char_span=True)


@lru_cache(maxsize=1)
def _stem():
    try:
        import Stemmer

        return Stemmer.Stemmer("english").stemWord
    except ImportError:
        return lambda w: w


def _line_spans(text: str) -> list[tuple[int, int]]:
    spans, pos = [], 0
    for line in text.split("\n"):
        start, end = pos, pos + len(line)
        pos = end + 1
        stripped = line.strip()
        if stripped:
            lead = len(line) - len(line.lstrip())
            spans.append((start + lead, start + lead + len(stripped)))
    return spans


def records(text: str) -> list[tuple[int, int, bool]]:
    """``text`` cut where its table rows are, as ``(start, end, is_row)``: each row (``TABLE_ROW``)
    is one record, the lines between rows one more; ``[(0, len(text), False)]`` for a text without
    rows. A reader reads each record on its own, so an answer cannot run from one row's cell into
    the next row."""
    lines = [(a, b, bool(TABLE_ROW.match(text[a:b]))) for a, b in _line_spans(text)]
    if not any(row for _, _, row in lines):
        return [(0, len(text), False)]
    out: list[tuple[int, int, bool]] = []
    prose: tuple[int, int, bool] | None = None
    for a, b, row in lines:
        if row:
            if prose:
                out.append(prose)
                prose = None
            out.append((a, b, True))
        else:
            prose = (prose[0], b, False) if prose else (a, b, False)
    return out + [prose] if prose else out


# A reflowed laid-out text (ingest/structure.py) writes a definition-list entry as its term, two
# spaces and its description ("-r, --recursive  remove directories ..."), and a line of code indented.
ENTRY_GAP = "  "
CODE_INDENT = "    "


def _indent(text: str, s: int) -> int:
    """How far the line holding offset ``s`` is indented before it."""
    return s - (text.rfind("\n", 0, s) + 1)


@lru_cache(maxsize=8192)
def sentence_spans(text: str) -> tuple[tuple[int, int], ...]:
    """``(start, end)`` of each sentence in ``text``. Title lines are left out; a line ending in ':'
    and the bullet lines after it form one unit, so a list is quoted whole; any other list item is
    one unit when it is one sentence, and split into its sentences when it holds several; a table
    row (``TABLE_ROW``) is one unit."""
    units: list[tuple[int, int]] = []
    lines = _line_spans(text)
    i = 0
    while i < len(lines):
        s, e = lines[i]
        line = text[s:e]
        if line.endswith(":") and i + 1 < len(lines) and BULLET.match(text[lines[i + 1][0] : lines[i + 1][1]]):
            j = i + 1
            while j < len(lines) and BULLET.match(text[lines[j][0] : lines[j][1]]):
                j += 1
            head = segment(text, s, e)
            units.extend(head[:-1])
            units.append((head[-1][0] if head else s, lines[j - 1][1]))
            i = j
            continue
        if BULLET.match(line):
            # A list item of one sentence, whole. One of several is split into them like prose: a
            # passage cannot tell it from a line that only looks like an item ("2. Diatomic oxygen ...
            # . However, ...": a subscript on a line of its own, often a chunk's first line).
            parts = segment(text, s, e)
            units.extend(parts if len(parts) > 1 else [(s, e)])
        elif TABLE_ROW.match(line):
            units.append((s, e))  # a row is one fact, quoted whole with its headers
        elif _indent(text, s) >= len(CODE_INDENT):
            units.append((s, e))  # a line of code (ingest/structure.py indents it): whole, never cut at a dot
        elif line[-1] not in _TERMINAL and len(line) <= 90 and len(line.split()) <= 12 and ENTRY_GAP not in line:
            pass  # a title line: context, not a claim (an entry's term and its short description are a claim)
        else:
            units.extend(segment(text, s, e))
        i += 1
    return tuple(units)


def segment(text: str, s: int, e: int) -> list[tuple[int, int]]:
    """Sentence spans of ``text[s:e]`` (one line, as pysbd splits it), in ``text`` offsets."""
    out = []
    for span in _segmenter().segment(text[s:e]):
        seg = span.sent
        lead = len(seg) - len(seg.lstrip())
        a = s + span.start + lead
        b = a + len(seg.strip())
        if b > a:
            if out and a == out[-1][1]:  # no space between: a dot inside a name or file name (".wgetrc", "os.path")
                out[-1] = (out[-1][0], b)
            else:
                out.append((a, b))
    return out


def split_sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in sentence_spans(text)]


def terms(text: str) -> list[str]:
    """Stemmed content words, lower case, stopwords dropped."""
    stem = _stem()
    out = []
    for w in _WORD.findall(text.lower()):
        w = w.strip("'’-")
        if len(w) < 2 or w in STOPWORDS:
            continue
        out.append(stem(w.replace("’", "'")))
    return out


def numbers(text: str) -> set[str]:
    return {n.rstrip(".,") for n in _NUMBER.findall(text)}


# A capitalised word right after one of these opens a sentence or a clause ("... seen?: Yes. A
# country ..."), so its capital says nothing; "U.S. Navy" keeps 'Navy' (the full stop ends a capital).
_OPENS = re.compile(r"(?:[?!:;(\"“]|(?<![A-Z])\.)\s*$")


def proper_names(sentence: str) -> set[str]:
    """Capitalised words that do not open the sentence (or a sentence within it): names the
    passage must contain."""
    text = re.sub(r"\[\d+\]", " ", sentence)
    out = set()
    for i, m in enumerate(re.finditer(r"[A-Za-z][A-Za-z'’\-]*", text)):
        w = m.group(0)
        if i == 0 or not w[0].isupper() or w.lower() in STOPWORDS or len(w) < 2:
            continue
        if _OPENS.search(text[max(0, m.start() - 3) : m.start()]):
            continue
        out.add(w)
    return out


MARKER_NUMBERS = r"\d+(?:\s*,\s*\d+)*"  # what stands inside a citation marker: "1", "1, 2"
MARKER = re.compile(rf"\[({MARKER_NUMBERS})\]")  # "[1]", "[1, 2]" as written
CITATION = re.compile(rf"\s*{MARKER.pattern}")  # "[1]", "[1, 2]" with the space before it
LEADING_CITATIONS = re.compile(rf"^((?:\s*\[{MARKER_NUMBERS}\])+)\s*")  # markers that open a piece of text


def parse_citations(sentence: str) -> tuple[str, list[int]]:
    """A sentence without its ``[n]`` markers, and the numbers they name (``[1, 2]`` too), in order."""
    nums: list[int] = []
    clean = sentence
    while found := list(CITATION.finditer(clean)):  # again, for nested markers like "[1[2]]"
        for m in found:
            nums.extend(int(x) for x in re.split(r"\s*,\s*", m.group(1)))
        clean = CITATION.sub("", clean)
    return clean.strip(), list(dict.fromkeys(nums))


# -- names, as questions and passages are compared -----------------------------------------------

NAME_RUN = re.compile(r"[A-Z][a-z]+(?:\s+(?:of\s+|and\s+|for\s+|the\s+)*[A-Z][a-z]+)+")
_NAME_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’.\-]*")


def name_key(word: str) -> str:
    """A name as compared: lower case, without a possessive or full stops ("Russia’s" is
    'russia', "U.S." is 'us')."""
    w = word.lower().replace("’", "'").replace(".", "")
    return w[:-2] if w.endswith("'s") else w


def acronyms(text: str) -> set[str]:
    """The initials of the multi-word names in ``text``, lower case: "United Nations" is 'un',
    "North Atlantic Treaty Organization" 'nato', so a question may use either form."""
    return {"".join(w[0] for w in m.group(0).split() if w[0].isupper()).lower() for m in NAME_RUN.finditer(text)}


def name_words(text: str) -> set[str]:
    """The words of ``text`` as names are compared, with the initials of its many-word names."""
    return {name_key(w) for w in _NAME_WORD.findall(text)} | acronyms(text)


def same_name(a: str, b: str) -> bool:
    """One name, or a name and its adjective: 'russia' and 'russian', 'east' and 'eastern'.
    Numbers and short names must match whole."""
    if a == b:
        return True
    if a[:1].isdigit() or min(len(a), len(b)) < 4:
        return False
    short, long_ = sorted((a, b), key=len)
    return long_.startswith(short) and len(long_) - len(short) <= 3


def same_stem(a: str, b: str) -> bool:
    """Stems of one word, or of a name and its adjective ('russia', 'russian'; 'japan', 'japanes')."""
    return a == b or (min(len(a), len(b)) >= 4 and (a.startswith(b) or b.startswith(a)))
