"""Pages of a PDF: each chunk and citation carries the page its text is on (real PDFs drawn by reportlab)."""
from __future__ import annotations

import io
import json

from ingest.chunking import split_document
from ingest.loaders import load
from ingest.pipeline import ingest
from rag import build_chain, records
from rag.cli import _print_answer
from rag.gate import Gate
from rag.settings import Settings
from rag.types import Passage
from ui.render import sources_html

from .conftest import FakeEmbeddings
from .docs_factory import paged_pdf_bytes

ALWAYS = Gate({}, 10.0, 0.5, {})
PAGES = [
    ["Annual report of the harbour authority", "The harbour opened in 1871 after a decade of dredging.",
     "Its first pier was built of oak and granite."] + [f"Page one filler line {i} about tides and cargo." for i in range(12)],
    ["Fleet and crews"] + [f"Page two filler line {i} about tugboats and pilots." for i in range(14)],
    ["Finances"] + [f"Page three filler line {i} about tariffs and ledgers." for i in range(8)]
    + ["The lighthouse keeper earned forty crowns a month in 1902."],
]


def _pdf(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "report.pdf").write_bytes(paged_pdf_bytes(PAGES))
    return folder


def test_page_starts_point_at_each_page_text(tmp_path):
    doc = load(_pdf(tmp_path) / "report.pdf")
    starts = doc.meta["page_starts"]
    assert len(starts) == 3 and starts[0] == 0
    for start, lines in zip(starts, PAGES):
        assert doc.text[start:].startswith(lines[0])


