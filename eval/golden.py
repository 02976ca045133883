"""Golden sets: JSONL files of questions with what a right answer must contain (see interfaces.md)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from rag.errors import InputError

KNOWN_KEYS = frozenset(
    {"id", "question", "answerable", "reference", "must_include_any", "evidence", "sources", "history"}
)


@dataclass(frozen=True)
class GoldenCase:
    """One golden question; keys beyond the interface (``type``, ``split``, ...) are kept in ``extra``."""

    id: str
    question: str
    answerable: bool = True
    reference: str = ""
    must_include_any: tuple[tuple[str, ...], ...] = ()
    evidence: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    history: tuple[tuple[str, str], ...] = ()
    extra: dict = field(default_factory=dict)
    origin: str = ""  # "file:line", for messages

    @property
    def type(self) -> str:
        """The case's ``type`` key, or ``answerable``/``unanswerable`` when the set has none."""
        t = self.extra.get("type")
        return str(t) if t else ("answerable" if self.answerable else "unanswerable")

    @property
    def split(self) -> str:
        return str(self.extra.get("split", ""))

    def to_dict(self) -> dict:
        """The case as a golden JSONL object (extra keys included)."""
        d = {
            "id": self.id,
            "question": self.question,
            "answerable": self.answerable,
            "reference": self.reference,
            "must_include_any": [list(g) for g in self.must_include_any],
            "evidence": list(self.evidence),
            "sources": list(self.sources),
            "history": [list(t) for t in self.history],
        }
        d.update(self.extra)
        return d


def _str_list(value, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(s, str) and s.strip() for s in value):
        raise ValueError(f"{key!r} must be a list of non-empty strings, got {json.dumps(value)[:80]}")
    return tuple(value)


def parse_case(obj: object, origin: str = "") -> GoldenCase:
    """Validate one decoded JSON line; raises ValueError naming the problem."""
    if not isinstance(obj, dict):
        raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
    cid = obj.get("id")
    if not isinstance(cid, str) or not cid.strip():
        raise ValueError("'id' is required and must be a non-empty string")
    question = obj.get("question")
    if not isinstance(question, str) or not question.strip():
        raise ValueError(f"case {cid!r}: 'question' is required and must be a non-empty string")
    answerable = obj.get("answerable", True)
    if not isinstance(answerable, bool):
        raise ValueError(f"case {cid!r}: 'answerable' must be true or false, got {json.dumps(answerable)}")
    reference = obj.get("reference") or ""
    if not isinstance(reference, str):
        raise ValueError(f"case {cid!r}: 'reference' must be a string")
    groups_raw = obj.get("must_include_any") or []
    if not isinstance(groups_raw, list):
        raise ValueError(f"case {cid!r}: 'must_include_any' must be a list of lists of strings")
    try:
        groups = tuple(_str_list(g, "must_include_any group") for g in groups_raw)
        if any(not g for g in groups):
            raise ValueError("'must_include_any' has an empty group (it could never be met)")
        evidence = _str_list(obj.get("evidence") or [], "evidence")
        sources = _str_list(obj.get("sources") or [], "sources")
    except ValueError as exc:
        raise ValueError(f"case {cid!r}: {exc}") from None
    history_raw = obj.get("history") or []
    if not isinstance(history_raw, list) or not all(
        isinstance(t, list) and len(t) == 2 and all(isinstance(x, str) for x in t) for t in history_raw
    ):
        raise ValueError(f"case {cid!r}: 'history' must be a list of [user, assistant] string pairs")
    extra = {k: v for k, v in obj.items() if k not in KNOWN_KEYS}
    return GoldenCase(
        id=cid,
        question=question,
        answerable=answerable,
        reference=reference,
        must_include_any=groups,
        evidence=evidence,
        sources=sources,
        history=tuple((u, a) for u, a in history_raw),
        extra=extra,
        origin=origin,
    )


def load_golden(paths: Iterable[str | Path], split: str | None = None) -> list[GoldenCase]:
    """All cases of the given JSONL files, in order, optionally only those whose ``split`` matches."""
    cases: list[GoldenCase] = []
    seen: dict[str, str] = {}
    paths = list(paths)
    if not paths:
        raise InputError("no golden set given: name one or more GOLDEN.jsonl files")
    for raw in paths:
        path = Path(raw)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InputError(f"{path}: no such golden set file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"{path}: cannot read golden set ({exc})") from None
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            where = f"{path}:{n}"
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{where}: invalid JSON ({exc.msg} at column {exc.colno})") from None
            try:
                case = parse_case(obj, where)
            except ValueError as exc:
                raise InputError(f"{where}: {exc}") from None
            if case.id in seen:
                raise InputError(f"{where}: duplicate id {case.id!r} (first at {seen[case.id]})")
            seen[case.id] = where
            cases.append(case)
    if split:
        known = sorted({c.split for c in cases if c.split})
        picked = [c for c in cases if c.split == split]
        if not picked:
            raise InputError(f"no case has split {split!r}; splits in these files: {', '.join(known) or '(none)'}")
        return picked
    if not cases:
        raise InputError(f"no cases in {', '.join(str(p) for p in paths)}")
    return cases
