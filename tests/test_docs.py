"""The documentation: every ``ragbot`` command line in the README's and docs/'s code blocks parses
with the command's own parser, and the site builds with ``mkdocs build --strict``."""
from __future__ import annotations

import functools
import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from eval.benches import ALL, BENCHES
from rag.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
README_MAX_LINES = 200  # the front page; the rest belongs in docs/
FENCE = re.compile(r"^\s*(```|~~~)\s*([\w-]*)")
NOT_SHELL = {"python", "json", "toml", "yaml", "html"}
ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


def code_blocks(text: str) -> list[tuple[str, list[str]]]:
    """``(language, lines)`` of each fenced code block of a Markdown text."""
    blocks, lang, lines, fence = [], None, [], None
    for line in text.splitlines():
        match = FENCE.match(line)
        if fence is None and match:
            fence, lang, lines = match.group(1), match.group(2).lower(), []
        elif fence is not None and line.strip().startswith(fence):
            blocks.append((lang, lines))
            fence = None
        elif fence is not None:
            lines.append(line)
    return blocks


def shell_lines(lines: list[str]) -> list[str]:
    """A block's command lines, continuations joined: in a console transcript only the ``$ `` lines
    (the rest is output), elsewhere every line."""
    prompted = any(line.lstrip().startswith("$ ") for line in lines)
    commands, pending = [], ""
    for line in lines:
        stripped = line.strip()
        if prompted and not pending:
            if not stripped.startswith("$ "):
                continue
            stripped = stripped[2:]
        if stripped.endswith("\\"):
            pending += stripped[:-1].rstrip() + " "
            continue
        commands.append(pending + stripped)
        pending = ""
    return commands


def ragbot_argv(command: str) -> list[str] | None:
    """The arguments after ``ragbot`` of a shell line that runs it (after any ``NAME=value``
    assignments), or None for any other line."""
    try:
        words = shlex.split(command, comments=True)
    except ValueError:
        return None
    while words and ASSIGNMENT.match(words[0]):
        words.pop(0)
    return words[1:] if words[:1] == ["ragbot"] else None


def documented_commands() -> list[tuple[str, str, list[str]]]:
    """``(page, line, argv)`` of every ``ragbot`` command in the README's and docs/'s code blocks."""
    found = []
    for page in PAGES:
        for lang, lines in code_blocks(page.read_text(encoding="utf-8")):
            if lang in NOT_SHELL:
                continue
            for line in shell_lines(lines):
                argv = ragbot_argv(line)
                if argv is not None:
                    found.append((page.relative_to(ROOT).as_posix(), line, argv))
    return found


@functools.cache
def ragbot_parser():
    """The parser ``ragbot`` itself builds (rag/cli.py, with every package's subcommands)."""
    return build_parser()


def parse_error(argv: list[str]) -> str | None:
    """Why ``ragbot`` would reject these arguments, or None when its parser accepts them."""
    try:
        args = ragbot_parser().parse_args(argv)
    except SystemExit as exc:
        return None if exc.code == 0 and "--help" in argv else "the parser rejects it (see the usage above)"
    if args.command == "bench" and args.what not in (*BENCHES, ALL):
        return f"no benchmark named {args.what!r}"
    return None


def subcommands() -> set[str]:
    """The names ``ragbot`` takes as its first argument."""
    action = next(a for a in ragbot_parser()._actions if a.dest == "command")
    return set(action.choices)


DOCUMENTED = documented_commands()


def test_the_documentation_has_command_examples():
    commands = [argv for _, _, argv in DOCUMENTED]
    assert ["ask", "Who coined the term soft power?"] in commands  # the README's tour, a console block
    assert ["ingest", "~/papers", "--watch"] in commands
    assert len(DOCUMENTED) >= 40, len(DOCUMENTED)


@pytest.mark.parametrize("page,line,argv", DOCUMENTED, ids=[f"{p}: {line}" for p, line, _ in DOCUMENTED])
def test_documented_command_parses(page, line, argv):
    error = parse_error(argv)
    assert error is None, f"{page}: `{line}`: {error}"


@pytest.mark.parametrize("argv", [
    ["ingest", "--no-such-flag"],
    ["no-such-command"],
    ["ask"],  # the question is required
    ["bench", "no-such-bench"],
    ["keys", "add", "staff"],  # --collections is required
])
def test_a_command_that_does_not_exist_fails(argv):
    assert parse_error(argv) is not None


def test_every_subcommand_is_documented():
    documented = {argv[0] for _, _, argv in DOCUMENTED if argv}
    missing = subcommands() - documented
    assert not missing, f"no example of `ragbot {'`, `ragbot '.join(sorted(missing))}` in the README or docs/"


def test_console_blocks_keep_output_out_of_the_commands():
    block = ["$ ragbot chat", "ragbot chat: ask about your documents", "you> hello", "$ ragbot ask \\", '    "Q?"']
    assert shell_lines(block) == ["ragbot chat", 'ragbot ask "Q?"']
    assert ragbot_argv('RAGBOT_ANSWER_CORE=gate ragbot ask "Q?"  # compare') == ["ask", "Q?"]
    assert ragbot_argv("chroma run --path DIR") is None


def test_readme_is_a_front_page():
    lines = len((ROOT / "README.md").read_text(encoding="utf-8").splitlines())
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines (at most {README_MAX_LINES}): move detail into docs/"


def _mkdocs_build(root: Path, site: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
                          cwd=root, env=env, capture_output=True, text=True, timeout=300)


def _needs_mkdocs() -> None:
    for module in ("mkdocs", "material", "mkdocs_include_markdown_plugin", "mdx_truly_sane_lists"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed: pip install -e '.[dev]' brings the documentation tools")


def test_site_builds_strictly(tmp_path):
    _needs_mkdocs()
    result = _mkdocs_build(ROOT, tmp_path / "site")
    assert result.returncode == 0, result.stdout + result.stderr
    home = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    assert "What ragbot does not do" in home  # the README is the home page
    card = (tmp_path / "site" / "reader-training" / "index.html").read_text(encoding="utf-8")
    assert "reader.onnx and reader.json" in card  # the model card is shown, not copied


def test_strict_build_fails_on_a_broken_anchor(tmp_path):
    _needs_mkdocs()
    copy = tmp_path / "copy"
    shutil.copytree(ROOT / "docs", copy / "docs")
    shutil.copy(ROOT / "mkdocs.yml", copy)
    shutil.copy(ROOT / "README.md", copy)
    (copy / "rag" / "data").mkdir(parents=True)
    shutil.copy(ROOT / "rag" / "data" / "MODEL_CARD.md", copy / "rag" / "data")
    with (copy / "docs" / "app.md").open("a", encoding="utf-8") as fh:
        fh.write("\n[gone](asking.md#no-such-section)\n")
    result = _mkdocs_build(copy, tmp_path / "site")
    assert result.returncode != 0
    assert "no-such-section" in result.stdout + result.stderr
