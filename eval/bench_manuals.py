"""``ragbot bench manuals``: the answer chain on manual pages, FAQs and READMEs as people have them.

The data is a folder of ``docs/`` and ``questions.jsonl`` in the golden-set format
(``../shared/benchmarks/manuals``: 24 documents, see ``eval.datasets``), each question with its
``split`` (dev or test, by document) and ``kind`` (option, meaning, default, howto, value, twopart,
prose, unanswerable). The documents are ingested through the normal pipeline into a fresh
temporary index (or ``--persist-dir``, collection ``manuals``), every question of the chosen split
goes through the real chain with the eval runner, and each split gets report.json/md/html as
``ragbot eval`` writes them, so two runs compare paired with ``ragbot eval --compare OLD NEW``.

The manuals are hard-wrapped: an evidence snippet spans line breaks and indentation, and a word
is hyphenated across a line break (U+2010 in the man pages). Chunks, quotes and answers may show
the text reflowed or as written, so both sides are compared in one form (:func:`reflowed`), then
as ``eval.metrics`` compares them (whitespace, case and quotes normalised). Beside the eval
metrics, each split reports the quotes' quality (:func:`quote_figures`): how many end at a
sentence's or an entry's end (:func:`quote_end`), how many end in a line-break hyphen, and how
many retrieved passages are made only of a manual's title and footer lines (:func:`is_furniture`).
"""
from __future__ import annotations

import dataclasses
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Mapping, Sequence

from rag.errors import InputError

from .calibrate import CALIBRATED_NOTE, calibrate_on_dev, calibration_line
from .datasets import FORMS, benchmark_dir
from .golden import GoldenCase, load_golden
from .squad2 import SPLITS, _round, check_selection, ingest_folder, select_cases, settings_summary, thin_curve

DEFAULT_SPLIT = "dev"  # test is looked at rarely (the data's README): name it to run it
COLLECTION = "manuals"
HEADLINE = ("hit@5", "answer_pass_rate", "token_f1", "refusal_accuracy", "false_refusal_rate", "faithfulness",
            "latency_p50_ms", "latency_p95_ms")
BY_KIND = ("hit@5", "answer_pass_rate", "token_f1", "refusal_accuracy", "false_refusal_rate", "faithfulness")
NOTES = (
    "hit@5, answer_pass_rate, token_f1, faithfulness and false_refusal_rate are over answerable questions (a "
    "refusal is a miss and scores F1 0); refusal_accuracy over unanswerable ones; hit@5: the evidence text in "
    "one of the first 5 passages handed to the answer step",
    "texts compared reflowed: a word hyphenated across a line break joined, a hyphen inside a word ignored, "
    "whitespace runs as one space, case ignored",
    "quotes: a quote ends at a sentence's end (. ! ?) or an entry's end (its source line ends there and the next "
    "line is blank, a list item, or indented no deeper than the entry's term line); furniture: a retrieved "
    "passage made only of a manual's title and footer lines",
    "latency: after one untimed warm-up question, as `ragbot eval`; intervals: 95% percentile bootstrap "
    "(1000 resamples, fixed seed); compare two runs paired with `ragbot eval --compare OLD/dev/report.json "
    "NEW/dev/report.json`",
)


# ---------------------------------------------------------------- the data


def load_manuals(folder: Path, questions: str | Path | None = None) -> tuple[Path, list[GoldenCase]]:
    """The ``docs/`` folder and the questions of a manuals benchmark folder (or of ``questions``, a
    golden-set file of one's own about the same documents), each question typed by its ``kind`` (so
    the report breaks figures down by kind); an InputError for a missing part or a question whose
    source is not in ``docs/``."""
    docs = folder / "docs"
    if not docs.is_dir():
        raise InputError(f"{docs}: missing; the manuals data is {FORMS['manuals']}")
    questions = Path(questions) if questions is not None else folder / "questions.jsonl"
    if not questions.is_file():
        raise InputError(f"{questions}: missing; the manuals data is {FORMS['manuals']}")
    cases = load_golden([questions])
    present = {p.name for p in docs.iterdir() if p.is_file()}
    for case in cases:
        absent = [s for s in case.sources if s not in present]
        if absent:
            raise InputError(f"{case.origin}: case {case.id!r} names {absent[0]!r}, which is not in {docs}")
    return docs, [dataclasses.replace(c, extra={**c.extra, "type": c.extra.get("kind") or c.type}) for c in cases]


