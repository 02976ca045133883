"""PDF and images: text by page (pypdf), tables where they stand (pdfplumber), scans by OCR.

pypdf reads each page's lines with where they stand; ``pdf_layout`` makes the text a reader sees
of them (running headers, footers, page numbers, contents and index pages left out, paragraphs
joined, code fenced, page labels kept). Where pdfplumber finds a ruled table, the table's rows,
each keeping its header, take the place of the lines drawn inside it (or, when the lines do not
know their places, the page is written from pdfplumber's lines, the tables in place). A page with
(almost) no text layer but an image on it is rendered (pypdfium2) and read by OCR; a page that
OCR cannot read is reported in ``unread`` with the reason, not dropped silently.
"""
from __future__ import annotations

import io
import logging
import re

from rag.errors import LoadError

from . import ocr as ocr_engines, pdf_layout
from .layout import clean as _clean, join_pages, table_rows

log = logging.getLogger(__name__)

MIN_TEXT_LAYER = 10  # letters or digits on a page below which the page counts as a scan
MAX_IMAGE_PAGES = 1000  # frames of a TIFF read at most (about 17 minutes of OCR)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")


_DRAWS_LINES = re.compile(rb"(?:^|\s)(?:re|l)(?:\s|$)")  # content-stream operators: rectangle, line to


def _may_hold_a_ruled_table(page) -> bool:
    """Whether a pypdf page draws lines or rectangles: a ruled table needs them, and most pages of
    prose draw none, so pdfplumber's slow layout pass (about 80 ms a page) runs only where it may find one."""
    try:
        contents = page.get_contents()
        return contents is not None and _DRAWS_LINES.search(contents.get_data()) is not None
    except Exception:  # noqa: BLE001 - when unsure, let pdfplumber look
        return True


