"""``ragbot ingest --watch``: keep the index in step with folders as their files change.

Each change (debounced by watchfiles: a burst of writes is one change) runs the ordinary
incremental ingestion over the watched paths, so a watched folder has every guarantee of
``ragbot ingest``: unchanged files are skipped, changed ones replaced, removed ones deleted, and a
run killed halfway is completed by the next one.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable, Iterable

from rag.settings import Settings

from .pipeline import IngestSummary, ingest

DEBOUNCE_MS = 500  # changes within this window are one run
WAKE_MS = 200  # how often the watcher wakes without a change (the first wake starts the first run)


def watch(
    paths: Iterable[str | Path],
    settings: Settings,
    *,
    embeddings=None,
    on_run: Callable[[IngestSummary], None] | None = None,
    stop: threading.Event | None = None,
    debounce_ms: int = DEBOUNCE_MS,
    **ingest_options,
) -> int:
    """Ingest ``paths`` now and after every change under them, until ``stop`` is set (or Ctrl-C);
    returns the number of runs."""
    from watchfiles import watch as changes

    from rag.embeddings import SentenceEmbeddings

    paths = [Path(p).expanduser() for p in paths]
    embeddings = embeddings or SentenceEmbeddings.for_settings(settings)
    runs = 0

    def run() -> None:
        nonlocal runs
        summary = ingest(paths, settings, embeddings=embeddings, **ingest_options)
        runs += 1
        if on_run:
            on_run(summary)

    # The first ingestion runs once the watcher is up (its first, empty, yield after the timeout),
    # so a change made while it runs is not lost: it is the next yield.
    first = True
    for changed in changes(*paths, debounce=debounce_ms, stop_event=stop, raise_interrupt=False,
                           rust_timeout=WAKE_MS, yield_on_timeout=True):
        if changed or first:
            run()
            first = False
    return runs
