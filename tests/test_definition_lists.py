"""Definition lists and code in Markdown and Word documents, written in the structure pass's
conventions: an entry's term on its line and its description indented by four spaces below it,
entries parted by a blank line; code as a fenced block, its characters kept."""
from __future__ import annotations

import io

import pytest

from ingest.layout import definition_lists, markdown_tables
from ingest.loaders import load_bytes


def _md(text: str) -> str:
    return load_bytes(text.encode(), "r.md", ".md").text


# -- Markdown ----------------------------------------------------------------------------------

@pytest.mark.parametrize("source, expected", [
    # PHP Markdown Extra and pandoc: the definition on a ": " line, continued by indented lines
    ("Apple\n: A red fruit\n  that grows on trees.\n", "Apple\n    A red fruit\n    that grows on trees.\n"),
    # pandoc: a blank line between term and definition; "~" as the marker; two definitions
    ("Orange\n\n:   A citrus fruit.\n\n:   A colour.\n", "Orange\n    A citrus fruit.\n    A colour.\n"),
    ("Pear\n~ A fruit.\n", "Pear\n    A fruit.\n"),
    # AsciiDoc: "term:: description", and the description on the next line
    ("-r, --recursive:: remove directories\n  and their contents\n", "-r, --recursive\n    remove directories\n    and their contents\n"),
    ("CPU::\nThe brain of the computer.\n", "CPU\n    The brain of the computer.\n"),
])
def test_markdown_definition_lists_are_entries(source, expected):
    assert definition_lists(source) == expected


def test_entries_are_parted_by_a_blank_line_from_what_is_around_them():
    md = "# Options\nIntro line.\n\n-v:: be verbose\n-q:: be quiet\ngoes on here\n\nAfter.\n"
    assert _md(md) == "# Options\nIntro line.\n\n-v\n    be verbose\n\n-q\n    be quiet\n    goes on here\n\nAfter.\n"


@pytest.mark.parametrize("text", [
    "std::vector holds its elements in one block.\n",  # "::" inside a word is C++, not an entry
    "A paragraph\nof two lines\n: then a line that starts with a colon\n",  # a term starts a block
    "- item\n: not a definition of a list item\n",
    "Ends with a colon: like this.\n",
    "# Heading:: no\n",
])
def test_text_that_only_looks_like_a_definition_list_is_left_alone(text):
    assert definition_lists(text) == text


CODE = """```python
def f(x):
    return x::y  # not:: an entry
Term
: not a definition
| a | b |
|---|---|
| 1 | 2 |
```"""


def test_fenced_and_indented_code_is_left_exactly_as_it_is():
    md = f"Intro.\n\n{CODE}\n\n~~~\nterm:: kept\n~~~\n\n    indented:: code\n    : kept\n\nAfter.\n"
    text = _md(md)
    assert CODE in text and "~~~\nterm:: kept\n~~~" in text and "    indented:: code\n    : kept" in text


def test_markdown_tables_never_touch_a_fence():
    fenced = "Before.\n\n" + CODE + "\n\n- a list\n\n  ```\n  | x | y |\n  |---|---|\n  | 3 | 4 |\n  ```\n"
    assert markdown_tables(fenced) == fenced
    assert markdown_tables("| a | b |\n|---|---|\n| 1 | 2 |\n") == "a | b\n\na: 1 | b: 2\n"  # a table outside one is rows


# -- Word documents ----------------------------------------------------------------------------

def _docx(build) -> str:
    import docx

    d = docx.Document()
    build(d)
    buf = io.BytesIO()
    d.save(buf)
    return load_bytes(buf.getvalue(), "r.docx", ".docx").text


def test_a_bold_term_and_its_indented_description_are_an_entry():
    from docx.shared import Inches

    def build(d):
        d.add_heading("Options", 1)
        d.add_paragraph().add_run("-r, --recursive").bold = True
        for line in ("remove directories and their contents recursively", "one level at a time"):
            d.add_paragraph(line).paragraph_format.left_indent = Inches(0.5)
        d.add_paragraph().add_run("Note").bold = True  # a run-in heading: nothing indented follows
        d.add_paragraph("Options may be combined.")
        d.add_paragraph().add_run("Requirements").bold = True  # a label over a bulleted list: not a term
        d.add_paragraph("a POSIX shell", style="List Bullet").paragraph_format.left_indent = Inches(0.5)

    assert _docx(build).split("\n\n") == [
        "# Options", "-r, --recursive\n    remove directories and their contents recursively\n    one level at a time",
        "Note", "Options may be combined.", "Requirements", "a POSIX shell"]


def test_definition_term_and_definition_styles_are_an_entry():
    from docx.enum.style import WD_STYLE_TYPE

    def build(d):
        term = d.styles.add_style("Definition Term", WD_STYLE_TYPE.PARAGRAPH)
        definition = d.styles.add_style("Definition", WD_STYLE_TYPE.PARAGRAPH)
        d.add_paragraph("API key", style=term)
        d.add_paragraph("A secret that names the caller.", style=definition)
        d.add_paragraph("Token", style=term)
        d.add_paragraph("What the server gives back.", style=definition)

    assert _docx(build).split("\n\n") == ["API key\n    A secret that names the caller.", "Token\n    What the server gives back."]


def test_code_paragraphs_are_one_fenced_block_with_their_characters_kept():
    from docx.enum.style import WD_STYLE_TYPE

    def build(d):
        d.add_paragraph("Run this:")
        for line in ("def f(x):", "    return  x(y)"):
            d.add_paragraph().add_run(line).font.name = "Courier New"  # monospace, in the Normal style
        code = d.styles.add_style("HTML Preformatted", WD_STYLE_TYPE.PARAGRAPH)
        d.add_paragraph("Then:")
        d.add_paragraph("widgetd --config a.conf", style=code)
        d.add_paragraph("", style=code)
        d.add_paragraph("echo done", style=code)

    assert _docx(build) == "\n\n".join([
        "Run this:", "```\ndef f(x):\n    return  x(y)\n```", "Then:", "```\nwidgetd --config a.conf\n\necho done\n```"])


def test_a_two_column_table_of_terms_is_entries_and_a_table_with_a_header_keeps_it():
    def build(d):
        options = d.add_table(rows=2, cols=2)
        for row, (term, text) in zip(options.rows, [("-v", "print each file name as it is copied"),
                                                    ("-n", "do not overwrite an existing file")]):
            row.cells[0].text, row.cells[1].text = term, text
        labelled = d.add_table(rows=2, cols=2)
        for row, cells in zip(labelled.rows, [("Country", "Troops"), ("Japan", "54,000")]):
            row.cells[0].text, row.cells[1].text = cells
        bold = d.add_table(rows=2, cols=2)
        for cell, text in zip(bold.rows[0].cells, ["Option name", "What the option does when given"]):
            cell.paragraphs[0].add_run(text).bold = True
        bold.rows[1].cells[0].text, bold.rows[1].cells[1].text = "-q", "print nothing at all while copying"

    assert _docx(build).split("\n\n") == [
        "-v\n    print each file name as it is copied", "-n\n    do not overwrite an existing file",
        "Country | Troops", "Country: Japan | Troops: 54,000",
        "Option name | What the option does when given",
        "Option name: -q | What the option does when given: print nothing at all while copying"]


def test_a_document_set_all_in_a_monospace_font_is_text_not_code():
    def build(d):
        for line in ("A memo typed in Courier.", "It has two paragraphs.", "And a third one."):
            d.add_paragraph().add_run(line).font.name = "Courier New"

    assert _docx(build) == "A memo typed in Courier.\n\nIt has two paragraphs.\n\nAnd a third one."
