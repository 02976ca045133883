"""A web page's content as plain text: headings, paragraphs, code, definition lists and tables,
without the site around it (navigation, tables of contents, headers, footers, sidebars, notices).

The text follows the conventions the structure pass reads: Markdown headings; one paragraph a
block, blocks parted by a blank line; a ``<pre>`` as a fenced block with its characters exactly;
a ``<dl>`` entry as its term on a line and its description below, indented by four spaces.
Inline elements are joined without spaces of their own (``<b>world</b>.`` stays "world.", a
highlighted ``<code>`` keeps "foo(bar)"), unlike BeautifulSoup's ``get_text(" ")``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .layout import table_rows

DROPPED_TAGS = ("script", "style", "noscript", "template", "nav", "header", "footer", "aside",
                "button", "select", "textarea", "svg", "iframe", "dialog")  # not <form>: ASP.NET wraps whole pages in one
DROPPED_ROLES = {"navigation", "banner", "contentinfo", "complementary", "search", "menu", "menubar", "toolbar"}
# Class or id words of site furniture: a whole word of a hyphenated name ("md-sidebar",
# "toc-wrapper"), or, for the longer ones, any part of it ("sphinxsidebar").
FURNITURE_WORDS = {"toc", "toctree", "nav", "navbar", "navigation", "menu", "breadcrumb", "breadcrumbs",
                   "sidebar", "footer", "headerlink", "skip", "skiplink", "cookie", "cookies", "pagination",
                   "pager", "masthead", "prevnext", "edit", "banner", "announcement"}
FURNITURE_PARTS = ("sidebar", "breadcrumb", "navbar", "headerlink", "skiplink", "skip-link", "cookie", "toctree",
                   "viewcode-link", "viewcode-back", "table-of-contents", "tableofcontents", "site-header", "site-footer")
# Tags whose names come from their content, not the site's layout: a section titled "Cookies"
# is <section id="cookies">, an API entry <dt id="Menu">. Their class and id are not read.
NAMED_BY_CONTENT = {"section", "article", "main", "dl", "dt", "dd", "table", "pre", "code",
                    "h1", "h2", "h3", "h4", "h5", "h6"}
# A block kept though it looks like furniture, because it holds the page's content: a <header>
# holding the page's title (an article's), a block named like furniture holding the content (Read
# the Docs calls its content column "wy-nav-content").

BOILERPLATE = re.compile(
    r"(?:edit (?:on github|on gitlab|this page|page)|view (?:page )?source|show source|suggest (?:an )?edit"
    r"|improve this (?:page|doc)|report an? (?:issue|bug)|previous|next|« previous|next »|previous topic"
    r"|next topic|previous page|next page|back to top|table of contents|contents|on this page|in this article"
    r"|skip to (?:main )?content|skip navigation|permalink(?: to this \w+)?|copy(?: to clipboard)?"
    r"|was this page helpful\??|search|home|¶)\W*",
    re.IGNORECASE,
)
BOILERPLATE_HEADING = re.compile(r"(?:table of contents|contents|on this page|in this article)\W*", re.IGNORECASE)
COOKIE_NOTICE = re.compile(r"\b(?:we use|(?:this|our) (?:site|website) uses)\b[^.]{0,40}\bcookies\b|\bcookies?\b.{0,120}"
                           r"\b(?:accept all|reject all|consent|privacy policy|cookie (?:policy|settings|preferences))\b",
                           re.IGNORECASE)  # a site's notice, not a text about HTTP cookies
PERMALINK_MARKS = {"", "#", "¶", "§", "🔗", "\u200b", "\uf0c1"}
MAX_LINK_BLOCK_WORDS = 12  # a paragraph of links alone up to this long is navigation ("Previous | Next")
MAX_NOTICE_WORDS = 60

HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
CODE_TAGS = ("code", "kbd", "samp", "tt", "var")
BLOCK_TAGS = {"address", "article", "blockquote", "body", "center", "dd", "details", "div", "dl", "dt",
              "fieldset", "figcaption", "figure", "hr", "li", "main", "ol", "p", "pre", "section",
              "summary", "table", "ul", "caption", "html", *HEADINGS}


LEAF_BLOCKS = {"pre", "table", "dl", "ul", "ol", "hr", *HEADINGS}  # blocks read by kind; the others hold blocks


@dataclass
class _Run:
    """Inline text being gathered into one paragraph."""

    parts: list  # (text, is_code)
    linked: int = 0  # letters and digits inside links
    total: int = 0  # letters and digits in all

    def add(self, text: str, code: bool, link: bool) -> None:
        self.parts.append((text, code))
        n = sum(c.isalnum() for c in text)
        self.total += n
        self.linked += n if link else 0

    def text(self) -> str:
        out = []
        for text, code in self.parts:
            out.append(text if code else re.sub(r"\s+", " ", text))
        return re.sub(r" *\n *", "\n", "".join(out)).strip()

    def navigation(self) -> bool:
        """Only links, and short: "Previous | Next", "Edit on GitHub"."""
        words = len(self.text().split())
        return self.total > 0 and self.linked == self.total and words <= MAX_LINK_BLOCK_WORDS


def _furniture(tag) -> str:
    """Why a tag is site furniture ("tag", "role", "name"), or "" when it is not."""
    attrs = tag.attrs
    if tag.name in DROPPED_TAGS or attrs.get("hidden") is not None or attrs.get("aria-hidden") == "true":
        return "tag"
    if str(attrs.get("role", "")).lower() in DROPPED_ROLES:
        return "role"
    classes = [c.lower() for c in attrs.get("class") or []]
    if tag.name in NAMED_BY_CONTENT or "section" in classes:  # docutils writes <div class="section" id="...">
        return ""
    names = [*classes, str(attrs.get("id") or "")]
    for name in (n.lower() for n in names if n):
        if set(re.split(r"[-_\s]+", name)) & FURNITURE_WORDS or any(p in name for p in FURNITURE_PARTS):
            return "name"
    return ""


def _holds_content(tag, why: str) -> bool:
    """Whether furniture holds the page's content after all: the main content (any furniture), or
    the page's title (a <header>, or a block only named like furniture)."""
    if tag.find("main") is not None or tag.find(attrs={"role": "main"}) is not None:
        return True
    return (why == "name" or tag.name == "header") and tag.find("h1") is not None


