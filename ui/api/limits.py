"""Admission control: at most ``limit`` questions in the building at once; the next one gets 503 at once.

Answering is CPU-bound on a small machine, so a queue without end only makes every answer late.
``running`` questions share ``workers`` threads; the others wait inside the limit.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

from .errors import HTTPProblem


class Admission:
    def __init__(self, limit: int = 8, retry_after: int = 2):
        if limit < 1:
            raise ValueError(f"the concurrency limit must be at least 1, got {limit}")
        self.limit, self.retry_after = limit, retry_after
        self._inside = 0
        self._lock = threading.Lock()

    @property
    def inside(self) -> int:
        return self._inside

    def enter(self) -> None:
        with self._lock:
            if self._inside >= self.limit:
                raise HTTPProblem(
                    503, f"ragbot is busy ({self.limit} questions in progress); retry in {self.retry_after} s",
                    {"Retry-After": str(self.retry_after)}, "busy",
                )
            self._inside += 1

    def leave(self) -> None:
        with self._lock:
            self._inside = max(0, self._inside - 1)

    def ticket(self):
        """Enter, and return a function that leaves once, however often it is called."""
        self.enter()
        done = threading.Event()

        def release() -> None:
            if not done.is_set():
                done.set()
                self.leave()

        return release

    @contextmanager
    def slot(self) -> Iterator[None]:
        self.enter()
        try:
            yield
        finally:
            self.leave()
