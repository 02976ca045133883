"""Bad input, table-driven, through the CLI (main(argv) in process; the integration tests run it as a subprocess), the library and the app handlers.

Every bad input must give one clear line (no traceback), a non-zero exit in the CLI, and leave
the index exactly as it was (chunk ids and file hashes read from Chroma's SQLite file).
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ingest.pipeline import ingest
from rag import build_chain
from rag.retrieval import chroma as store
from rag.errors import ConfigError, IndexMissingError, InputError, RagbotError
from rag.gate import Gate
from rag.settings import Settings

from .conftest import CORPUS, FakeEmbeddings, free_port
from .reliability_helpers import BAD_FILES, FakeMiniLM, make_bad_file, ragbot_in_process, snapshot

ALWAYS = Gate({}, 10.0, 0.5, {})


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    """The shipped corpus indexed under the real model's id (fake vectors): the CLI can open it without embedding."""
    tmp = tmp_path_factory.mktemp("inputs")
    corpus = tmp / "corpus"
    shutil.copytree(CORPUS, corpus)
    settings = Settings(persist_dir=str(tmp / "chroma"), corpus_dir=str(corpus))
    ingest([corpus], settings, embeddings=FakeMiniLM())
    store.forget_client(settings)
    return {"tmp": tmp, "corpus": corpus, "settings": settings, "before": snapshot(settings.persist_dir)}