# ---------------------------------------------------------------- texts compared reflowed

# A word hyphenated across a line break: the hyphen, the break and the indentation around it.
# U+2010 (groff's hyphen) only ever ends a line in these pages, so before whitespace of any kind it
# is a line-break hyphen. An ASCII hyphen is one after two letters before a line break, or before one
# space and a lower-case letter: a break that an answer, a reflowed chunk or the data's own short
# answers ("any application- provided memory") flattened to a space. A term such as "N-     from"
# (one letter) or "-" alone is left as it is.
_BREAK_HYPHEN = re.compile(r"(?<=\w)\u2010\s+|(?<=[^\W\d_]{2})-(?:[ \t]*\r?\n\s*| (?=[a-z]))")
# A hyphen inside a word ("time-stamping"): ignored, so that a hyphen at a line break matches the
# text whether the reader kept it ("time-stamping") or joined the word ("timestamping").
_WORD_HYPHEN = re.compile(r"(?<=[^\W\d_])[-\u2010](?=[^\W\d_])")


def reflowed(text: str) -> str:
    """The text as this benchmark compares it: line-break hyphens joined, hyphens inside words dropped.
    (Whitespace, case and quotes are left to ``eval.metrics.normalize``.)"""
    return _WORD_HYPHEN.sub("", _BREAK_HYPHEN.sub("", text or ""))


def comparable_case(case: GoldenCase) -> GoldenCase:
    """The case with its evidence, short answers and reference reflowed."""
    return dataclasses.replace(
        case, evidence=tuple(reflowed(e) for e in case.evidence), reference=reflowed(case.reference),
        must_include_any=tuple(tuple(reflowed(a) for a in group) for group in case.must_include_any))


def comparable_answer(answer: Mapping) -> dict:
    """A copy of an answer dict with its text, short answer, quotes and passages reflowed."""
    out = dict(answer)
    out["answer"] = reflowed(answer.get("answer", ""))
    if answer.get("short_answer"):
        out["short_answer"] = {**answer["short_answer"], "text": reflowed(answer["short_answer"].get("text", ""))}
    out["citations"] = [{**c, "quote": reflowed(c.get("quote", ""))} for c in answer.get("citations") or []]
    out["retrieved"] = [{**p, "text": reflowed(p.get("text", ""))} for p in answer.get("retrieved") or []]
    return out


# ---------------------------------------------------------------- quotes and page furniture

_SENTENCE_END = re.compile(r"[.!?][\"'’”)\]]*$")
_LIST_ITEM = re.compile(r"[-*+•]\s|\d{1,3}[.)]\s")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def quote_end(quote: str, source: str | None, end: int | None) -> str:
    """Where a quote ends: ``"sentence"``, ``"entry"`` or ``"cut"``.

    The rule: a quote whose text (trailing spaces and closing quotes or brackets aside) ends in
    ``.``, ``!`` or ``?`` ends at a sentence's end. Otherwise it ends at an entry's end when, in
    its source file, only spaces follow its end offset up to a line break (or the file's end), and
    the next line is blank, missing, a list item ("- ", "* ", "1. ") indented no deeper than the
    quote's last line, or a line indented no deeper than the entry's term line: the nearest line
    above the quote's last line (blank lines skipped) that is indented less than it (an option's
    line above its description; a section heading above a paragraph). A paragraph with no such
    line ends only at a blank line. A quote that ends in a line-break hyphen, anything else, or no
    source to look at, is cut.
    """
    if _SENTENCE_END.search(quote.rstrip()):
        return "sentence"
    if source is None or end is None or not 0 < end <= len(source) or ends_in_break_hyphen(quote, source, end):
        return "cut"
    rest = source[end:]
    tail = rest.lstrip(" \t")
    if tail and not tail.startswith(("\n", "\r")):
        return "cut"
    lines = source[:end].split("\n")
    last = lines[-1]
    following = tail.lstrip("\r").split("\n", 2)
    nxt = following[1] if len(following) > 1 else ""
    if not nxt.strip():
        return "entry"
    if _indent(nxt) <= _indent(last) and _LIST_ITEM.match(nxt.lstrip()):
        return "entry"
    term = next((ln for ln in reversed(lines[:-1]) if ln.strip() and _indent(ln) < _indent(last)), None)
    return "entry" if term is not None and _indent(nxt) <= _indent(term) else "cut"


