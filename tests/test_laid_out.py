"""Plain text read as it was written (ingest/structure.py): wrapped lines joined, entries as records,
headings from real headings, furniture left out, code kept; every span maps back to the source."""
from __future__ import annotations

import pytest

from ingest.chunking import split_document
from ingest.structure import is_laid_out, read_blocks
from ingest.types import Document
from rag.origin import decode_origin, encode_origin, reflowed, source_span, text_offset
from rag.text import sentence_spans

# A manual page as `man -P cat` writes it at 100 columns (shortened), U+2010 at line-break hyphens.
MAN = """CUT(1)                                    User Commands                                    CUT(1)

NAME
       cut - remove sections from each line of files

DESCRIPTION
       Print selected parts of lines from each FILE to standard output.  With no FILE, or when FILE
       is -, read standard input.  Mandatory arguments to long options are mandatory for short op‐
       tions too.

       -b, --bytes=LIST
              select only these bytes

       -f, --fields=LIST
              select  only  these fields;  also print any line that contains no delimiter charac‐
              ter, unless the -s option is specified

       -n     (ignored)

       --help display this help and exit

       Use one, and only one of -b, -c or -f.  Each LIST is made up of one range, or many  ranges
       separated  by commas.  Selected input is written in the same order that it is read, and is
       written exactly once.

       To cut the second field of a file separated by colons, run:

              cut -d: -f2 /etc/passwd

       Values over 1-10 are not allowed.

GNU coreutils 9.1                         September 2022                                   CUT(1)
"""

PROSE = ("Military diplomacy serves as a crucial intersection between military strategy and politics.\n"
         "Understanding Military Diplomacy\n"
         "Military diplomacy refers to the strategic use of military resources to foster relationships.\n")


def _blocks(text: str = MAN) -> list:
    return read_blocks(text)


def test_a_manual_page_is_laid_out_and_an_essay_is_not():
    assert is_laid_out(MAN)
    assert not is_laid_out(PROSE)


def test_title_and_footer_lines_are_not_read():
    texts = " ".join(b.text for b in _blocks())
    assert "User Commands" not in texts and "September 2022" not in texts


def test_sections_come_from_the_all_capitals_heading_lines_only():
    headings = [b.text for b in _blocks() if b.kind == "heading"]
    assert headings == ["NAME", "DESCRIPTION"]
    assert {b.section.split(" › ")[0] for b in _blocks() if b.kind != "heading"} == {"NAME", "DESCRIPTION"}


def test_wrapped_lines_are_one_paragraph_and_a_line_break_hyphen_is_mended():
    first = next(b for b in _blocks() if b.text.startswith("Print selected"))
    assert first.text == ("Print selected parts of lines from each FILE to standard output. With no FILE, or "
                          "when FILE is -, read standard input. Mandatory arguments to long options are "
                          "mandatory for short options too.")


@pytest.mark.parametrize("term, description", [
    ("-b, --bytes=LIST", "select only these bytes"),
    ("-f, --fields=LIST", "select only these fields; also print any line that contains no delimiter character, "
                          "unless the -s option is specified"),
    ("-n", "(ignored)"),
    ("--help", "display this help and exit"),
])
def test_an_option_and_its_description_are_one_entry(term, description):
    entry = next(b for b in _blocks() if b.kind == "entry" and b.term == term)
    assert entry.text == f"{term}  {description}"
    assert entry.section == f"DESCRIPTION › {term}"


def test_justified_gaps_are_not_taken_for_terms():
    terms = [b.term for b in _blocks() if b.kind == "entry"]
    assert terms == ["-b, --bytes=LIST", "-f, --fields=LIST", "-n", "--help"]
    assert not any("1-10" in b.section for b in _blocks())  # a numeric range in prose is no heading


def test_an_indented_example_is_code_kept_as_it_is():
    code = next(b for b in _blocks() if b.kind == "code")
    assert code.text == "    cut -d: -f2 /etc/passwd"
    spans = sentence_spans(code.text)
    assert [code.text[a:b] for a, b in spans] == ["cut -d: -f2 /etc/passwd"]


def test_every_block_maps_back_to_the_source_lines_it_was_read_from():
    for block in _blocks():
        start, end = source_span(block.origin, 0, len(block.text))
        assert reflowed(MAN[start:end]) == reflowed(block.text), block.text
        for i, ch in enumerate(block.text):
            if not ch.isspace():
                assert MAN[source_span(block.origin, i, i + 1)[0]] == ch


def test_a_quote_of_a_sentence_maps_to_the_span_of_its_original_lines():
    entry = next(b for b in _blocks() if b.term == "-f, --fields=LIST")
    a = entry.text.index("also print")
    b = entry.text.index("specified") + len("specified")
    start, end = source_span(entry.origin, a, b)
    assert MAN[start:end].startswith("also print") and MAN[start:end].endswith("specified")
    assert "charac‐\n" in MAN[start:end]  # the span covers the original lines, hyphen and all
    assert text_offset(entry.origin, start) == a and text_offset(entry.origin, end) == b


def test_origins_survive_a_record_round_trip():
    entry = next(b for b in _blocks() if b.kind == "entry")
    assert decode_origin(encode_origin(entry.origin)) == entry.origin
    assert decode_origin(None) == ()


def test_chunks_of_a_laid_out_text_are_entries_and_packed_paragraphs():
    doc = Document(MAN, "cut.txt")
    chunks = split_document(doc)
    entries = [c for c in chunks if " › " in c.section]
    assert [c.section for c in entries] == ["DESCRIPTION › -b, --bytes=LIST", "DESCRIPTION › -f, --fields=LIST",
                                            "DESCRIPTION › -n", "DESCRIPTION › --help"]
    for c in chunks:
        assert reflowed(MAN[c.start : c.end]) == reflowed(c.text)
        assert c.context == "cut - remove sections from each line of files"
        assert c.embedding_text() == f"{c.context}\n{c.section}\n{c.text}"