def _one_line_error(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert "Traceback" not in stderr, stderr
    assert len(lines) == 1, stderr
    return lines[0]


# -- the CLI: ask and settings ------------------------------------------------------------------

def _cli_cases(tmp: Path, persist: str) -> dict[str, tuple[list, dict, str]]:
    """name -> (argv, env, fragment of the one-line error)."""
    garbage = tmp / "garbage-index"
    shutil.copytree(persist, garbage)
    (garbage / "chroma.sqlite3").write_bytes(b"this is not a database" * 1000)
    a_file = tmp / "index-is-a-file"
    a_file.write_text("not a folder")
    bad_json = tmp / "history.json"
    bad_json.write_text("[[\"q\", ")
    latin1 = tmp / "history-latin1.json"
    latin1.write_bytes('[["caf\u00e9", "ok"]]'.encode("latin-1"))
    wrong_shape = tmp / "history-shape.json"
    wrong_shape.write_text('{"user": "hi"}')
    dangling = make_bad_file(tmp / "links", "broken-symlink")
    loop = make_bad_file(tmp / "links", "symlink-loop")
    p = ["--persist-dir", persist]
    return {
        "empty question": (["ask", "", *p], {}, "the question is empty"),
        "whitespace-only question": (["ask", " \t\n  ", *p], {}, "the question is empty"),
        "control characters only": (["ask", "\x01\x02\x1b\x7f", *p], {}, "the question is empty"),
        "100,000-character question": (["ask", "why " * 25_000, *p], {}, "too long"),
        "RAGBOT_MODE=bogus": (["ask", "q?", *p], {"RAGBOT_MODE": "bogus"}, "unknown mode 'bogus'"),
        "--mode bogus": (["ask", "q?", "--mode", "bogus", *p], {}, "unknown mode 'bogus'"),
        "RAGBOT_K=abc": (["ask", "q?", *p], {"RAGBOT_K": "abc"}, "RAGBOT_K has a bad value 'abc'"),
        "--k 0": (["ask", "q?", "--k", "0", *p], {}, "k must be between 1 and 50"),
        # Bytes that are not UTF-8 reach Python as lone surrogates: no crash, the next check speaks.
        "invalid UTF-8 question": ([b"ask", b"Who coined \xff\xfe soft power?", b"--persist-dir", str(tmp / "nowhere").encode()], {}, "no index at"),
        "invalid UTF-8 path": ([b"ingest", str(tmp).encode() + b"/\xff\xfe.txt", *[x.encode() for x in p]], {}, "no such file or folder"),
        "missing index": (["ask", "q?", "--persist-dir", str(tmp / "nowhere")], {}, "no index at"),
        "index path is a file": (["ask", "q?", "--persist-dir", str(a_file)], {}, "is not a folder"),
        "garbage chroma.sqlite3": (["ask", "q?", "--persist-dir", str(garbage)], {}, "is damaged"),
        "Chroma server down": (
            ["ask", "q?", "--chroma-host", "127.0.0.1", "--chroma-port", str(free_port()), *p], {}, "unreachable"
        ),
        "history not JSON": (["ask", "q?", "--history", str(bad_json), *p], {}, "not valid JSON"),
        "history not UTF-8": (["ask", "q?", "--history", str(latin1), *p], {}, "not UTF-8"),
        "history is a folder": (["ask", "q?", "--history", str(tmp), *p], {}, "not a regular file"),
        "ingest missing path": (["ingest", str(tmp / "nope"), *p], {}, "no such file or folder"),
        "ingest broken symlink": (["ingest", str(dangling), *p], {}, "broken symbolic link"),
        "ingest symlink loop": (["ingest", str(loop), *p], {}, "symbolic link loop"),
    }




@pytest.fixture(scope="module")
def cli_results(index):
    """Every CLI case run once through ``main(argv)`` in this process (a fresh Python process per
    case cost 45 s; tests/test_ingest_integration.py and the others run ``python -m rag.cli`` for real)."""
    cases = _cli_cases(index["tmp"], index["settings"].persist_dir)
    results = {name: ragbot_in_process(*argv, env=env) for name, (argv, env, _) in cases.items()}
    return cases, results


CLI_CASES = [
    "empty question", "whitespace-only question", "control characters only", "100,000-character question",
    "RAGBOT_MODE=bogus", "--mode bogus", "RAGBOT_K=abc", "--k 0", "invalid UTF-8 question", "invalid UTF-8 path",
    "missing index", "index path is a file", "garbage chroma.sqlite3", "Chroma server down", "history not JSON",
    "history not UTF-8", "history is a folder", "ingest missing path", "ingest broken symlink", "ingest symlink loop",
]


@pytest.mark.parametrize("name", CLI_CASES)
def test_cli_bad_input_gives_one_line_and_nonzero_exit(cli_results, index, name):
    cases, results = cli_results
    r = results[name]
    stderr = r.stderr.decode("utf-8", "replace")
    line = _one_line_error(stderr)
    assert r.returncode != 0, stderr
    assert line.startswith("ragbot: error:") and cases[name][2] in line, line
    assert r.stdout == b""
    assert snapshot(index["settings"].persist_dir) == index["before"]


def test_cli_case_table_is_complete(cli_results):
    assert sorted(cli_results[0]) == sorted(CLI_CASES)


# -- the CLI: ingesting bad files ---------------------------------------------------------------

CLI_FILES = ["zero-byte", "encrypted-pdf", "fifo"]


@pytest.mark.parametrize("kind", CLI_FILES)
def test_cli_ingest_of_a_named_bad_file_fails_cleanly(index, tmp_path, kind):
    path = make_bad_file(tmp_path / "bad", kind)
    r = ragbot_in_process("ingest", str(path), "--json", "--persist-dir", index["settings"].persist_dir)
    line = _one_line_error(r.stderr.decode())
    assert r.returncode == 1
    assert line.startswith("skipped ") and BAD_FILES[kind] in line, line
    assert json.loads(r.stdout)["skipped"][0]["reason"] in line
    assert snapshot(index["settings"].persist_dir) == index["before"]


def test_cli_ingest_of_a_folder_reports_each_bad_file_and_keeps_the_index(index):
    """The indexed corpus folder grows every kind of bad file: one line each, the essay unchanged, exit 0."""
    corpus, settings = index["corpus"], index["settings"]
    (corpus / "x.txt").mkdir()  # a folder named like a file: walked as a folder
    for kind in BAD_FILES:
        make_bad_file(corpus / "x.txt", kind)
    try:
        r = ragbot_in_process("ingest", str(corpus), "--json", "--persist-dir", settings.persist_dir)
    finally:
        shutil.rmtree(corpus / "x.txt")
    stderr = r.stderr.decode()
    assert r.returncode == 0 and "Traceback" not in stderr
    lines = stderr.splitlines()
    assert len(lines) == len(BAD_FILES) + 1, lines  # loop-a and loop-b are both in the loop
    assert all(ln.startswith("skipped ") for ln in lines), lines
    for kind, reason in BAD_FILES.items():
        assert any(reason in ln for ln in lines), (kind, lines)
    d = json.loads(r.stdout)
    assert d["unchanged"] == 1 and d["chunks_written"] == 0 and d["removed"] == 0
    assert snapshot(settings.persist_dir) == index["before"]


# -- the library --------------------------------------------------------------------------------

def _lib_settings(work: Path) -> Settings:
    return Settings(persist_dir=str(work / "chroma"), collection="lib", corpus_dir=str(work / "corpus"))


@pytest.fixture(scope="module")
def lib_template(tmp_path_factory):
    """The shipped corpus ingested once (fake vectors) in the folder every test then works in, and
    kept aside; each chunk records its folder, so the copies are put back at the same path."""
    base = tmp_path_factory.mktemp("lib")
    work = base / "work"
    shutil.copytree(CORPUS, work / "corpus")
    ingest([work / "corpus"], _lib_settings(work), embeddings=FakeEmbeddings())
    store.forget_client(_lib_settings(work))
    shutil.copytree(work, base / "template", symlinks=True)
    return base


@pytest.fixture
def lib_index(lib_template):
    """A fresh copy of the indexed corpus: copying costs a tenth of ingesting it again for each test."""
    work = lib_template / "work"
    settings = _lib_settings(work)
    store.forget_client(settings)
    shutil.rmtree(work)
    shutil.copytree(lib_template / "template", work, symlinks=True)
    yield settings, work / "corpus", snapshot(settings.persist_dir)
    store.forget_client(settings)


@pytest.mark.parametrize("kind", list(BAD_FILES))
def test_library_ingest_skips_each_bad_file_with_its_reason(lib_index, kind):
    settings, corpus, before = lib_index
    make_bad_file(corpus, kind)
    skipped = []
    summary = ingest([corpus], settings, embeddings=FakeEmbeddings(), on_skip=skipped.append)
    reasons = [s.reason for s in summary.skipped]
    assert any(BAD_FILES[kind] in r for r in reasons), reasons
    assert all("\n" not in r and len(r) < 300 for r in reasons)
    assert summary.unchanged == 1 and summary.chunks_written == 0
    assert snapshot(settings.persist_dir) == before


def test_non_utf8_text_is_decoded_not_refused(lib_index):
    settings, corpus, before = lib_index
    (corpus / "cafe.txt").write_bytes("Le caf\u00e9 de la r\u00e9sistance servit des cr\u00eapes \u00e0 l'\u00e9tat-major.".encode("cp1252"))
    summary = ingest([corpus], settings, embeddings=FakeEmbeddings())
    assert summary.added == 1 and not summary.skipped
    col = store.open_collection(settings)
    got = col.get(where={"source": "cafe.txt"}, include=["documents"])
    assert "caf\u00e9" in got["documents"][0] and "cr\u00eapes" in got["documents"][0]


@pytest.mark.parametrize(
    "env, message",
    [
        ({"RAGBOT_MODE": "bogus"}, "unknown mode 'bogus'; known: extractive, local, ollama, openai"),
        ({"RAGBOT_K": "abc"}, "RAGBOT_K has a bad value 'abc'"),
        ({"RAGBOT_K": "51"}, "k must be between 1 and 50, got 51"),
        ({"RAGBOT_CHROMA_PORT": "x"}, "RAGBOT_CHROMA_PORT has a bad value"),
        ({"RAGBOT_LLM_TIMEOUT": "soon"}, "RAGBOT_LLM_TIMEOUT has a bad value"),
        ({"RAGBOT_CHUNK_OVERLAP": "900"}, "chunk overlap"),
        ({"RAGBOT_COLLECTION": "x"}, "collection name"),
        ({"RAGBOT_EMBEDDING_BACKEND": "tpu"}, "unknown embedding backend 'tpu'"),
    ],
)
def test_library_settings_from_env_name_the_bad_value(env, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")) as info:
        Settings.from_env(env)
    assert "\n" not in str(info.value)


QUESTIONS = [
    ("", InputError, "empty"),
    (" \t\n ", InputError, "empty"),
    ("\x00\x01\x1b", InputError, "empty"),
    ("x" * 100_000, InputError, "too long"),
    (b"bytes?", InputError, "must be text"),
    (None, InputError, "must be text"),
]


@pytest.mark.parametrize("question, error, message", QUESTIONS, ids=["empty", "blank", "controls", "100k", "bytes", "none"])
def test_library_chain_rejects_bad_questions_without_touching_the_index(lib_index, question, error, message):
    settings, _, before = lib_index
    chain = build_chain(settings, embeddings=FakeEmbeddings(), gate=ALWAYS)
    with pytest.raises(error, match=message):
        chain.invoke({"question": question, "history": []})
    assert snapshot(settings.persist_dir) == before


def test_library_chain_answers_after_cleaning_invalid_unicode(lib_index):
    settings, _, before = lib_index
    chain = build_chain(settings, embeddings=FakeEmbeddings(), gate=ALWAYS)
    a = chain.invoke({"question": "Who coined\ud800 the\x00 term soft power?\udfff", "history": []})
    assert a.question == "Who coined\ufffd the term soft power?\ufffd" and a.retrieved
    assert snapshot(settings.persist_dir) == before


@pytest.mark.parametrize(
    "setup, error, message",
    [
        ("missing", IndexMissingError, "no index at"),
        ("file", IndexMissingError, "is not a folder"),
        ("garbage-sqlite", RagbotError, "is damaged"),
        ("empty-folder", IndexMissingError, "no collection"),
    ],
)
def test_library_missing_or_corrupt_index_is_one_clear_error(tmp_path, setup, error, message):
    persist = tmp_path / "idx"
    if setup == "file":
        persist.write_text("x")
    elif setup == "garbage-sqlite":
        persist.mkdir()
        (persist / "chroma.sqlite3").write_bytes(b"\x00garbage" * 4096)
    elif setup == "empty-folder":
        persist.mkdir()
    settings = Settings(persist_dir=str(persist), collection="lib")
    chain = build_chain(settings, embeddings=FakeEmbeddings(), gate=ALWAYS)
    with pytest.raises(error, match=message) as info:
        chain.invoke({"question": "Who coined the term soft power?"})
    assert "\n" not in str(info.value)
    store.forget_client(settings)


@pytest.mark.parametrize("damage", ["truncated sqlite", "garbage HNSW data", "garbage HNSW header", "HNSW folder deleted"])
def test_library_damaged_index_answers_or_says_so_in_one_line(lib_index, tmp_path, damage):
    import os

    settings, _, _ = lib_index
    store.forget_client(settings)
    copy = tmp_path / "damaged"
    shutil.copytree(settings.persist_dir, copy)
    shutil.rmtree(copy / "lexical", ignore_errors=True)
    segments = [d for d in copy.iterdir() if d.is_dir() and d.name != "lexical"]
    if damage == "truncated sqlite":
        db = copy / "chroma.sqlite3"
        db.write_bytes(db.read_bytes()[: db.stat().st_size // 2])
    for seg in segments:
        if damage == "HNSW folder deleted":
            shutil.rmtree(seg)
        elif damage.startswith("garbage HNSW"):
            f = seg / ("data_level0.bin" if damage.endswith("data") else "header.bin")
            if f.exists():
                f.write_bytes(os.urandom(max(f.stat().st_size, 64)))
    damaged = settings.replace(persist_dir=str(copy))
    chain = build_chain(damaged, embeddings=FakeEmbeddings(), gate=ALWAYS)
    try:
        a = chain.invoke({"question": "Who coined the term soft power?"})
    except RagbotError as exc:
        assert "\n" not in str(exc) and ("is damaged" in str(exc) or "cannot be read" in str(exc))
        outcome = "error"
    else:
        assert a.citations  # small collections live in SQLite; Chroma rebuilds what it needs
        outcome = "answered"
    if damage == "truncated sqlite":
        assert outcome == "error"
    store.forget_client(damaged)


def test_library_ingest_into_a_corrupt_index_is_refused_and_leaves_it(tmp_path, corpus):
    persist = tmp_path / "idx"
    persist.mkdir()
    junk = b"\x00garbage" * 4096
    (persist / "chroma.sqlite3").write_bytes(junk)
    settings = Settings(persist_dir=str(persist), collection="lib")
    with pytest.raises(RagbotError, match="is damaged"):
        ingest([corpus], settings, embeddings=FakeEmbeddings())
    assert (persist / "chroma.sqlite3").read_bytes() == junk
    store.forget_client(settings)


# -- the app handlers ---------------------------------------------------------------------------

class Notes:
    """What the app would show as toasts."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def __call__(self, level: str, message: str) -> None:
        self.items.append((level, message))


@pytest.fixture
def app_ui(lib_index, tmp_path):
    from ui.handlers import RagbotUI

    settings, corpus, before = lib_index
    notes = Notes()
    fake = FakeEmbeddings()

    def chain_factory(s):
        return build_chain(s, embeddings=fake, gate=ALWAYS)

    def ingest_fn(paths, s, **kw):
        return ingest(paths, s, embeddings=fake, **kw)

    ui = RagbotUI(settings, chain_factory, feedback_path=tmp_path / "fb.jsonl", notify=notes, ingest_fn=ingest_fn,
                  max_upload_bytes=20 * 1024 * 1024)
    return ui, notes, settings, before


@pytest.mark.parametrize(
    "question, fragment",
    [
        ("", "Type a question"),
        ("   \n\t", "Type a question"),
        ("x" * 100_000, "too long"),
        ("\x00\x01\x02", "the question is empty"),
    ],
    ids=["empty", "blank", "100k", "controls"],
)
def test_app_bad_questions_become_one_message(app_ui, question, fragment):
    from ui.session import Session

    ui, notes, settings, before = app_ui
    outs = list(ui.ask(question, Session()))
    *_, (box, messages, panel, session) = outs
    assert notes.items and fragment in notes.items[-1][1] and "\n" not in notes.items[-1][1]
    assert "Traceback" not in panel and "Traceback" not in json.dumps(messages)
    assert session.history() == []  # a failed turn never becomes history
    assert snapshot(settings.persist_dir) == before


def test_app_unknown_mode_and_k_become_messages(app_ui):
    from ui.session import Session

    ui, notes, settings, before = app_ui
    *_, (_, _, panel, _) = list(ui.ask("Who coined soft power?", Session(), "bogus", 5))
    assert "unknown mode 'bogus'" in notes.items[-1][1] and "unknown mode" in panel
    *_, (_, _, panel, _) = list(ui.ask("Who coined soft power?", Session(), "extractive", 500))
    assert "k must be between 1 and 50" in notes.items[-1][1]
    assert snapshot(settings.persist_dir) == before


UPLOADS = ["zero-byte", "binary-as-txt", "truncated-pdf", "encrypted-pdf", "corrupt-docx", "50MB-sparse", "whitespace-only"]


@pytest.mark.parametrize("kind", UPLOADS)
def test_app_bad_upload_is_rejected_and_leaves_index_and_corpus(app_ui, tmp_path, kind):
    ui, notes, settings, before = app_ui
    path = make_bad_file(tmp_path / "incoming", kind)
    corpus_before = sorted(p.name for p in Path(settings.corpus_dir).iterdir())
    report = ui.upload([str(path)])
    assert report.startswith("**Rejected:**") and report.count("\n") == 0, report
    assert notes.items and "Traceback" not in report
    assert sorted(p.name for p in Path(settings.corpus_dir).iterdir()) == corpus_before
    assert snapshot(settings.persist_dir) == before
