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
DEFAULT_ESSAY = Path("/work/shared/corpus/political-impact-of-military-diplomacy.txt")

TYPES = {"fact", "list", "comparison", "unanswerable", "multiturn"}
SPLITS = {"dev", "test"}
REQUIRED = {"id", "question", "answerable", "must_include_any", "evidence",
            "sources", "split", "type"}
MIN_TOTAL, MIN_UNANSWERABLE, MIN_MULTITURN, MIN_MT_UNANSWERABLE = 66, 18, 10, 2


def norm_ws(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip()


def main(argv: list[str]) -> int:
    golden = Path(argv[1]) if len(argv) > 1 else DEFAULT_GOLDEN
    essay_path = Path(argv[2]) if len(argv) > 2 else DEFAULT_ESSAY
    essay = essay_path.read_text(encoding="utf-8")
    essay_ws = norm_ws(essay)
    essay_lc = essay_ws.lower()
    source_name = essay_path.name

    errors: list[str] = []
    warnings: list[str] = []
    cases = []
    with golden.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                cases.append(json.loads(line))
            except json.JSONDecodeError as e:
                errors.append(f"line {n}: invalid JSON: {e}")

    ids = Counter(c.get("id") for c in cases)
    for i, k in ids.items():
        if k > 1:
            errors.append(f"duplicate id {i!r} ({k}x)")
    questions = Counter(norm_ws(c.get("question", "")).lower() for c in cases
                        if not c.get("history"))
    for q, k in questions.items():
        if k > 1:
            warnings.append(f"duplicate single-turn question: {q!r}")

    for c in cases:
        cid = c.get("id", "<no id>")
        err = lambda msg: errors.append(f"{cid}: {msg}")  # noqa: E731
        missing = REQUIRED - c.keys()
        if missing:
            err(f"missing keys {sorted(missing)}")
            continue
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

        groups, evidence = c["must_include_any"], c["evidence"]
        if c["answerable"]:
            if not isinstance(c.get("reference"), str) or not c["reference"].strip():
                err("answerable case without reference")
            if c["sources"] != [source_name]:
                err(f"sources must be [{source_name!r}]")
            if not 1 <= len(groups) <= 3:
                err(f"must_include_any should have 1-3 groups, has {len(groups)}")
            if not 1 <= len(evidence) <= 2:
                err(f"evidence should have 1-2 snippets, has {len(evidence)}")
            for g in groups:
                if not (isinstance(g, list) and g and all(isinstance(a, str) and a.strip() for a in g)):
                    err(f"bad group {g!r}")
                    continue
                found = [a for a in g if norm_ws(a).lower() in essay_lc]
                if not found:
                    err(f"no alternative of group {g!r} occurs in the essay")
                for a in g:
                    if a not in found:
                        warnings.append(f"{cid}: alternative {a!r} not in essay")
                ref = c.get("reference", "").lower()
                if not any(a.lower() in ref for a in g):
                    err(f"reference does not satisfy group {g!r}")
            for ev in evidence:
                if not isinstance(ev, str):
                    err(f"evidence not a string: {ev!r}")
                    continue
                if not 10 <= len(ev) <= 120:
                    err(f"evidence length {len(ev)} outside 10-120: {ev!r}")
                if ev in essay:
                    continue
                if norm_ws(ev) in essay_ws:
                    warnings.append(f"{cid}: evidence matches only after whitespace normalisation: {ev!r}")
                else:
                    err(f"evidence not found in essay: {ev!r}")
        else:
            if groups or evidence or c["sources"]:
                err("unanswerable case must have empty must_include_any, evidence and sources")
            if c.get("reference"):
                err("unanswerable case has a non-empty reference")

    # ---- counts ----
    by_type = Counter(c.get("type") for c in cases)
    by_split = Counter(c.get("split") for c in cases)
    by_type_split = Counter((c.get("type"), c.get("split")) for c in cases)
    unans = [c for c in cases if c.get("answerable") is False]
    mt_unans = [c for c in unans if c.get("type") == "multiturn"]

    print(f"golden: {golden}")
    print(f"essay:  {essay_path}")
    print(f"total cases: {len(cases)}  (dev {by_split['dev']}, test {by_split['test']})")
    print(f"{'type':<14}{'dev':>5}{'test':>6}{'total':>7}")
    for t in sorted(TYPES):
        print(f"{t:<14}{by_type_split[(t, 'dev')]:>5}{by_type_split[(t, 'test')]:>6}{by_type[t]:>7}")
    print(f"answerable=false: {len(unans)} (dev {sum(c['split']=='dev' for c in unans)}, "
          f"test {sum(c['split']=='test' for c in unans)}), of which multiturn: {len(mt_unans)}")

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

    for w in warnings:
        print("WARNING:", w)
    for e in errors:
        print("ERROR:", e)
    print("OK" if not errors else f"FAILED ({len(errors)} errors)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
