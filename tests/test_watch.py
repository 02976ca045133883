"""``ragbot ingest --watch``: the index follows the folder (in process with fake vectors here; a
subprocess with the real model, killed with SIGKILL, in test_ingest_integration.py)."""
from __future__ import annotations

import queue
import threading

from ingest.watch import watch
from rag.settings import Settings

from .conftest import FakeEmbeddings
from .reliability_helpers import lexical_state

WAIT_S = 5.0


def test_watch_follows_an_added_a_changed_and_a_deleted_file(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("Harbours\nThe harbour opened in 1871.\n")
    settings = Settings(persist_dir=str(tmp_path / "chroma"), collection="watched")
    runs: queue.Queue = queue.Queue()
    stop = threading.Event()
    worker = threading.Thread(target=watch, args=([folder], settings),
                              kwargs=dict(embeddings=FakeEmbeddings(), on_run=runs.put, stop=stop, debounce_ms=100))
    worker.start()
    try:
        assert runs.get(timeout=WAIT_S).added == 1
        (folder / "b.txt").write_text("Lighthouses\nThe keeper earned 40 crowns.\n")
        assert runs.get(timeout=WAIT_S).added == 1
        (folder / "a.txt").write_text("Harbours\nThe harbour opened in 1872, a year late.\n")
        assert runs.get(timeout=WAIT_S).updated == 1
        (folder / "b.txt").unlink()
        last = runs.get(timeout=WAIT_S)
        assert last.removed == 1
    finally:
        stop.set()
        worker.join(timeout=WAIT_S)
    assert not worker.is_alive()
    ids, manifest = lexical_state(settings.persist_dir, "watched")
    assert len(manifest) == 1 and len(ids) == len(set(ids)) == last.chunks_total


def test_file_list_comes_from_the_manifest_and_says_when_the_index_changed(tmp_path, monkeypatch):
    import time

    from ingest import manage
    from ingest.pipeline import ingest
    from rag.retrieval import chroma as store
    from ui.render import status_markdown

    folder = tmp_path / "docs"
    folder.mkdir()
    for name in ("a.txt", "b.txt"):
        (folder / name).write_text(f"Title {name}\n" + "Harbours and tides. " * 80 + "\n")
    settings = Settings(persist_dir=str(tmp_path / "chroma"), collection="listed")
    before = time.time()
    ingest([folder], settings, embeddings=FakeEmbeddings())
    from collections import Counter

    col = store.open_collection(settings)
    scanned = sorted(Counter(m["source"] for _, metas in store.iter_metadata(col) for m in metas).items())
    calls = []
    monkeypatch.setattr(store, "iter_metadata", lambda *a, **k: calls.append(1) or iter(()))
    assert manage.list_sources(settings) == scanned and not calls  # no chunk's metadata read
    assert [s for s, _ in scanned] == ["a.txt", "b.txt"] and all(n > 1 for _, n in scanned)
    changed = manage.last_changed(settings)
    assert changed is not None and before - 1 <= changed <= time.time() + 1
    assert "last changed" in status_markdown(scanned, changed) and "UTC" in status_markdown(scanned, changed)


def test_collections_side_by_side_never_see_each_other_and_delete_alone(tmp_path):
    import json

    from ingest import manage
    from ingest.pipeline import ingest
    from rag.retrieval import build_retriever
    from rag.retrieval.sync import lexical_dir

    from .reliability_helpers import ragbot_in_process

    base = Settings(persist_dir=str(tmp_path / "chroma"))
    emb = FakeEmbeddings()
    for name, topic in (("harbours", "The harbour opened in 1871 after dredging."), ("lighthouses", "The keeper earned 40 crowns.")):
        folder = tmp_path / name
        folder.mkdir()
        (folder / f"{name}.txt").write_text(f"{name.title()}\n{topic}\n")
        ingest([folder], base.replace(collection=name), embeddings=emb)
    for name in ("harbours", "lighthouses"):
        found = build_retriever(base.replace(collection=name), embeddings=emb).search("harbour keeper crowns dredging", k=5)
        assert {p.source for p in found} == {f"{name}.txt"}
    assert [n for n, _ in manage.list_collections(base)] == ["harbours", "lighthouses"]
    refused = ragbot_in_process("collections", "--delete", "lighthouses", "--persist-dir", base.persist_dir)
    assert refused.returncode != 0 and b"--yes" in refused.stderr
    done = ragbot_in_process("collections", "--delete", "lighthouses", "--yes", "--json", "--persist-dir", base.persist_dir)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["deleted"] == "lighthouses" and json.loads(done.stdout)["chunks"] >= 1
    listed = ragbot_in_process("collections", "--json", "--persist-dir", base.persist_dir)
    assert [c["collection"] for c in json.loads(listed.stdout)] == ["harbours"]
    assert not lexical_dir(base.replace(collection="lighthouses")).exists()
    assert lexical_dir(base.replace(collection="harbours")).exists()
    assert manage.list_sources(base.replace(collection="harbours")) == [("harbours.txt", 1)]
