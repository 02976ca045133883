"""``ragbot ingest``: the ingestion package's subcommand (entry point ``ragbot.commands``)."""
from __future__ import annotations

import json
import sys
from pathlib import Path


def add_commands(sub, options) -> None:
    p = sub.add_parser("ingest", help="index files and folders (default data/corpus), incrementally")
    p.add_argument("paths", nargs="*", metavar="PATH")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("-v", "--verbose", action="store_true", help="log each batch written to stderr")
    options.common(p)
    p.set_defaults(handler=cmd_ingest)


def cmd_ingest(args, settings) -> int:
    from .pipeline import ingest

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
