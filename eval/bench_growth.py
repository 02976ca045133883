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
FILE_CHUNKS = 20  # chunks per file of the grown corpus (1M chunks: 50,000 files)
OLD_PATH_MAX = 100_000  # the old paths read the whole table: compared up to here (164 s a file at 1M)


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
    """Adds copies of the base files to the index through the one index writer, whole files at a
    time: each file of FILE_CHUNKS chunks is also written to disk under ``corpus`` with the hash,
    chunker and embedder ingestion would record, so re-ingesting the folder finds it unchanged."""

    def __init__(self, settings, embedder_id: str, corpus: Mapping[str, tuple[str, str]], folder: Path):
        from ingest.chunking import ChunkerConfig
        from rag.retrieval.sync import lexical_dir

        self.settings = settings
        self.texts, self.metas, self.vectors = _base_chunks(settings, BASE_CHUNKS, corpus)
        self.parts = _parts(self.metas)
        self.folder = folder
        self.root = str(folder.resolve())
        self.lexical_dir = lexical_dir(settings)
        self.rng = np.random.default_rng(0)
        self.chunks, self.copy, self.part, self.files, self.seconds = 0, 0, 0, 0, 0.0  # next: part of copy
        self.embedder_id = embedder_id
        self.chunker = ChunkerConfig(settings.chunk_size, settings.chunk_overlap).fingerprint

    def grow_to(self, target: int) -> None:
        """Add files, copy after copy of the base files, up to ``target`` chunks (the writer is held
        only meanwhile: ingestion needs it after)."""
        from ingest.index_writer import IndexWriter

        t0 = time.perf_counter()
        with IndexWriter.open(self.settings, embedder_id=self.embedder_id, on_note=None) as writer:
            batch: list = []
            while self.chunks + sum(len(f.ids) for f in batch) < target:
                batch.append(self._file(self.parts[self.part]))
                self.part += 1
                if self.part == len(self.parts):
                    self.copy, self.part = self.copy + 1, 0
                if sum(len(f.ids) for f in batch) >= BATCH_CHUNKS:
                    self._write(writer, batch)
                    batch = []
            self._write(writer, batch)
        self.seconds += time.perf_counter() - t0

    def _write(self, writer, batch: list) -> None:
        writer.replace(batch)
        self.files += len(batch)
        self.chunks += sum(len(f.ids) for f in batch)

    def _file(self, idx: list[int]):
        """One file of this copy: written to disk, and its chunks as ingestion would record them."""
        import hashlib

        from ingest.index_writer import FileWrite

        c = self.copy
        texts = [self.texts[i] if c == 0 else _variant(self.texts[i], c, self.rng) for i in idx]
        source = f"copy{c}/part{self.part}.txt"
        body = "\n\n".join(texts) + "\n"
        path = self.folder / source
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body)
        file_hash = hashlib.sha256(body.encode()).hexdigest()
        starts = np.cumsum([0] + [len(t) + 2 for t in texts[:-1]])
        metas = tuple({"source": source, "section": self.metas[i]["section"], "start": int(a), "end": int(a) + len(t),
                       "root": self.root, "chunk_index": k, "file_hash": file_hash, "file_chunks": len(idx),
                       "chunker": self.chunker, "embedder": self.embedder_id}
                      for k, (i, t, a) in enumerate(zip(idx, texts, starts)))
        v = self.vectors[idx].copy()
        if c:
            v += self.rng.normal(0, 0.02, v.shape).astype(np.float32)
            v /= np.linalg.norm(v, axis=1, keepdims=True)
        ids = tuple(f"g{c}-{i}" for i in idx)
        return FileWrite(self.root, source, file_hash, self.chunker, self.embedder_id, ids, tuple(texts), metas, v)


def _parts(metas: list[dict]) -> list[list[int]]:
    """The base chunks grouped, in order, into files of about FILE_CHUNKS chunks (whole abstracts)."""
    parts: list[list[int]] = [[]]
    for i, m in enumerate(metas):
        if len(parts[-1]) >= FILE_CHUNKS and m["chunk_index"] == 0:
            parts.append([])
        parts[-1].append(i)
    return [p for p in parts if p]


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

    def probe(self, query: str, source: str, text: str = "", present: bool = True) -> dict:
        """Wait until this process's search shows the change (see eval.growth_reader)."""
        self.proc.stdin.write(json.dumps({"query": query, "source": source, "text": text, "present": present}) + "\n")
        self.proc.stdin.flush()
        return self._line()

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait()