def ends_in_break_hyphen(quote: str, source: str | None, end: int | None) -> bool:
    """Whether a quote ends in a word's hyphen at a line break: U+2010 (which only ends lines in
    these pages), or ``-`` after a letter where the source's line breaks after the quote's end."""
    text = quote.rstrip()
    if text.endswith("\u2010"):
        return True
    if not re.search(r"[^\W\d_]-$", text):
        return False
    if source is None or end is None:
        return False
    return source[end:].lstrip(" \t").startswith(("\n", "\r"))


# A manual's title line ("CUT(1)  User Commands  CUT(1)") and footer line ("GNU coreutils 9.1
# September 2022  CUT(1)", "local  GZIP(1)", a lone "PYTHON(1)"), whitespace runs collapsed,
# since chunks may be reflowed.
_PAGE = r"[A-Z][A-Z0-9_.+-]*\(\d[a-z]*\)"
_TITLE = rf"(?P<page>{_PAGE}) [^\n]{{0,60}}? (?P=page)"
_FOOTER = rf"(?:[^\n.!?]{{0,60}}?[0-9][^\n]{{0,20}}? |[a-z]{{1,12}} )?{_PAGE}"
_TITLES = re.compile(rf"(?:^| ){_TITLE}(?= |$)")
_FOOTERS = re.compile(rf"{_FOOTER}(?: {_FOOTER})*")


def is_furniture(text: str) -> bool:
    """Whether a passage is made only of manual title and footer lines."""
    flat = " ".join((text or "").split())
    rest = " ".join(_TITLES.sub(" ", flat).split())
    return bool(flat) and (not rest or _FOOTERS.fullmatch(rest) is not None)


def quote_figures(answers: Sequence[Mapping], docs: Path) -> dict:
    """Quote quality over answers: how many quotes end at a sentence's or an entry's end, how many end
    in a line-break hyphen, how many do not slice their file to their text (reflowed), and how
    many retrieved passages (and questions) are page furniture only."""
    from rag.origin import reflowed as reflowed_source

    from .metrics import normalize

    texts: dict[str, str | None] = {}

    def source_text(name: str) -> str | None:
        if name not in texts:
            path = docs / name
            texts[name] = path.read_text(encoding="utf-8") if path.is_file() else None
        return texts[name]

    ends = {"sentence": 0, "entry": 0, "cut": 0}
    hyphens = unsliced = furniture = furniture_top = with_furniture = 0
    for answer in answers:
        for c in answer.get("citations") or []:
            source = source_text(c.get("source", ""))
            quote, start, end = c.get("quote", ""), c.get("start"), c.get("end")
            ends[quote_end(quote, source, end)] += 1
            hyphens += ends_in_break_hyphen(quote, source, end)
            # the chain's own promise (rag.origin): the span, reflowed as ingestion reads it, is the quote
            if source is None or start is None or end is None or \
                    normalize(reflowed_source(source[start:end])) != normalize(reflowed_source(quote)):
                unsliced += 1
        flags = [is_furniture(p.get("text", "")) for p in answer.get("retrieved") or []]
        furniture += sum(flags)
        furniture_top += bool(flags[:1] and flags[0])
        with_furniture += any(flags)
    quotes = sum(ends.values())
    return {
        "quotes": quotes,
        "quote_end_share": round((ends["sentence"] + ends["entry"]) / quotes, 4) if quotes else None,
        "quotes_at_sentence_end": ends["sentence"],
        "quotes_at_entry_end": ends["entry"],
        "quotes_cut": ends["cut"],
        "quotes_ending_in_break_hyphen": hyphens,
        "quotes_not_slicing_their_file": unsliced,
        "furniture_passages": furniture,
        "questions_with_furniture_retrieved": with_furniture,
        "questions_with_furniture_first": furniture_top,
    }


