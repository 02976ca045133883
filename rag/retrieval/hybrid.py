"""Hybrid retrieval: dense (Chroma) and lexical (BM25) candidates fused by reciprocal rank, optional MMR."""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import PrivateAttr

from .. import records
from ..errors import BackendError, ConfigError, IndexMissingError
from ..settings import Settings
from ..types import Passage
from . import chroma as store
from .lexical import LexicalIndex, fingerprint

METHODS = ("dense", "lexical", "hybrid")
RRF_K = 60  # the constant of Cormack et al. (2009); robust across collections


def rrf(rankings: list[list[str]], k: int = RRF_K) -> list[tuple[str, float]]:
    """Reciprocal-rank fusion of several best-first id lists."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, cid in enumerate(ranking):
            scores[cid] = scores.get(cid, 0.0) + 1.0 / (k + rank + 1)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


def to_document(p: Passage) -> Document:
    """A passage as a LangChain Document; the metadata says where it comes from, and its score."""
    meta = {"chunk_id": p.chunk_id, "source": p.source, "section": p.section, "start": p.start, "end": p.end, "score": p.score}
    return Document(page_content=p.text, id=p.chunk_id, metadata=meta)


def mmr(query: np.ndarray, vectors: np.ndarray, k: int, lambda_mult: float = 0.7) -> list[int]:
    """Maximal marginal relevance over normalised vectors: relevant, but not repeating each other."""
    if len(vectors) == 0:
        return []
    sim_q = vectors @ query
    chosen = [int(np.argmax(sim_q))]
    while len(chosen) < min(k, len(vectors)):
        sim_chosen = vectors @ vectors[chosen].T
        score = lambda_mult * sim_q - (1 - lambda_mult) * sim_chosen.max(axis=1)
        score[chosen] = -np.inf
        chosen.append(int(np.argmax(score)))
    return chosen


class HybridRetriever(BaseRetriever):
    """Finds passages for a question. Holds the chunk table and BM25 in memory; refreshes when the index changes.

    Also a LangChain ``BaseRetriever``: ``invoke(query)`` gives the ``k`` best passages as Documents.
    """

    settings: Any
    embeddings: Any
    k: int | None = None  # for ``invoke``; ``search`` takes its own
    _lock: Any = PrivateAttr(default_factory=threading.Lock)
    _collection: Any = PrivateAttr(default=None)
    _count: int = PrivateAttr(default=-1)
    _stamp: Any = PrivateAttr(default=None)  # store.disk_stamp when the table was loaded
    _table: dict = PrivateAttr(default_factory=dict)  # chunk id -> (text, metadata)
    _sections: dict = PrivateAttr(default_factory=dict)  # (source, section) -> chunk ids in reading order
    _lexical: Any = PrivateAttr(default=None)

    def __init__(self, settings: Settings, embeddings, **kwargs):
        super().__init__(settings=settings, embeddings=embeddings, **kwargs)

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        return [to_document(p) for p in self.search(query, self.k)]

    @property
    def collection(self):
        if self._collection is None:
            self._collection = store.open_collection(self.settings)
        return self._collection

    def _call(self, fn, *args, **kwargs):
        """Run a Chroma call; on failure reconnect once (a restarted server), then report clearly."""
        try:
            return fn(self.collection, *args, **kwargs)
        except (IndexMissingError, BackendError):
            raise
        except Exception:
            self._collection = None
            self._count = -1  # what was read through the old client may be stale: reload on the next search
            store.forget_client(self.settings)
            try:
                return fn(self.collection, *args, **kwargs)
            except (IndexMissingError, BackendError):
                raise
            except Exception as exc:
                self._collection = None
                store.forget_client(self.settings)
                raise store.backend_error(self.settings, exc) from exc

    def refresh(self, force: bool = False) -> int:
        """Reload the chunk table and lexical index if the collection changed; returns the chunk count.

        An index on disk that another process wrote is reopened first: an embedded client does not
        see another process's writes (its vector index lives in memory) and fails on the new ids.
        """
        if self._stamp is not None and store.disk_stamp(self.settings) != self._stamp and not store.writing_here(self.settings):
            stale = store.cached_client(self.settings)
            self._collection = None
            store.forget_client(self.settings, stale=stale)
            force = True
        count = self._call(lambda c: c.count())
        stamp = store.disk_stamp(self.settings)  # after opening: opening a client writes the file too
        with self._lock:
            if force or count != self._count:
                self._load(count)
                self._stamp = stamp
        return count

    def _lexical_dir(self) -> Path:
        name = self.settings.collection
        if self.settings.server_mode:
            name = f"{self.settings.chroma_host}_{self.settings.chroma_port}_{name}"
        return self.settings.cache_dir / "lexical" / name

    def _check_embedder(self) -> None:
        """Questions must be encoded by the model that encoded the index; a mismatch is a clear error.

        Float and int8 runs of one model share its vector space (cosine >= 0.98), so they may mix
        until the next ``ragbot ingest`` re-indexes; another model's vectors are meaningless here.
        """
        built = str((self._call(lambda c: c.metadata) or {}).get("embedder") or "")
        ours = str(getattr(self.embeddings, "id", "") or "")
        model = built.split("+")[0]
        if built and ours and model != ours.split("+")[0]:
            raise ConfigError(
                f"the index was built with the embedding model {built!r}, but questions would be encoded "
                f"with {ours!r}: run `ragbot ingest` to rebuild the index, or set "
                f"RAGBOT_EMBEDDING_MODEL={model.removeprefix('path:')}"
            )

    def _load(self, count: int) -> None:
        self._check_embedder()
        table: dict[str, tuple[str, dict]] = {}

        def read(collection):
            for ids, docs, metas in store.iter_records(collection):
                for cid, doc, meta in zip(ids, docs, metas):
                    table[cid] = (doc or "", meta or {})

        self._call(read)
        ids = list(table)
        fp = fingerprint(ids)
        folder = self._lexical_dir()
        lexical = LexicalIndex.load(folder, fp)
        if lexical is None:
            texts = [records.index_text(*table[i]) for i in ids]
            lexical = LexicalIndex.build(ids, texts)
            try:
                lexical.save(folder)
            except OSError:
                pass  # a read-only cache folder costs a rebuild next start, nothing more
        sections: dict[tuple[str, str], list[tuple[int, str]]] = {}
        for cid, (_, meta) in table.items():
            sections.setdefault(records.section_key(meta), []).append((records.start_of(meta), cid))
        self._sections = {key: [cid for _, cid in sorted(rows)] for key, rows in sections.items()}
        self._table, self._lexical, self._count = table, lexical, count

    def search(self, query: str, k: int | None = None, method: str = "hybrid", mmr_: bool | None = None) -> list[Passage]:
        """The ``k`` best passages for ``query``, best first; ``score`` is the cosine similarity to the query."""
        if method not in METHODS:
            raise ConfigError(f"unknown retrieval method {method!r}; known: {', '.join(METHODS)}")
        k = k or self.settings.k
        use_mmr = self.settings.mmr if mmr_ is None else mmr_
        count = self.refresh()
        if count == 0:
            raise IndexMissingError("the index is empty: run `ragbot ingest` first")
        with self._lock:  # one consistent snapshot: another thread's refresh swaps them whole
            table, lexical = self._table, self._lexical
        fetch = min(max(self.settings.fetch_k, k), count)
        qvec = self.embeddings.encode([query])[0]
        rankings: list[list[str]] = []
        vectors: dict[str, np.ndarray] = {}
        if method in ("dense", "hybrid"):
            got = self._call(
                lambda c: c.query(query_embeddings=[qvec.tolist()], n_results=fetch, include=["embeddings"])
            )
            dense_ids = got["ids"][0]
            for cid, vec in zip(dense_ids, got["embeddings"][0]):
                vectors[cid] = np.asarray(vec, dtype=np.float32)
            rankings.append(dense_ids)
        if method in ("lexical", "hybrid"):
            rankings.append([cid for cid, _ in lexical.search(query, fetch)])
        fused = [cid for cid, _ in rrf(rankings) if cid in table]
        pool = fused[: max(fetch, k)] if use_mmr else fused[:k]
        missing = [cid for cid in pool if cid not in vectors]
        if missing:
            got = self._call(lambda c: c.get(ids=missing, include=["embeddings"]))
            for cid, vec in zip(got["ids"], got["embeddings"]):
                vectors[cid] = np.asarray(vec, dtype=np.float32)
        pool = [cid for cid in pool if cid in vectors]
        if use_mmr and pool:
            order = mmr(qvec, np.stack([vectors[c] for c in pool]), k)
            pool = [pool[i] for i in order]
        return [records.to_passage(cid, *table[cid], score=round(float(vectors[cid] @ qvec), 4)) for cid in pool[:k]]

    def section(self, source: str, section: str, limit: int = 12, query: np.ndarray | None = None) -> list[Passage]:
        """The chunks of one section of one source, in reading order (at most ``limit``): the whole
        of what a heading covers. With ``query`` (a vector), each passage's score is its cosine to it."""
        self.refresh()
        with self._lock:
            table, sections = self._table, self._sections
        ids = sections.get((source, section), [])[:limit]
        scores = {}
        if query is not None and ids:
            got = self._call(lambda c: c.get(ids=ids, include=["embeddings"]))
            scores = {cid: round(float(np.asarray(v, dtype=np.float32) @ query), 4) for cid, v in zip(got["ids"], got["embeddings"])}
        return [records.to_passage(cid, *table[cid], score=scores.get(cid, 0.0)) for cid in ids]

    def sections(self) -> list[tuple[str, str]]:
        """Every (source, section heading) in the index."""
        self.refresh()
        return [key for key in self._sections if key[1]]

    def vocabulary(self) -> dict:
        """Stemmed terms of the indexed documents (the lexical index's vocabulary)."""
        if self._lexical is None:
            self.refresh()
        return getattr(self._lexical.bm25, "vocab_dict", None) or {}

    def sources(self) -> dict[str, int]:
        """Indexed source files with their chunk counts."""
        self.refresh()
        counts: dict[str, int] = {}
        for _, meta in self._table.values():
            src = records.source_of(meta)
            counts[src] = counts.get(src, 0) + 1
        return dict(sorted(counts.items()))
