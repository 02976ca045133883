"""A collection's own decision: the refusal levels' thresholds and the confidence calibration that
``ragbot eval GOLDEN --calibrate`` fitted on the user's labelled questions of that collection.

It is stored as ``reader-decision.json`` beside the collection's manifest and lexical index
(``lexical_dir``: inside the persist dir for an embedded index; under the local persist dir, named by
host, port and collection, for a Chroma server), so it goes wherever the collection's index files go
and every chain built for the collection reads it. It keeps the shipped decision's model (the
weights over the reader's features) and replaces what a few dozen questions can fit well: each
level's threshold, at the level's own false-refusal aim, and the Platt scaling of the confidence.

A decision is fitted for one reader and one shipped decision model: when either changes (a retrained
``reader.onnx``, a refitted ``reader.json``) the stored thresholds no longer mean anything, so the
chain falls back to the shipped decision and says so in the answer's ``support.decision``.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

from ..errors import ConfigError
from ..settings import DEFAULT_REFUSAL, Settings
from .reader import PACKAGED, ReaderGate

FILENAME = "reader-decision.json"
log = logging.getLogger("ragbot.decision")


def decision_path(settings: Settings) -> Path:
    """Where ``settings.collection``'s decision lives: beside its manifest."""
    from ..retrieval.sync import lexical_dir

    return lexical_dir(settings) / FILENAME


@lru_cache(maxsize=8)
def _file_sha(path: str, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def model_sha(reader_file: str | Path | None = None) -> str:
    """The sha256 of the reader model's bytes (the packaged one by default); "missing" without one."""
    path = Path(reader_file) if reader_file else PACKAGED
    try:
        st = path.stat()
        return _file_sha(str(path), st.st_size, st.st_mtime_ns)
    except OSError:
        return "missing"


def reader_fingerprint(reader_file: str | Path | None, gate: ReaderGate) -> str:
    """Which reader model and decision model a score comes from: a hash of the model file's bytes
    and of the decision's weights (thresholds fitted on one mean nothing for another)."""
    model = model_sha(reader_file)
    weights = json.dumps({"weights": gate.weights, "bias": gate.bias}, sort_keys=True)
    return hashlib.sha256(f"{model}|{weights}".encode()).hexdigest()[:16]


def save_decision(settings: Settings, decision: dict) -> Path:
    """Write a fitted collection decision beside the collection's manifest (atomically)."""
    path = decision_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"collection": settings.collection, **decision}, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def read_decision(settings: Settings) -> dict | None:
    """The stored decision of ``settings.collection`` as written, or None when there is none."""
    path = decision_path(settings)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"the collection's decision {path} cannot be read ({exc}); "
                          "delete it or run `ragbot eval GOLDEN --calibrate` again") from None


def with_collection(shipped: ReaderGate, stored: dict | None, fingerprint: str, collection: str) -> tuple[ReaderGate, str]:
    """The decision to use and a note on where it came from: ``stored`` applied to the shipped
    model when it was fitted for this collection, reader and decision model; else the shipped one."""
    if not stored:
        return shipped, "shipped"
    if stored.get("collection") != collection:
        return shipped, f"shipped (the stored decision is {stored.get('collection')!r}'s, not {collection!r}'s)"
    if stored.get("reader") != fingerprint:
        return shipped, ("shipped (the collection's decision was fitted for another reader or reader.json: "
                         "run `ragbot eval GOLDEN --calibrate` again)")
    levels = {name: {"aim": float(v["aim"]), "threshold": float(v["threshold"])} for name, v in stored["levels"].items()}
    conf = stored.get("confidence") or {}
    confidence = (float(conf["a"]), float(conf["b"])) if "a" in conf else shipped.confidence
    threshold = levels.get(DEFAULT_REFUSAL, {}).get("threshold", shipped.threshold)
    gate = replace(shipped, threshold=threshold, levels={**shipped.levels, **levels}, confidence=confidence,
                   source="collection")
    return gate, f"collection (fitted {stored.get('created', '?')} on {stored.get('cases', '?')} questions)"


class CollectionDecision:
    """The decision for one collection's chain: the stored one when there is a valid one, read
    again when its file changes (a server picks up a new calibration without a restart)."""

    def __init__(self, settings: Settings, shipped: ReaderGate):
        self.settings, self.shipped = settings, shipped
        self._stamp: tuple | None = None
        self._current: tuple[ReaderGate, str] = (shipped, "shipped")

    def _file_stamp(self) -> tuple | None:
        try:
            st = decision_path(self.settings).stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def current(self) -> tuple[ReaderGate, str]:
        """``(gate, note)``: the gate that decides now, and whose it is."""
        stamp = self._file_stamp()
        if stamp != self._stamp:
            stored = read_decision(self.settings) if stamp else None
            fingerprint = reader_fingerprint(self.settings.reader_file, self.shipped) if stored else ""
            self._current = with_collection(self.shipped, stored, fingerprint, self.settings.collection)
            if stored and self._current[0] is self.shipped:
                log.warning("collection %s: %s", self.settings.collection, self._current[1])
            self._stamp = stamp
        return self._current