# ---------------------------------------------------------------- running


def bench_settings(settings, work: Path, persist_dir: str | None = None, collection: str | None = None):
    """The user's chunking, embedding and answer settings on a local index of its own."""
    return dataclasses.replace(
        settings, persist_dir=persist_dir or str(work / "chroma"), collection=collection or COLLECTION,
        chroma_host=None, corpus_dir=str(work / "corpus"),
    )


def evaluate_manuals(chain, cases: Sequence[GoldenCase], config: Mapping, docs: Path, progress: bool = False) -> dict:
    """The eval report of the cases (``eval.runner``), its metrics computed on reflowed texts while
    its cases keep the answers as given, with the quote figures added under ``quotes``."""
    from .runner import run_cases, warm_up

    config = dict(config)
    if cases:
        config["warmup_ms"] = round(warm_up(chain, cases[0]), 1)
    t0 = time.perf_counter()
    results = run_cases(chain, cases, progress=progress)
    config["seconds"] = round(time.perf_counter() - t0, 2)
    return score_manuals(cases, results, config, docs)


def score_manuals(cases: Sequence[GoldenCase], results: Sequence[tuple], config: Mapping, docs: Path) -> dict:
    """The report of answers already given (``(answer, ms, error)`` per case, as ``eval.runner``
    returns them): metrics on reflowed texts, the answers kept as given, and the quote figures."""
    from .runner import build_report

    report = build_report([comparable_case(c) for c in cases],
                          [(comparable_answer(a), ms, err) for a, ms, err in results], config)
    for row, (answer, _, _) in zip(report["cases"], results):
        row.update({k: answer[k] for k in ("answer", "short_answer", "citations", "retrieved") if k in answer})
    answers = [a for a, _, _ in results]
    report["quotes"] = quote_figures(answers, docs)
    kinds = sorted({c.type for c in cases})
    report["quotes_by_kind"] = {k: quote_figures([a for a, c in zip(answers, cases) if c.type == k], docs) for k in kinds}
    return report


# What ``eval.runner.build_report`` adds to an answer dict to make a report.json case row.
_ROW_KEYS = ("id", "answerable", "type", "split", "history", "metrics", "failures", "error")


def rescore_report(report: Mapping, cases: Sequence[GoldenCase], docs: Path) -> dict:
    """Another run's report.json (``ragbot eval`` of these questions by an earlier chain) scored as
    this benchmark scores: each case's answer and latency taken from the row of its id; an
    InputError for a case the report lacks."""
    rows = {row.get("id"): row for row in report.get("cases") or []}
    missing = [c.id for c in cases if c.id not in rows]
    if missing:
        raise InputError(f"the report has no case {missing[0]!r} ({len(missing)} of {len(cases)} missing)")
    results = []
    for case in cases:
        row = rows[case.id]
        answer = {k: v for k, v in row.items() if k not in _ROW_KEYS}
        results.append((answer, (row.get("metrics") or {}).get("latency_ms") or 0.0, row.get("error", "")))
    return score_manuals(cases, results, {**(report.get("config") or {}), "rescored": True}, docs)


def split_figures(report: Mapping) -> dict:
    """The headline figures of one split's report, with their intervals, its quote figures and a
    breakdown by kind."""
    rc = report.get("risk_coverage") or {}
    ci = report.get("metrics_ci") or {}
    counts = report.get("counts", {})
    by_kind = (report.get("breakdown") or {}).get("type") or {}
    quotes_by_kind = report.get("quotes_by_kind") or {}
    return {
        "cases": counts.get("cases", 0),
        "answerable": counts.get("answerable", 0),
        "unanswerable": counts.get("unanswerable", 0),
        "errors": counts.get("errors", 0),
        **{name: _round(report["metrics"].get(name)) for name in HEADLINE},
        "ci95": {name: ci.get(name) for name in HEADLINE},
        "quotes": dict(report.get("quotes") or {}),
        "risk_coverage": {"threshold": rc.get("threshold"), "current": rc.get("current"),
                          "points": thin_curve(rc.get("points") or [])},
        "by_kind": {kind: {"cases": b.get("n"), **{name: _round(b.get(name)) for name in BY_KIND},
                           "quote_end_share": (quotes_by_kind.get(kind) or {}).get("quote_end_share")}
                    for kind, b in by_kind.items()},
    }


