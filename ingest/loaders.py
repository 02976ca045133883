"""Turn files into Documents. One loader a format, found by suffix in ``LOADERS``."""
from __future__ import annotations

import io
import logging
import os
import stat
from pathlib import Path
from typing import Callable

from rag.errors import LoadError

from . import office, pdf, webpage, word
from .layout import clean as _clean, definition_lists, markdown_tables
from .types import Document

MAX_FILE_BYTES = 200 * 1024 * 1024  # bigger files are refused rather than read into memory
MAX_UNZIPPED_BYTES = 1_000_000_000  # a zipped format (DOCX, XLSX, PPTX, EPUB) may expand to this much,
MAX_ZIP_RATIO, ZIP_RATIO_FROM = 100, 100_000_000  # and past 100 MB to at most 100 times its size
MAX_ZIP_MEMBERS = 100_000
ZIPPED_SUFFIXES = (".docx", ".xlsx", ".pptx", ".epub")

# pypdf logs its repairs ("EOF marker not found") as warnings; with no handler configured Python
# prints them bare on stderr, between ragbot's own one-line reports. Keep them for apps that log.
logging.getLogger("pypdf").addHandler(logging.NullHandler())


def _decode(data: bytes) -> str:
    """Decode text in any common encoding; refuse binary data."""
    if b"\x00" in data[:8192] and not (data.startswith((b"\xff\xfe", b"\xfe\xff"))):
        raise LoadError("binary content (NUL bytes), not text")
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    results = from_bytes(data)
    best = results.best()
    if best is None:
        raise LoadError("binary content, no text encoding fits")
    # Short texts fit several code pages equally well; Windows-1252 is by far the most common.
    for r in results:
        if r.encoding == "cp1252" and r.chaos <= best.chaos + 0.01:
            best = r
            break
    text = str(best)
    controls = sum(1 for c in text[:4096] if ord(c) < 32 and c not in "\t\n\r\f")
    if controls > 0.05 * max(1, min(len(text), 4096)):
        raise LoadError("binary content, not text")
    return text


def load_text(data: bytes) -> tuple[str, dict]:
    return _clean(_decode(data)), {"format": "text"}


def load_markdown(data: bytes) -> tuple[str, dict]:
    """Markdown as written, with its pipe tables as rows and its definition lists as entries."""
    return markdown_tables(definition_lists(_clean(_decode(data)))), {"format": "markdown"}


def load_html(data: bytes) -> tuple[str, dict]:
    """A web page's content (``webpage.page_text``): the site's navigation and furniture left out."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(_decode(data), "html.parser")
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    return _clean(webpage.page_text(soup)), {"format": "html", "title": title}


def load_docx(data: bytes) -> tuple[str, dict]:
    """A Word document's body (``word.body_blocks``): headings, paragraphs, code, entries, tables."""
    import zipfile

    import docx

    try:
        document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise LoadError(f"corrupt DOCX ({type(exc).__name__}: {exc})") from exc
    except Exception as exc:  # python-docx raises package errors of its own
        raise LoadError(f"corrupt DOCX ({type(exc).__name__}: {exc})") from exc
    return _clean("\n\n".join(word.body_blocks(document))), {"format": "docx"}


def _toc_titles(toc, titles: dict[str, str] | None = None) -> dict[str, str]:
    """An EPUB's table of contents as file name -> chapter title (the first title a file gets, in
    reading order: an entry before its sub-entries)."""
    titles = {} if titles is None else titles
    for entry in toc:
        link, children = (entry[0], entry[1]) if isinstance(entry, tuple) else (entry, ())
        href = str(getattr(link, "href", "") or "").split("#")[0]
        if href and getattr(link, "title", None):
            titles.setdefault(href, " ".join(str(link.title).split()))
        _toc_titles(children, titles)
    return titles


