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
    for name in sorted(set(report["metrics"]) - set(METRIC_NAMES)):  # confidence_ece, when answers carry one
        print(f"  {name:<{width}}  {fmt(name, report['metrics'][name]):>8}", file=file)


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
    gate_out = getattr(args, "calibrate_gate", None)
    calibrating = bool(getattr(args, "calibrate", False) or gate_out)
    if calibrating and not split:
        everything = load_golden(args.golden)
        split = "dev" if any(c.split == "dev" for c in everything) else None  # fit on dev, keep test unseen
    cases = load_golden(args.golden, split)
    chain = _build_chain(settings)
    config = collect_config(settings, args.golden, split)
    report = evaluate(chain, cases, config)
    if args.out or not calibrating:
        from .report import write_reports

        paths = write_reports(report, args.out or DEFAULT_OUT)
        print(f"wrote {paths['json']}, {paths['md'].name}, {paths['html'].name}", file=sys.stderr)
    print_metrics(report)
    source = f"{', '.join(args.golden)} split {split or 'all'}"
    if gate_out:
        from .calibrate import calibrate_gate

        print(calibrate_gate(cases, report["cases"], gate_out, source=source))
    if getattr(args, "calibrate", False):
        _calibrate_collection(settings, cases, report["cases"], source)
    return _check_thresholds(report["metrics"], thresholds)


def _calibrate_collection(settings, cases, answers, source: str) -> None:
    """Fit and store the collection's decision; with too few questions, one line and no change."""
    from rag.answer.decision import read_decision

    from .calibrate import TooFewCases, calibrate_collection

    try:
        print(calibrate_collection(settings, cases, answers, source=source))
    except TooFewCases as exc:
        kept = read_decision(settings)
        whose = f"the decision stored on {kept.get('created', '?')}" if kept else "the shipped decision"
        print(f"ragbot: calibration: not fitted: {exc}; collection {settings.collection!r} keeps {whose}", file=sys.stderr)


def cmd_bench(args, settings) -> int:
    """Benchmarks by name (``eval.benches``); ``all`` runs every one. The worst exit code."""
    from .benches import BENCHES, bench_names

    code = 0
    for name in bench_names(getattr(args, "what", None), getattr(args, "data", None)):
        code = max(code, int(BENCHES[name].load()(args, settings) or 0))
    return code
