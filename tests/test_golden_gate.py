"""CI gate: the shipped golden set, in the default mode, must meet eval/thresholds.json."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from .conftest import ROOT

pytestmark = pytest.mark.integration


def test_shipped_golden_set_meets_thresholds(tmp_path):
    env = {**os.environ, "RAGBOT_PERSIST_DIR": str(tmp_path / "chroma")}
    env.pop("RAGBOT_MODE", None)  # the default mode is what is gated
    run = lambda *a: subprocess.run([sys.executable, "-m", "rag.cli", *a], capture_output=True, text=True, env=env, cwd=ROOT, timeout=900)
    ingest = run("ingest", "data/corpus", "--json")
    assert ingest.returncode == 0, ingest.stderr
    out = tmp_path / "report"
    result = run("eval", "eval/golden/military-diplomacy.jsonl", "--out", str(out), "--thresholds", "eval/thresholds.json")
    print(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((out / "report.json").read_text())
    assert len(report["cases"]) >= 60
    assert (out / "report.md").read_text().count("md-0") > 0
    assert "<img" in (out / "report.html").read_text()
