"""The shape of the code: rag imports no application, and the wording rules are one swappable stage."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from rag import build_chain
from rag.errors import ConfigError
from rag.gate import Gate
from rag.settings import Settings
from rag.types import Passage
from rag.wording import ENGLISH, WORDING_RULES, NullWording, WordingRules, load_wording

from .conftest import ROOT, FakeEmbeddings

APPS = ("ui", "eval", "ingest", "gradio")


def _imports(path: Path) -> set[str]:
    """Top-level package names a module imports anywhere (inside functions too); relative imports stay in rag."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", sorted((ROOT / "rag").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_rag_imports_no_application(path):
    assert not _imports(path) & set(APPS), f"{path.relative_to(ROOT)} imports {_imports(path) & set(APPS)}"


def test_only_the_command_table_imports_eval_cli():
    """eval/cli.py reaches the benchmarks through the registry (eval/benches.py) and every benchmark
    writes through eval/bench.py: no eval module imports eval/cli.py back."""
    importers = {
        p.name
        for p in (ROOT / "eval").glob("*.py")
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
        if isinstance(node, ast.ImportFrom) and ((node.level == 1 and node.module == "cli") or node.module == "eval.cli")
    }
    assert importers == {"commands.py"}


def test_the_import_scan_sees_imports_inside_functions(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("def f():\n    from ui.app import create_app\n    import gradio\n")
    assert _imports(f) >= {"ui", "gradio"}


def test_every_package_contributes_its_subcommands():
    from rag.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert {"ask", "chat", "ingest", "eval", "bench", "ui"} <= set(sub.choices)


def test_wording_rules_by_name_and_unknown_names_listed():
    assert load_wording("english") is ENGLISH and isinstance(load_wording("none"), NullWording)
    methods = {n for n, v in vars(WordingRules).items() if callable(v) and not n.startswith("_")}
    assert methods and all(callable(getattr(rules, n, None)) for rules in (ENGLISH, NullWording()) for n in methods)
    known = r"known: english, english-without:FAMILY\[\+FAMILY\], none"
    with pytest.raises(ConfigError, match=f"unknown wording rules 'klingon'; {known}"):
        load_wording("klingon")
    with pytest.raises(ConfigError, match=f"unknown wording rules 'klingon'; {known}"):
        Settings(wording_rules="klingon")
    assert sorted(WORDING_RULES) == ["english", "none"]


def test_a_family_of_the_english_rules_switches_off_alone():
    from rag.wording import FAMILIES

    q = "When did the Cold War end, and how does NATO differ from the UN?"
    ablated = load_wording("english-without:answer_type+comparison")
    assert ablated.answer_kind(q) is None and ablated.answer_type_met(q, "No year here.") == 1.0
    assert ablated.aspects(q) == [] and ENGLISH.aspects(q) != [] and ENGLISH.answer_kind(q) == "when"
    assert ablated.leans_back("This approach works.") is ENGLISH.leans_back("This approach works.") is True
    assert ablated.question_frame is ENGLISH.question_frame
    assert load_wording("english-without:question_frame").question_frame == frozenset()
    assert Settings(wording_rules="english-without:novelty").wording_rules == "english-without:novelty"
    members = {n for n, v in vars(WordingRules).items() if callable(v) and not n.startswith("_")} | {"question_frame"}
    assert {m for ms in FAMILIES.values() for m in ms} == members  # every member belongs to a family
    with pytest.raises(ConfigError, match="unknown wording rule family 'spelling'"):
        Settings(wording_rules="english-without:spelling")


def test_null_wording_is_neutral():
    w = NullWording()
    q = "When did the Cold War end, and how does NATO differ from the UN? List the trends."
    assert w.answer_kind(q) is None and w.answer_type_met(q, "No year here.") == 1.0
    assert w.aspects(q) == [] and not w.asks_for_list(q) and w.named_sections("the section on trends") == []
    assert not w.continues("For example, this.") and not w.leans_back("This approach works.") and not w.closes_list("Lastly, x.")
    assert not w.leans_on_history("What about it?") and w.ordinal("the second one") is None
    assert w.novelty([("q", "a")], "q", ["a"]) is None and w.question_frame == frozenset()


class _Retriever:
    def __init__(self, passages):
        self.passages = passages

    def search(self, query, k=None, method="hybrid"):
        return list(self.passages)[: k or 5]


ESSAY = [
    Passage("c1", "essay.txt", "Soft Power", "Soft power, a term coined by Joseph Nye, means attraction rather than coercion. "
            "It was coined in 1990.", 0, 120, 0.9),
    Passage("c2", "essay.txt", "Trends", "Lastly, climate change will shape military diplomacy.", 120, 180, 0.5),
]


@pytest.mark.parametrize("name", ["english", "none"])
def test_the_chain_runs_with_each_wording(name):
    settings = Settings(persist_dir="/nonexistent", wording_rules=name)
    chain = build_chain(settings, embeddings=FakeEmbeddings(), retriever=_Retriever(ESSAY), gate=Gate({}, 10.0, 0.5, {}))
    assert chain.wording.name == name
    a = chain.invoke({"question": "When was the term soft power coined?"})
    assert not a.refused and "[1]" in a.answer and a.citations[0].quote in ESSAY[0].text
    follow = chain.invoke({"question": "What about it?", "history": [["Who coined soft power?", a.answer]]})
    assert follow.answer  # answered or refused, it runs



MAX_FUNCTION_LINES = 60
# Functions allowed to be longer, as "path:name"; kept empty: a long function is split, not excused.
LONG_FUNCTIONS_ALLOWED: frozenset[str] = frozenset()


def _long_functions(path: Path, limit: int = MAX_FUNCTION_LINES) -> list[tuple[str, int, int]]:
    """``(name, first line, length)`` of each function or method in ``path`` longer than ``limit`` lines."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            n = node.end_lineno - node.lineno + 1
            if n > limit:
                found.append((node.name, node.lineno, n))
    return found


def test_no_function_outside_tests_is_over_60_lines():
    paths = sorted(p for folder in ("ingest", "rag", "ui", "eval") for p in (ROOT / folder).rglob("*.py"))
    assert len(paths) > 40  # the scan sees the packages
    too_long = [
        f"{p.relative_to(ROOT)}:{line} {name} ({n} lines)"
        for p in paths
        for name, line, n in _long_functions(p)
        if f"{p.relative_to(ROOT)}:{name}" not in LONG_FUNCTIONS_ALLOWED
    ]
    assert not too_long, "functions over 60 lines (split them):\n" + "\n".join(too_long)


def test_the_length_scan_counts_methods_and_nested_functions(tmp_path):
    lines = lambda indent: "".join(f"{indent}x{i} = {i}\n" for i in range(60))  # noqa: E731
    f = tmp_path / "m.py"
    f.write_text("def short():\n    pass\n\n\nclass C:\n    def long(self):\n" + lines(" " * 8)
                 + "\n\ndef outer():\n    def inner():\n" + lines(" " * 8) + "    return inner\n")
    assert sorted(_long_functions(f)) == [("inner", 70, 61), ("long", 6, 61), ("outer", 69, 63)]