def strip_furniture(root) -> None:
    """Take the site's furniture out of a parsed page, keeping any block that holds the content."""
    doomed = [tag for tag in root.find_all(True) if (why := _furniture(tag)) and not _holds_content(tag, why)]
    marked = {id(tag) for tag in doomed}
    outermost = [tag for tag in doomed if not any(id(parent) in marked for parent in tag.parents)]
    for tag in outermost:  # (a tag goes with its parent: a decomposed tag is not touched again)
        tag.decompose()


def _inline(node, run: _Run, link: bool = False) -> None:
    from bs4 import Comment, NavigableString

    for child in node.children:
        if isinstance(child, Comment):
            continue
        if isinstance(child, NavigableString):
            run.add(str(child), False, link)
        elif child.name == "br":
            run.add("\n", True, link)
        elif child.name in CODE_TAGS:
            run.add(child.get_text(), True, link)  # exactly: syntax highlighting's spans add nothing
        elif child.name in BLOCK_TAGS:  # a block read inline (in a table's cell): a space around it
            run.add(" ", False, link)
            _inline(child, run, link)
            run.add(" ", False, link)
        else:
            _inline(child, run, link or child.name == "a")


def _has_blocks(tag) -> bool:
    return tag.find(BLOCK_TAGS) is not None


@dataclass(frozen=True)
class Block:
    kind: str  # "text", "heading", "code", "entry", "row", "item"
    text: str


def _paragraph(nodes: list, blocks: list[Block], links: bool = False) -> None:
    run = _Run([])
    for node in nodes:
        if isinstance(node, str):
            run.add(str(node), False, False)
        elif node.name == "br":
            run.add("\n", True, False)
        elif node.name in CODE_TAGS:
            run.add(node.get_text(), True, False)
        else:
            _inline(node, run, node.name == "a")
    text = run.text()
    if not text or (not links and run.navigation()) or _boilerplate(text):
        return
    blocks.append(Block("text", text))


def _boilerplate(text: str) -> bool:
    """A line of site boilerplate: "Edit on GitHub", "Next", a cookie notice."""
    if BOILERPLATE.fullmatch(text.strip()):
        return True
    return len(text.split()) <= MAX_NOTICE_WORDS and COOKIE_NOTICE.search(text) is not None


def walk(node, blocks: list[Block], links: bool = False) -> None:
    """The blocks of a container, in reading order: inline runs as paragraphs, block tags by kind;
    a short paragraph of links alone is navigation, and left out unless ``links`` (in a list item
    or a description, a link alone is content). Containers nest without recursion: pages wrap
    their text in hundreds of divs."""
    from bs4 import Comment, NavigableString

    stack: list[tuple] = [(iter(node.children), [])]  # a container's children left, and its inline run
    while stack:
        children, run = stack[-1]
        child = next(children, None)
        if child is None:
            _paragraph(run, blocks, links)
            stack.pop()
        elif isinstance(child, Comment):
            continue
        elif isinstance(child, NavigableString):
            run.append(child)
        elif child.name in BLOCK_TAGS or _has_blocks(child):
            _paragraph(run, blocks, links)
            run.clear()
            if child.name in LEAF_BLOCKS:
                _block(child, blocks, links)
            else:
                stack.append((iter(child.children), []))
        else:
            run.append(child)


