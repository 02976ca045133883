"""Scans: PDF pages without a text layer and images, read by the real OCR engines.

The pages are drawn from known text by reportlab, rendered to pixels by PDFium and, for a
scanned PDF, put back into a PDF by img2pdf, so each test knows exactly what the page says.
"""
from __future__ import annotations

import io

import pytest

from eval.bench_pages import character_error_rate
from ingest import ocr
from ingest.loaders import load
from ingest.pipeline import ingest
from rag import records
from rag.retrieval import chroma as store
from rag.settings import Settings

from .conftest import FakeEmbeddings
from .docs_factory import page_images, paged_pdf_bytes, scanned_pdf_bytes

pytestmark = pytest.mark.integration

TEXT = [
    "The harbour authority opened the northern pier in 1871,",
    "after a decade of dredging the shallow estuary.",
    "Its keepers recorded every ship that entered the port,",
    "with the name of its master and the cargo it carried.",
    "In 1902 the lighthouse keeper earned forty crowns a month,",
    "and the pilots who guided the steamers earned twice as much.",
]
ENGINES = ocr.installed_engines()


def test_an_ocr_engine_is_installed():
    assert ENGINES, f"no OCR engine: {ocr.INSTALL_HINT}"
    assert ocr.engine("auto") is not None


@pytest.mark.parametrize("name", ENGINES)
def test_ocr_of_a_rendered_page_has_at_most_two_percent_character_errors(name):
    image = page_images(paged_pdf_bytes([TEXT]))[0]
    cer = character_error_rate(ocr.engine(name).read(image), " ".join(TEXT))
    print(f"\n{name}: character error rate {cer:.4f}")
    assert cer <= 0.02


def test_a_scanned_pdf_page_is_read_by_ocr_and_marked(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    pdf = paged_pdf_bytes([[f"A typed line {i} about tugboats and their crews, with a text layer." for i in range(8)]])
    scan = scanned_pdf_bytes([TEXT])
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for part in (pdf, scan):
        for page in PdfReader(io.BytesIO(part)).pages:
            writer.add_page(page)
    with open(folder / "mixed.pdf", "wb") as fh:
        writer.write(fh)
    doc = load(folder / "mixed.pdf")
    assert doc.meta["ocr_pages"] == [2] and "unread" not in doc.meta
    assert "lighthouse keeper" in doc.text[doc.meta["page_starts"][1]:]
    settings = Settings(persist_dir=str(tmp_path / "chroma"), collection="scans", chunk_size=120, chunk_overlap=0)
    summary = ingest([folder], settings, embeddings=FakeEmbeddings())
    assert summary.skipped == [] and summary.warnings == []
    got = store.open_collection(settings).get(include=["metadatas"])
    marked = {(m["page"], bool(m["page_breaks"])): m.get(records.OCR, False) for m in got["metadatas"]}
    assert marked[(1, False)] is False  # the typed page's own chunk
    assert marked[(2, False)] is True  # a chunk of the scanned page


def test_a_scan_without_an_ocr_engine_is_reported_not_dropped(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "scan.pdf").write_bytes(scanned_pdf_bytes([TEXT]))
    settings = Settings(persist_dir=str(tmp_path / "chroma"), collection="scans", ocr="none")
    summary = ingest([folder], settings, embeddings=FakeEmbeddings())
    assert [s.reason for s in summary.skipped] == [
        f"PDF has no text layer (scanned images) and no OCR engine; {ocr.INSTALL_HINT}"]


def _with_blank_scan(path):
    """A typed page, then a scanned page with nothing on it."""
    import img2pdf
    from PIL import Image
    from pypdf import PdfReader, PdfWriter

    blank_scan = io.BytesIO()
    Image.new("L", (2480, 3508), 255).save(blank_scan, format="PNG", dpi=(300, 300))
    writer = PdfWriter()
    for part in (paged_pdf_bytes([["A typed page about tugboats and their crews."]]), img2pdf.convert(blank_scan.getvalue())):
        writer.add_page(PdfReader(io.BytesIO(part)).pages[0])
    with open(path, "wb") as fh:
        writer.write(fh)


def test_a_page_ocr_cannot_read_is_a_warning(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    _with_blank_scan(folder / "with-blank-scan.pdf")
    summary = ingest([folder], Settings(persist_dir=str(tmp_path / "chroma"), collection="scans"), embeddings=FakeEmbeddings())
    assert summary.added == 1
    assert [w.reason.split(":")[0] for w in summary.warnings] == ["page 2 not read"]
    assert summary.to_dict()["warnings"] == [{"path": str(folder / "with-blank-scan.pdf"), "reason": summary.warnings[0].reason}]


def test_an_upload_with_a_page_ocr_cannot_read_says_so_in_the_app(tmp_path):
    from ui.handlers import RagbotUI

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    _with_blank_scan(tmp_path / "scan.pdf")
    settings = Settings(persist_dir=str(tmp_path / "chroma"), collection="scans", corpus_dir=str(corpus))
    fake = FakeEmbeddings()
    ui = RagbotUI(settings, lambda s: None, notify=lambda *a: None,
                  ingest_fn=lambda paths, s, **kw: ingest(paths, s, embeddings=fake, **kw))
    report = ui.upload([str(tmp_path / "scan.pdf")])
    assert report.startswith("**Added:** scan") and "**Warning:** page 2 not read" in report


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".tiff"])
def test_images_are_read_by_ocr(tmp_path, suffix):
    image = page_images(paged_pdf_bytes([TEXT]))[0]
    path = tmp_path / f"scan{suffix}"
    image.save(path, dpi=(300, 300))
    doc = load(path)
    assert doc.meta["format"] == "image" and doc.meta["ocr_pages"] == [1]
    assert character_error_rate(doc.text, " ".join(TEXT)) <= 0.02


def test_a_multi_page_tiff_gives_pages(tmp_path):
    images = page_images(paged_pdf_bytes([TEXT[:3], TEXT[3:]]), dpi=200)
    images[0].save(tmp_path / "two.tiff", save_all=True, append_images=images[1:], dpi=(200, 200))
    doc = load(tmp_path / "two.tiff")
    assert doc.meta["pages"] == 2 and "lighthouse" in doc.text[doc.meta["page_starts"][1]:]


def test_a_broken_image_is_a_one_line_error(tmp_path):
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    from rag.errors import LoadError

    with pytest.raises(LoadError, match="corrupt image"):
        load(tmp_path / "broken.png")


def test_black_text_on_a_transparent_png_is_read(tmp_path):
    from PIL import Image

    page = page_images(paged_pdf_bytes([TEXT]))[0]
    alpha = page.point(lambda v: 255 - v)  # ink opaque, paper transparent
    clear = Image.new("RGBA", page.size, (0, 0, 0, 0))
    clear.putalpha(alpha)
    clear.save(tmp_path / "clear.png")
    assert character_error_rate(load(tmp_path / "clear.png").text, " ".join(TEXT)) <= 0.02
