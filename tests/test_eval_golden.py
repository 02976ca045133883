"""Golden set loading: defaults, extra keys, split filter, and one clear message per bad line."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.golden import load_golden
from rag.errors import InputError

SHIPPED = Path(__file__).resolve().parents[1] / "eval" / "golden" / "military-diplomacy.jsonl"


def write(tmp_path: Path, *lines: str) -> Path:
    p = tmp_path / "g.jsonl"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


def test_defaults_and_extra_keys(tmp_path):
    p = write(tmp_path, json.dumps({"id": "a", "question": "Q?", "type": "fact", "split": "dev"}), "",
              json.dumps({"id": "b", "question": "R?", "answerable": False, "history": [["hi", "hello"]], "split": "test"}))
    a, b = load_golden([p])
    assert (a.answerable, a.reference, a.must_include_any, a.evidence, a.sources, a.history) == (True, "", (), (), (), ())
    assert a.extra == {"type": "fact", "split": "dev"} and a.type == "fact" and a.split == "dev"
    assert b.type == "unanswerable" and b.history == (("hi", "hello"),)
    assert [c.id for c in load_golden([p], split="test")] == ["b"]


@pytest.mark.parametrize(
    "line, message",
    [
        ("{not json", "g.jsonl:2: invalid JSON"),
        ("[1, 2]", "g.jsonl:2: expected a JSON object, got list"),
        (json.dumps({"question": "Q?"}), "g.jsonl:2: 'id' is required"),
        (json.dumps({"id": "x"}), "g.jsonl:2: case 'x': 'question' is required"),
        (json.dumps({"id": "x", "question": "  "}), "'question' is required"),
        (json.dumps({"id": "x", "question": "Q", "answerable": "yes"}), "'answerable' must be true or false, got \"yes\""),
        (json.dumps({"id": "x", "question": "Q", "must_include_any": ["a"]}), "'must_include_any group' must be a list"),
        (json.dumps({"id": "x", "question": "Q", "must_include_any": [[]]}), "empty group"),
        (json.dumps({"id": "x", "question": "Q", "evidence": "a snippet"}), "'evidence' must be a list"),
        (json.dumps({"id": "x", "question": "Q", "sources": [1]}), "'sources' must be a list"),
        (json.dumps({"id": "x", "question": "Q", "history": [["only user"]]}), "'history' must be a list of [user, assistant]"),
        (json.dumps({"id": "ok", "question": "Again"}), "g.jsonl:2: duplicate id 'ok' (first at"),
    ],
)
def test_bad_lines_name_file_line_and_problem(tmp_path, line, message):
    p = write(tmp_path, json.dumps({"id": "ok", "question": "Fine?"}), line)
    with pytest.raises(InputError) as err:
        load_golden([p])
    assert message in str(err.value)


@pytest.mark.parametrize(
    "paths, split, message",
    [
        ([], None, "no golden set given"),
        (["missing.jsonl"], None, "missing.jsonl: no such golden set file"),
        (["EMPTY"], None, "no cases in"),
        (["GOOD"], "train", "no case has split 'train'; splits in these files: dev"),
    ],
)
def test_bad_files_and_splits(tmp_path, paths, split, message):
    (tmp_path / "empty.jsonl").write_text("\n")
    (tmp_path / "good.jsonl").write_text(json.dumps({"id": "a", "question": "Q", "split": "dev"}) + "\n")
    names = {"EMPTY": tmp_path / "empty.jsonl", "GOOD": tmp_path / "good.jsonl"}
    with pytest.raises(InputError, match=None) as err:
        load_golden([names.get(p, tmp_path / p) for p in paths], split)
    assert message in str(err.value)


def test_shipped_golden_set_loads_with_both_splits():
    cases = load_golden([SHIPPED])
    assert len(cases) == 206
    assert {c.split for c in cases} == {"dev", "test"}
    assert sum(not c.answerable for c in cases) == 55
    assert len(load_golden([SHIPPED], "dev")) + len(load_golden([SHIPPED], "test")) == 206
