"""``ragbot ingest``: the ingestion package's subcommand (entry point ``ragbot.commands``)."""
from __future__ import annotations

import json
import sys
from pathlib import Path


def add_commands(sub, options) -> None:
    p = sub.add_parser("ingest", help="index files and folders (default data/corpus), incrementally",
                       description="Index files and folders into the index (default data/chroma under the current "
                                   "folder). Unchanged files are skipped, changed ones replaced, removed ones deleted; "
                                   "a bad file in a folder is reported and skipped. See docs/ingesting.md.")
    p.add_argument("paths", nargs="*", metavar="PATH",
                   help="files and folders to index (default data/corpus, env RAGBOT_CORPUS_DIR)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("-v", "--verbose", action="store_true", help="log each batch written to stderr")
    p.add_argument("--watch", action="store_true",
                   help="keep running: ingest again whenever files under PATH change (Ctrl-C stops)")
    options.common(p)
    p.set_defaults(handler=cmd_ingest)
    c = sub.add_parser("collections", help="the document sets in the index, with their chunk counts; --delete NAME --yes removes one",
                       description="The document sets (collections) in the index (default data/chroma), each made with "
                                   "`ragbot ingest --collection NAME`, with their chunk counts.")
    c.add_argument("--delete", metavar="NAME", help="delete this collection: its chunks and its lexical index")
    c.add_argument("--yes", action="store_true", help="confirm --delete")
    c.add_argument("--json", action="store_true", help="print JSON")
    options.common(c)
    c.set_defaults(handler=cmd_collections)


def cmd_ingest(args, settings) -> int:
    from .pipeline import ingest

    paths = args.paths or [settings.corpus_dir]
    interactive = sys.stderr.isatty() and not args.json and not args.watch

    def on_skip(item) -> None:
        print(f"skipped {item.path}: {item.reason}", file=sys.stderr)

    def on_write(total: int) -> None:
        print(f"written {total} chunks", file=sys.stderr, flush=True)

    options = dict(on_skip=on_skip, on_write=on_write if args.verbose else None)
    if args.watch:
        from .watch import watch

        print(f"watching {', '.join(str(p) for p in paths)} (Ctrl-C stops)", file=sys.stderr, flush=True)
        watch(paths, settings, on_run=lambda summary: _print_summary(summary, args.json), **options)
        return 0
    summary = ingest(paths, settings, progress=interactive, **options)
    _print_summary(summary, args.json)
    # A file named on the command line that could not be ingested is a failure; a bad file found
    # while walking a folder is only reported (one bad file must not fail a whole corpus).
    named = {str(Path(p).expanduser().resolve()) for p in paths if not Path(p).expanduser().is_dir()}
    return 1 if any(s.path in named for s in summary.skipped) else 0


def _print_summary(summary, as_json: bool) -> None:
    d = summary.to_dict()
    if as_json:
        print(json.dumps(d), flush=True)
        return
    for item in summary.warnings:
        print(f"warning {item.path}: {item.reason}", file=sys.stderr)
    print(
        f"{d['files_seen']} files: {d['added']} added, {d['updated']} updated, {d['unchanged']} unchanged, "
        f"{d['removed']} removed, {len(d['skipped'])} skipped; {d['chunks_total']} chunks in the index "
        f"({d['seconds']:.1f} s)", flush=True,
    )


def cmd_collections(args, settings) -> int:
    from rag.errors import InputError

    from .manage import delete_collection, list_collections

    if args.delete:
        if not args.yes:
            raise InputError(f"deleting collection {args.delete!r} removes all its chunks: add --yes to confirm")
        n = delete_collection(settings, args.delete)
        print(json.dumps({"deleted": args.delete, "chunks": n}) if args.json else f"deleted collection {args.delete} ({n} chunks)")
        return 0
    found = list_collections(settings)
    if args.json:
        print(json.dumps([{"collection": name, "chunks": n} for name, n in found]))
    else:
        for name, n in found:
            print(f"{name}\t{n} chunks")
    return 0
