"""``ragbot bench growth``: retrieval as the index grows to a million chunks, with answering processes apart.

The index grows from real SciFact chunks (encoded once) and copies of them with perturbed vectors
and words, written as ingestion writes them (Chroma and the lexical index, file by file). At each
size an answering process (``eval.growth_reader``) opens the index, times searches, and then times
how soon it sees one more file that this process ingests through the real pipeline; its peak RSS
is its own VmHWM. ``--server`` runs the same against a ``chroma run`` server with two answering
processes.
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Mapping

import numpy as np

from .bench import Timer, bench_result, dir_size_mb, print_figures, write_result

GROWTH_SIZES = (1_000, 10_000, 100_000, 1_000_000)
GROWTH_QUERIES = 60
BASE_CHUNKS = 2000
BATCH_CHUNKS = 5000
ROOT = "growth"
OLD_PATH_MAX = 100_000  # the old path loads the whole table: compared up to here


def _base_chunks(settings, n: int, corpus: Mapping[str, tuple[str, str]]) -> tuple[list[str], list[dict], np.ndarray]:
    """The first ``n`` ragbot chunks of the SciFact abstracts (whole abstracts), with metadata and real embeddings."""
    from ingest.chunking import ChunkerConfig, split_document
    from ingest.types import Document
    from rag.embeddings import SentenceEmbeddings

    config = ChunkerConfig(settings.chunk_size, settings.chunk_overlap)
    texts, metas = [], []
    for doc_id, (title, text) in corpus.items():
        if len(texts) >= n:
            break
        doc = Document(f"{title}\n{text}\n", f"{doc_id}.txt", {})
        for i, c in enumerate(split_document(doc, config)):
            texts.append(c.text)
            metas.append({"source": c.source, "section": c.section, "start": c.start, "end": c.end, "chunk_index": i})
    emb = SentenceEmbeddings.for_settings(settings)
    return texts, metas, emb.encode(texts)


def _variant(text: str, copy: int, rng: np.random.Generator) -> str:
    """A copy of a real chunk with some words dropped, so BM25 statistics are not exact duplicates."""
    words = text.split()
    keep = rng.random(len(words)) > 0.1
    return f"[v{copy}] " + " ".join(w for w, k in zip(words, keep) if k)


class Grower:
    """Adds copies of the base files to Chroma and the lexical index, whole files at a time."""

    def __init__(self, settings, embedder_id: str, corpus: Mapping[str, tuple[str, str]]):
        from rag.retrieval import chroma as store
        from rag.retrieval.lexical import LexicalIndex, LexicalWriter
        from rag.retrieval.sync import lexical_dir

        self.texts, self.metas, self.vectors = _base_chunks(settings, BASE_CHUNKS, corpus)
        self.files: dict[str, list[int]] = {}
        for i, m in enumerate(self.metas):
            self.files.setdefault(m["source"], []).append(i)
        self.collection = store.open_collection(settings, create=True, embedder_id=embedder_id)
        self.lexical_dir = lexical_dir(settings)
        self.index = LexicalIndex.open(self.lexical_dir, create=True)
        self.lexical = None
        self.rng = np.random.default_rng(0)
        self.chunks, self.copy = 0, 0
        self.embedder_id = embedder_id

    def grow_to(self, target: int) -> None:
        """Add copies up to ``target`` chunks; the lexical writer is held only meanwhile (ingestion needs it after)."""
        from rag.retrieval.lexical import LexicalWriter

        with LexicalWriter(self.index) as self.lexical:
            while self.chunks < target:
                self._add_copy(target)

    def _add_copy(self, target: int) -> None:
        batch: list[tuple[str, list[int]]] = []
        for source, idx in self.files.items():
            batch.append((source, idx))
            if sum(len(i) for _, i in batch) >= BATCH_CHUNKS or self.chunks + sum(len(i) for _, i in batch) >= target:
                self._write(batch)
                batch = []
                if self.chunks >= target:
                    break
        self._write(batch)
        self.copy += 1

    def _write(self, batch: list[tuple[str, list[int]]]) -> None:
        from rag import records
        from rag.retrieval import chroma as store
        from rag.retrieval.lexical import FileChunks

        if not batch:
            return
        c = self.copy
        ids, vecs, docs, metas, files = [], [], [], [], []
        for source, idx in batch:
            name, fid = f"copy{c}/{source}", [f"g{c}-{i}" for i in idx]
            texts = [self.texts[i] if c == 0 else _variant(self.texts[i], c, self.rng) for i in idx]
            v = self.vectors[idx].copy()
            if c:
                v += self.rng.normal(0, 0.02, v.shape).astype(np.float32)
                v /= np.linalg.norm(v, axis=1, keepdims=True)
            mts = [{**self.metas[i], "source": name, "root": ROOT, "file_hash": f"v{c}", "file_chunks": len(idx),
                    "embedder": self.embedder_id} for i in idx]
            ids += fid
            vecs.append(v)
            docs += texts
            metas += mts
            files.append(FileChunks(ROOT, name, f"v{c}", tuple(fid), tuple(records.index_text(t, m) for t, m in zip(texts, mts)),
                                    tuple(m["section"] for m in mts)))
        store.upsert(self.collection, ids, np.concatenate(vecs), docs, metas)
        self.lexical.replace(files)
        self.chunks += len(ids)


class Reader:
    """One answering process (eval.growth_reader) on the index."""

    def __init__(self, settings, queries: list[str], work: Path, name: str, pythonpath: str | None = None):
        fields = {f: getattr(settings, f) for f in ("persist_dir", "collection", "chroma_host", "chroma_port", "embedding_backend")}
        spec = work / f"{name}.json"
        spec.write_text(json.dumps({"settings": fields, "queries": queries}))
        env = {**os.environ}
        if pythonpath:
            env["PYTHONPATH"] = pythonpath + os.pathsep + env.get("PYTHONPATH", "")
        self.proc = subprocess.Popen([sys.executable, "-m", "eval.growth_reader", str(spec)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env=env, cwd=Path(__file__).resolve().parents[1])

    def _line(self) -> dict:
        for line in self.proc.stdout:
            if line.startswith("{"):
                return json.loads(line)
        raise RuntimeError(f"growth reader exited with {self.proc.wait()}")

    def searched(self) -> dict:
        return self._line()

    def after_change(self, query: str, source: str) -> dict:
        self.proc.stdin.write(json.dumps({"query": query, "source": source}) + "\n")
        self.proc.stdin.flush()
        seen = self._line()
        self.proc.wait()
        return seen


def _new_file(work: Path, n: int, corpus: Mapping[str, tuple[str, str]]) -> tuple[Path, str, str]:
    """A SciFact abstract that is not among the base chunks, as a file in its own folder; (folder, query, source)."""
    doc_id, (title, text) = list(corpus.items())[-1 - n]
    folder = work / f"new{n}"
    folder.mkdir()
    (folder / f"{doc_id}.txt").write_text(f"{title}\n{text}\n")
    return folder, title, f"{doc_id}.txt"


def _measure(s, grower: Grower, queries: list[str], work: Path, n_readers: int, index_dir: Path,
             corpus: Mapping[str, tuple[str, str]]) -> dict:
    from ingest.pipeline import ingest

    readers = [Reader(s, queries, work, f"reader{grower.chunks}-{i}") for i in range(n_readers)]
    searched = [r.searched() for r in readers]
    folder, query, source = _new_file(work, grower.chunks % 997, corpus)
    with Timer() as t_ingest:
        ingest([folder], s)
    seen = [r.after_change(query, source) for r in readers]
    row = {"chunks": grower.chunks, "ingest_one_file_s": round(t_ingest.seconds, 2), "index_mb": dir_size_mb(index_dir),
           "lexical_mb": dir_size_mb(grower.lexical_dir)}
    for key in ("hybrid", "dense", "lexical", "first_search_ms"):
        row[key] = searched[0][key]
    for key in ("first_search_after_change_ms", "seen_new_file_s", "whole_table_reads", "peak_rss_mb"):
        row[key] = seen[0][key] if n_readers == 1 else [x[key] for x in seen]
    return row


_OLD_READER = """
import json, sys, time
sys.path.insert(0, {tree!r})
import numpy as np
from rag.retrieval import build_retriever
from rag.settings import Settings
r = build_retriever(Settings(persist_dir={persist!r}, collection="growth", embedding_backend={backend!r}))
t = time.perf_counter(); r.search({queries!r}[0]); out = {{"first_search_ms": round((time.perf_counter() - t) * 1000, 1)}}
for method in ("hybrid", "dense", "lexical"):
    ms = []
    for q in {queries!r}:
        t = time.perf_counter(); r.search(q, method=method); ms.append((time.perf_counter() - t) * 1000)
    out[method] = {{"p50": round(float(np.percentile(ms, 50)), 2), "p95": round(float(np.percentile(ms, 95)), 2)}}