def test_every_chunk_knows_its_pages(tmp_path):
    doc = load(_pdf(tmp_path) / "report.pdf")
    starts = doc.meta["page_starts"]
    chunks = split_document(doc)
    assert len(chunks) >= 2
    for c in chunks:
        p = records.to_passage(c.id, c.text, records.chunk_metadata(c, **records.page_metadata(starts, c.start, c.end)))
        for offset in (c.start, (c.start + c.end) // 2, c.end - 1):
            expected = sum(1 for s in starts if s <= offset)
            assert p.page_at(offset) == expected, (offset, starts)


def test_a_passage_across_pages_tells_each_offsets_page():
    meta = records.page_metadata([0, 100, 200], 50, 250)
    assert meta == {"page": 1, "page_breaks": "100,200"}
    p = records.to_passage("c", "x" * 200, {"start": 50, "end": 250, **meta})
    assert [p.page_at(o) for o in (50, 99, 100, 199, 220)] == [1, 1, 2, 2, 3]
    assert records.page_metadata([0, 100, 200], 120, 180) == {"page": 2, "page_breaks": ""}


def test_page_metadata_of_a_document_without_pages_is_empty():
    assert records.page_metadata([], 0, 100) == {}
    plain = Passage("c", "a.txt", "", "text", 0, 4)
    assert plain.page_at(2) is None and "page_breaks" not in plain.to_dict()


def test_answer_from_page_three_cites_page_three_in_json_cli_and_app(tmp_path):
    settings = Settings(persist_dir=str(tmp_path / "chroma"), collection="pages")
    emb = FakeEmbeddings()
    ingest([_pdf(tmp_path)], settings, embeddings=emb)
    a = build_chain(settings, embeddings=emb, gate=ALWAYS).invoke({"question": "How much did the lighthouse keeper earn a month?"})
    assert not a.refused and "forty crowns" in a.answer
    cited = [c for c in a.citations if "lighthouse" in c.quote]
    assert cited and all(c.page == 3 for c in cited)
    doc = load(tmp_path / "docs" / "report.pdf")
    for c in a.citations:  # every citation's page is the page its quote starts on
        assert doc.text[c.start:c.end] == c.quote
        assert c.page == sum(1 for s in doc.meta["page_starts"] if s <= c.start)
    assert json.loads(json.dumps(a.to_dict()))["citations"][0]["page"] == a.citations[0].page
    out = io.StringIO()
    _print_answer(a, out=out)
    assert "report.pdf, p. 3" in out.getvalue()
    assert '<span class="rb-page">p. 3</span>' in sources_html(a)


# -- tables: kept where they stand, each row with its header -------------------------------------

def _docx_with_table() -> bytes:
    import docx

    d = docx.Document()
    d.add_heading("Deployments", level=1)
    d.add_paragraph("Troops abroad are listed below.")
    t = d.add_table(rows=3, cols=2)
    for r, (a, b) in enumerate([("Country", "Troops"), ("Japan", "54,000"), ("Germany", "35,000")]):
        t.cell(r, 0).text, t.cell(r, 1).text = a, b
    merged = d.add_table(rows=2, cols=3)
    merged.cell(0, 0).merge(merged.cell(0, 1)).text = "Base"
    merged.cell(0, 2).text = "Opened"
    merged.cell(1, 0).merge(merged.cell(1, 1)).text = "Ramstein"
    merged.cell(1, 2).text = "1953"
    d.add_paragraph("The figures are from 2023.")
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def test_docx_table_rows_keep_their_header_where_the_table_stands(tmp_path):
    (tmp_path / "d.docx").write_bytes(_docx_with_table())
    text = load(tmp_path / "d.docx").text
    lines = [ln for ln in text.split("\n\n")]
    assert lines == ["# Deployments", "Troops abroad are listed below.", "Country | Troops", "Country: Japan | Troops: 54,000",
                     "Country: Germany | Troops: 35,000", "Base | Opened", "Base: Ramstein | Opened: 1953",
                     "The figures are from 2023."]


def test_html_table_rows_keep_their_header_where_the_table_stands(tmp_path):
    html = ("<html><body><h1>Deployments</h1><p>Troops abroad:</p><table><tr><th>Country</th><th>Troops</th></tr>"
            "<tr><td>Japan</td><td>54,000</td></tr><tr><td>Italy</td><td>12,000</td></tr></table><p>From 2023.</p></body></html>")
    (tmp_path / "d.html").write_text(html)
    assert load(tmp_path / "d.html").text.split("\n\n") == [
        "# Deployments", "Troops abroad:", "Country | Troops", "Country: Japan | Troops: 54,000", "Country: Italy | Troops: 12,000", "From 2023."]


def test_markdown_pipe_table_rows_keep_their_header_where_the_table_stands(tmp_path):
    md = ("# Deployments\n\nTroops abroad:\n\n| Country | Troops |\n|---|--:|\n| Japan | 54,000 |\n| Italy | |\n\n"
          "From 2023.\n\n```\n| a | b |\n|---|---|\n| 1 | 2 |\n```\n")
    (tmp_path / "d.md").write_text(md)
    assert load(tmp_path / "d.md").text.split("\n\n") == [
        "# Deployments", "Troops abroad:", "Country | Troops", "Country: Japan | Troops: 54,000", "Country: Italy",
        "From 2023.", "```\n| a | b |\n|---|---|\n| 1 | 2 |\n```\n"]  # a table in a code block is code


def test_nothing_of_a_markdown_cell_is_lost():
    from ingest.layout import markdown_tables

    md = "| Op | Syntax |\n|---|---|\n| or | x \\| y |\n| and | `a | b` |\n"
    assert markdown_tables(md).strip().split("\n\n") == [
        "Op | Syntax",
        "Op: or | Syntax: x ¦ y",  # an escaped bar is the cell's text, not its edge
        "Op: and | Syntax: `a | b`",  # GFM drops the cells beyond the header's; they are kept
    ]


def test_a_question_about_one_cell_retrieves_its_row(tmp_path):
    import docx

    from rag.retrieval import build_retriever

    countries = [f"Country{i:03d}" for i in range(80)] + ["Japan"] + [f"Country{i:03d}" for i in range(80, 160)]
    d = docx.Document()
    d.add_paragraph("Troops stationed abroad, by host country.")
    t = d.add_table(rows=1, cols=2)
    t.rows[0].cells[0].text, t.rows[0].cells[1].text = "Host country", "Troops"
    for r, name in enumerate(countries, 1):
        cells = t.add_row().cells
        cells[0].text, cells[1].text = name, "54,000" if name == "Japan" else f"{1000 + r}"
    folder = tmp_path / "docs"
    folder.mkdir()
    d.save(folder / "troops.docx")
    settings = Settings(persist_dir=str(tmp_path / "chroma"), collection="tables")
    emb = FakeEmbeddings()
    assert ingest([folder], settings, embeddings=emb).chunks_written > 3  # the table spans several chunks
    found = build_retriever(settings, embeddings=emb).search("How many troops are stationed in Japan?", k=3)
    assert any("Host country: Japan | Troops: 54,000" in p.text for p in found), [p.text[:40] for p in found]


# -- spreadsheets and slide decks -----------------------------------------------------------------

def test_csv_rows_are_records_with_their_header(tmp_path):
    (tmp_path / "t.csv").write_text("Country;Troops\nJapan;54,000\nItaly;12,000\n")
    doc = load(tmp_path / "t.csv")
    assert doc.text.split("\n\n") == ["Country | Troops", "Country: Japan | Troops: 54,000", "Country: Italy | Troops: 12,000"]
    assert doc.meta["format"] == "csv"


def test_xlsx_sheets_are_sections_of_records(tmp_path):
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Bases"
    for row in [("Base", "Opened", "Staff"), ("Ramstein", 1953, 9200.0), ("Aviano", 1954, None)]:
        sheet.append(row)
    book.create_sheet("Empty")
    book.save(tmp_path / "b.xlsx")
    doc = load(tmp_path / "b.xlsx")
    assert doc.text.split("\n\n") == ["# Bases", "Base | Opened | Staff", "Base: Ramstein | Opened: 1953 | Staff: 9200",
                                      "Base: Aviano | Opened: 1954"]
    assert [c.section for c in split_document(doc)] == ["Bases"]


def _deck(path):
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    for n, (title, body, notes) in enumerate([("Agenda", "Budget and bases", "Open with the budget."),
                                               ("Bases abroad", "Ramstein hosts the air wing", ""),
                                               ("Costs", "Fuel rose by a third", "The lighthouse keeper earned 40 crowns in 1902.")], 1):
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = title
        slide.placeholders[1].text = body
        if n == 2:
            table = slide.shapes.add_table(2, 2, Inches(1), Inches(4), Inches(4), Inches(1)).table
            for (r, c), text in {(0, 0): "Base", (0, 1): "Troops", (1, 0): "Ramstein", (1, 1): "9,200"}.items():
                table.cell(r, c).text = text
        if notes:
            slide.notes_slide.notes_text_frame.text = notes
    deck.save(path)


def test_pptx_slides_are_sections_with_tables_and_notes_and_their_numbers(tmp_path):
    _deck(tmp_path / "d.pptx")
    doc = load(tmp_path / "d.pptx")
    assert [c.section for c in split_document(doc)][:1] == ["Slide 1: Agenda"]
    assert "Base: Ramstein | Troops: 9,200" in doc.text and "Notes: Open with the budget." in doc.text
    starts = doc.meta["page_starts"]
    assert len(starts) == 3 and doc.text[starts[2]:].startswith("# Slide 3: Costs")
    folder = tmp_path / "docs"
    folder.mkdir()
    _deck(folder / "d.pptx")
    settings = Settings(persist_dir=str(tmp_path / "chroma"), collection="slides")
    emb = FakeEmbeddings()
    ingest([folder], settings, embeddings=emb)
    a = build_chain(settings, embeddings=emb, gate=ALWAYS).invoke({"question": "How much did the lighthouse keeper earn?"})
    assert [c.page for c in a.citations if "lighthouse" in c.quote] == [3], a
    out = io.StringIO()
    _print_answer(a, out=out)
    assert "d.pptx, slide 3" in out.getvalue() and '<span class="rb-page">slide 3</span>' in sources_html(a)


def test_broken_spreadsheets_and_decks_are_one_line_errors(tmp_path):
    import pytest

    from rag.errors import LoadError

    for name in ("b.xlsx", "d.pptx"):
        (tmp_path / name).write_bytes(b"PK\x03\x04 not really a zip file")
        with pytest.raises(LoadError, match=r"^corrupt (XLSX|PPTX)") as err:
            load(tmp_path / name)
        assert "\n" not in str(err.value)


# -- PDF tables and e-books ----------------------------------------------------------------------

TROOPS = [["Country", "Troops"], ["Japan", "54,000"], ["Germany", "35,000"]]


def test_pdf_table_rows_keep_their_header_where_the_table_stands(tmp_path):
    from .docs_factory import table_pdf_bytes

    (tmp_path / "t.pdf").write_bytes(table_pdf_bytes("Troops abroad are listed below.", TROOPS, "The figures are from 2023.",
                                                     pages_before=1))
    doc = load(tmp_path / "t.pdf")
    page_two = doc.text[doc.meta["page_starts"][1]:].split("\n\n")  # each row a paragraph of its own
    assert page_two == ["Troops abroad are listed below.", "Country | Troops", "Country: Japan | Troops: 54,000",
                        "Country: Germany | Troops: 35,000", "The figures are from 2023."]
    assert doc.text.startswith("Prose page 1")  # a page without a table keeps its text layer


def test_a_pdf_pdfplumber_cannot_parse_keeps_its_text(tmp_path, monkeypatch):
    import pdfplumber

    from .docs_factory import table_pdf_bytes

    calls = []

    def broken(*a, **k):
        calls.append(1)
        raise ValueError("odd file")

    monkeypatch.setattr(pdfplumber, "open", broken)
    (tmp_path / "t.pdf").write_bytes(table_pdf_bytes("Troops abroad are listed below.", TROOPS, "From 2023."))
    text = load(tmp_path / "t.pdf").text
    assert calls == [1]  # the page with a table was handed to pdfplumber, which failed
    assert text.startswith("Troops abroad are listed below.") and "Japan" in text and "Country: Japan" not in text


def _epub(path, chapters: list[tuple[str, str]]):
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier("id-1")
    book.set_title("Harbours of the North")
    book.set_language("en")
    items = []
    for n, (title, body) in enumerate(chapters, 1):
        item = epub.EpubHtml(title=title, file_name=f"ch{n}.xhtml", lang="en")
        item.content = f"<html><body><p>{body}</p></body></html>"
        book.add_item(item)
        items.append(item)
    book.toc = items
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = items
    epub.write_epub(str(path), book)


def test_epub_chapters_are_sections_in_reading_order(tmp_path):
    _epub(tmp_path / "b.epub", [("The Pier", "The pier opened in 1871."), ("The Light", "The keeper earned forty crowns.")])
    doc = load(tmp_path / "b.epub")
    assert doc.meta["title"] == "Harbours of the North" and doc.meta["chapters"] == 2
    assert doc.text.split("\n\n") == ["# The Pier", "The pier opened in 1871.", "# The Light", "The keeper earned forty crowns."]
    assert [c.section for c in split_document(doc)] == ["The Pier", "The Light"]


def test_a_broken_epub_is_a_one_line_error(tmp_path):
    import pytest

    from rag.errors import LoadError

    (tmp_path / "b.epub").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(LoadError, match="corrupt EPUB"):
        load(tmp_path / "b.epub")


# -- the app: the cited page in the source view, and a chooser between document sets --------------

def test_the_source_view_shows_the_cited_page_with_the_quote_marked(tmp_path):
    from ui.handlers import RagbotUI

    folder = _pdf(tmp_path)
    settings = Settings(persist_dir=str(tmp_path / "chroma"), collection="pages", corpus_dir=str(folder))
    emb = FakeEmbeddings()
    ingest([folder], settings, embeddings=emb)
    ui = RagbotUI(settings, lambda s: build_chain(s, embeddings=emb, gate=ALWAYS), notify=lambda *a: None)
    *_, (_, _, html, _) = ui.ask("How much did the lighthouse keeper earn a month?", None)
    context = html.split('<details class="rb-context">', 1)[1]
    assert "(p. 3)" in context and '<mark class="rb-quote"' in context and "forty crowns" in context
    assert "Finances" in context and "Page three filler line 0" in context  # page 3 from its first line
    assert "tugboats" not in context and "harbour opened in 1871" not in context  # nothing of pages 1 and 2


def test_each_document_set_answers_from_its_own_files_in_the_app(tmp_path):
    from ui.handlers import RagbotUI

    emb = FakeEmbeddings()
    for name, text in (("harbours", "The harbour pier opened in 1871."), ("mines", "The copper mine closed in 1931.")):
        folder = tmp_path / name
        folder.mkdir()
        (folder / f"{name}.txt").write_text(text)
        ingest([folder], Settings(persist_dir=str(tmp_path / "chroma"), collection=name), embeddings=emb)
    settings = Settings(persist_dir=str(tmp_path / "chroma"), collection="harbours", corpus_dir=str(tmp_path / "harbours"))
    ui = RagbotUI(settings, lambda s: build_chain(s, embeddings=emb, gate=ALWAYS), notify=lambda *a: None)
    assert ui.collections() == ["harbours", "mines"]
    assert ui.files_view("mines")[1] == [["mines.txt", 1]] and ui.files_view()[1] == [["harbours.txt", 1]]
    *_, (_, _, html, session) = ui.ask("When did the copper mine close?", None, collection="mines")
    answer = session.turns[-1].answer
    assert {c.source for c in answer.citations} == {"mines.txt"} and "mines.txt" in html
    assert '<div class="rb-doc">' in html and "not available" not in html  # its file found in its own set
    assert '<div class="rb-doc">' in ui.sources_for(session, 1) and "not available" not in ui.sources_for(session, 1)
    *_, (_, _, _, session) = ui.ask("When did the copper mine close?", None)
    assert all(p.source == "harbours.txt" for p in session.turns[-1].answer.retrieved)
    *_, (_, _, _, session) = ui.ask("When did the copper mine close?", session, collection="mines")
    *_, (_, _, kept, _) = ui.ask("   ", session, collection="mines")  # turned down: the last sources stay
    assert "mines.txt" in kept and '<div class="rb-doc">' in kept and "not available" not in kept


def test_a_question_about_one_pdf_table_cell_retrieves_its_row(tmp_path):
    from rag.retrieval import build_retriever

    from .docs_factory import table_pdf_bytes

    countries = [f"Country{i:03d}" for i in range(60)] + ["Japan"] + [f"Country{i:03d}" for i in range(60, 120)]
    rows = [["Host country", "Troops"]] + [[c, "54,000" if c == "Japan" else f"{1000 + i}"] for i, c in enumerate(countries)]
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "troops.pdf").write_bytes(table_pdf_bytes("Troops stationed abroad, by host country.", rows, "Source: 2023."))
    doc = load(folder / "troops.pdf")
    assert doc.meta["pages"] >= 2  # the table runs over pages, its header repeated on each
    settings = Settings(persist_dir=str(tmp_path / "chroma"), collection="tables")
    emb = FakeEmbeddings()
    ingest([folder], settings, embeddings=emb)
    found = build_retriever(settings, embeddings=emb).search("How many troops are stationed in Japan?", k=3)
    assert any("Host country: Japan | Troops: 54,000" in p.text for p in found), [p.text[:40] for p in found]