def run_manuals(
    settings,
    *,
    data_dir: str | Path | None = None,
    split: str = DEFAULT_SPLIT,
    limit: int | None = None,
    out: str | Path = "bench-out/manuals",
    persist_dir: str | None = None,
    collection: str | None = None,
    embeddings=None,
    progress: bool = False,
    questions: str | Path | None = None,
    calibrate: bool = False,
) -> dict:
    """Ingest the documents, answer the split's questions through the chain, write a report per split.

    ``questions``: a golden-set file to ask instead of the data's own questions.jsonl (the manuals
    follow-ups in eval/golden/, say); its ``sources`` name files of ``docs/``. ``calibrate``: fit the
    collection's decision on the dev split's answers before test is answered (dev is then always answered). Returns the bench result (``eval.bench.bench_result``) whose figures hold the index and one
    entry per split.
    """
    from rag import build_chain

    from .bench import bench_result, drop_work
    from .report import write_reports
    from .runner import collect_config

    check_selection(split, limit)  # a bad option is the first thing to say
    source = benchmark_dir("manuals", data_dir)
    docs, cases = load_manuals(source, questions)
    chosen = select_cases(cases, "all" if calibrate else split, limit)
    work = Path(tempfile.mkdtemp(prefix="ragbot-manuals-"))
    bench = bench_settings(settings, work, persist_dir, collection)
    try:
        if embeddings is None:
            from rag.embeddings import SentenceEmbeddings

            embeddings = SentenceEmbeddings(bench.embedding_model, bench.embedding_backend, bench.embed_batch_size)
        figures: dict = {"index": ingest_docs(docs, bench, embeddings, persist_dir, progress)}
        chain = build_chain(bench, embeddings=embeddings)
        config = collect_config(bench, [str(questions or source / "questions.jsonl")])
        for name, group in chosen.items():
            report = evaluate_manuals(chain, group, {**config, "split": name, "benchmark": "manuals"}, docs, progress)
            paths = write_reports(report, Path(out) / name)
            figures[name] = {**split_figures(report), "report": str(paths["json"])}
            if calibrate and name == "dev":
                figures["calibration"] = calibrate_on_dev(bench, group, report)
    finally:
        drop_work(bench, work)
    notes = list(NOTES)
    if calibrate:
        notes.append(CALIBRATED_NOTE)
    if limit is not None:
        notes.append(f"--limit {limit}: a subset of each split's questions, not the benchmark's figures")
    result = bench_result("manuals", figures, limit=limit, notes=notes)
    result["settings"] = settings_summary(settings)
    return result


def ingest_docs(docs: Path, bench, embeddings, persist_dir: str | None, progress: bool = False) -> dict:
    """Ingest the documents into the benchmark's index; what the index holds and how long it took."""
    count = sum(1 for p in docs.iterdir() if p.is_file())
    return {"documents": count, **ingest_folder(docs, bench, embeddings, persist_dir, progress)}


# ---------------------------------------------------------------- output

_COLUMNS = (("hit@5", "hit@5"), ("pass", "answer_pass_rate"), ("F1", "token_f1"), ("refusal", "refusal_accuracy"),
            ("false ref.", "false_refusal_rate"), ("faithful", "faithfulness"), ("p50 ms", "latency_p50_ms"),
            ("p95 ms", "latency_p95_ms"))