print(json.dumps(out))
"""


def _old_path(settings, work: Path, queries: list[str], ref: str) -> dict:
    """The same searches by the retriever of git ``ref`` (the whole-table path), on a copy of the index."""
    from .bench import run_child

    tree = work / "old-tree"
    if not tree.exists():
        tree.mkdir()
        repo = Path(__file__).resolve().parents[1]
        archive = subprocess.run(["git", "-C", str(repo), "archive", ref, "rag"], capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    copy = work / "old-copy"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(settings.persist_dir, copy, ignore=shutil.ignore_patterns("lexical"))
    out, rss = run_child(_OLD_READER.format(tree=str(tree), persist=str(copy), backend=settings.embedding_backend, queries=queries))
    shutil.rmtree(copy, ignore_errors=True)
    return {**out, "peak_rss_mb": rss, "ref": ref}


def run_growth(settings, limit: int | None = None, sizes=GROWTH_SIZES, server: bool = False, old_ref: str | None = None,
               data: str | Path | None = None) -> dict:
    """Latency, the first search after one more file, index size and the answering process's RSS, per size."""
    from .scifact import load_scifact

    sizes = [n for n in sizes if not limit or n <= limit] or [min(sizes)]
    scifact = load_scifact(data)
    queries = list(scifact.queries.values())[:GROWTH_QUERIES]
    work = Path(tempfile.mkdtemp(prefix="ragbot-bench-growth-"))
    rows = []
    server_ = _server(work) if server else None
    try:
        s = _settings(settings, work, server_)
        grower = Grower(s, _embedder_id(settings), scifact.corpus)
        for target in sizes:
            with Timer() as t_build:
                grower.grow_to(target)
            index_dir = work / ("server" if server else "chroma")
            measured = _measure(s, grower, queries, work, 2 if server else 1, index_dir, scifact.corpus)
            rows.append({"insert_s": round(t_build.seconds, 1), **measured})
            if old_ref and not server and grower.chunks <= OLD_PATH_MAX:
                rows[-1]["old_path"] = _old_path(s, work, queries, old_ref)
                rows[-1]["hybrid_p50_vs_old"] = round(rows[-1]["hybrid"]["p50"] / rows[-1]["old_path"]["hybrid"]["p50"], 3)
            print(f"  growth: {rows[-1]['chunks']} chunks, hybrid p50 {rows[-1]['hybrid']['p50']} ms, after a change "
                  f"{rows[-1]['first_search_after_change_ms']} ms, rss {rows[-1]['peak_rss_mb']} MB", flush=True)
    finally:
        from rag.retrieval import chroma as store

        store.forget_all_clients()
        if server_ is not None:
            server_.stop()
        shutil.rmtree(work, ignore_errors=True)
    return bench_result("growth-server" if server else "growth", {"sizes": rows, "embedding_backend": settings.embedding_backend,
                        "mode": "chroma server, 2 answering processes" if server else "embedded"}, limit=limit, notes=_notes(server))