def test_an_essay_keeps_its_chunks_exactly():
    doc = Document(PROSE, "essay.txt")
    for c in split_document(doc):
        assert not c.origin and PROSE[c.start : c.end] == c.text


MARKDOWN = """# Tool

Some text that is
wrapped in the source.

```sh
make  install   # keeps   its spaces
```

## Options

--verbose
    say more about what happens
"""


def test_markdown_paragraph_lines_join_and_a_fence_keeps_its_characters():
    blocks = read_blocks(MARKDOWN)
    assert [b.kind for b in blocks] == ["heading", "paragraph", "code", "heading", "entry"]
    assert blocks[1].text == "Some text that is wrapped in the source."
    assert blocks[2].text == "    make  install   # keeps   its spaces"
    assert blocks[4].text == "--verbose  say more about what happens" and blocks[4].section == "Tool › Options › --verbose"


def test_an_ascii_hyphen_at_a_line_end_stays_and_the_break_goes():
    text = ("       You may mix different option styles, or specify options after the command-\n"
            "       line arguments, and the result is the same as written in one line here today.\n") * 3
    block = read_blocks(text)[0]
    assert "command-line arguments" in block.text


SUBSECTIONS = """\
TRACE(1)                         General Commands Manual                         TRACE(1)

NAME
       trace - trace system calls and signals of a running program

OPTIONS
   General
       -e expr     A  qualifying  expression which modifies which events to trace or how
                   to trace them.  The format of the expression is:

                             [qualifier=][!]value[,value]...

                   where qualifier is one of trace, abbrev, verbose or raw, and value is
                   a qualifier-dependent symbol or number.  The default qualifier is  trace.
                   For example, -e trace=!open means every system call except open.  In addi‐
                   tion, the special values all and none have the obvious meanings.

       -q          Suppress  messages  about  attaching,  detaching  and  personality
                   changes.

       -c          Count  time,  calls, and errors for each system call and report a
                   summary on program exit.

   Startup
       -E var
       --env=var   Remove var from the inherited list of environment variables before passing
                   it on to the command.

       -p pid
       --attach=pid
                   Attach  to  the  process with the process ID pid and begin tracing.  The
                   trace may be terminated at any time by a keyboard interrupt signal.

       -u user     Run  the  command  with  the  user ID, group ID and supplementary groups
                   of user.

trace 6.1                                 2023-01-01                                  TRACE(1)
"""


def test_a_subsection_line_right_under_its_section_is_a_heading_not_a_term():
    """"General" follows "OPTIONS" with no blank line: a heading, so "-e expr" is the entry's term and
    its description, after an indented example, is prose again (reflowed, its break hyphens mended)."""
    blocks = read_blocks(SUBSECTIONS)
    assert [(b.kind, b.text) for b in blocks if b.kind == "heading"][-3:] == [
        ("heading", "OPTIONS"), ("heading", "General"), ("heading", "Startup")]
    entry = next(b for b in blocks if b.kind == "entry" and b.term == "-e expr")
    assert entry.section == "OPTIONS › General › -e expr"
    lines = entry.text.split("\n")
    assert lines[1] == "    [qualifier=][!]value[,value]..."  # the example, kept as code
    assert lines[2].startswith("where qualifier is one of") and "qualifier-dependent" in lines[2]
    assert "In addition, the special values" in lines[2]


def test_term_lines_of_their_own_join_the_term_whose_line_starts_the_description():
    """"-E var" over "--env=var   Remove ..." is one entry; "-p pid" and "--attach=pid" over a
    description whose first line is justified ("Attach  to  the") is one entry too."""
    entries = {b.term: b.text for b in read_blocks(SUBSECTIONS) if b.kind == "entry"}
    assert entries["-E var --env=var"].startswith("-E var --env=var  Remove var from the inherited list")
    assert entries["-p pid --attach=pid"].startswith("-p pid --attach=pid  Attach to the process with the process ID pid")
    assert not any(t in ("-E var", "Attach") for t in entries)


def test_subsection_and_joined_term_blocks_map_back_to_their_source():
    for block in read_blocks(SUBSECTIONS):
        start, end = source_span(block.origin, 0, len(block.text))
        assert reflowed(SUBSECTIONS[start:end]) == reflowed(block.text), block.text
        for i, ch in enumerate(block.text):
            if not ch.isspace():
                assert SUBSECTIONS[source_span(block.origin, i, i + 1)[0]] == ch


JUSTIFIED = """\
ZZ(1)                            General Commands Manual                            ZZ(1)

NAME
       zz - squeeze files

DESCRIPTION
       Files  created  by  zip can be uncompressed by zz only if they have a single member com\u2010
       pressed with the 'deflation' method.  This feature is only intended to help conversion.

OPTIONS
       -a     ascii text mode: convert end-of-lines using local conventions.  This option is
              supported only on some non-Unix systems.

       -c     write output on standard output; keep original files unchanged.  With several
              input files, the output consists of a sequence of compressed members.

zz 1.0                                    2024-01-01                                    ZZ(1)
"""


def test_a_justified_line_whose_word_runs_on_is_prose_not_an_entry():
    """"Files  created" has a gap at the options' description column, but its last word goes on
    at the same indent on the next line: a paragraph, whose quote never ends at "com-"."""
    blocks = read_blocks(JUSTIFIED)
    para = next(b for b in blocks if "single member" in b.text)
    assert para.kind == "paragraph"
    assert "single member compressed with the 'deflation' method." in para.text
    assert {b.term for b in blocks if b.kind == "entry"} == {"-a", "-c"}
