"""PDFs as people have them: running headers, footers and page numbers, hard-wrapped paragraphs
across pages, hyphenated line ends, code, option entries, contents and index pages, page labels.

The test manual is drawn line by line with reportlab, as a typesetter lays a page out: the running
header and the page number first (as page templates draw them), then the body."""
from __future__ import annotations

import bisect
import io
import textwrap

import pytest

from ingest import pdf_layout
from ingest.loaders import load_bytes
from rag import records

HEADER = "The Widget Manual"
INSTALL = ("The widget daemon installs from the package archive of your system and needs no compiler. "
           "It reads its configuration file at start-up and again whenever it receives the hangup signal, "
           "so that a change to the file takes effect without a restart of the daemon or of its clients.")
RUNS_ON = ("Before it stops, the daemon waits for its children to finish the requests they are serving, "
           "and when a child does not finish within the grace period it will send the follow")
RUNS_ON_NEXT = ("ing signal to the child and wait again, until every child has ended or the second grace "
                "period has passed as well.")
CODE = ["widgetd --config /etc/widget.conf  --foreground", "if (status != 0) { return status; }"]
OPTIONS = [("-r, --recursive", "remove directories and their contents recursively, one level at a time"),
           ("-f, --force", "ignore nonexistent files and arguments, never prompt")]


def _wrap(text: str, width: int = 84) -> list[str]:
    return textwrap.wrap(text, width)


def manual_pages() -> list[list[tuple]]:
    """The pages of the test manual: (kind, content) items, in drawing order."""
    contents = [("h", "Contents")] + [("line", f"{title} {'.' * 30} {page}") for title, page in
                                      [("Preface", "ii"), ("Installing", "1"), ("Stopping", "2"), ("Options", "3"), ("Index", "4")]]
    return [
        contents,
        [("h", "Preface"), ("p", _wrap("This manual covers the widget daemon, version 4, and the tools that come with it. "
                                       "Read the part on installing first; the others may be read in any order."))],
        [("h", "Installing"), ("p", _wrap(INSTALL)), ("p", _wrap("A start-up script is shipped for every common init system. "
                                                                 "It is enabled by the package's post-installation step.")),
         ("p", _wrap(RUNS_ON + "-", 90))],
        [("p", _wrap(RUNS_ON_NEXT, 90)), ("code", CODE), ("p", _wrap("The daemon logs each of these steps to the system log."))],
        [("h", "Options")] + [("entry", term, text) for term, text in OPTIONS]
        + [("p", _wrap("Options may be combined, and the last one given wins where two of them disagree.")),
           ("runs", MIXED)],
        [("h", "Index")] + [("line", line) for line in ["daemon, 1, 2", "configuration file, 1", "grace period, 2",
                                                        "hangup signal, 1", "options, 3", "start-up script, 1"]],
    ]


LABELS = ["i", "ii", "1", "2", "3", "4"]
# A paragraph whose lines start with a word in another font: bold, and code (monospace).
MIXED = [[("Helvetica-Bold", "Note:"), ("Helvetica", " the daemon reads its options from left to right, and the program")],
         [("Courier", "widgetd"), ("Helvetica", " stops at the first one it does not know, with an error naming it.")]]


def manual_pdf(pages: list[list[tuple]] | None = None, labels: bool = True) -> bytes:
    """The test manual as a PDF; its pages labelled i, ii, 1, 2, ... when ``labels``."""
    from pypdf import PdfReader, PdfWriter
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4)
    for n, items in enumerate(pages or manual_pages()):
        pdf.setFont("Helvetica", 9)
        if n != 4:  # a chapter's first page (the Options chapter's) has no running header
            pdf.drawString(72, 810, f"{HEADER}, chapter {max(1, n - 1)}")  # page templates draw first
        if n in (2, 3, 5):
            pdf.drawString(72, 822, "Options")  # a running title, that the chapter's first page has as its heading
        pdf.drawString(297, 30, LABELS[n] if labels else str(n + 1))
        y = 770.0
        for kind, *content in items:
            if kind == "h":
                pdf.setFont("Helvetica-Bold", 16)
                pdf.drawString(72, y, content[0])
                y -= 30
            elif kind == "line":
                pdf.setFont("Helvetica", 11)
                pdf.drawString(72, y, content[0])
                y -= 14
            elif kind == "p":
                pdf.setFont("Helvetica", 11)
                for line in content[0]:
                    pdf.drawString(72, y, line)
                    y -= 14
                y -= 10
            elif kind == "runs":
                for runs in content[0]:
                    text = pdf.beginText(72, y)
                    for font, words in runs:
                        text.setFont(font, 11)
                        text.textOut(words)
                    pdf.drawText(text)
                    y -= 14
                y -= 10
            elif kind == "code":
                pdf.setFont("Courier", 10)
                for line in content[0]:
                    pdf.drawString(90, y, line)
                    y -= 12
                y -= 10
            elif kind == "entry":
                pdf.setFont("Helvetica", 11)
                pdf.drawString(72, y, content[0])
                y -= 14
                for line in _wrap(content[1], 60):
                    pdf.drawString(108, y, line)
                    y -= 14
                y -= 10
        pdf.showPage()
    pdf.save()
    if not labels:
        return out.getvalue()
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(out.getvalue())))
    writer.set_page_label(0, 1, style="/r")
    writer.set_page_label(2, len(pages or manual_pages()) - 1, style="/D", start=1)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


