"""Fitted models shipped as JSON in rag/data, or read from a file the user names instead."""
from __future__ import annotations

import json
from importlib import resources
from pathlib import Path


def read_fitted(path: str | None, packaged: str, fields: tuple[str, ...]) -> tuple[dict, dict]:
    """The JSON at ``path`` (else ``rag/data/<packaged>``): its ``fields``, and everything else as info."""
    raw = Path(path).read_text() if path else resources.files("rag").joinpath(f"data/{packaged}").read_text()
    d = json.loads(raw)
    return {k: d[k] for k in fields}, {k: v for k, v in d.items() if k not in fields}
