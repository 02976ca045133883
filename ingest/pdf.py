"""PDF and images: text by page (pypdf), tables where they stand (pdfplumber), scans by OCR.

A page keeps pypdf's text unless pdfplumber finds a ruled table on it; then the page is written
from pdfplumber's lines outside the tables with each table, as rows that keep their header, at
its place. A page with (almost) no text layer but an image on it is rendered (pypdfium2) and
read by OCR; a page that OCR cannot read is reported in ``unread_pages``, not dropped silently.
"""
from __future__ import annotations

import io
import logging
import re

from rag.errors import LoadError

from . import ocr as ocr_engines
from .layout import clean as _clean, join_pages, table_rows

log = logging.getLogger(__name__)

MIN_TEXT_LAYER = 10  # letters or digits on a page below which the page counts as a scan
IMAGE_FORMATS = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".tif": "tiff", ".tiff": "tiff"}


_DRAWS_LINES = re.compile(rb"(?:^|\s)(?:re|l)(?:\s|$)")  # content-stream operators: rectangle, line to


def _may_hold_a_ruled_table(page) -> bool:
    """Whether a pypdf page draws lines or rectangles: a ruled table needs them, and most pages of
    prose draw none, so pdfplumber's slow layout pass (about 80 ms a page) runs only where it may find one."""
    try:
        contents = page.get_contents()
        return contents is not None and _DRAWS_LINES.search(contents.get_data()) is not None
    except Exception:  # noqa: BLE001 - when unsure, let pdfplumber look
        return True


def _text_layer(data: bytes) -> tuple[list[str], list[int]]:
    """Each page's text as pypdf extracts it, and the pages that may hold a ruled table;
    one-line LoadErrors for broken or locked files."""
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
        return [page.extract_text() or "" for page in pages], [i for i, p in enumerate(pages) if _may_hold_a_ruled_table(p)]
    except LoadError:
        raise
    except (PdfReadError, PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise LoadError(f"corrupt PDF ({type(exc).__name__}: {exc})") from exc


def _inside(obj: dict, bbox: tuple) -> bool:
    x0, top, x1, bottom = bbox
    mid_x, mid_y = (obj["x0"] + obj["x1"]) / 2, (obj["top"] + obj["bottom"]) / 2
    return x0 <= mid_x <= x1 and top <= mid_y <= bottom


def _page_with_tables(page) -> str | None:
    """A pdfplumber page's text with its ruled tables as header-keeping rows, or None without tables."""
    tables = page.find_tables()
    if not tables:
        return None
    blocks = [(t.bbox[1], "\n".join(table_rows([[c or "" for c in row] for row in t.extract()]))) for t in tables]
    outside = page.filter(lambda obj: obj.get("object_type") != "char" or not any(_inside(obj, t.bbox) for t in tables))
    blocks += [(line["top"], line["text"]) for line in outside.extract_text_lines()]
    blocks.sort(key=lambda b: b[0])
    return "\n".join(text for _, text in blocks if text.strip())


def _tables(data: bytes, candidates: list[int]) -> dict[int, str]:
    """Page index -> the page's text with its tables in place, for the ``candidates`` that have tables.

    pdfplumber parses every page again; on a file it cannot parse the pages keep pypdf's text
    (logged), since the text layer alone is still worth having.
    """
    import pdfplumber

    found: dict[int, str] = {}
    try:
        with pdfplumber.open(io.BytesIO(data), password="") as pdf:
            for i in candidates:
                page = pdf.pages[i]
                text = _page_with_tables(page)
                if text is not None:
                    found[i] = text
                page.close()  # drops the page's parsed objects
    except Exception as exc:  # pdfminer raises many types on odd files; tables are a bonus
        log.warning("pdfplumber could not read the tables (%s: %s); text kept", type(exc).__name__, exc)
    return found


def _has_images(pdfium_page) -> bool:
    import pypdfium2.raw as pdfium_c

    return any(True for _ in pdfium_page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=2))


def _scanned(texts: list[str]) -> list[int]:
    return [i for i, t in enumerate(texts) if sum(c.isalnum() for c in t) < MIN_TEXT_LAYER]


def _ocr_pages(data: bytes, pages: list[int], engine) -> tuple[dict[int, str], list[int]]:
    """OCR of the scanned pages that hold an image: (page index -> text, pages it could not read).

    A page with neither text nor image is blank and is neither read nor reported.
    """
    import pypdfium2 as pdfium

    read, unread = {}, []
    pdf = pdfium.PdfDocument(data)
    try:
        for i in pages:
            page = pdf[i]
            if not _has_images(page):
                continue
            text = engine.read(page.render(scale=ocr_engines.OCR_DPI / 72).to_pil()) if engine else ""
            if sum(c.isalnum() for c in text) >= MIN_TEXT_LAYER:
                read[i] = text
            else:
                unread.append(i)
    finally:
        pdf.close()
    return read, unread


def load_pdf(data: bytes, ocr: str = "auto") -> tuple[str, dict]:
    """A PDF's pages, tables kept in place and scanned pages read by OCR (engine ``ocr``)."""
    texts, candidates = _text_layer(data)
    for i, text in (_tables(data, candidates) if candidates else {}).items():
        texts[i] = text
    engine = ocr_engines.engine(ocr)
    read, unread = _ocr_pages(data, _scanned(texts), engine) if _scanned(texts) else ({}, [])
    for i, text in read.items():
        texts[i] = text
    text, starts = join_pages([_clean(t.strip()) for t in texts])
    if not text.strip():
        if unread and engine is None:
            raise LoadError(f"PDF has no text layer (scanned images) and no OCR engine; {ocr_engines.INSTALL_HINT}")
        raise LoadError("PDF has no extractable text" + (" (OCR read nothing)" if unread else ""))
    meta = {"format": "pdf", "pages": len(texts), "page_starts": starts}
    if read:
        meta["ocr_pages"] = sorted(i + 1 for i in read)
        meta["ocr_engine"] = engine.name
    if unread:
        meta["unread_pages"] = [i + 1 for i in unread]
        meta["unread_reason"] = "no OCR engine" if engine is None else f"{engine.name} read no text"
    return text, meta


def _frames(data: bytes):
    from PIL import Image, ImageSequence, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise LoadError(f"corrupt image ({type(exc).__name__}: {exc})") from exc
    return [frame.copy() for frame in ImageSequence.Iterator(image)]  # a TIFF may hold several pages


def load_image(data: bytes, ocr: str = "auto") -> tuple[str, dict]:
    """A scanned page or photo of text (each frame of a TIFF a page), read by OCR."""
    frames = _frames(data)
    engine = ocr_engines.engine(ocr)
    if engine is None:
        raise LoadError(f"an image needs OCR and no OCR engine is installed; {ocr_engines.INSTALL_HINT}")
    texts = [_clean(engine.read(frame).strip()) for frame in frames]
    unread = [n for n, t in enumerate(texts, 1) if sum(c.isalnum() for c in t) < MIN_TEXT_LAYER]
    if len(unread) == len(texts):
        raise LoadError(f"OCR ({engine.name}) read no text in the image")
    text, starts = join_pages(texts)
    meta = {"format": "image", "pages": len(texts), "page_starts": starts, "ocr_engine": engine.name,
            "ocr_pages": [n for n in range(1, len(texts) + 1) if n not in unread]}
    if unread:
        meta["unread_pages"], meta["unread_reason"] = unread, f"{engine.name} read no text"
    return text, meta