@pytest.fixture(scope="module")
def manual():
    return load_bytes(manual_pdf(), "manual.pdf", ".pdf")


def _page_of(doc, offset: int) -> int:
    return bisect.bisect_right(doc.meta["page_starts"], offset)


def test_running_headers_and_page_numbers_are_left_out(manual):
    assert HEADER not in manual.text
    lines = manual.text.split("\n")
    assert not any(line.strip() in LABELS for line in lines)  # no bare page number line
    assert "# Installing" in lines and "# Options" in lines  # headings (a larger size) stay, as headings


def test_hard_wrapped_lines_are_joined_into_their_paragraph(manual):
    assert INSTALL in manual.text  # one line: no line break inside a sentence
    assert "A start-up script is shipped for every common init system. It is enabled" in manual.text


def test_a_paragraph_runs_on_across_a_page_break_with_its_hyphenated_word_mended(manual):
    whole = RUNS_ON + RUNS_ON_NEXT  # "follow" + "ing": the line-break hyphen is gone
    at = manual.text.find(whole)
    assert at >= 0, manual.text
    mended = at + whole.index("following")
    assert _page_of(manual, mended) == 3 and _page_of(manual, mended + len("follow")) == 4  # each page's characters on their page
    assert manual.text[manual.meta["page_starts"][3]:].startswith("ing signal to the child")


def test_a_hyphen_the_document_writes_elsewhere_is_kept():
    assert pdf_layout.join_lines(["its start-", "up script"], {"start-up"}) == "its start-up script"
    assert pdf_layout.join_lines(["it will send the follow-", "ing signal"], {"start-up"}) == "it will send the following signal"
    assert pdf_layout.join_lines(["it will send the follow\u2010", "ing signal"], set()) == "it will send the following signal"
    assert pdf_layout.join_lines(["a value of -", "1 means none"], set()) == "a value of - 1 means none"  # not a word's end


def test_code_in_a_monospace_font_is_a_fenced_block_kept_exactly(manual):
    assert "```\n" + "\n".join(CODE) + "\n```" in manual.text
    assert manual.text.count("```") == 2  # a word of code in a line of text is not a block


def test_a_line_that_starts_with_a_bold_word_or_a_word_of_code_stays_in_its_paragraph(manual):
    assert ("Note: the daemon reads its options from left to right, and the program widgetd stops at the first one "
            "it does not know, with an error naming it.") in manual.text


def test_an_option_and_its_indented_description_are_an_entry(manual):
    for term, text in OPTIONS:
        assert f"{term}\n    {text}" in manual.text


def test_contents_and_index_pages_are_left_out(manual):
    assert "....." not in manual.text and "Preface" in manual.text  # the preface itself stays
    assert "daemon, 1, 2" not in manual.text and "hangup signal, 1" not in manual.text
    starts = manual.meta["page_starts"]
    assert len(starts) == len(LABELS)  # a left-out page keeps its place: later pages keep their numbers
    assert manual.text[starts[1]:].startswith("# Preface")


def test_page_labels_are_kept_where_they_differ_from_the_numbers(manual):
    assert manual.meta["page_labels"] == LABELS
    plain = load_bytes(manual_pdf(labels=False), "plain.pdf", ".pdf")
    assert "page_labels" not in plain.meta


