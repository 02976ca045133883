"""Where a benchmark's data lies: never in the repository, but beside it or where the user says.

``--data PATH`` wins; else ``$RAGBOT_BENCHMARKS_DIR/<name>``; else ``../shared/benchmarks/<name>``
beside the checkout (the shared folder every developer and CI run has).
"""
from __future__ import annotations

import os
from pathlib import Path

from rag.errors import InputError

ENV = "RAGBOT_BENCHMARKS_DIR"
ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "benchmarks"
FORMS = {  # what --data may name, for the message when the data is missing
    "squad2": "the official dev-v2.0.json, or a folder of articles/ and questions.jsonl",
    "scifact": "a BEIR folder of corpus.jsonl, queries.jsonl and qrels/test.tsv",
    "manuals": "a folder of docs/ and questions.jsonl (the golden-set format, with split and kind)",
}


def benchmark_dir(name: str, data: str | Path | None = None) -> Path:
    """The data of benchmark ``name``: ``data`` (a folder, or a file the benchmark converts), else
    ``$RAGBOT_BENCHMARKS_DIR/<name>``, else ``<repo>/../shared/benchmarks/<name>``; an InputError
    naming the place looked at when it is not there."""
    # The environment is read here, not in rag.Settings: benchmark data is eval's alone.
    if data is not None:
        path, how = Path(data).expanduser(), "given by --data"
        found = path.exists()
    elif os.environ.get(ENV):
        path, how = Path(os.environ[ENV]).expanduser() / name, f"${ENV}/{name}"
        found = path.is_dir()
    else:
        path, how = SHARED / name, "the default, ../shared/benchmarks beside the checkout"
        found = path.is_dir()
    if not found:
        form = FORMS.get(name, f"the {name} data")
        raise InputError(f"{name} data not found at {path} ({how}); pass --data PATH ({form}), "
                         f"or set {ENV} to a folder holding {name}/")
    return path
