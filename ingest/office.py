"""Spreadsheets and slide decks: CSV (the standard library), XLSX (openpyxl), PPTX (python-pptx).

Rows become records that keep their header (``layout.table_rows``); each sheet and each slide is a
section (a ``#`` heading line, as the chunker reads headings). A slide deck records where each
slide's text begins (``page_starts``), so its citations carry the slide number as their page.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile

from rag.errors import LoadError

from .layout import join_pages, table_rows

CSV_DELIMITERS = ",;\t|"


def load_csv(text: str) -> tuple[str, dict]:
    """A CSV file's rows as records; the delimiter is sniffed (comma when unsure)."""
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=CSV_DELIMITERS)
    except csv.Error:
        dialect = csv.excel
    try:
        rows = list(csv.reader(io.StringIO(text), dialect))
    except csv.Error as exc:
        raise LoadError(f"corrupt CSV ({exc})") from exc
    return "\n\n".join(table_rows(rows)), {"format": "csv"}


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    return str(value)


def load_xlsx(data: bytes) -> tuple[str, dict]:
    """Each worksheet a section of records (cached values of formulas, as the file last saved them)."""
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, ValueError, OSError) as exc:
        raise LoadError(f"corrupt XLSX ({type(exc).__name__}: {exc})") from exc
    blocks: list[str] = []
    try:
        for sheet in book.worksheets:
            rows = [[_cell(v) for v in row] for row in sheet.iter_rows(values_only=True)]
            lines = table_rows(rows)
            if lines:
                blocks += [f"# {sheet.title}", *lines]
    finally:
        book.close()
    return "\n\n".join(blocks), {"format": "xlsx", "sheets": len(book.sheetnames)}


def _slide_blocks(n: int, slide) -> list[str]:
    """One slide: a heading with its title, its text boxes and tables in order, then its notes."""
    title_shape = slide.shapes.title
    title = " ".join((title_shape.text_frame.text if title_shape is not None else "").split())
    blocks = [f"# Slide {n}: {title}" if title else f"# Slide {n}"]
    for shape in slide.shapes:
        if title_shape is not None and shape.shape_id == title_shape.shape_id:
            continue
        if getattr(shape, "has_table", False) and shape.has_table:
            blocks += table_rows([[c.text for c in row.cells] for row in shape.table.rows])
        elif getattr(shape, "has_text_frame", False) and shape.has_text_frame:
            blocks += [p.strip() for p in shape.text_frame.text.split("\n") if p.strip()]
    if slide.has_notes_slide:
        notes = " ".join(slide.notes_slide.notes_text_frame.text.split()) if slide.notes_slide.notes_text_frame else ""
        if notes:
            blocks.append(f"Notes: {notes}")
    return blocks


def load_pptx(data: bytes) -> tuple[str, dict]:
    """Each slide a section, speaker notes included; ``page_starts`` are the slides' offsets."""
    from pptx import Presentation
    from pptx.exc import PackageNotFoundError

    try:
        deck = Presentation(io.BytesIO(data))
    except (zipfile.BadZipFile, PackageNotFoundError, KeyError, ValueError) as exc:
        raise LoadError(f"corrupt PPTX ({type(exc).__name__}: {exc})") from exc
    text, starts = join_pages(["\n\n".join(_slide_blocks(n, slide)) for n, slide in enumerate(deck.slides, 1)])
    return text, {"format": "pptx", "slides": len(starts), "page_starts": starts}
