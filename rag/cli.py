"""The ``ragbot`` command. Thin: parse, build Settings once, call the library, print.

``ask`` and ``chat`` are the library's own; every other subcommand comes from the package that owns
it, named in the entry-point group ``ragbot.commands`` (see pyproject.toml). Each entry point is a
function ``add_commands(subparsers, options)`` that adds parsers with ``set_defaults(handler=...)``;
a handler takes ``(args, settings)`` and returns the exit code. rag never imports those packages.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import tomllib
from importlib.metadata import entry_points
from pathlib import Path

from .errors import RagbotError

GROUP = "ragbot.commands"


class Options:
    """The options that subcommands share, for packages that add their own."""

    @staticmethod
    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--persist-dir", help="the index folder (default data/chroma under the current folder; env RAGBOT_PERSIST_DIR)")
        p.add_argument("--collection", help="the document set in the index (default ragbot; env RAGBOT_COLLECTION)")
        p.add_argument("--chroma-host", help="a Chroma server's host instead of the index folder: server mode (env RAGBOT_CHROMA_HOST)")
        p.add_argument("--chroma-port", type=int, help="Chroma server port (env RAGBOT_CHROMA_PORT, default 8000)")
        p.add_argument("--embedding-backend", help="torch, onnx, onnx-int8 (default) or openvino (env RAGBOT_EMBEDDING_BACKEND)")

    @staticmethod
    def answer(p: argparse.ArgumentParser) -> None:
        p.add_argument("--mode", help="who writes the answer: extractive (default), local, ollama or openai (env RAGBOT_MODE)")
        p.add_argument("--k", type=int, help="passages handed to the answer step (default 5; env RAGBOT_K)")
        p.add_argument("--refusal", metavar="LEVEL",
                       help="how strict refusal is: strict, balanced or lenient (env RAGBOT_REFUSAL, default balanced); "
                            "each level aims for a share of answerable questions refused: about 0.15, 0.08 and 0.03 on dev")


def command_sources() -> list[str]:
    """``module:function`` of every package's ``add_commands``: the installed entry points of the
    group, or, where the installed metadata lacks the group (running from a checkout on PYTHONPATH,
    an editable install older than the group), the same table read from pyproject.toml."""
    found = [ep.value for ep in entry_points(group=GROUP)]
    if found:
        return found
    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    try:
        table = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["entry-points"][GROUP]
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return []
    return list(table.values())


def _load(source: str):
    module, _, attr = source.partition(":")
    return getattr(importlib.import_module(module), attr)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ragbot", description="Offline Q&A over your documents, with verified citations.",
        epilog="Documents are read from data/corpus and the index is kept in data/chroma, both under the current "
               "folder, unless PATH, --persist-dir, RAGBOT_CORPUS_DIR or RAGBOT_PERSIST_DIR say otherwise. "
               "`ragbot COMMAND --help` tells each command's options; docs/getting-started.md the rest.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("ask", help="answer one question, with citations",
                       description="Answer one question from the index (default data/chroma under the current folder): "
                                   "the short answer first, then the quoted sentences, each with its [n] citation; when "
                                   "the documents do not answer, it says so. See docs/asking.md.")
    p.add_argument("question", help="the question, in quotes")
    p.add_argument("--json", action="store_true", help="print the full answer as JSON")
    p.add_argument("--history", metavar="FILE", help="JSON list of [user, assistant] pairs")
    Options.answer(p)
    Options.common(p)
    p.set_defaults(handler=cmd_ask)

    p = sub.add_parser("chat", help="a conversation in the terminal, with follow-ups",
                       description="Ask questions in a loop, keeping the conversation so that follow-ups work; an empty "
                                   "line or Ctrl-D ends. Answers from the index (default data/chroma under the current folder).")
    Options.answer(p)
    Options.common(p)
    p.set_defaults(handler=cmd_chat)

    for source in command_sources():
        _load(source)(sub, Options)
    return parser


def settings_from_args(args: argparse.Namespace):
    from .settings import Settings

    return Settings.from_env(
        persist_dir=getattr(args, "persist_dir", None),
        collection=getattr(args, "collection", None),
        chroma_host=getattr(args, "chroma_host", None),
        chroma_port=getattr(args, "chroma_port", None),
        embedding_backend=getattr(args, "embedding_backend", None),
        mode=getattr(args, "mode", None),
        k=getattr(args, "k", None),
        refusal=getattr(args, "refusal", None),
    )


def _print_answer(answer, out=sys.stdout) -> None:
    from .records import cited_page

    if answer.notice:
        print(f"note: {answer.notice}", file=sys.stderr)
    print(answer.answer, file=out)
    if answer.citations:
        print(file=out)
    for c in answer.citations:
        page = cited_page(c, answer.retrieved)
        where = f"{c.source}" + (f", {page}" if page else "") + (f" § {c.section}" if c.section else "") + f" [{c.start}:{c.end}]"
        quote = " ".join(c.quote.split())
        print(f"[{c.n}] {where}\n    “{quote[:300]}”", file=out)


def _load_history(path: str | None) -> list:
    from .errors import InputError

    if not path:
        return []
    if os.path.exists(path) and not os.path.isfile(path):  # a folder or a FIFO: open() would fail or block
        raise InputError(f"cannot read history file {path}: not a regular file")
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except OSError as exc:
        raise InputError(f"cannot read history file {path}: {exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise InputError(f"history file {path} is not valid JSON ({exc.msg} at line {exc.lineno})") from exc
    except UnicodeDecodeError as exc:
        raise InputError(f"history file {path} is not UTF-8 text (byte {exc.start})") from exc
    return data


def cmd_ask(args, settings) -> int:
    from .answer.chain import build_chain

    chain = build_chain(settings)
    history = _load_history(args.history)
    if args.json:
        answer = chain.invoke({"question": args.question, "history": history})
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
        return 0
    answer = None
    streamed = False
    for part in chain.stream({"question": args.question, "history": history}):
        if isinstance(part, str):
            if settings.mode != "extractive" and sys.stdout.isatty():
                print(part, end="", flush=True)
                streamed = True
        else:
            answer = part
    if streamed:
        print("\n---")
    _print_answer(answer)
    return 0


def cmd_chat(args, settings) -> int:
    from .answer.chain import build_chain

    chain = build_chain(settings)
    history: list = []
    print("ragbot chat: ask about your documents; an empty line or Ctrl-D ends.", file=sys.stderr)
    while True:
        try:
            question = input("you> ")
        except EOFError:
            break
        if not question.strip():
            break
        try:
            answer = chain.invoke({"question": question, "history": history})
        except RagbotError as exc:
            print(f"ragbot: error: {exc}", file=sys.stderr)
            continue
        _print_answer(answer)
        history.append([question, answer.answer])
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = settings_from_args(args)
        return int(args.handler(args, settings) or 0)
    except RagbotError as exc:
        print(f"ragbot: error: {exc}", file=sys.stderr)
        return 2 if exc.__class__.__name__ in ("ConfigError", "InputError") else 1
    except KeyboardInterrupt:
        print("ragbot: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
