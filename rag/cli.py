"""The ``ragbot`` command. Thin: parse, build Settings once, call the library, print."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .errors import RagbotError


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--persist-dir", help="index folder (env RAGBOT_PERSIST_DIR, default data/chroma)")
    p.add_argument("--collection", help="collection name (env RAGBOT_COLLECTION, default ragbot)")
    p.add_argument("--chroma-host", help="Chroma server host: server mode (env RAGBOT_CHROMA_HOST)")
    p.add_argument("--chroma-port", type=int, help="Chroma server port (env RAGBOT_CHROMA_PORT, default 8000)")
    p.add_argument("--embedding-backend", help="torch, onnx, onnx-int8 or openvino (env RAGBOT_EMBEDDING_BACKEND)")


def _answer_opts(p: argparse.ArgumentParser) -> None:
    p.add_argument("--mode", help="extractive, local, ollama or openai (env RAGBOT_MODE)")
    p.add_argument("--k", type=int, help="passages handed to the answer step (default 5)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ragbot", description="Offline Q&A over your documents, with verified citations.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("ingest", help="index files and folders (default data/corpus), incrementally")
    p.add_argument("paths", nargs="*", metavar="PATH")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("-v", "--verbose", action="store_true", help="log each batch written to stderr")
    _common(p)

    p = sub.add_parser("ask", help="answer one question")
    p.add_argument("question")
    p.add_argument("--json", action="store_true", help="print the full answer as JSON")
    p.add_argument("--history", metavar="FILE", help="JSON list of [user, assistant] pairs")
    _answer_opts(p)
    _common(p)

    p = sub.add_parser("chat", help="ask questions in a terminal loop, keeping history")
    _answer_opts(p)
    _common(p)

    p = sub.add_parser("ui", help="serve the Gradio app")
    p.add_argument("--host", default=None, help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (default 7860)")
    _answer_opts(p)
    _common(p)

    p = sub.add_parser("eval", help="run golden sets and write reports")
    p.add_argument("golden", nargs="*", metavar="GOLDEN.jsonl")
    p.add_argument("--out", help="report folder")
    p.add_argument("--split", help="only cases of this split (dev or test)")
    p.add_argument("--compare", nargs=2, metavar=("OLD", "NEW"), help="compare two report.json files")
    p.add_argument("--thresholds", help="fail (exit 1) when a metric falls below the floor in this JSON file")
    p.add_argument("--calibrate", metavar="GATE_JSON", help="fit the refusal gate on the cases and write it here")
    _answer_opts(p)
    _common(p)

    p = sub.add_parser("bench", help="benchmarks that print figures")
    p.add_argument("what", nargs="?", default="all", help="scifact, ingest, encoders, query, growth, memory, server or all")
    p.add_argument("--out", default="bench-out", help="folder for JSON and plots")
    p.add_argument("--limit", type=int, default=None, help="use only this many documents")
    p.add_argument("--split", default=None, help="squad2: dev, test or all (default all); --limit is then questions per split")
    p.add_argument("--slices", type=int, default=6,
                   help="ingest: cut the corpus into this many slices, each run through ragbot and the tutorial in turn")
    _answer_opts(p)
    _common(p)
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
    )


def cmd_ingest(args, settings) -> int:
    from ingest.pipeline import ingest

    paths = args.paths or [settings.corpus_dir]
    interactive = sys.stderr.isatty() and not args.json

    def on_skip(item) -> None:
        print(f"skipped {item.path}: {item.reason}", file=sys.stderr)

    def on_write(total: int) -> None:
        print(f"written {total} chunks", file=sys.stderr, flush=True)

    summary = ingest(paths, settings, progress=interactive, on_skip=on_skip, on_write=on_write if args.verbose else None)
    # A file named on the command line that could not be ingested is a failure; a bad file found
    # while walking a folder is only reported (one bad file must not fail a whole corpus).
    named = {str(Path(p).expanduser().resolve()) for p in paths if not Path(p).expanduser().is_dir()}
    failed = [s for s in summary.skipped if s.path in named]
    if args.json:
        print(json.dumps(summary.to_dict()))
    else:
        d = summary.to_dict()
        print(
            f"{d['files_seen']} files: {d['added']} added, {d['updated']} updated, {d['unchanged']} unchanged, "
            f"{d['removed']} removed, {len(d['skipped'])} skipped; {d['chunks_total']} chunks in the index "
            f"({d['seconds']:.1f} s)"
        )
    return 1 if failed else 0


def _print_answer(answer, out=sys.stdout) -> None:
    if answer.notice:
        print(f"note: {answer.notice}", file=sys.stderr)
    print(answer.answer, file=out)
    if answer.citations:
        print(file=out)
    for c in answer.citations:
        where = f"{c.source}" + (f" § {c.section}" if c.section else "") + f" [{c.start}:{c.end}]"
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
    from .chain import build_chain

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
    from .chain import build_chain

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


COMMANDS = {"ingest": "cmd_ingest", "ask": "cmd_ask", "chat": "cmd_chat", "ui": "cmd_ui", "eval": "cmd_eval", "bench": "cmd_bench"}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = settings_from_args(args)
        handler = globals().get(COMMANDS[args.command])
        if handler is None:
            from . import commands

            handler = getattr(commands, COMMANDS[args.command])
        return int(handler(args, settings) or 0)
    except RagbotError as exc:
        print(f"ragbot: error: {exc}", file=sys.stderr)
        return 2 if exc.__class__.__name__ in ("ConfigError", "InputError") else 1
    except KeyboardInterrupt:
        print("ragbot: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
