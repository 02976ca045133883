"""The answering process of ``ragbot bench growth``: opens the index, times searches, then waits for
another process's ingestion and times how soon it sees the new file.

Run as ``python -m eval.growth_reader SPEC.json``. It prints one JSON line when its searches are
done, reads one line from stdin (the probe query and the new file's source), prints a second JSON
line with what it saw and its own peak RSS (VmHWM: ``wait4`` would report the parent's), and exits.
"""
from __future__ import annotations

import json
import sys
import time

from eval.bench import peak_rss_mb
from rag.retrieval import build_retriever
from rag.settings import Settings

SEE_TIMEOUT_S = 60.0


def _ms(fn) -> float:
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1000


def _summary(values: list[float]) -> dict:
    import numpy as np

    return {"p50": round(float(np.percentile(values, 50)), 2), "p95": round(float(np.percentile(values, 95)), 2)}


def _count_full_reads() -> dict:
    """Count calls that would read the whole chunk table, to show that answering makes none."""
    from rag.retrieval import chroma as store
    from rag.retrieval import sync

    counts = {"whole_table_reads": 0}
    for module, name in ((store, "iter_records"), (store, "iter_metadata"), (sync, "build_lexical")):
        original = getattr(module, name)

        def counted(*args, _original=original, **kwargs):
            counts["whole_table_reads"] += 1
            return _original(*args, **kwargs)

        setattr(module, name, counted)
    return counts


def main(spec_path: str) -> int:
    spec = json.loads(open(spec_path).read())
    settings = Settings(**spec["settings"])
    retriever = build_retriever(settings)
    open_ms = _ms(lambda: retriever.search(spec["queries"][0]))
    counts = _count_full_reads()  # after the first search: an index made before the lexical one builds it once
    out: dict = {"first_search_ms": round(open_ms, 1)}
    for method in spec.get("methods", ("hybrid", "dense", "lexical")):
        out[method] = _summary([_ms(lambda q=q: retriever.search(q, method=method)) for q in spec["queries"]])
    print(json.dumps(out), flush=True)
    probe = json.loads(sys.stdin.readline())
    t0 = time.perf_counter()
    first = _ms(lambda: retriever.search(probe["query"]))
    seen_after = None
    while time.perf_counter() - t0 < SEE_TIMEOUT_S:
        if any(p.source == probe["source"] for p in retriever.search(probe["query"])):
            seen_after = time.perf_counter() - t0
            break
        time.sleep(0.1)
    print(json.dumps({"first_search_after_change_ms": round(first, 1),
                      "seen_new_file_s": None if seen_after is None else round(seen_after, 3), **counts,
                      "peak_rss_mb": peak_rss_mb()}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
