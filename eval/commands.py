"""``ragbot eval`` and ``ragbot bench``: the eval package's subcommands (entry point ``ragbot.commands``)."""
from __future__ import annotations

import argparse

from .benches import ALL, BENCHES, help_lines


def add_commands(sub, options) -> None:
    p = sub.add_parser("eval", help="run a golden set and write reports",
                       description="Run golden sets (JSONL, one case a line) through the chain over the index (default "
                                   "data/chroma under the current folder) and write report.json, report.md and report.html "
                                   "to --out. See docs/evaluation.md.")
    p.add_argument("golden", nargs="*", metavar="GOLDEN.jsonl")
    p.add_argument("--out", help="report folder")
    p.add_argument("--split", help="only cases of this split (dev or test)")
    p.add_argument("--compare", nargs=2, metavar=("OLD", "NEW"), help="compare two report.json files")
    p.add_argument("--thresholds", help="fail (exit 1) when a metric falls below the floor in this JSON file")
    p.add_argument("--calibrate", action="store_true",
                   help="fit the reader's decision for the collection (each refusal level's threshold and the confidence) "
                        "on these labelled questions (the dev split when they have one) and store it with the collection")
    p.add_argument("--calibrate-gate", metavar="GATE_JSON",
                   help="fit the old evidence gate (answer core 'gate') on the cases and write it here")
    options.answer(p)
    options.common(p)
    p.set_defaults(handler=cmd_eval)

    p = sub.add_parser("bench", help="benchmarks that print figures", formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Benchmarks that print figures and write them to --out (default bench-out/).\n"
                                   "Their data is read from --data, else $RAGBOT_BENCHMARKS_DIR/NAME, else\n"
                                   "../shared/benchmarks/NAME beside the checkout. See docs/evaluation.md\n"
                                   "and docs/speed.md.",
                       epilog="benchmarks:\n" + help_lines())
    p.add_argument("what", nargs="?", default=ALL, help=f"{', '.join(BENCHES)} or {ALL} (default {ALL})")
    p.add_argument("--data", metavar="PATH", default=None,
                   help="the benchmark's data instead of $RAGBOT_BENCHMARKS_DIR/NAME or ../shared/benchmarks/NAME: "
                        "for squad2 a folder or the official dev-v2.0.json, for manuals a folder of docs/ and questions.jsonl, "
                        "for scifact (and the benches reading it) a BEIR folder")
    p.add_argument("--out", default="bench-out", help="folder for JSON and plots")
    p.add_argument("--limit", type=int, default=None, help="use only this many documents")
    p.add_argument("--split", default=None, help="squad2 and manuals: dev, test or all (default all for squad2, dev for manuals); "
                        "--limit is then questions per split")
    p.add_argument("--golden", metavar="GOLDEN.jsonl", default=None,
                   help="manuals: ask this golden set's questions (their sources in the data's docs/) instead of its own")
    p.add_argument("--calibrate", action="store_true",
                   help="squad2 and manuals: answer the dev split, fit the collection's own decision on its answers "
                        "(as `ragbot eval GOLDEN --calibrate` does) and answer the test split with it")
    p.add_argument("--missing-evidence", action="store_true",
                   help="squad2: leave a seeded third of each article's paragraphs out; questions whose evidence went become unanswerable")
    p.add_argument("--slices", type=int, default=6,
                   help="ingest: cut the corpus into this many slices, each run through ragbot and the tutorial in turn")
    p.add_argument("--clients", type=int, default=None, help="load: concurrent clients (default 20)")
    p.add_argument("--questions", type=int, default=None, help="load: questions per client (default 10)")
    p.add_argument("--server", action="store_true",
                   help="growth: against a `chroma run` server, with two answering processes (default: embedded, one)")
    p.add_argument("--old-path", metavar="GIT_REF", default=None,
                   help="growth: also time the retriever of this git commit on a copy of the index (up to 100k chunks)")
    options.answer(p)
    options.common(p)
    p.set_defaults(handler=cmd_bench)


def cmd_eval(args, settings) -> int:
    from .cli import cmd_eval as run

    return run(args, settings)


def cmd_bench(args, settings) -> int:
    from .cli import cmd_bench as run

    return run(args, settings)
