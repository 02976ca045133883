"""Shared pieces of the reliability suites: bad files, index snapshots, a fake with the real model's id."""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from rag.encoders import QUANTIZED

from .conftest import ROOT, FakeEmbeddings
from .docs_factory import encrypted_pdf_bytes, pdf_bytes


class FakeMiniLM(FakeEmbeddings):
    """The fake vectors under the real model's id and dimension, so the CLI (real model) accepts the index."""

    id = f"all-MiniLM-L6-v2+{QUANTIZED['onnx-int8']}"  # the default backend's (onnx-int8) id
    dimension = 384


def read_index(persist_dir: str | Path, sql: str) -> list[tuple]:
    """Rows of ``sql`` run read-only on Chroma's SQLite file (no client, no cache)."""
    db = Path(persist_dir) / "chroma.sqlite3"
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def snapshot(persist_dir: str | Path) -> list[tuple[str, str]]:
    """``(chunk id, file hash)`` of every chunk, read straight from Chroma's SQLite file."""
    return sorted(read_index(
        persist_dir,
        "SELECT e.embedding_id, m.string_value FROM embeddings e "
        "LEFT JOIN embedding_metadata m ON m.id = e.id AND m.key = 'file_hash'",
    ))


def lexical_state(persist_dir: str | Path, collection: str = "ragbot") -> tuple[list[str], dict]:
    """The lexical index's chunk ids (duplicates kept) and its manifest, read from disk."""
    from rag.retrieval.lexical import LexicalIndex

    index = LexicalIndex.open(Path(persist_dir) / "lexical" / collection)
    return (index.chunk_ids(), index.manifest()) if index is not None else ([], {})


def ragbot(*args, env: dict | None = None, timeout: float = 120, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """Run ``python -m rag.cli`` in a subprocess; ``args`` may be bytes (invalid UTF-8 in argv)."""
    full_env = {**os.environ, **(env or {})}
    for name in list(full_env):
        if name.startswith("RAGBOT_") and name not in (env or {}):
            del full_env[name]  # the developer's own settings must not leak into the table
    return subprocess.run(
        [sys.executable, "-m", "rag.cli", *args], capture_output=True, timeout=timeout, env=full_env, cwd=cwd
    )


def ragbot_in_process(*args, env: dict | None = None) -> subprocess.CompletedProcess:
    """``rag.cli.main(argv)`` in this process, with the environment and output of a subprocess run
    (the developer's RAGBOT_* variables removed, bytes arguments decoded as Python decodes argv)."""
    import contextlib
    import io

    from rag.cli import main
    from rag.retrieval import chroma

    argv = [os.fsdecode(a) if isinstance(a, bytes) else a for a in args]
    saved = dict(os.environ)
    out, err = io.StringIO(), io.StringIO()
    try:
        for name in [n for n in os.environ if n.startswith("RAGBOT_")]:
            del os.environ[name]
        os.environ.update(env or {})
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(argv)
    finally:
        os.environ.clear()
        os.environ.update(saved)
        chroma.forget_all_clients()
    encode = lambda s: s.encode("utf-8", "surrogateescape")
    return subprocess.CompletedProcess(argv, code, encode(out.getvalue()), encode(err.getvalue()))


def make_bad_file(folder: Path, kind: str) -> Path:
    """One hostile or broken file of ``kind`` in ``folder``; returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    if kind == "zero-byte":
        p = folder / "empty.txt"
        p.write_bytes(b"")
    elif kind == "whitespace-only":
        p = folder / "blank.md"
        p.write_text(" \n\t\n   \n")
    elif kind == "binary-as-txt":
        p = folder / "program.txt"
        p.write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 64)
    elif kind == "truncated-pdf":
        p = folder / "truncated.pdf"
        p.write_bytes(pdf_bytes(["Soft power is attraction."])[:180])
    elif kind == "garbage-pdf":
        p = folder / "garbage.pdf"
        p.write_bytes(b"%PDF-1.7\n" + os.urandom(4096))
    elif kind == "encrypted-pdf":
        p = folder / "locked.pdf"
        p.write_bytes(encrypted_pdf_bytes(["Secret text about soft power."]))
    elif kind == "corrupt-docx":
        p = folder / "broken.docx"
        p.write_bytes(b"PK\x03\x04 this is not a zip archive")
    elif kind == "50MB-sparse":
        p = folder / "huge.txt"
        with p.open("wb") as fh:  # 50 MB of NUL bytes, sparse on disk
            fh.truncate(50 * 1024 * 1024)
    elif kind == "fifo":
        p = folder / "pipe.txt"
        os.mkfifo(p)
    elif kind == "broken-symlink":
        p = folder / "dangling.txt"
        p.symlink_to(folder / "does-not-exist.txt")
    elif kind == "symlink-loop":
        p = folder / "loop-a.txt"
        p.symlink_to(folder / "loop-b.txt")
        (folder / "loop-b.txt").symlink_to(p)
    else:
        raise ValueError(kind)
    return p


# kind -> a fragment of the one-line reason it must be skipped with
BAD_FILES = {
    "zero-byte": "empty file",
    "whitespace-only": "no text",
    "binary-as-txt": "binary content",
    "truncated-pdf": "corrupt PDF",
    "garbage-pdf": "PDF",
    "encrypted-pdf": "encrypted PDF",
    "corrupt-docx": "corrupt DOCX",
    "50MB-sparse": "binary content",
    "fifo": "not a regular file",
    "broken-symlink": "broken symbolic link",
    "symlink-loop": "symbolic links",
}