def _block(el, blocks: list[Block], links: bool = False) -> None:
    if el.name in HEADINGS:
        run = _Run([])
        _inline(el, run)
        text = " ".join(run.text().split()).rstrip("¶ ").strip()
        if text and not BOILERPLATE_HEADING.fullmatch(text):
            blocks.append(Block("heading", "#" * int(el.name[1]) + " " + text))
    elif el.name == "pre":
        blocks.append(Block("code", fence(el.get_text())))
    elif el.name == "table" and el.find("pre") is not None and _numbered_code(el):  # code beside its line numbers
        blocks += [Block("code", fence(pre.get_text())) for pre in el.find_all("pre")
                   if not any("linenos" in " ".join(td.get("class") or []) for td in pre.find_parents("td"))]
    elif el.name == "table" and _layout_table(el):
        for cell in el.find_all(["td", "th"]):
            if cell.find_parent("table") is el:
                walk(cell, blocks, links)
    elif el.name == "table":
        rows = [[" ".join(_cell(c).split()) for c in tr.find_all(["th", "td"])] for tr in el.find_all("tr")]
        blocks += [Block("row", r) for r in table_rows(rows)]
    elif el.name == "dl":
        _entries(el, blocks)
    elif el.name in ("ul", "ol"):
        _list(el, blocks)
    elif el.name == "hr":
        return
    else:
        walk(el, blocks, links)


def _numbered_code(table) -> bool:
    """Whether a table lays code out beside its line numbers (Pygments' "highlighttable")."""
    names = " ".join([*(table.get("class") or []), *(c for td in table.find_all("td") for c in td.get("class") or [])])
    return "lineno" in names or "highlighttable" in names or "codehilitetable" in names


def _layout_table(table) -> bool:
    """Whether a table lays a page out rather than holding data: it says so (role="presentation"),
    or a cell holds a heading or another table."""
    if str(table.get("role", "")).lower() in ("presentation", "none"):
        return True
    return table.find([*HEADINGS, "table"]) is not None


def _cell(cell) -> str:
    run = _Run([])
    _inline(cell, run)
    return run.text()


def fence(code: str) -> str:
    """A code block as a Markdown fence; its characters are kept (a browser drops the newline
    that follows ``<pre>``), and a fence longer than any run of backticks inside it."""
    code = code[1:] if code.startswith("\n") else code
    code = code.rstrip("\n")
    ticks = "`" * max(3, 1 + max((len(m) for m in re.findall(r"`+", code)), default=0))
    return f"{ticks}\n{code}\n{ticks}"


def _list(el, blocks: list[Block]) -> None:
    items = [li for li in el.find_all("li", recursive=False)]
    if len(items) >= 2 and all(_link_only(li) for li in items):
        return  # a list of links alone: a table of contents or a menu
    for li in items:
        inner: list[Block] = []
        walk(li, inner, links=True)
        if inner and inner[0].kind == "text":
            inner[0] = Block("item", "- " + inner[0].text)
        blocks += inner


def _link_only(li) -> bool:
    run = _Run([])
    _inline(li, run)
    return run.total > 0 and run.linked == run.total


def _entries(dl, blocks: list[Block]) -> None:
    """A definition list: each entry its term(s) on one line, its description indented below;
    code, tables and nested lists of a description follow the entry as blocks of their own."""
    terms: list[str] = []
    for child in dl.find_all(["dt", "dd"]):
        if child.find_parent("dl") is not dl:
            continue  # a nested list's, read with its description
        if child.name == "dt":
            run = _Run([])
            _inline(child, run)
            text = " ".join(run.text().split()).rstrip("¶").strip()
            if text:
                terms.append(text)
            continue
        inner: list[Block] = []
        walk(child, inner, links=True)
        lines = [" ".join(b.text.split()) for b in inner if b.kind in ("text", "item")]
        rest = [b for b in inner if b.kind not in ("text", "item")]
        if terms:
            blocks.append(Block("entry", "\n".join([", ".join(terms), *("    " + line for line in lines)])))
        else:
            blocks += [Block("text", line) for line in lines]
        blocks += rest
        terms = []
    blocks += [Block("text", t) for t in terms]  # terms left without a description


def page_text(soup) -> str:
    """The content of a parsed page as text, blocks parted by a blank line."""
    for tag in soup(["script", "style", "noscript", "template"]):
        tag.decompose()
    body = soup.body or soup
    strip_furniture(body)
    for link in body.find_all("a"):
        if "headerlink" in (link.get("class") or []) or (str(link.get("href") or "").startswith("#")
                                                          and link.get_text(strip=True) in PERMALINK_MARKS):
            link.decompose()  # a heading's permalink: "¶", "#", "§"
    blocks: list[Block] = []
    walk(body, blocks)
    return "\n\n".join(b.text for b in blocks if b.text)