def load_epub(data: bytes) -> tuple[str, dict]:
    """An e-book's chapters in reading (spine) order, each a section under its title."""
    import zipfile

    import ebooklib
    from ebooklib import epub

    try:
        book = epub.read_epub(io.BytesIO(data), {"ignore_ncx": False})
    except (zipfile.BadZipFile, KeyError, ValueError, IndexError, AttributeError, ebooklib.epub.EpubException) as exc:
        raise LoadError(f"corrupt EPUB ({type(exc).__name__}: {exc})") from exc
    titles = _toc_titles(book.toc)
    chapters = []
    for idref, *_ in book.spine:
        item = book.get_item_with_id(idref)
        if item is None or item.get_type() != ebooklib.ITEM_DOCUMENT:
            continue
        text, _ = load_html(item.get_content())
        title = titles.get(item.get_name())
        if title and not text.lstrip().startswith("#"):
            text = f"# {title}\n\n{text}"
        if text.strip():
            chapters.append(text)
    title = book.get_metadata("DC", "title")
    return "\n\n".join(chapters), {"format": "epub", "title": title[0][0] if title else "", "chapters": len(chapters)}


def load_csv(data: bytes) -> tuple[str, dict]:
    return office.load_csv(_decode(data))


LOADERS: dict[str, Callable[[bytes], tuple[str, dict]]] = {
    ".txt": load_text,
    ".text": load_text,
    ".md": load_markdown,
    ".markdown": load_markdown,
    ".html": load_html,
    ".htm": load_html,
    ".docx": load_docx,
    ".csv": load_csv,
    ".xlsx": office.load_xlsx,
    ".pptx": office.load_pptx,
    ".epub": load_epub,
}


# Formats that may need OCR: their loaders take the OCR engine's name as well.
OCR_LOADERS: dict[str, Callable[..., tuple[str, dict]]] = {
    ".pdf": pdf.load_pdf,
    **{suffix: pdf.load_image for suffix in pdf.IMAGE_SUFFIXES},
}


def suffixes() -> tuple[str, ...]:
    """Every file suffix ragbot can load, sorted."""
    return tuple(sorted([*LOADERS, *OCR_LOADERS]))


# A loader's version, for the formats whose loader has changed what it makes of the same bytes:
# a file indexed by an older version is read again, though it did not change (.md 2: pipe tables
# written as rows with their headers; 3: a cell's own bars and the cells beyond its header's kept, 2026-12-06;
# a file the newer loader reads to the same chunks is only relabelled, not embedded again).
# 2026-12-07 (issue 33): .md 4, definition lists as entries; .html/.htm/.epub 2, the site's furniture
# left out, code kept exactly, <dl> as entries; .docx 2, code as fenced blocks, term/definition
# paragraphs as entries; .pdf 2, running headers, footers, page numbers, contents and index pages
# left out, hard-wrapped lines joined into paragraphs (across pages too), page labels kept.
LOADER_VERSIONS = {".md": "4", ".markdown": "4", ".html": "2", ".htm": "2", ".epub": "2", ".docx": "2", ".pdf": "2"}


def loader_version(suffix: str) -> str:
    """The version of the loader that reads files ending in ``suffix`` ("" for a first version)."""
    return LOADER_VERSIONS.get(suffix.lower(), "")


def supported(path: Path) -> bool:
    """Whether ``path`` has a suffix ragbot can load."""
    return path.suffix.lower() in LOADERS or path.suffix.lower() in OCR_LOADERS


