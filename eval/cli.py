"""``ragbot eval`` and ``ragbot bench``: thin wrappers over the eval library."""
from __future__ import annotations

import sys

from rag.errors import InputError

from .metrics import METRIC_NAMES
from .report import fmt, fmt_ci

DEFAULT_OUT = "out/eval"  # /out/ is git-ignored


def _build_chain(settings):
    from rag import build_chain

    return build_chain(settings)


def print_metrics(report: dict, file=None) -> None:
    """The aggregate metrics as a two-column table."""
    file = file or sys.stdout
    counts = report.get("counts", {})
    print(
        f"{counts.get('cases', 0)} cases ({counts.get('answerable', 0)} answerable, "
        f"{counts.get('unanswerable', 0)} unanswerable), {counts.get('failed', 0)} failed",
        file=file,
    )
    width = max(len(n) for n in METRIC_NAMES)
    ci = report.get("metrics_ci") or {}
    for name in METRIC_NAMES:
        interval = fmt_ci(name, ci.get(name))
        line = f"  {name:<{width}}  {fmt(name, report['metrics'].get(name)):>8}"
        print(f"{line}  (95% CI {interval})" if interval else line, file=file)


def _check_thresholds(metrics: dict, thresholds: dict | None) -> int:
    from .thresholds import violations

    if not thresholds:
        return 0
    lines = violations(metrics, thresholds)
    for line in lines:
        print(f"ragbot: threshold: {line}", file=sys.stderr)
    return 1 if lines else 0


def cmd_eval(args, settings) -> int:
    """Run golden sets and write reports; or compare two reports; or fit the refusal gate."""
    from .report import load_report
    from .thresholds import load_thresholds

    thresholds = load_thresholds(args.thresholds) if getattr(args, "thresholds", None) else None
    if getattr(args, "compare", None):
        from .compare import compare_reports, format_comparison

        old, new = (load_report(p) for p in args.compare)
        print(format_comparison(compare_reports(old, new)))
        return _check_thresholds(new["metrics"], thresholds)

    from .golden import load_golden
    from .runner import collect_config, evaluate

    if not args.golden:
        raise InputError("name a golden set, e.g. `ragbot eval eval/golden/military-diplomacy.jsonl --out out/eval`")
    split = args.split
    if getattr(args, "calibrate", None) and not split:
        everything = load_golden(args.golden)
        split = "dev" if any(c.split == "dev" for c in everything) else None  # fit on dev, keep test unseen
    cases = load_golden(args.golden, split)
    chain = _build_chain(settings)
    config = collect_config(settings, args.golden, split)
    report = evaluate(chain, cases, config)
    if args.out or not getattr(args, "calibrate", None):
        from .report import write_reports

        paths = write_reports(report, args.out or DEFAULT_OUT)
        print(f"wrote {paths['json']}, {paths['md'].name}, {paths['html'].name}", file=sys.stderr)
    print_metrics(report)
    if getattr(args, "calibrate", None):
        from .calibrate import calibrate_gate

        summary = calibrate_gate(cases, report["cases"], args.calibrate, source=f"{', '.join(args.golden)} split {split or 'all'}")
        print(summary)
    return _check_thresholds(report["metrics"], thresholds)


def cmd_bench(args, settings) -> int:
    """Benchmarks by name (``eval.benches``); ``all`` runs every one. The worst exit code."""
    from .benches import BENCHES, bench_names

    code = 0
    for name in bench_names(getattr(args, "what", None), getattr(args, "data", None)):
        code = max(code, int(BENCHES[name].load()(args, settings) or 0))
    return code
