from __future__ import annotations

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from ingest.structure import is_laid_out
from rag.origin import source_span
from ingest.chunking import ChunkerConfig, find_sections, split_document
from ingest.loaders import load
from ingest.types import Document

from .conftest import ESSAY


def test_offsets_slice_the_source_exactly():
    doc = load(ESSAY)
    chunks = split_document(doc)
    assert len(chunks) > 10
    for c in chunks:
        assert doc.text[c.start : c.end] == c.text


def test_plain_text_titles_become_sections():
    doc = load(ESSAY)
    sections = [h for h, _, _ in find_sections(doc.text)]
    assert "Soft Power and Military Diplomacy" in sections
    assert "U.S. Military Presence in Asia" in sections
    # list lead-ins and bullets are not titles
    assert not any(h.startswith("-") or h.endswith(":") for h in sections)
    chunk = next(c for c in split_document(doc) if "Joseph Nye" in c.text)
    assert chunk.section == "Soft Power and Military Diplomacy"


def test_markdown_headings_are_sections():
    text = "# Guide\n\nIntro text here.\n\n## Install\n\nRun pip install.\n\n## Use\n\nRun the tool. It works.\n"
    chunks = split_document(Document(text, "g.md"), ChunkerConfig(chunk_size=60, chunk_overlap=0))
    assert {c.section for c in chunks} == {"Guide", "Install", "Use"}
    assert next(c for c in chunks if "pip" in c.text).section == "Install"


def test_chunks_are_bounded_and_overlap_is_bounded():
    doc = load(ESSAY)
    cfg = ChunkerConfig(chunk_size=300, chunk_overlap=40)
    chunks = split_document(doc, cfg)
    assert all(len(c.text) <= 300 for c in chunks)
    for a, b in zip(chunks, chunks[1:]):
        if a.section == b.section:
            assert b.start >= a.start
            assert a.end - b.start <= 40  # overlap never exceeds the setting


def test_ids_derive_from_content_and_settings():
    doc = load(ESSAY)
    a = [c.id for c in split_document(doc)]
    b = [c.id for c in split_document(doc)]
    assert a == b and len(set(a)) == len(a)
    c = [c.id for c in split_document(doc, ChunkerConfig(chunk_size=801))]
    assert not set(a) & set(c)
    moved = [c.id for c in split_document(Document(doc.text, "other.txt"))]
    assert not set(a) & set(moved)


@pytest.mark.parametrize("size, overlap", [(10, 0), (100, 100), (100, -1)])
def test_bad_chunker_settings_name_the_value(size, overlap):
    with pytest.raises(ValueError, match=str(size) if size < 50 else "overlap"):
        ChunkerConfig(chunk_size=size, chunk_overlap=overlap)


_text = st.lists(
    st.one_of(
        st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=0, max_size=120),
        st.sampled_from(["\n", "\n\n", "# Heading\n", "Short Title\n", ". ", "- item\n", "   "]),
    ),
    max_size=40,
).map("".join)


@hsettings(max_examples=150, deadline=None)
@given(text=_text, size=st.integers(50, 400), overlap=st.integers(0, 49))
def test_property_offsets_always_slice_and_cover(text, size, overlap):
    doc = Document(text, "p.txt")
    chunks = split_document(doc, ChunkerConfig(chunk_size=size, chunk_overlap=overlap))
    covered = set()
    for c in chunks:
        assert c.text.strip()
        if c.origin:  # read reflowed (ingest/structure.py): every character comes from its place in the source
            for i, ch in enumerate(c.text):
                if not ch.isspace():
                    at = c.source_offset(i) if hasattr(c, "source_offset") else source_span(c.origin, i, i + 1)[0]
                    assert doc.text[at] == ch or ch == "-" and doc.text[at] == "\u2010", (c, i)
            continue
        assert doc.text[c.start : c.end] == c.text
        covered.update(range(c.start, c.end))
    if not is_laid_out(text):  # every non-space character of the document lies in some chunk
        missing = [i for i, ch in enumerate(text) if not ch.isspace() and i not in covered]
        assert not missing, (missing[:5], text)