def read_bytes(path: Path) -> bytes:
    """Read a regular file, turning OS errors into one-line LoadErrors."""
    try:
        # O_NONBLOCK and the fstat check: a FIFO or device named like a document would block forever.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as fh:
            st = os.fstat(fh.fileno())
            if stat.S_ISDIR(st.st_mode):
                raise LoadError("is a directory")
            if not stat.S_ISREG(st.st_mode):
                raise LoadError("not a regular file (a FIFO, socket or device)")
            if st.st_size > MAX_FILE_BYTES:
                raise LoadError(f"file too large ({st.st_size / 1e6:.0f} MB > {MAX_FILE_BYTES / 1e6:.0f} MB)")
            return fh.read()
    except PermissionError as exc:
        raise LoadError("permission denied") from exc
    except IsADirectoryError as exc:
        raise LoadError("is a directory") from exc
    except FileNotFoundError as exc:
        raise LoadError("broken symbolic link" if path.is_symlink() else "no such file") from exc
    except OSError as exc:
        raise LoadError(exc.strerror or str(exc)) from exc


def _declared_members(data: bytes) -> int | None:
    """The member count a zip's end-of-central-directory record declares (None when not found or
    zip64), read before zipfile builds an entry for each member."""
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - 65_557))
    if end < 0 or end + 12 > len(data):
        return None
    count = int.from_bytes(data[end + 10 : end + 12], "little")
    return None if count == 0xFFFF else count


def _check_members(count: int) -> None:
    if count > MAX_ZIP_MEMBERS:
        raise LoadError(f"archive holds {count} files (> {MAX_ZIP_MEMBERS}): refused as a possible zip bomb")


def check_unzipped_size(data: bytes) -> None:
    """Refuse a zipped document (DOCX, XLSX, PPTX, EPUB) that would expand past MAX_UNZIPPED_BYTES,
    or past MAX_ZIP_RATIO times its size once over ZIP_RATIO_FROM, or that holds over
    MAX_ZIP_MEMBERS files: a zip bomb, a few kilobytes that a parser would inflate into gigabytes of
    memory. zipfile stops reading a member at the size its directory declares, so the declared
    sizes are the ones that count. A file that is not a readable zip is left to its loader."""
    import zipfile

    _check_members(_declared_members(data) or 0)  # before zipfile builds an entry a member
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except Exception:  # not a zip zipfile can read: the format's loader reports it as corrupt
        return
    _check_members(len(members))  # a zip64 end record gives no count of its own
    total = sum(m.file_size for m in members)
    if total > MAX_UNZIPPED_BYTES or (total > ZIP_RATIO_FROM and total > MAX_ZIP_RATIO * len(data)):
        raise LoadError(f"archive expands to {total / 1e6:.0f} MB from {len(data) / 1e6:.1f} MB "
                        f"(at most {MAX_UNZIPPED_BYTES / 1e6:.0f} MB, or {MAX_ZIP_RATIO}x over "
                        f"{ZIP_RATIO_FROM / 1e6:.0f} MB): refused as a possible zip bomb")


def load_bytes(data: bytes, source: str, suffix: str, ocr: str = "auto") -> Document:
    """Parse file content into a Document (scans read by the OCR engine ``ocr``); raises LoadError."""
    suffix = suffix.lower()
    if suffix not in LOADERS and suffix not in OCR_LOADERS:
        raise LoadError(f"unsupported file type {suffix or '(none)'}; supported: {', '.join(suffixes())}")
    if not data:
        raise LoadError("empty file")
    try:
        if suffix in ZIPPED_SUFFIXES:
            check_unzipped_size(data)
        text, meta = OCR_LOADERS[suffix](data, ocr=ocr) if suffix in OCR_LOADERS else LOADERS[suffix](data)
    except LoadError:
        raise
    except RecursionError as exc:
        raise LoadError("document nested too deeply to parse") from exc
    except Exception as exc:  # a parser bug on hostile input must not stop the batch
        raise LoadError(f"could not parse ({type(exc).__name__}: {exc})") from exc
    if not text.strip():
        raise LoadError("no text in file")
    return Document(text=text, source=source, meta=meta)


def load(path: str | Path, source: str | None = None, ocr: str = "auto") -> Document:
    """Load one file into a Document."""
    path = Path(path)
    return load_bytes(read_bytes(path), source or path.name, path.suffix, ocr=ocr)
