from __future__ import annotations

import os

import pytest

from ingest.chunking import split_document
from ingest.loaders import load
from rag.errors import LoadError

from .docs_factory import docx_bytes, encrypted_pdf_bytes, pdf_bytes


def write(tmp_path, name, data):
    p = tmp_path / name
    p.write_bytes(data if isinstance(data, bytes) else data.encode())
    return p


@pytest.mark.parametrize(
    "name, data, expected",
    [
        ("a.txt", "Plain text about treaties.", "Plain text about treaties."),
        ("latin.txt", "Café diplomatie à Genève, été.".encode("latin-1"), "Café diplomatie à Genève"),
        ("utf16.txt", "Ünïcödé in UTF-16 text".encode("utf-16"), "Ünïcödé in UTF-16"),
        ("bom.txt", b"\xef\xbb\xbfWith a BOM.", "With a BOM."),
        ("crlf.md", "# Title\r\n\r\nBody line.\r\n", "# Title\n\nBody line."),
        ("page.html", "<html><head><title>T</title><script>alert(1)</script></head><body><h2>Intro</h2><p>Hello <b>world</b>.</p><ul><li>one</li></ul></body></html>", "## Intro\n\nHello world.\n\n- one"),
    ],
)
def test_text_formats_decode(tmp_path, name, data, expected):
    doc = load(write(tmp_path, name, data))
    assert expected in doc.text
    assert "alert" not in doc.text


def test_html_headings_drive_sections(tmp_path):
    doc = load(write(tmp_path, "p.html", "<h1>Alpha</h1><p>First part.</p><h2>Beta</h2><p>Second part.</p>"))
    assert {c.section for c in split_document(doc)} == {"Alpha", "Beta"}


def test_pdf_text_is_extracted(tmp_path):
    doc = load(write(tmp_path, "r.pdf", pdf_bytes(["Military diplomacy report", "The envoy met in Oslo."])))
    assert "envoy met in Oslo" in doc.text
    assert doc.meta["format"] == "pdf"


def test_docx_headings_and_paragraphs(tmp_path):
    doc = load(write(tmp_path, "r.docx", docx_bytes("Findings", ["The treaty was signed.", "Talks went on."])))
    assert doc.text.startswith("# Findings")
    assert "The treaty was signed." in doc.text


@pytest.mark.parametrize(
    "name, data, reason",
    [
        ("empty.txt", b"", "empty file"),
        ("blank.txt", b"   \n\n  ", "no text"),
        ("binary.txt", bytes(range(256)) * 40, "binary"),
        ("image.pdf", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "PDF"),
        ("truncated.pdf", pdf_bytes(["Some text here"])[:120], "PDF"),
        ("locked.pdf", encrypted_pdf_bytes(["Secret text"]), "encrypted"),
        ("broken.docx", b"PK\x03\x04 not really a zip", "DOCX"),
        ("notes.xyz", b"hello", "unsupported file type"),
    ],
)
def test_bad_files_raise_one_clear_reason(tmp_path, name, data, reason):
    with pytest.raises(LoadError) as err:
        load(write(tmp_path, name, data))
    message = str(err.value)
    assert reason.lower() in message.lower()
    assert "\n" not in message and "Traceback" not in message


def test_broken_symlink_and_loop_are_load_errors(tmp_path):
    os.symlink(tmp_path / "missing.txt", tmp_path / "dangling.txt")
    os.symlink(tmp_path / "loop.txt", tmp_path / "loop.txt")
    for name in ("dangling.txt", "loop.txt"):
        with pytest.raises(LoadError):
            load(tmp_path / name)


def test_directory_named_like_a_file(tmp_path):
    (tmp_path / "folder.txt").mkdir()
    with pytest.raises(LoadError, match="directory"):
        load(tmp_path / "folder.txt")


def _zip_of_zeros(path, size: int, members: int = 1):
    import zipfile

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for k in range(members):
            archive.writestr(f"word/part{k}.xml", b"\0" * size)
    return path


def _parser_must_not_run(data):
    raise AssertionError("a parser ran")


@pytest.mark.parametrize("suffix", [".docx", ".xlsx", ".pptx", ".epub"])
def test_a_zip_bomb_is_refused_before_any_parser_inflates_it(tmp_path, monkeypatch, suffix):
    from ingest import loaders

    monkeypatch.setattr(loaders, "MAX_UNZIPPED_BYTES", 1_000_000)
    monkeypatch.setitem(loaders.LOADERS, suffix, _parser_must_not_run)
    path = _zip_of_zeros(tmp_path / f"bomb{suffix}", 3_000_000)  # 3 MB of zeros: about 3 KB zipped
    assert path.stat().st_size < 20_000
    with pytest.raises(LoadError, match=r"^archive expands to 3 MB from 0\.0 MB .*: refused as a possible zip bomb$"):
        load(path)


def test_a_zip_that_expands_a_hundredfold_past_the_ratio_floor_is_refused(tmp_path, monkeypatch):
    from ingest import loaders

    monkeypatch.setattr(loaders, "ZIP_RATIO_FROM", 1_000_000)  # the size cap (1 GB) is far off
    monkeypatch.setitem(loaders.LOADERS, ".docx", _parser_must_not_run)
    with pytest.raises(LoadError, match="zip bomb"):
        load(_zip_of_zeros(tmp_path / "ratio.docx", 3_000_000))


def test_a_zip_of_too_many_files_is_refused_from_its_directory_record(tmp_path, monkeypatch):
    from ingest import loaders

    monkeypatch.setattr(loaders, "MAX_ZIP_MEMBERS", 10)
    monkeypatch.setitem(loaders.LOADERS, ".epub", _parser_must_not_run)
    with pytest.raises(LoadError, match=r"archive holds 11 files \(> 10\)"):
        load(_zip_of_zeros(tmp_path / "many.epub", 0, members=11))


def test_a_corrupt_zip_directory_is_a_load_error_not_a_crash(tmp_path):
    # a central-directory entry claiming a zip version zipfile does not implement (NotImplementedError)
    data = bytearray(docx_bytes("Power", ["Soft power was coined by Joseph Nye."]))
    entry = data.index(b"PK\x01\x02")
    data[entry + 6] = 0x50
    path = tmp_path / "broken.docx"
    path.write_bytes(bytes(data))
    with pytest.raises(LoadError):
        load(path)
    (tmp_path / "text.docx").write_bytes(b"plain text, not a zip")
    with pytest.raises(LoadError, match="corrupt DOCX"):
        load(tmp_path / "text.docx")


def test_a_document_under_the_unzipped_cap_still_loads(tmp_path, monkeypatch):
    from ingest import loaders

    import zipfile

    path = tmp_path / "small.docx"
    path.write_bytes(docx_bytes("Power", ["Soft power was coined by Joseph Nye."]))
    unzipped = sum(m.file_size for m in zipfile.ZipFile(path).infolist())
    monkeypatch.setattr(loaders, "MAX_UNZIPPED_BYTES", unzipped)  # exactly its size: still allowed
    assert "Joseph Nye" in load(path).text
    monkeypatch.setattr(loaders, "MAX_UNZIPPED_BYTES", unzipped - 1)
    with pytest.raises(LoadError, match="zip bomb"):
        load(path)