def _new_file(work: Path, n: int, corpus: Mapping[str, tuple[str, str]], name: str = "new") -> tuple[Path, str, str]:
    """A SciFact abstract that is not among the base chunks, as a file in its own folder; (folder, query, source)."""
    doc_id, (title, text) = list(corpus.items())[-1 - n]
    folder = work / f"{name}{n}"
    folder.mkdir()
    (folder / f"{doc_id}.txt").write_text(f"{title}\n{text}\n")
    return folder, title, f"{doc_id}.txt"


def _measure(s, grower: Grower, queries: list[str], work: Path, n_readers: int, index_dir: Path,
             corpus: Mapping[str, tuple[str, str]], embeddings) -> dict:
    """Searches, then one file added, changed and removed (each timed until every answering process
    sees it), then the whole unchanged corpus ingested again."""
    readers = [Reader(s, queries, work, f"reader{grower.chunks}-{i}") for i in range(n_readers)]
    searched = [r.searched() for r in readers]
    row = {"chunks": grower.chunks, "files": grower.files, "index_mb": dir_size_mb(index_dir),
           "lexical_mb": dir_size_mb(grower.lexical_dir)}
    for key in ("hybrid", "dense", "lexical", "first_search_ms"):
        row[key] = searched[0][key]
    try:
        row.update(_one_file_changes(s, readers, work, grower.chunks, corpus, embeddings))
    finally:
        for r in readers:
            r.close()
    row.update(_reingest_unchanged(s, grower, embeddings))
    return row


def _one_file_changes(s, readers: list[Reader], work: Path, n: int, corpus, embeddings) -> dict:
    """Add, change and remove one real file through ``ragbot ingest``'s pipeline (the model loaded,
    as in ``--watch`` and the app); each time until the answering processes see it."""
    from ingest.pipeline import ingest

    folder, query, source = _new_file(work, n % 997, corpus)
    marker = f"zqv{n}marker"
    steps = {
        "add": (lambda: None, dict(query=query, source=source)),
        "change": (lambda: (folder / source).write_text((folder / source).read_text() + f"\nRevised: {marker}.\n"),
                   dict(query=marker, source=source, text=marker)),
        "remove": (lambda: (folder / source).unlink(), dict(query=query, source=source, present=False)),
    }
    out: dict = {}
    for name, (edit, probe) in steps.items():
        edit()
        with Timer() as t:
            ingest([folder], s, embeddings=embeddings, on_note=None)
        seen = [r.probe(**probe) for r in readers]
        waits = [x["seen_s"] for x in seen]
        out[f"{name}_ingest_s"] = round(t.seconds, 3)
        out[f"{name}_end_to_end_s"] = None if None in waits else round(t.seconds + max(waits), 3)
        if name == "add":
            out["first_search_after_change_ms"] = [x["first_search_after_change_ms"] for x in seen]
            out["whole_table_reads"] = [x["whole_table_reads"] for x in seen]
            out["peak_rss_mb"] = [x["peak_rss_mb"] for x in seen]
    if len(readers) == 1:
        out = {k: v[0] if isinstance(v, list) else v for k, v in out.items()}
    return out


def _reingest_unchanged(s, grower: Grower, embeddings) -> dict:
    """Ingest the whole grown corpus again: every file must be found unchanged, nothing embedded.
    Compared with the time the grower took to write it (a lower bound of a first ingestion, which
    would also parse and embed every chunk)."""
    from ingest.pipeline import ingest

    with Timer() as t:
        summary = ingest([grower.folder], s, embeddings=embeddings, on_note=None)
    assert summary.unchanged == grower.files and summary.chunks_written == summary.removed == 0, summary
    return {"reingest_unchanged_s": round(t.seconds, 2), "written_s": round(grower.seconds, 1),
            "reingest_vs_written": round(t.seconds / max(grower.seconds, 1e-9), 4)}


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


_OLD_INGEST = """
import json, sys, time
from pathlib import Path
sys.path.insert(0, {tree!r})
from ingest.pipeline import ingest
from rag.embeddings import SentenceEmbeddings
from rag.settings import Settings
settings = Settings(**{fields!r})
embeddings = SentenceEmbeddings.for_settings(settings)
folder, source = Path({folder!r}), {source!r}
out = {{}}
for name in ("add", "change", "remove"):
    if name == "change":
        (folder / source).write_text((folder / source).read_text() + "\\nRevised.\\n")
    if name == "remove":
        (folder / source).unlink()
    t = time.perf_counter(); ingest([folder], settings, embeddings=embeddings); out[name + "_ingest_s"] = round(time.perf_counter() - t, 3)
print(json.dumps(out))
"""