@pytest.mark.parametrize("lines, expected", [
    (["Contents", "Installing ........ 1", "Stopping ........ 2", "Options ........ 7"], True),
    (["Installing . . . . . . 1", "Stopping . . . . . . 12", "Options . . . . . . iv", "a line of text"], True),
    (["Index", "daemon, 3, 5", "grace period, 12-14", "signal, 7"], True),
    (["Results", "The daemon served 3", "requests in 12", "seconds on average."], False),  # numbers at line ends, no title
    (["The daemon reads its file.", "It then waits."], False),
])
def test_a_contents_or_index_page_is_told_by_its_page_numbers(lines, expected):
    assert pdf_layout.contents_page([pdf_layout.Line(t) for t in lines], after_contents=False) is expected


def test_a_line_repeated_at_the_edges_is_furniture_whatever_its_number():
    topics = ["apples", "boats", "clocks", "drums", "eels"]
    pages = [[pdf_layout.Line(f"Widget Manual {n}"), pdf_layout.Line(f"Text about {topic}."), pdf_layout.Line("Same line."),
              pdf_layout.Line("Same line."), pdf_layout.Line("Same line."), pdf_layout.Line(f"More on {topic}."),
              pdf_layout.Line(f"Page {n} of 9" if n % 2 else "xiv")]
             for n, topic in enumerate(topics, 1)]
    gone = pdf_layout.furniture(pages)
    assert gone == [{0, 6}] * 5  # "Widget Manual #" and "Page # of #" / "#" at the edges; nothing else
    one_line = [[pdf_layout.Line("A page the engine read.")] for _ in range(3)]
    assert pdf_layout.furniture(one_line) == [set(), set(), set()]  # a page's only line is its content


def test_every_chunk_knows_the_label_of_its_pages(manual):
    from ingest.chunking import split_document

    labels = manual.meta["page_labels"]
    for chunk in split_document(manual):
        meta = records.page_metadata(manual.meta["page_starts"], chunk.start, chunk.end, page_labels=labels)
        passage = records.to_passage(chunk.id, chunk.text, {**records.chunk_metadata(chunk), **meta})
        for offset in (chunk.start, chunk.end - 1):
            assert passage.page_label_at(offset) == labels[passage.page_at(offset) - 1]
    assert records.page_metadata([0, 10], 0, 5, page_labels=["i", "ii"])[records.PAGE_LABEL] == "i"
    assert records.PAGE_LABEL not in records.page_metadata([0, 10], 0, 5)  # no labels: the keys as before


@pytest.mark.parametrize("source, page, label, shown", [
    ("m.pdf", 4, "2", "p. 2 (PDF page 4)"),
    ("m.pdf", 1, "i", "p. i (PDF page 1)"),
    ("m.pdf", 7, "7", "p. 7"),
    ("m.pdf", 7, None, "p. 7"),
    ("deck.pptx", 3, None, "slide 3"),
    ("m.pdf", None, "iv", ""),
])
def test_a_page_is_shown_by_its_label_with_the_physical_page_beside_it(source, page, label, shown):
    assert records.page_label(source, page, label) == shown


def test_a_citation_names_the_labelled_page_in_cli_and_app(tmp_path):
    from ingest.pipeline import ingest
    from rag import build_chain
    from rag.cli import _print_answer
    from rag.gate import Gate
    from rag.settings import Settings
    from ui.render import sources_html

    from .conftest import FakeEmbeddings

    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "manual.pdf").write_bytes(manual_pdf())
    settings = Settings(persist_dir=str(tmp_path / "chroma"), collection="labels")
    emb = FakeEmbeddings()
    ingest([folder], settings, embeddings=emb)
    a = build_chain(settings, embeddings=emb, gate=Gate({}, 10.0, 0.5, {})).invoke(
        {"question": "Where does the daemon log each of these steps?"})
    cited = [c for c in a.citations if "system log" in c.quote]
    assert cited and cited[0].page == 4, a.citations
    assert records.cited_page(cited[0], a.retrieved) == "p. 2 (PDF page 4)"
    out = io.StringIO()
    _print_answer(a, out=out)
    assert "manual.pdf, p. 2 (PDF page 4)" in out.getvalue()
    assert '<span class="rb-page">p. 2 (PDF page 4)</span>' in sources_html(a)
    retrieved = a.to_dict()["retrieved"]
    assert {p["page_label"] for p in retrieved if p["page"] == 4} == {"2"}