def _text_layer(data: bytes) -> tuple[list[list[pdf_layout.Line]], list[int], list[str]]:
    """Each page's lines as pypdf extracts them (with their positions), the pages that may hold a
    ruled table, and the pages' labels (as the PDF numbers them: "iv", "12"); one-line LoadErrors
    for broken or locked files."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError, PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                ok = reader.decrypt("")
            except Exception as exc:  # pypdf raises several types for unsupported crypto
                raise LoadError(f"encrypted PDF ({exc})") from exc
            if not ok:
                raise LoadError("encrypted PDF, password required")
        pages = list(reader.pages)
        return ([pdf_layout.page_lines(page) for page in pages], [i for i, p in enumerate(pages) if _may_hold_a_ruled_table(p)],
                _labels(reader, len(pages)))
    except LoadError:
        raise
    except (PdfReadError, PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise LoadError(f"corrupt PDF ({type(exc).__name__}: {exc})") from exc


def _labels(reader, n: int) -> list[str]:
    """The pages' labels; the physical numbers where the PDF's labels cannot be read."""
    try:
        labels = [str(label) for label in reader.page_labels]
    except Exception:  # noqa: BLE001 - a broken /PageLabels tree costs the labels, not the file
        labels = []
    return labels if len(labels) == n else [str(i) for i in range(1, n + 1)]


def _inside(obj: dict, bbox: tuple) -> bool:
    x0, top, x1, bottom = bbox
    mid_x, mid_y = (obj["x0"] + obj["x1"]) / 2, (obj["top"] + obj["bottom"]) / 2
    return x0 <= mid_x <= x1 and top <= mid_y <= bottom


def _table_rows(table) -> str:
    return "\n\n".join(table_rows([[c or "" for c in row] for row in table.extract()]))


def _page_with_tables(page) -> tuple[str, list[tuple[float, float, str]]] | None:
    """A pdfplumber page's ruled tables, as header-keeping rows: the page's text with its tables in
    place (rows, and a table from the lines around it, parted by a blank line: a row is a record),
    and each table's rows with where it stands (its top and bottom, in PDF units from the page's
    foot, as pypdf places text); None without tables."""
    tables = page.find_tables()
    if not tables:
        return None
    rows = [_table_rows(t) for t in tables]
    blocks = [(t.bbox[1], True, text) for t, text in zip(tables, rows)]
    outside = page.filter(lambda obj: obj.get("object_type") != "char" or not any(_inside(obj, t.bbox) for t in tables))
    blocks += [(line["top"], False, line["text"]) for line in outside.extract_text_lines()]
    blocks.sort(key=lambda b: b[0])
    out, after_table = [], False
    for _, is_table, text in blocks:
        if text.strip():
            out += ["\n\n" if out and (is_table or after_table) else "\n" if out else "", text]
            after_table = is_table
    top = float(page.mediabox[3]) if getattr(page, "mediabox", None) else float(page.height)
    return "".join(out), [(top - t.bbox[1], top - t.bbox[3], text) for t, text in zip(tables, rows)]


def _tables(data: bytes, candidates: list[int]) -> dict[int, tuple[str, list[tuple[float, float, str]]]]:
    """Page index -> the page's text with its tables in place, and its tables with where they
    stand, for the ``candidates`` that have tables.

    pdfplumber parses every page again; on a file it cannot parse the pages keep pypdf's text
    (logged), since the text layer alone is still worth having.
    """
    import pdfplumber

    found: dict[int, tuple[str, list[tuple[float, float, str]]]] = {}
    if not candidates:
        return found  # no page draws lines: pdfplumber is not even opened
    try:
        with pdfplumber.open(io.BytesIO(data), password="") as pdf:
            for i in candidates:
                page = pdf.pages[i]
                tables = _page_with_tables(page)
                if tables is not None:
                    found[i] = tables
                page.close()  # drops the page's parsed objects
    except Exception as exc:  # pdfminer raises many types on odd files; tables are a bonus
        log.warning("pdfplumber could not read the tables (%s: %s); text kept", type(exc).__name__, exc)
    return found


def _has_marks(pdfium_page) -> bool:
    """Whether a page draws anything (an image, or paths such as text turned into outlines)."""
    import pypdfium2.raw as pdfium_c

    kinds = [pdfium_c.FPDF_PAGEOBJ_IMAGE, pdfium_c.FPDF_PAGEOBJ_PATH]
    return any(True for _ in pdfium_page.get_objects(filter=kinds, max_depth=2))


def _has_text(text: str) -> bool:
    """Whether a page's text (its text layer, or what OCR read) is more than a stray mark."""
    return sum(c.isalnum() for c in text) >= MIN_TEXT_LAYER


def _scanned(texts: list[str]) -> list[int]:
    return [i for i, t in enumerate(texts) if not _has_text(t)]


def _render(page):
    """A page as pixels at ``OCR_DPI``, scaled down to at most ``MAX_OCR_PIXELS`` (a PDF page may be
    200 inches square: at 300 dpi that is 60,000 pixels a side and gigabytes of memory)."""
    width, height = page.get_size()  # points
    scale = ocr_engines.OCR_DPI / 72
    scale = min(scale, 0.99 * (ocr_engines.MAX_OCR_PIXELS / max(1.0, width * height)) ** 0.5)  # 0.99: PDFium rounds up
    return page.render(scale=scale, grayscale=True).to_pil()


def _read_image(engine, image) -> tuple[str, str]:
    """``(text, "")`` for a page image OCR read, or ``("", why not)``."""
    try:
        text = engine.read(image)
    except Exception as exc:  # noqa: BLE001 - one page that fails must not cost the file its other pages
        return "", " ".join(str(exc).split())[:200] or type(exc).__name__
    if not _has_text(text):
        return "", f"{engine.name} read no text"
    return text, ""


