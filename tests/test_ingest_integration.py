"""Ingestion with the real embedding model, a real Chroma server, and a real kill -9."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ingest.pipeline import ingest
from rag.retrieval import chroma as store

from .chroma_server import ChromaServer
from .conftest import ROOT, write_abstracts
from .reliability_helpers import lexical_state

pytestmark = pytest.mark.integration



def ragbot(*args, env=None, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rag.cli", *args], capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}, cwd=ROOT
    )




def test_cli_ingest_with_real_model_then_unchanged(tmp_path, corpus):
    (corpus / "bad.pdf").write_bytes(b"%PDF-1.7 truncated")
    persist = tmp_path / "chroma"
    first = ragbot("ingest", str(corpus), "--json", "--persist-dir", str(persist))
    assert first.returncode == 0, first.stderr
    d = json.loads(first.stdout)
    assert d["added"] == 1 and d["chunks_total"] > 20
    assert "skipped" in first.stderr and "bad.pdf" in first.stderr
    second = json.loads(ragbot("ingest", str(corpus), "--json", "--persist-dir", str(persist)).stdout)
    assert second["unchanged"] == 1 and second["added"] == 0 and second["chunks_total"] == d["chunks_total"]
    # the vectors are real: a paraphrase finds the soft-power passage
    from rag.retrieval import build_retriever
    from rag.settings import Settings

    top = build_retriever(Settings(persist_dir=str(persist))).search("who invented the idea of attraction-based influence", 3, "dense")
    assert any("Joseph Nye" in p.text for p in top)


def test_cli_errors_are_one_line(tmp_path):
    r = ragbot("ingest", str(tmp_path / "nope"), "--persist-dir", str(tmp_path / "c"))
    assert r.returncode != 0
    assert r.stderr.strip().count("\n") == 0 and "no such file or folder" in r.stderr


def test_ingest_into_a_real_chroma_server(tmp_path, corpus, real_embeddings):
    server = ChromaServer(tmp_path / "server-data").start()
    try:
        from rag.settings import Settings

        settings = Settings(persist_dir=str(tmp_path / "local-cache"), chroma_host="127.0.0.1", chroma_port=server.port)
        summary = ingest([corpus], settings, embeddings=real_embeddings)
        assert summary.added == 1 and summary.chunks_total > 20
        again = ingest([corpus], settings, embeddings=real_embeddings)
        assert again.unchanged == 1
        col = store.open_collection(settings)
        assert col.count() == summary.chunks_total
        assert not (tmp_path / "local-cache" / "chroma.sqlite3").exists()  # the data went to the server
    finally:
        server.stop()
        store.forget_client(Settings(chroma_host="127.0.0.1", chroma_port=server.port))


def test_kill_9_halfway_then_rerun_completes_without_duplicates(tmp_path, real_embeddings):
    from rag.settings import Settings

    docs = write_abstracts(tmp_path / "abstracts", 80)
    env = {"RAGBOT_INGEST_FLUSH_CHUNKS": "16", "RAGBOT_PERSIST_DIR": str(tmp_path / "killed")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "rag.cli", "ingest", str(docs), "--verbose"],
        env={**os.environ, **env}, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    written = 0
    for line in proc.stderr:  # "written N chunks" after each committed batch
        if line.startswith("written "):
            written = int(line.split()[1])
            if written >= 40:
                break
    assert proc.poll() is None, "ingestion finished before it could be killed; make the corpus bigger"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed = Settings(persist_dir=str(tmp_path / "killed"))
    # the half-written index answers
    r = ragbot("ask", "What is the effect of vitamin D?", "--json", env={"RAGBOT_PERSIST_DIR": killed.persist_dir})
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["retrieved"]
    # the rerun completes it: the same chunk ids as a clean ingestion, none twice
    rerun = ragbot("ingest", str(docs), "--json", env=env)
    assert rerun.returncode == 0, rerun.stderr
    assert json.loads(rerun.stdout)["unchanged"] > 0
    clean = Settings(persist_dir=str(tmp_path / "clean"))
    ingest([docs], clean, embeddings=real_embeddings)
    ids_killed, ids_clean = _ids(killed), _ids(clean)
    assert len(ids_killed) == len(set(ids_killed))
    assert sorted(ids_killed) == sorted(ids_clean)
    lexical_ids, _ = lexical_state(killed.persist_dir)
    assert len(lexical_ids) == len(set(lexical_ids)) and sorted(lexical_ids) == sorted(ids_clean)


def _ids(settings) -> list[str]:
    col = store.open_collection(settings)
    return [i for ids, _ in store.iter_metadata(col) for i in ids]


@pytest.mark.integration
def test_server_mode_one_process_ingests_two_others_see_it_without_reloading(tmp_path, real_embeddings):
    """A Chroma server shared by three processes: `ragbot ingest` adds a file, and two answering
    processes that were already searching find it within seconds, reading no whole table to do so."""
    from eval.bench_growth import Reader
    from rag.settings import Settings

    docs = write_abstracts(tmp_path / "abstracts", 12)
    server = ChromaServer(tmp_path / "server-data").start()
    settings = Settings(persist_dir=str(tmp_path / "local"), chroma_host="127.0.0.1", chroma_port=server.port)
    try:
        ingest([docs], settings, embeddings=real_embeddings)
        queries = [p.read_text().splitlines()[0] for p in sorted(docs.iterdir())[:3]]
        readers = [Reader(settings, queries, tmp_path, f"reader{i}") for i in range(2)]
        for r in readers:
            assert r.searched()["hybrid"]["p50"] > 0
        new = tmp_path / "new"
        new.mkdir()
        (new / "zebrafish.txt").write_text("Zebrafish fin regeneration\nZebrafish regrow amputated fins within two weeks.\n")
        env = {"RAGBOT_CHROMA_HOST": "127.0.0.1", "RAGBOT_CHROMA_PORT": str(server.port), "RAGBOT_PERSIST_DIR": settings.persist_dir}
        done = ragbot("ingest", str(new), "--json", env=env)
        assert done.returncode == 0, done.stderr
        for r in readers:
            seen = r.probe("zebrafish fin regeneration", "zebrafish.txt")
            assert seen["seen_s"] is not None and seen["seen_s"] < 5, seen
            assert seen["whole_table_reads"] == 0, seen
            r.close()
    finally:
        server.stop()
        store.forget_client(settings)


@pytest.mark.integration
def test_watch_subprocess_follows_the_folder_and_survives_sigkill(tmp_path, real_embeddings):
    """`ragbot ingest --watch` with the real model: an added, a changed and a deleted file are in the
    index within 5 s each; killed with SIGKILL while writing, the next run leaves both indexes whole."""
    import queue
    import threading
    import time

    from rag.settings import Settings

    docs = write_abstracts(tmp_path / "abstracts", 4)
    env = {"RAGBOT_PERSIST_DIR": str(tmp_path / "watched"), "RAGBOT_INGEST_FLUSH_CHUNKS": "8"}
    proc = subprocess.Popen([sys.executable, "-m", "rag.cli", "ingest", str(docs), "--watch", "--json", "--verbose"],
                            env={**os.environ, **env}, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    written: queue.Queue = queue.Queue()  # "written N chunks" after each committed batch of a run
    summaries: queue.Queue = queue.Queue()  # one JSON line a run
    threading.Thread(target=lambda: [written.put(int(ln.split()[1])) for ln in proc.stderr if ln.startswith("written ")],
                     daemon=True).start()
    threading.Thread(target=lambda: [summaries.put(json.loads(ln)) for ln in proc.stdout if ln.startswith("{")], daemon=True).start()
    try:
        first = summaries.get(timeout=120)
        assert first["added"] == 4
        steps = [(lambda: (docs / "new.txt").write_text("Zebrafish fins\nZebrafish regrow amputated fins.\n"), "added"),
                 (lambda: (docs / "new.txt").write_text("Zebrafish fins\nZebrafish regrow fins in two weeks.\n"), "updated"),
                 (lambda: (docs / "new.txt").unlink(), "removed")]
        for change, key in steps:
            t0 = time.monotonic()
            change()
            summary = summaries.get(timeout=30)
            assert summary[key] == 1 and time.monotonic() - t0 < 5, summary
        more = write_abstracts(tmp_path / "more", 60)
        for p in more.iterdir():
            (docs / p.name).write_bytes(p.read_bytes())
        while written.get(timeout=60) < 24:  # the run of the 56 new files has committed some batches
            pass
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    settings = Settings(persist_dir=env["RAGBOT_PERSIST_DIR"])
    rerun = ingest([docs], settings, embeddings=real_embeddings)
    assert rerun.added + rerun.updated > 0 and rerun.unchanged > 4, rerun  # it was killed halfway
    store.forget_client(settings)
    clean = Settings(persist_dir=str(tmp_path / "clean"))
    ingest([docs], clean, embeddings=real_embeddings)
    ids, ids_clean = _ids(settings), _ids(clean)
    assert len(ids) == len(set(ids)) and sorted(ids) == sorted(ids_clean)
    lexical_ids, manifest = lexical_state(settings.persist_dir)
    assert sorted(lexical_ids) == sorted(ids_clean) and len(manifest) == len(list(docs.iterdir()))