MAN_PAGES = [
    ["NAME", "       widget - frobnicate the gizmos", "", "DESCRIPTION",
     "       Widget frobnicates each FILE in turn, reading its configuration from the file named by",
     "       the -c option, or from the default place when it is not given, and it goes on to"],
    ["       the next file when one fails.", "", "       -c, --config=FILE",
     "              read the configuration from FILE instead of the default one; the file must", "              exist and be readable."],
    ["       -v, --verbose", "              print what is done.", "", "SEE ALSO", "       gizmo(1)"],
]


def test_a_manual_set_in_a_monospace_font_keeps_its_lines_as_a_text_file_would():
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4)
    for n, lines in enumerate(MAN_PAGES, 1):
        pdf.setFont("Courier", 10)
        pdf.drawString(50, 810, "WIDGET(1)                 General Commands Manual                 WIDGET(1)")
        for k, line in enumerate(lines):
            pdf.drawString(50, 780 - 12 * k, line)  # an empty line draws nothing: only the gap shows it
        pdf.drawString(50, 30, f"widget 4.2                     2026-12-01                          {n}")
        pdf.showPage()
    pdf.save()
    doc = load_bytes(out.getvalue(), "widget.pdf", ".pdf")
    pages = ["\n".join(lines) for lines in MAN_PAGES]
    # the title and footer lines gone; the layout in spaces kept; a paragraph going on to the
    # next page parted from it by one line break (the structure pass joins it), others by a blank line
    assert doc.text == pages[0] + "\n" + pages[1] + "\n\n" + pages[2]
    assert doc.meta["page_starts"] == [0, len(pages[0]) + 1, len(pages[0]) + len(pages[1]) + 3]


def test_a_page_with_a_ruled_table_keeps_its_paragraphs_code_and_rows_in_place():
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, Preformatted, SimpleDocTemplate, Table, TableStyle

    styles = getSampleStyleSheet()
    intro = ("Each function returns zero on success and a negative error code otherwise; the codes are listed in "
             "the table below, with what each of them means for the caller and what the caller may do about it.")
    code = 'w = widget_open("main");\nif (w == NULL) {\n    return -1;\n}'
    table = Table([["Code", "Meaning"], ["-1", "no such widget"], ["-2", "widget busy"]])
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.black)]))
    out = io.BytesIO()
    SimpleDocTemplate(out, pagesize=A4).build([Paragraph(intro, styles["BodyText"]), Preformatted(code, styles["Code"]), table,
                                               Paragraph("The codes may grow in later versions.", styles["BodyText"])])
    text = load_bytes(out.getvalue(), "codes.pdf", ".pdf").text
    assert text == "\n\n".join([intro, f"```\n{code}\n```", "Code | Meaning", "Code: -1 | Meaning: no such widget",
                                "Code: -2 | Meaning: widget busy", "The codes may grow in later versions."])


def test_list_items_keep_their_bullet_or_number_and_stand_apart():
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import ListFlowable, ListItem, Paragraph, SimpleDocTemplate

    body = getSampleStyleSheet()["BodyText"]
    first = ("first, call widget_open() to get a handle for the widget you mean to use in this session, "
             "and keep it until the session ends")
    out = io.BytesIO()
    SimpleDocTemplate(out, pagesize=A4).build([
        Paragraph("Steps to take:", body),
        ListFlowable([ListItem(Paragraph(first, body)), ListItem(Paragraph("then frobnicate it", body))], bulletType="bullet"),
        ListFlowable([ListItem(Paragraph("numbered one", body)), ListItem(Paragraph("numbered two", body))], bulletType="1"),
        Paragraph("After the list.", body)])
    text = load_bytes(out.getvalue(), "steps.pdf", ".pdf").text
    # pypdf gives each bullet and number as a line of its own, in a larger size: not a heading
    assert text.split("\n\n") == ["Steps to take:", f"• {first}", "• then frobnicate it", "1 numbered one", "2 numbered two",
                                  "After the list."]


@pytest.mark.parametrize("gaps, spacing", [
    ([12.0] * 20 + [18.0] * 5, 12.0),  # a page of prose: lines 12 apart, paragraphs 18
    ([12.0] * 4 + [18.0] * 20, 12.0),  # a list of one-line items: most gaps part items
    ([3.0] + [12.0] * 30, 12.0),  # a lone small gap (a superscript's line) is not the spacing
    ([], 0.0),
])
def test_the_line_spacing_is_the_smallest_common_gap(gaps, spacing):
    assert pdf_layout._line_spacing(gaps) == spacing


