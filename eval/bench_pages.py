"""``ragbot bench pages``: PDF pages/s (text layer and tables) and OCR pages/s and accuracy per engine.

The documents are drawn here from known text with reportlab (a dev dependency), so the OCR's
character error rate is measured against exactly what each page says. Part of ``bench ingest``.
"""
from __future__ import annotations

import dataclasses
import io
import tempfile
from pathlib import Path

from .bench import Timer, bench_result, drop_work, rate

PDF_PAGES = 100
OCR_PAGES = 4
TABLE_EVERY = 10  # every tenth page of the long PDF holds a ruled table
LINES = [
    "The harbour authority opened the northern pier in {year},",
    "after a decade of dredging the shallow estuary of the river.",
    "Its keepers recorded every ship that entered the port,",
    "with the name of its master and the cargo it carried.",
    "The lighthouse keeper earned {pay} crowns a month,",
    "and the pilots who guided the steamers earned twice as much.",
]


def _page_lines(n: int) -> list[str]:
    return [line.format(year=1800 + n, pay=20 + n) for line in LINES] * 6


def long_pdf(pages: int = PDF_PAGES) -> bytes:
    """A report of ``pages`` pages of prose, every ``TABLE_EVERY``-th with a ruled table."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Table, TableStyle

    style = getSampleStyleSheet()["Normal"]
    story = []
    for n in range(1, pages + 1):
        lines = _page_lines(n)
        if n % TABLE_EVERY == 0:
            table = Table([["Ship", "Tonnage", "Year"]] + [[f"Ship {n}-{i}", f"{100 * i}", f"{1850 + i}"] for i in range(8)])
            table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.black)]))
            story += [Paragraph(" ".join(lines[:12]), style), table]
        else:
            story += [Paragraph(" ".join(lines[i:i + 6]), style) for i in range(0, len(lines), 6)]
        story.append(PageBreak())
    out = io.BytesIO()
    SimpleDocTemplate(out, pagesize=A4).build(story)
    return out.getvalue()


def scanned_pages(pages: int = OCR_PAGES, dpi: int = 300) -> tuple[list, list[str]]:
    """``pages`` page images rendered from known lines (PDFium, greyscale), and each page's text."""
    import pypdfium2 as pdfium
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    texts, out = [], io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4)
    for n in range(pages):
        lines = _page_lines(n)[:24]
        for i, line in enumerate(lines):
            pdf.drawString(72, 800 - 16 * i, line)
        pdf.showPage()
        texts.append(" ".join(lines))
    pdf.save()
    doc = pdfium.PdfDocument(out.getvalue())
    try:
        return [page.render(scale=dpi / 72, grayscale=True).to_pil() for page in doc], texts
    finally:
        doc.close()


def character_error_rate(read: str, truth: str) -> float:
    """Edit distance over the length of the truth, whitespace runs counted as one space."""
    from rapidfuzz.distance import Levenshtein

    read, truth = " ".join(read.split()), " ".join(truth.split())
    return Levenshtein.distance(read, truth) / max(1, len(truth))


def _pdf_figures(settings, embeddings) -> dict:
    """Loading the long PDF alone, and ingesting it whole (load, chunk, embed, write)."""
    from ingest.loaders import load_bytes
    from ingest.pipeline import ingest

    data = long_pdf()
    with Timer() as t_load:
        doc = load_bytes(data, "report.pdf", ".pdf", ocr="none")
    tables = doc.text.count("Ship: Ship ")
    work = Path(tempfile.mkdtemp(prefix="ragbot-bench-pages-"))
    bench = dataclasses.replace(settings, persist_dir=str(work / "chroma"), collection="pages", chroma_host=None)
    try:
        (work / "docs").mkdir()
        (work / "docs" / "report.pdf").write_bytes(data)
        with Timer() as t_ingest:
            summary = ingest([work / "docs"], bench, embeddings=embeddings)
    finally:
        drop_work(bench, work)
    return {
        "pages": doc.meta["pages"], "table_rows_kept": tables,
        "load_seconds": round(t_load.seconds, 3), "load_pages_per_s": rate(doc.meta["pages"], t_load.seconds),
        "ingest_seconds": round(t_ingest.seconds, 3), "ingest_pages_per_s": rate(doc.meta["pages"], t_ingest.seconds),
        "chunks": summary.chunks_written,
    }


def _ocr_figures() -> dict:
    """Pages/s and character error rate of each installed OCR engine on the same rendered pages."""
    from ingest import ocr

    images, texts = scanned_pages()
    figures = {}
    installed = ocr.installed_engines()
    for name in ("tesseract", "rapidocr"):
        if name not in installed:
            figures[name] = {"installed": False}
            continue
        engine = ocr.engine(name)
        engine.read(images[0].crop((0, 0, 400, 200)))  # loads its models
        with Timer() as t:
            read = [engine.read(image) for image in images]
        cers = [character_error_rate(r, truth) for r, truth in zip(read, texts)]
        figures[name] = {"installed": True, "pages": len(images), "seconds": round(t.seconds, 2),
                         "pages_per_s": rate(len(images), t.seconds),
                         "character_error_rate": round(sum(cers) / len(cers), 4), "worst_page_cer": round(max(cers), 4)}
    return figures


def page_figures(settings, embeddings) -> dict:
    return {"pdf_100_pages": _pdf_figures(settings, embeddings), "ocr_300_dpi": _ocr_figures()}


def run_pages(settings) -> dict:
    from rag.embeddings import SentenceEmbeddings

    emb = SentenceEmbeddings.for_settings(settings)
    emb.encode(["warm up the encoder"] * (2 * settings.embed_batch_size + 1))
    notes = [f"a {PDF_PAGES}-page PDF drawn by reportlab, a ruled table every {TABLE_EVERY} pages; "
             "load = pypdf text + pdfplumber tables; ingest = load, chunk, embed, write",
             f"OCR: {OCR_PAGES} A4 pages of 24 lines of 12 pt Helvetica rendered at 300 dpi by PDFium"]
    return bench_result("pages", page_figures(settings, emb), notes=notes)


def cmd_pages(args, settings) -> int:
    from .bench import print_figures, write_result

    result = run_pages(settings)
    print_figures(result)
    write_result(result, args.out)
    return 0
