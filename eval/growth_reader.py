"""The answering process of ``ragbot bench growth``: opens the index, times searches, then waits for
another process's changes and times how soon it sees each.

Run as ``python -m eval.growth_reader SPEC.json``. It prints one JSON line when its searches are
done; then for each probe line on stdin (``{"query", "source", "text", "present"}``: wait until a
search for ``query`` returns a passage of ``source`` that contains ``text``, or, with ``present``
false, returns none of ``source``) it prints a JSON line with what it saw and its own peak RSS
(VmHWM: ``wait4`` would report the parent's). It exits at the end of stdin.
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


def _wait_for(retriever, probe: dict) -> dict:
    """Search until the probe's change shows: the first search's time and when the change was seen."""
    def shows(passages) -> bool:
        ours = [p for p in passages if p.source == probe["source"] and probe.get("text", "") in p.text]
        return bool(ours) == probe.get("present", True)

    t0 = time.perf_counter()
    first = _ms(lambda: retriever.search(probe["query"]))
    seen_after = None
    while time.perf_counter() - t0 < SEE_TIMEOUT_S:
        if shows(retriever.search(probe["query"])):
            seen_after = time.perf_counter() - t0
            break
        time.sleep(0.05)
    return {"first_search_after_change_ms": round(first, 1), "seen_s": None if seen_after is None else round(seen_after, 3)}


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
    for line in sys.stdin:
        print(json.dumps({**_wait_for(retriever, json.loads(line)), **counts, "peak_rss_mb": peak_rss_mb()}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
