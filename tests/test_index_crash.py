"""kill -9 during an add, a change and a remove, on an index of 100,000 chunks: the manifest never
claims a file that is not whole in Chroma and the lexical index, the next run finishes the work,
and then all three hold the same chunks. The ingesting process is really killed (SIGKILL, sent by
itself right after the step named), with a real embedded Chroma and lexical index; the vectors are
the fake embedder's (what is tested is the order of writes, not the model).
``RAGBOT_CRASH_TEST_CHUNKS`` sets the index size (default 100,000)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ingest.index_writer import FileWrite, IndexWriter
from rag.settings import Settings

from .conftest import ROOT, FakeEmbeddings
from .index_checks import assert_agree, assert_counts_agree, assert_manifest_claims_only_whole_files, file_ids_everywhere

pytestmark = [pytest.mark.integration]

CHUNKS = int(os.environ.get("RAGBOT_CRASH_TEST_CHUNKS", "100000"))
PER_FILE = 50

# Runs one ingestion and kills itself (SIGKILL) right after the named step returns.
_KILLED_RUN = """
import os, signal, sys
sys.path.insert(0, {root!r})
from ingest import index_writer
from ingest.manifest import Manifest
from ingest.pipeline import ingest
from rag.retrieval import chroma as store
from rag.retrieval.lexical import LexicalWriter
from rag.settings import Settings
from tests.conftest import FakeEmbeddings

owner, name = {{
    "manifest.begin": (Manifest, "begin"), "chroma.upsert": (store, "upsert"), "chroma.delete": (store, "delete"),
    "lexical.replace": (LexicalWriter, "replace"), "lexical.remove": (LexicalWriter, "remove"),
}}[{step!r}]
original = getattr(owner, name)

def then_die(*args, **kwargs):
    out = original(*args, **kwargs)
    os.kill(os.getpid(), signal.SIGKILL)
    return out

setattr(owner, name, then_die)
ingest([{folder!r}], Settings(persist_dir={persist!r}, collection="crash"), embeddings=FakeEmbeddings(), on_note=None)
print("not killed")
"""


def _settings(tmp: Path) -> Settings:
    return Settings(persist_dir=str(tmp / "chroma"), collection="crash")


@pytest.fixture(scope="module")
def big_index(tmp_path_factory):
    """An index of CHUNKS chunks in files of PER_FILE, written through the one writer."""
    tmp = tmp_path_factory.mktemp("crash")
    settings = _settings(tmp)
    emb = FakeEmbeddings()
    rng = np.random.default_rng(0)
    with IndexWriter.open(settings, embedder_id=emb.id, on_note=None) as writer:
        for first in range(0, CHUNKS, 5000):
            files = []
            for f in range(first // PER_FILE, min(CHUNKS, first + 5000) // PER_FILE):
                ids = tuple(f"base-{f}-{i}" for i in range(PER_FILE))
                docs = tuple(f"base file {f} passage {i} about harbour number {rng.integers(1e6)}" for i in range(PER_FILE))
                metas = tuple({"source": f"f{f}.txt", "root": "base", "start": i, "end": i + 1, "file_hash": f"h{f}",
                               "file_chunks": PER_FILE, "section": ""} for i in range(PER_FILE))
                vectors = rng.normal(size=(PER_FILE, emb.dimension)).astype(np.float32)
                files.append(FileWrite("base", f"f{f}.txt", f"h{f}", "c", emb.id, ids, docs, metas, vectors))
            writer.replace(files)
    assert assert_agree(settings) == CHUNKS
    return tmp


def _killed_ingest(tmp: Path, folder: Path, step: str) -> None:
    script = _KILLED_RUN.format(root=str(ROOT), step=step, folder=str(folder), persist=str(tmp / "chroma"))
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert proc.returncode == -signal.SIGKILL, f"not killed at {step}: {proc.returncode} {proc.stdout} {proc.stderr[-2000:]}"


def _sources(settings: Settings, folder: Path) -> dict[str, list[str]]:
    """What Chroma holds of the folder's files (by source), checked against the lexical index and the manifest."""
    from ingest.manifest import Manifest
    from rag.retrieval import chroma as store
    from rag.retrieval.lexical import file_key
    from rag.retrieval.sync import lexical_dir

    root = str(folder.resolve())
    got = store.open_collection(settings).get(where={"root": root}, include=["documents", "metadatas"])
    out: dict[str, list[str]] = {}
    for doc, meta in zip(got["documents"], got["metadatas"]):
        out.setdefault(meta["source"], []).append(doc)
    manifest = Manifest.open(lexical_dir(settings), settings.collection)
    try:
        entries = {source: manifest.get(file_key(root, source)) for source in ["harbour.txt", *out]}
    finally:
        manifest.close()
    for source, entry in entries.items():
        assert (entry is None) == (source not in out), f"manifest and Chroma disagree on {source}"
        assert entry is None or (len(entry.ids) == len(out[source]) and file_ids_everywhere(settings, entry.ids))
    return out


LONG = "The harbour master counted {n} soldiers at the pier. " * 40


@pytest.mark.parametrize("op, step", [
    ("add", "manifest.begin"), ("add", "chroma.upsert"), ("add", "lexical.replace"),
    ("change", "manifest.begin"), ("change", "chroma.upsert"), ("change", "chroma.delete"), ("change", "lexical.replace"),
    ("remove", "manifest.begin"), ("remove", "lexical.remove"), ("remove", "chroma.delete"),
])
def test_kill_9_leaves_three_stores_agreeing_and_the_next_run_finishes(big_index, op, step):
    settings = _settings(big_index)
    folder = big_index / f"docs-{op}-{step}"
    folder.mkdir()
    doc = folder / "harbour.txt"
    doc.write_text(LONG.format(n=1350))
    if op != "add":
        from ingest.pipeline import ingest

        ingest([folder], settings, embeddings=FakeEmbeddings(), on_note=None)
        assert_counts_agree(settings)
    if op == "change":
        doc.write_text("A short new version: 1,420 soldiers.\n")
    if op == "remove":
        doc.unlink()
    before = assert_counts_agree(settings)

    _killed_ingest(big_index, folder, step)
    assert_manifest_claims_only_whole_files(settings)

    from ingest.pipeline import ingest

    notes: list[str] = []
    ingest([folder], settings, embeddings=FakeEmbeddings(), on_note=notes.append)
    total = assert_counts_agree(settings)
    assert not any("rebuilding" in n for n in notes), notes  # repaired from the manifest, no full read
    found = _sources(settings, folder)
    if op == "add":
        assert len(found["harbour.txt"]) > 1 and total > before
    elif op == "change":
        assert found == {"harbour.txt": ["A short new version: 1,420 soldiers."]}
    else:
        assert found == {} and total < before


def test_after_every_crash_the_three_stores_hold_the_same_ids(big_index):
    """Runs after the kills above (same module index): every id, in all three stores, once."""
    assert assert_agree(_settings(big_index)) > CHUNKS
