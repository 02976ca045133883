"""BM25 over the chunks in Chroma (bm25s), cached on disk and rebuilt only when the index changes."""
from __future__ import annotations

import hashlib
import json
import shutil
from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=1)
def _stemmer():
    try:
        import Stemmer  # PyStemmer: English Snowball stemmer, as search engines' analyzers use

        return Stemmer.Stemmer("english").stemWords
    except ImportError:  # plain tokens still work, a little worse
        return None


def tokenize(texts: list[str]):
    import bm25s

    return bm25s.tokenize(texts, stopwords="en", stemmer=_stemmer(), show_progress=False)


def fingerprint(ids: list[str]) -> str:
    h = hashlib.sha256()
    for i in sorted(ids):
        h.update(i.encode())
    return h.hexdigest()[:24]


class LexicalIndex:
    """A BM25 index whose document numbers map to chunk ids."""

    def __init__(self, bm25, ids: list[str], fp: str):
        self.bm25 = bm25
        self.ids = ids
        self.fingerprint = fp

    @classmethod
    def build(cls, ids: list[str], texts: list[str]) -> "LexicalIndex":
        import bm25s

        bm25 = bm25s.BM25()
        if texts:
            bm25.index(tokenize(texts), show_progress=False)
        return cls(bm25, list(ids), fingerprint(ids))

    def search(self, query: str, k: int) -> list[tuple[str, float]]:
        """Best ``k`` chunk ids with BM25 scores; only chunks that share a term with the query."""
        if not self.ids:
            return []
        tokens = tokenize([query])
        if not tokens.ids or not tokens.ids[0]:
            return []
        k = min(k, len(self.ids))
        # n_threads=0: a plain map; any other value starts a thread pool per call (2-3 ms a query).
        docs, scores = self.bm25.retrieve(tokens, k=k, show_progress=False, n_threads=0)
        return [(self.ids[int(d)], float(s)) for d, s in zip(docs[0], scores[0]) if s > 0]

    def save(self, folder: Path) -> None:
        """Write atomically: build in a sibling folder, then swap it in."""
        folder = Path(folder)
        tmp = folder.with_name(folder.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        if self.ids:
            self.bm25.save(str(tmp), show_progress=False)
        (tmp / "ids.json").write_text(json.dumps({"fingerprint": self.fingerprint, "ids": self.ids}))
        old = folder.with_name(folder.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if folder.exists():
            folder.rename(old)
        tmp.rename(folder)
        shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(cls, folder: Path, expected_fp: str) -> "LexicalIndex | None":
        """The cached index if it matches ``expected_fp``; None when missing, stale or unreadable."""
        import bm25s

        folder = Path(folder)
        try:
            meta = json.loads((folder / "ids.json").read_text())
            if meta.get("fingerprint") != expected_fp:
                return None
            ids = meta["ids"]
            bm25 = bm25s.BM25.load(str(folder), show_progress=False) if ids else bm25s.BM25()
            return cls(bm25, ids, expected_fp)
        except (OSError, ValueError, KeyError):
            return None