def _old_ingest(settings, work: Path, ref: str, n: int, corpus) -> dict:
    """Add, change and remove one file with the ingestion of git ``ref`` (which reads every chunk's
    metadata to learn the index's state), on the same index; it ends as it began."""
    from .bench import run_child

    tree = _old_tree(work, ref)
    folder, _, source = _new_file(work, n, corpus, name="old")
    fields = {f: getattr(settings, f) for f in ("persist_dir", "collection", "chroma_host", "chroma_port", "embedding_backend")}
    out, _ = run_child(_OLD_INGEST.format(tree=str(tree), fields=fields, folder=str(folder), source=source), timeout=3600)
    return {**out, "ref": ref}


def _old_tree(work: Path, ref: str) -> Path:
    """The packages of git ``ref``, once."""
    tree = work / "old-tree"
    if not tree.exists():
        tree.mkdir()
        repo = Path(__file__).resolve().parents[1]
        archive = subprocess.run(["git", "-C", str(repo), "archive", ref, "rag", "ingest"], capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return tree


def _old_path(settings, work: Path, queries: list[str], ref: str) -> dict:
    """The same searches by the retriever of git ``ref`` (the whole-table path), on a copy of the index."""
    from .bench import run_child

    tree = _old_tree(work, ref)
    copy = work / "old-copy"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(settings.persist_dir, copy, ignore=shutil.ignore_patterns("lexical"))
    out, rss = run_child(_OLD_READER.format(tree=str(tree), persist=str(copy), backend=settings.embedding_backend, queries=queries))
    shutil.rmtree(copy, ignore_errors=True)
    return {**out, "peak_rss_mb": rss, "ref": ref}


def run_growth(settings, limit: int | None = None, sizes=GROWTH_SIZES, server: bool = False, old_ref: str | None = None,
               data: str | Path | None = None) -> dict:
    """Latency, the first search after one more file, index size and the answering process's RSS, per size."""
    from rag.embeddings import SentenceEmbeddings

    from .scifact import load_scifact

    sizes = [n for n in sizes if not limit or n <= limit] or [min(sizes)]
    scifact = load_scifact(data)
    queries = list(scifact.queries.values())[:GROWTH_QUERIES]
    work = Path(tempfile.mkdtemp(prefix="ragbot-bench-growth-"))
    rows = []
    server_ = _server(work) if server else None
    try:
        s = _settings(settings, work, server_)
        embeddings = SentenceEmbeddings.for_settings(s)
        grower = Grower(s, embeddings.id, scifact.corpus, work / "corpus")
        for target in sizes:
            with Timer() as t_build:
                grower.grow_to(target)
            index_dir = work / ("server" if server else "chroma")
            measured = _measure(s, grower, queries, work, 2 if server else 1, index_dir, scifact.corpus, embeddings)
            rows.append({"insert_s": round(t_build.seconds, 1), **measured})
            if old_ref and target <= OLD_PATH_MAX:
                rows[-1]["old_ingest"] = _old_ingest(s, work, old_ref, (grower.chunks + 1) % 997, scifact.corpus)
            if old_ref and not server and target <= OLD_PATH_MAX:
                rows[-1]["old_path"] = _old_path(s, work, queries, old_ref)
                rows[-1]["hybrid_p50_vs_old"] = round(rows[-1]["hybrid"]["p50"] / rows[-1]["old_path"]["hybrid"]["p50"], 3)
            print(f"  growth: {rows[-1]['chunks']} chunks, hybrid p50 {rows[-1]['hybrid']['p50']} ms, one file added / changed / "
                  f"removed end to end {rows[-1]['add_end_to_end_s']} / {rows[-1]['change_end_to_end_s']} / "
                  f"{rows[-1]['remove_end_to_end_s']} s, unchanged corpus re-ingested in {rows[-1]['reingest_unchanged_s']} s",
                  flush=True)
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
        f"vectors perturbed (Gaussian noise 0.02, renormalised), in files of ~{FILE_CHUNKS} chunks written to disk and, "
        "through the index writer, to Chroma, the lexical index and the manifest",
        f"latency over {GROWTH_QUERIES} SciFact claims per method in a separate answering process, including query encoding",
        "add/change/remove_ingest_s: one real file through ragbot ingest's pipeline (model loaded, as in --watch and the app); "
        "_end_to_end_s adds the wait until every answering process's search shows the change",
        "first_search_after_change_ms: an answering process's first search after the add; whole_table_reads: calls that "
        "read every chunk (0 = none)",
        "reingest_unchanged_s: ingest of the whole grown folder again (every file unchanged, nothing embedded); "
        "reingest_vs_written: against the time the grower took to write those chunks (a lower bound of a first "
        "ingestion, which also parses and embeds)",
        "old_ingest: the same add, change and remove by the ingestion of the given git ref, on the same index",
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
