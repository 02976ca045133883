"""Fit the refusal gate (rag/gate.py) on an eval run: the gate features of each answer, labelled answerable or not."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Mapping, Sequence

from rag.errors import InputError

from .golden import GoldenCase


def gate_rows(cases: Sequence[GoldenCase], answers: Sequence[Mapping]) -> tuple[list[dict], list[bool]]:
    """``(feature dicts, answerable labels)`` of the answers that carry ``support.features``."""
    rows, labels = [], []
    for case, answer in zip(cases, answers):
        feats = (answer.get("support") or {}).get("features")
        if isinstance(feats, dict) and feats:
            row = {k: float(v) for k, v in feats.items()}
            novelty = (answer.get("support") or {}).get("novelty")
            if isinstance(novelty, (int, float)):
                row["novelty"] = float(novelty)  # the follow-up rule's measure: its refusals count as made
            rows.append(row)
            labels.append(case.answerable)
    return rows, labels


def calibrate_gate(cases: Sequence[GoldenCase], answers: Sequence[Mapping], out_path: str | Path, source: str = "") -> str:
    """Fit the gate, write it as JSON to ``out_path`` and return a one-paragraph summary."""
    from eval.gate_fit import fit_gate

    rows, labels = gate_rows(cases, answers)
    if not rows:
        raise InputError("no answer carried gate features (support.features): nothing to calibrate on")
    if len(set(labels)) < 2:
        raise InputError("calibration needs both answerable and unanswerable cases; these cases have only one kind")
    info = {
        "fitted_on": source,
        "cases": len(rows),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    gate = fit_gate(rows, labels, info)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(gate.to_dict(), indent=2) + "\n", encoding="utf-8")
    answered = [gate.answerable(r)[0] for r in rows]
    pos = sum(labels)
    neg = len(labels) - pos
    kept = sum(a for a, y in zip(answered, labels) if y)
    refused = sum(not a for a, y in zip(answered, labels) if not y)
    return (
        f"wrote the gate to {out}: threshold {gate.threshold:g}; on the {len(rows)} cases it was fitted on it "
        f"answers {kept}/{pos} answerable and refuses {refused}/{neg} unanswerable questions"
    )