def _notes(server: bool) -> list[str]:
    return [
        f"{BASE_CHUNKS} real SciFact chunks encoded once; larger sizes copy their files with ~10% of words dropped and "
        "vectors perturbed (Gaussian noise 0.02, renormalised), written to Chroma and the lexical index as ingestion writes them",
        f"latency over {GROWTH_QUERIES} SciFact claims per method in a separate answering process, including query encoding",
        "first_search_after_change_ms: that process's first search after this one ingested one more file (real pipeline); "
        "seen_new_file_s: until its search returns the new file; whole_table_reads: calls that read every chunk (0 = none)",
        "peak_rss_mb: the answering process's own peak resident memory (VmHWM); embedded mode includes Chroma's in-memory vector index"
        + ("; the server holds the vectors" if server else ""),
    ]


def _server(work: Path):
    from .chroma_server import ChromaServer

    return ChromaServer(work / "server").start()


def _settings(settings, work: Path, server):
    if server is None:
        return dataclasses.replace(settings, persist_dir=str(work / "chroma"), chroma_host=None, collection="growth")
    # the lexical index of a server's collection lives under persist_dir, shared by the processes of this machine
    return dataclasses.replace(settings, chroma_host="127.0.0.1", chroma_port=server.port, persist_dir=str(work / "local"),
                               collection="growth")


def _embedder_id(settings) -> str:
    """The id retrieval expects in the index: the vectors are the real model's."""
    from rag.embeddings import SentenceEmbeddings

    return SentenceEmbeddings(settings.embedding_model, settings.embedding_backend).id


def plot_growth(result: dict, axes) -> None:
    """Latency and the answering process's memory against corpus size."""
    rows = result["figures"]["sizes"]
    x = [r["chunks"] for r in rows]
    ax = axes
    for method in ("hybrid", "dense", "lexical"):
        ax.plot(x, [r[method]["p50"] for r in rows], marker="o", label=f"{method} p50 ms")
    ax.plot(x, [r["hybrid"]["p95"] for r in rows], marker="o", linestyle="--", label="hybrid p95 ms")
    ax.plot(x, [_first(r["first_search_after_change_ms"]) for r in rows], marker="s", label="first search after a change, ms")
    ax.axhline(100, color="red", linewidth=0.8, linestyle=":", label="100 ms floor")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("chunks in the index")
    ax.set_ylabel("ms (log)")
    ax2 = ax.twinx()
    ax2.plot(x, [_first(r["peak_rss_mb"]) for r in rows], color="black", marker="^", label="answering process peak RSS, MB")
    ax2.set_ylabel("MB")
    ax.set_title(f"Retrieval as the index grows ({result['figures'].get('mode', '')})")
    ax.legend(fontsize=7, loc="upper left")
    ax2.legend(fontsize=7, loc="lower right")


def _first(value):
    return value[0] if isinstance(value, list) else value


def cmd_growth(args, settings) -> int:
    result = run_growth(settings, getattr(args, "limit", None), server=bool(getattr(args, "server", False)),
                        old_ref=getattr(args, "old_path", None), data=getattr(args, "data", None))
    print_figures(result)
    write_result(result, args.out, plot_growth)
    return 0
