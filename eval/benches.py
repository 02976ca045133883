"""The benchmarks of ``ragbot bench``, by name: the one table its dispatch and its help read.

Each entry names its command as ``module:function``, imported only when it runs, so listing the
benchmarks (``ragbot bench --help``) loads none of them.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

from rag.errors import InputError, unknown_name


@dataclass(frozen=True)
class Bench:
    """One benchmark: its command ``(args, settings) -> exit code``, what it measures, and the
    benchmark data it reads (``eval.datasets``), which ``--data`` replaces."""

    command: str
    about: str
    data: str | None = None

    def load(self) -> Callable:
        """The command function."""
        module, _, name = self.command.partition(":")
        return getattr(importlib.import_module(module), name)


BENCHES: dict[str, Bench] = {
    "scifact": Bench("eval.scifact:cmd_scifact",
                     "retrieval nDCG@10 and recall@10 on BEIR SciFact, beside published figures", "scifact"),
    "squad2": Bench("eval.squad2:cmd_squad2",
                    "answers and refusals on SQuAD 2.0's Wikipedia articles, a report per split", "squad2"),
    "manuals": Bench("eval.bench_manuals:cmd_manuals",
                     "answers, refusals and quotes on manual pages, FAQs and READMEs, a report per split", "manuals"),
    "ingest": Bench("eval.bench_ingest:cmd_ingest",
                    "ingestion beside the raw encoder and the LangChain tutorial, on SciFact abstracts", "scifact"),
    "pages": Bench("eval.bench_pages:cmd_pages", "PDF and OCR pages/s, and OCR accuracy, on drawn pages"),
    "encoders": Bench("eval.bench_ingest:cmd_encoders", "chunks/s of each embedding backend on SciFact chunks", "scifact"),
    "query": Bench("eval.bench_query:cmd_query", "answer latency, cold and warm, on the shipped corpus"),
    "growth": Bench("eval.bench_growth:cmd_growth",
                    "retrieval latency and memory as the index grows to a million chunks", "scifact"),
    "memory": Bench("eval.bench_query:cmd_memory",
                    "peak memory of ingesting SciFact and of the app with the local model", "scifact"),
    "server": Bench("eval.bench_query:cmd_server", "retrieval from 1 to 8 threads against a Chroma server"),
    "load": Bench("eval.bench_serve:cmd_load", "concurrent clients against `ragbot serve`"),
}
ALL = "all"


def bench_names(what: str | None, data: str | None = None) -> list[str]:
    """The benchmarks ``ragbot bench WHAT`` runs (``all``: every one); an error for an unknown name,
    or for ``--data`` given to a benchmark that reads no data, or to several."""
    what = what or ALL
    if what != ALL and what not in BENCHES:
        raise unknown_name("benchmark", what, [*BENCHES, ALL])
    names = list(BENCHES) if what == ALL else [what]
    if data is not None and (len(names) > 1 or not BENCHES[what].data):
        readers = ", ".join(n for n, b in BENCHES.items() if b.data)
        reads = "not all of theirs" if len(names) > 1 else f"and {what} reads none"
        raise InputError(f"--data replaces one benchmark's data, {reads}; name one of: {readers}")
    return names


def help_lines() -> str:
    """``name  what it measures`` for every benchmark, for ``ragbot bench --help``."""
    width = max(map(len, BENCHES))
    return "\n".join(f"  {name:<{width}}  {b.about}" + (f" (data: {b.data})" if b.data else "") for name, b in BENCHES.items())