def _ocr_pages(data: bytes, pages: list[int], ocr: str) -> tuple[dict[int, str], dict[int, str], str]:
    """OCR of the scanned pages that draw something: (page index -> text, page index -> why it
    could not be read, the engine's name). A page that draws nothing is blank and is not reported."""
    import pypdfium2 as pdfium

    if not pages:
        return {}, {}, ""
    try:
        pdf = pdfium.PdfDocument(data)
    except Exception as exc:  # noqa: BLE001 - the text layer pypdf read is still worth keeping
        return {}, {i: f"PDFium could not open the file ({exc})" for i in pages}, ""
    read, unread, engine = {}, {}, None
    try:
        for i in pages:
            page = pdf[i]
            if not _has_marks(page):
                continue
            engine = engine or ocr_engines.engine(ocr)  # looked up only once a page needs it
            if engine is None:
                unread[i] = f"no OCR engine ({ocr_engines.INSTALL_HINT})"
                continue
            text, why = _read_image(engine, _render(page))
            if text:
                read[i] = text
            else:
                unread[i] = why
    finally:
        pdf.close()
    return read, unread, engine.name if engine else ""


def load_pdf(data: bytes, ocr: str = "auto") -> tuple[str, dict]:
    """A PDF's pages, tables kept in place and scanned pages read by OCR (engine ``ocr``)."""
    pages, candidates, labels = _text_layer(data)
    placed = [True] * len(pages)
    for i, (text, tables) in _tables(data, candidates).items():
        with_tables = pdf_layout.with_tables(pages[i], tables)  # pypdf's placed lines, the tables where they stand
        if with_tables is None:
            pages[i], placed[i] = pdf_layout.text_lines(text), False
        else:
            pages[i] = with_tables
    # a scan with a running header stamped on it as text is still a scan: its furniture does not count
    gone = pdf_layout.furniture(pages, pdf_layout.document_style(pages).size, lone_lines=True)
    bodies = ["\n".join(line.text for k, line in enumerate(page) if k not in g) for page, g in zip(pages, gone)]
    read, unread, engine = _ocr_pages(data, _scanned(bodies), ocr)
    for i, text in read.items():
        pages[i], placed[i] = pdf_layout.text_lines(text), False
    for page in pages:
        for line in page:
            line.text = _clean(line.text)
    text, starts = join_pages(*pdf_layout.assemble(pages, placed))
    if not text.strip():
        if unread and not engine:
            raise LoadError(f"PDF has no text layer (scanned images) and no OCR engine; {ocr_engines.INSTALL_HINT}")
        reasons = sorted(set(unread.values()))
        raise LoadError("PDF has no extractable text" + (f" (OCR: {'; '.join(reasons)})" if reasons else ""))
    meta = {"format": "pdf", "pages": len(pages), "page_starts": starts}
    if any(label != str(n) for n, label in enumerate(labels, 1)):
        meta["page_labels"] = labels
    if read:
        meta["ocr_pages"], meta["ocr_engine"] = sorted(i + 1 for i in read), engine
    if unread:
        meta["unread"] = [[i + 1, why] for i, why in sorted(unread.items())]
    return text, meta


def _frames(data: bytes, limit: int):
    """The image's frames, decoded one at a time (each frame of a TIFF is a page; a JPEG's extra
    frames, as phones write them, are previews of the same picture and are not read)."""
    from PIL import Image, ImageSequence, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise LoadError(f"corrupt image ({type(exc).__name__}: {exc})") from exc
    if image.format != "TIFF":
        yield image
        return
    for n, frame in enumerate(ImageSequence.Iterator(image)):
        if n >= limit:
            return
        yield frame


def load_image(data: bytes, ocr: str = "auto") -> tuple[str, dict]:
    """A scanned page or photo of text (each frame of a TIFF a page), read by OCR."""
    engine = ocr_engines.engine(ocr)
    if engine is None:
        raise LoadError(f"an image needs OCR and no OCR engine is installed; {ocr_engines.INSTALL_HINT}")
    texts, unread = [], []
    for n, frame in enumerate(_frames(data, MAX_IMAGE_PAGES), 1):
        text, why = _read_image(engine, frame)
        texts.append(_clean(text.strip()))
        if why:
            unread.append([n, why])
    if len(unread) == len(texts):
        raise LoadError(f"OCR ({engine.name}) read no text in the image")
    text, starts = join_pages(texts)
    meta = {"format": "image", "pages": len(texts), "page_starts": starts, "ocr_engine": engine.name,
            "ocr_pages": [n for n in range(1, len(texts) + 1) if texts[n - 1]]}
    if unread:
        meta["unread"] = unread
    return text, meta
