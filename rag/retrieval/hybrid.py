"""Hybrid retrieval: dense (Chroma) and lexical (BM25) candidates fused by reciprocal rank, optional MMR."""
from __future__ import annotations

import threading
import time
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
from .lexical import LexicalIndex, Vocabulary
from .sync import build_lexical, lexical_dir

METHODS = ("dense", "lexical", "hybrid")
RRF_K = 60  # the constant of Cormack et al. (2009); robust across collections
RECOUNT_S = 2.0  # with no sign of a write, the chunk count is asked of Chroma again after this long


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
    """Finds passages for a question. Holds no chunk text: passages come from Chroma by id, the
    lexical side from the tantivy index on disk; both are reopened when another process writes.

    Also a LangChain ``BaseRetriever``: ``invoke(query)`` gives the ``k`` best passages as Documents.
    """

    settings: Any
    embeddings: Any
    k: int | None = None  # for ``invoke``; ``search`` takes its own
    _lock: Any = PrivateAttr(default_factory=threading.Lock)
    _collection: Any = PrivateAttr(default=None)
    _count: int = PrivateAttr(default=-1)
    _stamp: Any = PrivateAttr(default=None)  # store.disk_stamp when the client was last (re)opened
    _lexical: Any = PrivateAttr(default=None)
    _counted_at: float = PrivateAttr(default=0.0)

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
            self._count = -1  # check the model again on the next search
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
        """See what other processes wrote; returns the chunk count.

        An embedded index that another process wrote is reopened first: an embedded client does not
        see another process's writes (its vector index lives in memory) and fails on the new ids.
        The lexical index reloads its latest commit (a stat of two small files when nothing changed).
        """
        if self._stamp is not None and store.disk_stamp(self.settings) != self._stamp and not store.writing_here(self.settings):
            stale = store.cached_client(self.settings)
            self._collection = None
            store.forget_client(self.settings, stale=stale)
            force = True
        if not force and self._unchanged():
            return self._count
        count = self._call(lambda c: c.count())
        stamp = store.disk_stamp(self.settings)  # after opening: opening a client writes the file too
        with self._lock:
            if force or count != self._count:
                self._check_embedder()
                self._count = count
            self._stamp = stamp
        self._open_lexical(count)
        self._counted_at = time.monotonic()
        return count

    def _unchanged(self) -> bool:
        """No write since the last count, so no need to ask Chroma again (a round trip to a server):
        the lexical index, which ingestion commits after Chroma, has no new commit, and the count is
        under RECOUNT_S old (for writers that bypass ingestion)."""
        with self._lock:
            lexical, count, at = self._lexical, self._count, self._counted_at
        if lexical is None or count < 0 or time.monotonic() - at > RECOUNT_S:
            return False
        return not lexical.reload()

    def _open_lexical(self, count: int) -> None:
        """The lexical index, reloaded; built once from Chroma's texts for an index made without one."""
        with self._lock:
            if self._lexical is not None:
                self._lexical.reload()
                return
            lexical = LexicalIndex.open(lexical_dir(self.settings))
            if lexical is None and count > 0:
                lexical = self._call(lambda c: build_lexical(self.settings, c))
            self._lexical = lexical

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

    def _records(self, ids: list[str], embeddings: bool = True) -> dict[str, tuple[str, dict, np.ndarray | None]]:
        """Chunk id -> (text, metadata, vector) for the ids still in Chroma."""
        if not ids:
            return {}
        include = ["documents", "metadatas"] + (["embeddings"] if embeddings else [])
        got = self._call(lambda c: c.get(ids=ids, include=include))
        vectors = got["embeddings"] if embeddings else [None] * len(got["ids"])
        return {
            cid: (doc or "", meta or {}, None if vec is None else np.asarray(vec, dtype=np.float32))
            for cid, doc, meta, vec in zip(got["ids"], got["documents"], got["metadatas"], vectors)
        }

    def search(self, query: str, k: int | None = None, method: str = "hybrid", mmr_: bool | None = None) -> list[Passage]:
        """The ``k`` best passages for ``query``, best first; ``score`` is the cosine similarity to the query."""
        if method not in METHODS:
            raise ConfigError(f"unknown retrieval method {method!r}; known: {', '.join(METHODS)}")
        k = k or self.settings.k
        use_mmr = self.settings.mmr if mmr_ is None else mmr_
        count = self.refresh()
        if count == 0:
            raise IndexMissingError("the index is empty: run `ragbot ingest` first")
        fetch = min(max(self.settings.fetch_k, k), count)
        qvec = self.embeddings.encode([query])[0]
        rankings: list[list[str]] = []
        if method in ("dense", "hybrid"):
            got = self._call(lambda c: c.query(query_embeddings=[qvec.tolist()], n_results=fetch, include=[]))
            rankings.append(got["ids"][0])
        if method in ("lexical", "hybrid") and self._lexical is not None:
            rankings.append([cid for cid, _ in self._lexical.search(query, fetch)])
        fused = [cid for cid, _ in rrf(rankings)]
        pool = fused[: max(fetch, k)] if use_mmr else fused[: k + 2]  # a lexical hit deleted since is skipped
        found = self._records(pool)  # texts, metadata and vectors of the pool only, in one read
        pool = [cid for cid in pool if cid in found]
        if use_mmr and pool:
            order = mmr(qvec, np.stack([found[c][2] for c in pool]), k)
            pool = [pool[i] for i in order]
        return [records.to_passage(cid, *found[cid][:2], score=round(float(found[cid][2] @ qvec), 4)) for cid in pool[:k]]

    def section(self, source: str, section: str, limit: int = 12, query: np.ndarray | None = None) -> list[Passage]:
        """The chunks of one section of one source, in reading order (at most ``limit``): the whole
        of what a heading covers. With ``query`` (a vector), each passage's score is its cosine to it."""
        self.refresh()
        where = {"$and": [{records.SOURCE: source}, {records.SECTION: section}]}
        include = ["documents", "metadatas"] + (["embeddings"] if query is not None else [])
        got = self._call(lambda c: c.get(where=where, include=include))
        vectors = got["embeddings"] if query is not None else [None] * len(got["ids"])
        rows = sorted(zip(got["ids"], got["documents"], got["metadatas"], vectors), key=lambda r: (records.start_of(r[2]), r[0]))
        return [
            records.to_passage(cid, doc or "", meta, score=0.0 if vec is None else round(float(np.asarray(vec, dtype=np.float32) @ query), 4))
            for cid, doc, meta, vec in rows[:limit]
        ]

    def sections(self) -> list[tuple[str, str]]:
        """Every (source, section heading) in the index."""
        self.refresh()
        return self._lexical.sections() if self._lexical is not None else []

    def vocabulary(self) -> Vocabulary | None:
        """Stemmed terms of the indexed documents, looked up in the lexical index."""
        if self._lexical is None:
            self.refresh()
        return self._lexical.vocabulary() if self._lexical is not None else None

    def sources(self) -> dict[str, int]:
        """Indexed source files with their chunk counts."""
        self.refresh()
        return self._lexical.sources() if self._lexical is not None else {}