def format_table(result: Mapping) -> str:
    """A row per split (each figure with its 95% interval in brackets), its quote figures, then a line per kind."""
    from .report import fmt, fmt_ci

    figures = result["figures"]
    index = figures.get("index", {})
    head = (f"manuals ({index.get('documents', '?')} documents, {index.get('chunks') or '?'} chunks, ingested in "
            f"{index.get('ingest_seconds', '?')} s; mode {result.get('settings', {}).get('mode', '?')})")
    if result.get("limit"):
        head += f"; --limit {result['limit']} questions per split"
    splits = [s for s in SPLITS if s in figures]

    def shown(split: str, key: str) -> str:
        interval = figures[split]["ci95"].get(key)
        value = fmt(key, figures[split].get(key))
        return f"{value} ({fmt_ci(key, interval)})" if interval else value

    rows = [[s, f"{figures[s]['cases']} ({figures[s]['unanswerable']} unans.)"] + [shown(s, k) for _, k in _COLUMNS]
            for s in splits]
    headers = ["split", "questions", *(label for label, _ in _COLUMNS)]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    quotes = []
    for s in splits:
        q = figures[s]["quotes"]
        share = "n/a" if q.get("quote_end_share") is None else f"{q['quote_end_share']:.3f}"
        quotes.append(f"{s} quotes: {q['quotes']}, {share} end at a sentence's or entry's end "
                      f"({q['quotes_at_sentence_end']} sentence, {q['quotes_at_entry_end']} entry, {q['quotes_cut']} cut); "
                      f"{q['quotes_ending_in_break_hyphen']} end in a line-break hyphen; "
                      f"{q['quotes_not_slicing_their_file']} do not slice their file; "
                      f"{q['furniture_passages']} furniture passages retrieved "
                      f"({q['questions_with_furniture_first']} ranked first)")
    kinds = [f"{s} {kind}: {b['cases']} questions, "
             + ", ".join(f"{n} {b[n]:.3f}" for n in (*BY_KIND, "quote_end_share") if b.get(n) is not None)
             for s in splits for kind, b in sorted(figures[s]["by_kind"].items())]
    return "\n".join([head, line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows), *quotes, *kinds,
                      *calibration_line(figures), "(95% bootstrap intervals in brackets; per-split reports: report.json/md/html)"])


def plot_kinds(result: Mapping, ax) -> None:
    """Per kind of question and split: answer pass (refusal for the unanswerable)."""
    splits = [s for s in SPLITS if s in result["figures"]]
    kinds = sorted({k for s in splits for k in result["figures"][s]["by_kind"]})
    width = 0.8 / max(len(splits), 1)
    for i, (split, colour) in enumerate(zip(splits, ("#4a7ab5", "#c0504d"))):
        by_kind = result["figures"][split]["by_kind"]
        values = [(by_kind.get(k) or {}).get("refusal_accuracy" if k == "unanswerable" else "answer_pass_rate") or 0
                  for k in kinds]
        ax.bar([x + i * width for x in range(len(kinds))], values, width, color=colour, label=split)
    ax.set_xticks([x + width * (len(splits) - 1) / 2 for x in range(len(kinds))], kinds, fontsize=8, rotation=20)
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("answer pass (unanswerable: refusal)")
    ax.set_title("manuals: answer pass by kind of question")
    ax.legend(fontsize=8)


def cmd_manuals(args, settings) -> int:
    """Run the benchmark, print the table, write ``<out>/manuals/{manuals.json,manuals.png,<split>/report.*}``."""
    from .bench import write_result

    out = Path(getattr(args, "out", None) or "bench-out") / "manuals"
    result = run_manuals(
        settings,
        data_dir=getattr(args, "data", None),
        split=getattr(args, "split", None) or DEFAULT_SPLIT,
        limit=getattr(args, "limit", None),
        out=out,
        persist_dir=getattr(args, "persist_dir", None),
        collection=getattr(args, "collection", None),
        progress=sys.stderr.isatty(),
        questions=getattr(args, "golden", None),
        calibrate=bool(getattr(args, "calibrate", False)),
    )
    print(format_table(result))
    paths = write_result(result, out, plot=plot_kinds)
    print(f"wrote {', '.join(str(p) for p in paths)} and the reports under {out}", file=sys.stderr)
    return 0