# -- scans: what can go wrong, with a fake OCR engine (the real ones: tests/test_scans.py) ---------

class _FailingOnSecondPage:
    name = "fake"

    def __init__(self):
        self.sizes = []

    def read(self, image):
        self.sizes.append(image.size)
        if len(self.sizes) == 2:
            raise RuntimeError("engine crashed")
        return "A page the fake engine read, with enough words on it."


def _scan_pages(n: int, size_pt: float = 595) -> bytes:
    import img2pdf
    from PIL import Image

    pngs = []
    for _ in range(n):
        buf = io.BytesIO()
        Image.new("L", (200, 200), 128).save(buf, format="PNG")
        pngs.append(buf.getvalue())
    layout = img2pdf.get_fixed_dpi_layout_fun((200 * 72 / size_pt, 200 * 72 / size_pt))
    return img2pdf.convert(pngs, layout_fun=layout)


def test_an_ocr_failure_on_one_page_costs_only_that_page(monkeypatch):
    from ingest import ocr, pdf

    fake = _FailingOnSecondPage()
    monkeypatch.setattr(ocr, "engine", lambda name="auto": fake)
    text, meta = pdf.load_pdf(_scan_pages(3))
    assert meta["ocr_pages"] == [1, 3] and meta["unread"] == [[2, "engine crashed"]]
    assert text.count("fake engine read") == 2