def test_a_scanned_page_with_a_running_header_in_its_text_layer_is_still_read_by_ocr(monkeypatch):
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas
    from PIL import Image

    from ingest import ocr

    class Fake:
        name = "fake"

        def read(self, image):
            return "The scanned page says the widget ships in spring."

    monkeypatch.setattr(ocr, "engine", lambda name="auto": Fake())
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4)
    for n in range(1, 4):
        pdf.setFont("Helvetica", 9)
        pdf.drawString(72, 810, f"{HEADER}, archive copy {n}")  # a digital stamp over a scanned page
        pdf.drawImage(ImageReader(Image.new("L", (100, 100), 200)), 72, 300, 400, 400)
        pdf.showPage()
    pdf.save()
    doc = load_bytes(out.getvalue(), "scan.pdf", ".pdf")
    assert doc.meta["ocr_pages"] == [1, 2, 3]
    assert doc.text.count("widget ships in spring") == 3 and HEADER not in doc.text


def test_paragraphs_told_apart_by_their_first_lines_indent():
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    paragraphs = [["The first paragraph begins with an indented line and goes on across", "the full width of the page until its last line ends exactly at the",
                   "right margin, as justified text often does at a paragraph's end here."],
                  ["The second paragraph begins indented as well, and it is parted from", "the first one by nothing but that indent: no gap, no short line."]]
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4)
    y = 770
    for lines in paragraphs:
        for k, line in enumerate(lines):
            pdf.drawString(90 if k == 0 else 72, y, line)  # no gap between paragraphs
            y -= 14
    pdf.showPage()
    pdf.save()
    text = load_bytes(out.getvalue(), "indents.pdf", ".pdf").text
    assert text == "\n\n".join(" ".join(lines) for lines in paragraphs)


def _two_pages(page_one: list[tuple[float, str, str]], page_two: list[tuple[float, str, str]]) -> bytes:
    """Two pages of (x, font, text) lines, 12 units apart, under a running header and over a page number."""
    from reportlab.lib.pagesizes import letter
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=letter)
    for n, lines in enumerate([page_one, page_two], 1):
        pdf.setFont("Times-Roman", 10)
        pdf.drawString(72, 750, "WIDGET(1)")  # three parts on one baseline: pypdf gives them as three lines
        pdf.drawCentredString(306, 750, "User Commands")
        pdf.drawRightString(540, 750, "WIDGET(1)")
        pdf.drawRightString(540, 40, str(n))
        for k, (x, font, text) in enumerate(lines):
            pdf.setFont(font, 10)
            pdf.drawString(x, 720 - 12 * k, text)
        pdf.showPage()
    pdf.save()
    return out.getvalue()


OPTION = (108, "Times-Bold", "-c, --config=FILE")
DESCRIBED = [(144, "Times-Roman", "read the configuration from FILE instead of the default one, which"),
             (144, "Times-Roman", "must exist and be readable by the user who runs the command.")]
BEFORE = [(108, "Times-Roman", "Widget frobnicates each file in turn and reports what it did.")]


@pytest.mark.parametrize("page_one, page_two", [
    (BEFORE + [OPTION], DESCRIBED),  # the term at the foot of a page, its description atop the next
    (BEFORE + [OPTION, DESCRIBED[0]], DESCRIBED[1:]),  # the description going on mid-sentence
])
def test_an_entry_is_whole_across_a_page_break(page_one, page_two):
    doc = load_bytes(_two_pages(page_one, page_two), "widget.pdf", ".pdf")
    entry = OPTION[2] + "\n    " + " ".join(text for _, _, text in DESCRIBED)
    assert doc.text == BEFORE[0][2] + "\n\n" + entry  # header parts and page numbers gone
    second = doc.meta["page_starts"][1]
    assert doc.text[second:].startswith(page_two[0][2])  # the next page starts at its own first character


def test_furniture_stands_where_it_stood_on_the_other_pages():
    L = pdf_layout.Line
    pages = [[L("Widget Manual", y=750, x=72, size=9), L(["Intro text here.", "More text there."][n - 1], y=700, x=72, size=10),
              L(f"-x{n}, --option-{n}=VALUE", y=100 + 30 * n, x=72, size=10), L(f"{n}", y=40, x=300, size=9)]
             for n in range(1, 3)]
    # the option lines read alike (digits aside) at the foot of both pages, but not at one height: content
    assert pdf_layout.furniture(pages, 10.0) == [{0, 3}, {0, 3}]
