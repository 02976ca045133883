"""Metric floors and ceilings (eval/thresholds.json) that a report must meet."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping

from rag.errors import InputError

from .jsonfile import read_json
from .metrics import METRIC_NAMES
from .report import fmt

DEFAULT_FILE = Path(__file__).with_name("thresholds.json")
BOUNDS = ("min", "max")


def parse_thresholds(data: object, where: str = "thresholds") -> dict[str, dict[str, float]]:
    """Validate ``{metric: {"min": x} | {"max": x}}``; raises InputError naming the bad entry."""
    if not isinstance(data, dict):
        raise InputError(f"{where}: expected a JSON object of metric -> {{\"min\": x}} or {{\"max\": x}}")
    out: dict[str, dict[str, float]] = {}
    for name, bound in data.items():
        if name not in METRIC_NAMES:
            raise InputError(f"{where}: unknown metric {name!r}; known: {', '.join(METRIC_NAMES)}")
        if not isinstance(bound, dict) or not bound or set(bound) - set(BOUNDS):
            raise InputError(f"{where}: {name} must be {{\"min\": x}} and/or {{\"max\": x}}, got {json.dumps(bound)}")
        for key, value in bound.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InputError(f"{where}: {name}.{key} must be a number, got {json.dumps(value)}")
        out[name] = {k: float(v) for k, v in bound.items()}
    return out


def load_thresholds(path: str | Path) -> dict[str, dict[str, float]]:
    """Read and validate a thresholds file."""
    p = Path(path)
    return parse_thresholds(read_json(p, "thresholds file", "invalid JSON"), str(p))


def violations(metrics: Mapping[str, float | None], thresholds: Mapping[str, Mapping[str, float]]) -> list[str]:
    """One line per metric outside its bounds; a metric with no value violates any bound it has."""
    lines = []
    for name, bound in thresholds.items():
        value = metrics.get(name)
        if value is None:
            lines.append(f"{name} has no value (no case it applies to); required " +
                         " and ".join(f"{'>=' if k == 'min' else '<='} {v:g}" for k, v in bound.items()))
            continue
        if "min" in bound and value < bound["min"]:
            lines.append(f"{name} = {fmt(name, value)}, below the floor {bound['min']:g}")
        if "max" in bound and value > bound["max"]:
            lines.append(f"{name} = {fmt(name, value)}, above the ceiling {bound['max']:g}")
    return lines
