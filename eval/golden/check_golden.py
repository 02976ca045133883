#!/usr/bin/env python3
"""Sanity checker for a golden evaluation set (JSON Lines), stdlib only.

Usage:
    python3 eval/golden/check_golden.py [GOLDEN_JSONL] [ESSAY_TXT]

Defaults check eval/golden/military-diplomacy.jsonl against the shipped
sample essay.  Exits non-zero (and lists every problem) if the set is invalid.
"""
from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_GOLDEN = HERE / "military-diplomacy.jsonl"
# The sample essay shipped in the repository (data/corpus), wherever the checkout lies.
DEFAULT_ESSAY = HERE.parents[1] / "data" / "corpus" / "political-impact-of-military-diplomacy.txt"

TYPES = {"fact", "list", "comparison", "unanswerable", "multiturn"}
SPLITS = {"dev", "test"}
REQUIRED = {"id", "question", "answerable", "must_include_any", "evidence",
            "sources", "split", "type"}
MIN_TOTAL, MIN_UNANSWERABLE, MIN_MULTITURN, MIN_MT_UNANSWERABLE = 66, 18, 10, 2


def norm_ws(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip()


class Essay:
    """The essay's text as evidence (exact), after whitespace folding, and lower-cased for alternatives."""

    def __init__(self, path: Path):
        self.path = path
        self.text = path.read_text(encoding="utf-8")
        self.ws = norm_ws(self.text)
        self.lc = self.ws.lower()
        self.name = path.name


def load_cases(golden: Path, errors: list[str]) -> list[dict]:
    """The set's cases, one JSON object a line; a line that is not JSON is an error."""
    cases = []
    with golden.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                cases.append(json.loads(line))
            except json.JSONDecodeError as e:
                errors.append(f"line {n}: invalid JSON: {e}")
    return cases


def check_duplicates(cases: list[dict], errors: list[str], warnings: list[str]) -> None:
    """Ids must be unique; a single-turn question asked twice is worth a warning."""
    ids = Counter(c.get("id") for c in cases)
    for i, k in ids.items():
        if k > 1:
            errors.append(f"duplicate id {i!r} ({k}x)")
    questions = Counter(norm_ws(c.get("question", "")).lower() for c in cases
                        if not c.get("history"))
    for q, k in questions.items():
        if k > 1:
            warnings.append(f"duplicate single-turn question: {q!r}")


def check_case(c: dict, essay: Essay, errors: list[str], warnings: list[str]) -> None:
    """Every problem of one case: its keys and kinds, then its content against the essay."""
    cid = c.get("id", "<no id>")
    err = lambda msg: errors.append(f"{cid}: {msg}")  # noqa: E731
    missing = REQUIRED - c.keys()
    if missing:
        err(f"missing keys {sorted(missing)}")
        return
    check_fields(c, err)
    if c["answerable"]:
        check_answerable(c, essay, err, lambda msg: warnings.append(f"{cid}: {msg}"))
    else:
        if c["must_include_any"] or c["evidence"] or c["sources"]:
            err("unanswerable case must have empty must_include_any, evidence and sources")
        if c.get("reference"):
            err("unanswerable case has a non-empty reference")


def check_fields(c: dict, err) -> None:
    """Question, answerable, type, split and history have the right kinds and agree with each other."""
    if not isinstance(c["question"], str) or not c["question"].strip():
        err("empty question")
    if not isinstance(c["answerable"], bool):
        err("answerable must be bool")
    if c["type"] not in TYPES:
        err(f"bad type {c['type']!r}")
    if c["split"] not in SPLITS:
        err(f"bad split {c['split']!r}")
    hist = c.get("history")
    if hist is not None:
        if not (isinstance(hist, list) and all(
                isinstance(t, list) and len(t) == 2 and all(isinstance(x, str) and x for x in t)
                for t in hist)):
            err("history must be a list of [user, assistant] string pairs")
    if c["type"] == "multiturn" and not hist:
        err("multiturn case without history")
    if c["type"] != "multiturn" and hist:
        err("history on a non-multiturn case")
    if c["type"] == "unanswerable" and c["answerable"]:
        err("type unanswerable but answerable=true")


def check_answerable(c: dict, essay: Essay, err, warn) -> None:
    """An answerable case has a reference, the essay as source, and groups and evidence found in it."""
    groups, evidence = c["must_include_any"], c["evidence"]
    if not isinstance(c.get("reference"), str) or not c["reference"].strip():
        err("answerable case without reference")
    if c["sources"] != [essay.name]:
        err(f"sources must be [{essay.name!r}]")
    if not 1 <= len(groups) <= 3:
        err(f"must_include_any should have 1-3 groups, has {len(groups)}")
    if not 1 <= len(evidence) <= 2:
        err(f"evidence should have 1-2 snippets, has {len(evidence)}")
    for g in groups:
        check_group(g, c.get("reference", ""), essay, err, warn)
    for ev in evidence:
        check_evidence(ev, essay, err, warn)


def check_group(g, reference: str, essay: Essay, err, warn) -> None:
    """A must_include_any group: some alternative occurs in the essay, and the reference meets it."""
    if not (isinstance(g, list) and g and all(isinstance(a, str) and a.strip() for a in g)):
        err(f"bad group {g!r}")
        return
    found = [a for a in g if norm_ws(a).lower() in essay.lc]
    if not found:
        err(f"no alternative of group {g!r} occurs in the essay")
    for a in g:
        if a not in found:
            warn(f"alternative {a!r} not in essay")
    if not any(a.lower() in reference.lower() for a in g):
        err(f"reference does not satisfy group {g!r}")


def check_evidence(ev, essay: Essay, err, warn) -> None:
    """An evidence snippet: a string of 10-120 characters found in the essay (exactly, or warned)."""
    if not isinstance(ev, str):
        err(f"evidence not a string: {ev!r}")
        return
    if not 10 <= len(ev) <= 120:
        err(f"evidence length {len(ev)} outside 10-120: {ev!r}")
    if ev in essay.text:
        return
    if norm_ws(ev) in essay.ws:
        warn(f"evidence matches only after whitespace normalisation: {ev!r}")
    else:
        err(f"evidence not found in essay: {ev!r}")


def print_counts(cases: list[dict]) -> None:
    """The table of cases by type and split, and the unanswerable counts."""
    by_type = Counter(c.get("type") for c in cases)
    by_split = Counter(c.get("split") for c in cases)
    by_type_split = Counter((c.get("type"), c.get("split")) for c in cases)
    unans = [c for c in cases if c.get("answerable") is False]
    mt_unans = [c for c in unans if c.get("type") == "multiturn"]
    print(f"total cases: {len(cases)}  (dev {by_split['dev']}, test {by_split['test']})")
    print(f"{'type':<14}{'dev':>5}{'test':>6}{'total':>7}")
    for t in sorted(TYPES):
        print(f"{t:<14}{by_type_split[(t, 'dev')]:>5}{by_type_split[(t, 'test')]:>6}{by_type[t]:>7}")
    print(f"answerable=false: {len(unans)} (dev {sum(c['split']=='dev' for c in unans)}, "
          f"test {sum(c['split']=='test' for c in unans)}), of which multiturn: {len(mt_unans)}")


def check_counts(cases: list[dict], errors: list[str]) -> None:
    """Enough cases of each kind, and about a third of each type in the test split."""
    by_type = Counter(c.get("type") for c in cases)
    by_type_split = Counter((c.get("type"), c.get("split")) for c in cases)
    mt_unans = [c for c in cases if c.get("answerable") is False and c.get("type") == "multiturn"]
    if len(cases) < MIN_TOTAL:
        errors.append(f"only {len(cases)} cases (< {MIN_TOTAL})")
    if by_type["unanswerable"] < MIN_UNANSWERABLE:
        errors.append(f"only {by_type['unanswerable']} unanswerable cases (< {MIN_UNANSWERABLE})")
    if by_type["multiturn"] < MIN_MULTITURN:
        errors.append(f"only {by_type['multiturn']} multiturn cases (< {MIN_MULTITURN})")
    if len(mt_unans) < MIN_MT_UNANSWERABLE:
        errors.append(f"only {len(mt_unans)} unanswerable multiturn cases (< {MIN_MT_UNANSWERABLE})")
    for t in TYPES:
        n, k = by_type[t], by_type_split[(t, "test")]
        if n and not (0.2 <= k / n <= 0.45):
            errors.append(f"type {t}: test share {k}/{n} is not about 1/3")
    if mt_unans and len({c['split'] for c in mt_unans}) < 2 and len(mt_unans) >= 2:
        errors.append("unanswerable multiturn cases are not spread over both splits")


def main(argv: list[str]) -> int:
    """Check a golden set against the essay; print the counts, every problem, and OK or FAILED."""
    golden = Path(argv[1]) if len(argv) > 1 else DEFAULT_GOLDEN
    essay = Essay(Path(argv[2]) if len(argv) > 2 else DEFAULT_ESSAY)
    errors: list[str] = []
    warnings: list[str] = []
    cases = load_cases(golden, errors)
    check_duplicates(cases, errors, warnings)
    for c in cases:
        check_case(c, essay, errors, warnings)
    print(f"golden: {golden}")
    print(f"essay:  {essay.path}")
    print_counts(cases)
    check_counts(cases, errors)
    for w in warnings:
        print("WARNING:", w)
    for e in errors:
        print("ERROR:", e)
    print("OK" if not errors else f"FAILED ({len(errors)} errors)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
