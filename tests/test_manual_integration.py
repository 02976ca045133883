"""A manual page through the real pipeline: ingested reflowed with the real embedding model, asked
through the real chain and reader; every citation still spans the original lines of the file."""
from __future__ import annotations

import pytest

from ingest.pipeline import ingest
from rag import build_chain
from rag.origin import reflowed
from rag.settings import Settings

from .test_laid_out import MAN

pytestmark = pytest.mark.integration

MORE = """
       -s, --only-delimited
              do not print lines not containing delimiters

       --output-delimiter=STRING
              use STRING as the output delimiter the default is to use the input delimiter

       -z, --zero-terminated
              line delimiter is NUL, not newline

EXIT STATUS
       cut exits with status 0 when every file was read, and with status 1 when a file could not
       be opened or a range was written wrongly; the status of a broken pipe is left to the shell.
"""


@pytest.fixture(scope="module")
def manual(tmp_path_factory, real_embeddings):
    folder = tmp_path_factory.mktemp("manual")
    docs = folder / "docs"
    docs.mkdir()
    footer = MAN.rstrip("\n").rsplit("\n", 1)[1]
    text = MAN.rstrip("\n").rsplit("\n", 1)[0].rstrip("\n") + "\n" + MORE + "\n" + footer + "\n"
    (docs / "cut.txt").write_text(text, encoding="utf-8")
    settings = Settings(persist_dir=str(folder / "chroma"), collection="manual")
    ingest([docs], settings, embeddings=real_embeddings)
    return settings, text


@pytest.fixture(scope="module")
def chain(manual, real_embeddings):
    return build_chain(manual[0], embeddings=real_embeddings)


@pytest.mark.parametrize("question", [
    "How do I choose which fields cut prints?",
    "What does the -s option of cut do?",
    "Which option makes cut use a different output delimiter?",
    "What exit status does cut give when a file cannot be opened?",
])
def test_citations_span_the_original_lines_and_no_title_line_is_retrieved(chain, manual, question):
    text = manual[1]
    a = chain.invoke({"question": question})
    for p in a.retrieved:
        assert "User Commands" not in p.text and "September 2022" not in p.text
    for c in a.citations:
        assert reflowed(text[c.start : c.end]) == reflowed(c.quote)
        assert "\u2010" not in c.quote and "\n " not in c.quote
    if a.short_answer is not None:
        s = a.short_answer
        assert reflowed(text[s.start : s.end]) == reflowed(s.text)


def test_an_option_entry_is_retrieved_whole_and_named_by_its_term(chain):
    a = chain.invoke({"question": "Which option makes cut print only lines that contain the delimiter?"})
    sections = [p.section for p in a.retrieved]
    assert "DESCRIPTION › -s, --only-delimited" in sections[:3]
    entry = next(p for p in a.retrieved if p.section == "DESCRIPTION › -s, --only-delimited")
    assert entry.text == "-s, --only-delimited  do not print lines not containing delimiters"