def test_an_ocr_failure_on_one_tiff_frame_costs_only_that_frame(tmp_path, monkeypatch):
    from PIL import Image

    from ingest import ocr, pdf

    monkeypatch.setattr(ocr, "engine", lambda name="auto": _FailingOnSecondPage())
    frames = [Image.new("L", (100, 100), 200) for _ in range(3)]
    buf = io.BytesIO()
    frames[0].save(buf, format="TIFF", save_all=True, append_images=frames[1:])
    text, meta = pdf.load_image(buf.getvalue())
    assert meta["ocr_pages"] == [1, 3] and meta["unread"] == [[2, "engine crashed"]]
    assert text.count("fake engine read") == 2


def test_a_huge_scanned_page_is_rendered_within_the_pixel_cap(monkeypatch):
    from ingest import ocr, pdf

    fake = _FailingOnSecondPage()
    monkeypatch.setattr(ocr, "engine", lambda name="auto": fake)
    pdf.load_pdf(_scan_pages(1, size_pt=14400))  # a page 200 inches square
    (w, h), = fake.sizes
    assert w * h <= ocr.MAX_OCR_PIXELS and w > 1000


def test_a_text_pdf_needs_no_ocr_engine_but_ingestion_names_a_missing_one(tmp_path, monkeypatch):
    import pytest

    from ingest import ocr
    from rag.errors import ConfigError

    monkeypatch.setattr(ocr, "_rapidocr_available", lambda: False)
    ocr.engine.cache_clear()
    try:
        assert load(_pdf(tmp_path) / "report.pdf", ocr="rapidocr").meta["pages"] == 3
        with pytest.raises(ConfigError, match="not installed"):
            ingest([tmp_path / "docs"], Settings(persist_dir=str(tmp_path / "chroma"), ocr="rapidocr"), embeddings=FakeEmbeddings())
    finally:
        ocr.engine.cache_clear()


def test_the_page_view_keeps_a_page_s_last_character_when_a_paragraph_runs_on():
    from rag.types import Citation
    from ui.render import context_html

    page_one, page_two = "The keeper lit the lamp at dusk and", "trimmed its wick at midnight."
    text = page_one + " " + page_two  # a paragraph running on: one space between the pages, not a blank line
    quote = "The keeper lit the lamp"
    html = context_html(text, [Citation(1, "c", "r.pdf", "", quote, 0, len(quote), page=1)], None, (0, len(page_one) + 1))
    assert "at dusk and" in html and "midnight" not in html  # page one whole, nothing of page two
