"""``ragbot bench squad2``: the answer chain on Wikipedia articles and SQuAD 2.0 questions nobody here wrote.

The data is a folder of ``articles/`` and ``questions.jsonl`` (``../shared/benchmarks/squad2``: 19
articles, see ``eval.datasets``), or SQuAD 2.0's official JSON given as ``--data``, converted into
such a folder first (:func:`from_official`). The articles are ingested through the normal pipeline
into a fresh temporary Chroma folder (or ``--persist-dir``, collection ``squad2``, incrementally), then
every question of each split goes through the real chain with the eval runner, so each split
gets the same report.json/md/html as ``ragbot eval`` (metrics with bootstrap intervals, the
risk-coverage curve, failing cases). ``--limit N`` keeps N questions per split, evenly spaced
through the file (so they spread over the split's articles and both kinds of question); the
index always holds all articles, so retrieval is as hard as in the full run.
"""
from __future__ import annotations

import dataclasses
import json
import random
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

SPLITS = ("dev", "test")
SPLIT_CHOICES = (*SPLITS, "all")
COLLECTION = "squad2"
HEADLINE = ("hit@5", "answer_pass_rate", "token_f1", "refusal_accuracy", "false_refusal_rate",
            "latency_p50_ms", "latency_p95_ms")
BY_TYPE = ("answer_pass_rate", "token_f1", "refusal_accuracy", "false_refusal_rate")  # per kind of question
CURVE_POINTS = 40  # risk-coverage points kept in squad2.json (report.json keeps them all)
NOTES = (
    "answer_pass_rate, token_f1 and false_refusal_rate are over answerable questions (a refusal is a miss "
    "and scores F1 0); refusal_accuracy over unanswerable ones; hit@5: the evidence sentence in one of the "
    "first 5 passages handed to the answer step",
    "intervals: 95% percentile bootstrap over the split's questions (1000 resamples, fixed seed)",
)


def check_selection(split: str, limit: int | None) -> None:
    """An InputError for an unknown split or a limit below 1."""
    if split not in SPLIT_CHOICES:
        raise InputError(f"unknown split {split!r}; known: {', '.join(SPLIT_CHOICES)}")
    if limit is not None and limit < 1:
        raise InputError(f"--limit must be at least 1, got {limit}")


def select_cases(cases: Sequence[GoldenCase], split: str = "all", limit: int | None = None) -> dict[str, list[GoldenCase]]:
    """``{split: cases}`` for ``dev``, ``test`` or both; with ``limit``, that many per split, evenly spaced."""
    check_selection(split, limit)
    chosen: dict[str, list[GoldenCase]] = {}
    for name in SPLITS if split == "all" else (split,):
        group = [c for c in cases if c.split == name]
        if limit is not None and limit < len(group):
            group = [group[i * len(group) // limit] for i in range(limit)]
        if group:
            chosen[name] = group
    if not chosen:
        raise InputError(f"no question has split {split!r}")
    return chosen


MISSING_SHARE = 1 / 3  # --missing-evidence: the share of each article's paragraphs left out


def paragraphs(text: str) -> list[str]:
    """An article's paragraphs (blank-line separated, as the benchmark's files are)."""
    return [p for p in re.split(r"\n\s*\n", text) if p.strip()]


def left_out(article: str, n: int, seed: int = 0) -> set[int]:
    """Which of an article's ``n`` paragraphs ``--missing-evidence`` leaves out: a third, seeded by
    the article's name, so every run and every split leaves out the same ones."""
    rng = random.Random(f"{seed}:{article}")
    return set(rng.sample(range(n), int(n * MISSING_SHARE)))


def with_missing_evidence(articles: Path, cases: Sequence[GoldenCase], work: Path) -> tuple[Path, list[GoldenCase]]:
    """The articles without a third of their paragraphs (written under ``work``), and the cases
    relabelled: an answerable question whose evidence paragraph is gone becomes unanswerable, of
    type ``missing-evidence``; the others are typed ``answerable`` and ``adversarial`` (SQuAD 2.0's
    own unanswerable questions), so the report's breakdown shows each kind's refusal apart."""
    kept_dir = work / "articles-missing-evidence"
    kept_dir.mkdir(parents=True, exist_ok=True)
    gone: dict[str, list[str]] = {}
    for path in sorted(articles.glob("*.txt")):
        paras = paragraphs(path.read_text(encoding="utf-8"))
        out = left_out(path.name, len(paras))
        gone[path.name] = [" ".join(paras[i].split()) for i in sorted(out)]
        (kept_dir / path.name).write_text("\n\n".join(p for i, p in enumerate(paras) if i not in out) + "\n", encoding="utf-8")
    relabelled = []
    for case in cases:
        if not case.answerable:
            relabelled.append(dataclasses.replace(case, extra={**case.extra, "type": "adversarial"}))
            continue
        evidence = " ".join((case.evidence or ("",))[0].split())
        missing = any(evidence and evidence in p for src in case.sources for p in gone.get(src, []))
        if missing:
            relabelled.append(dataclasses.replace(case, answerable=False, must_include_any=(), reference="",
                                                  extra={**case.extra, "type": "missing-evidence"}))
        else:
            relabelled.append(dataclasses.replace(case, extra={**case.extra, "type": "answerable"}))
    return kept_dir, relabelled


OFFICIAL_SPLIT = "test"  # every question of an official file: nothing here was fitted on it


def from_official(path: Path, folder: Path) -> Path:
    """SQuAD 2.0's official JSON (``data[].title``, ``paragraphs[].context``, ``qas[]``) as a
    benchmark folder under ``folder``: ``articles/<title>.txt`` (the title line, then the
    paragraphs, blank-line separated) and ``questions.jsonl`` in the golden-set format, every
    question of split ``test``; an answerable question's evidence is the sentence of its paragraph
    that holds its first answer."""
    from .jsonfile import read_json

    shape = "expected SQuAD 2.0's data[].title, data[].paragraphs[].context and .qas[]"
    raw = read_json(path, "SQuAD 2.0 JSON file", "not JSON")
    articles = folder / "articles"
    articles.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    try:
        for article in raw["data"]:
            name = article_file(article["title"])
            if (articles / name).exists():
                raise InputError(f"{path}: two articles would both be written as {name}")
            contexts = []
            for para in article["paragraphs"]:
                context = para["context"]
                contexts.append(context.strip())
                rows += [question_row(qa, context, name) for qa in para["qas"]]
            title = article["title"].replace("_", " ")
            (articles / name).write_text("\n\n".join([title, *contexts]) + "\n", encoding="utf-8")
    except (KeyError, TypeError, AttributeError) as exc:
        raise InputError(f"{path}: {shape} (missing or malformed: {exc})") from None
    if not rows:
        raise InputError(f"{path}: no questions; {shape}")
    (folder / "questions.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                                            encoding="utf-8")
    return folder


def article_file(title: str) -> str:
    """``"Sky_(United_Kingdom)"`` -> ``"Sky_United_Kingdom.txt"``: word characters only."""
    return re.sub(r"[\W_]+", "_", title).strip("_") + ".txt"


def question_row(qa: Mapping, context: str, source: str) -> dict:
    """One official question as a golden-set line: gold answers (distinct, in order) as alternatives,
    the first as the reference, the sentence holding it as evidence; unanswerable when it has none."""
    answers = [] if qa.get("is_impossible") else qa["answers"]
    row = {"id": f"sq-{qa['id']}", "question": qa["question"], "split": OFFICIAL_SPLIT, "answerable": bool(answers)}
    if answers:
        texts = list(dict.fromkeys(a["text"] for a in answers))
        row.update(must_include_any=[texts], reference=texts[0],
                   evidence=[evidence_sentence(context, answers[0]["text"], answers[0]["answer_start"])],
                   sources=[source])
    return row


def evidence_sentence(context: str, answer: str, start: int) -> str:
    """The sentence of ``context`` that holds the answer at ``start`` (found by its text when the
    offset does not point at it); the whole paragraph when no sentence does."""
    from rag.text import sentence_spans

    if context[start:start + len(answer)] != answer:
        start = max(context.find(answer), 0)
    for a, b in sentence_spans(context):
        if a <= start < b:
            return context[a:b]
    return context.strip()


def load_benchmark(source: Path, work: Path, missing_evidence: bool = False) -> tuple[Path, list[GoldenCase]]:
    """The articles folder and the questions of ``source`` (a benchmark folder, or the official JSON
    converted under ``work``), with a third of the paragraphs left out for ``--missing-evidence``."""
    folder = from_official(source, work / "data") if source.is_file() else source
    articles = folder / "articles"
    if not articles.is_dir():
        raise InputError(f"{articles}: missing; SQuAD 2.0's data is {FORMS['squad2']}")
    cases = load_golden([folder / "questions.jsonl"])
    if missing_evidence:
        return with_missing_evidence(articles, cases, work)
    return articles, cases


def bench_settings(settings, work: Path, persist_dir: str | None = None, collection: str | None = None):
    """The user's chunking, embedding and answer settings on a local index of its own."""
    return dataclasses.replace(
        settings, persist_dir=persist_dir or str(work / "chroma"), collection=collection or COLLECTION,
        chroma_host=None, corpus_dir=str(work / "corpus"),
    )


def thin_curve(points: Sequence[Mapping], n: int = CURVE_POINTS) -> list[dict]:
    """At most ``n`` risk-coverage points, evenly spaced by coverage, both ends kept."""
    pts = sorted(points, key=lambda p: p["coverage"])
    if len(pts) <= n:
        return [dict(p) for p in pts]
    return [dict(pts[round(i * (len(pts) - 1) / (n - 1))]) for i in range(n)]


def split_figures(report: Mapping) -> dict:
    """The headline figures of one split's report, with their intervals and the gate's curve."""
    rc = report.get("risk_coverage") or {}
    ci = report.get("metrics_ci") or {}
    counts = report.get("counts", {})
    return {
        "cases": counts.get("cases", 0),
        "answerable": counts.get("answerable", 0),
        "unanswerable": counts.get("unanswerable", 0),
        "errors": counts.get("errors", 0),
        **{name: _round(report["metrics"].get(name)) for name in HEADLINE},
        "ci95": {name: ci.get(name) for name in HEADLINE},
        "confidence_ece": _round(report["metrics"].get("confidence_ece")),
        "risk_coverage": {"threshold": rc.get("threshold"), "current": rc.get("current"), "levels": rc.get("levels") or {},
                          "points": thin_curve(rc.get("points") or [])},
        "by_type": {kind: {"cases": b.get("n"), **{name: _round(b.get(name)) for name in BY_TYPE}}
                    for kind, b in ((report.get("breakdown") or {}).get("type") or {}).items()},
    }


def _round(value):
    # 6 places: the table rounds again to 3, and 4 here would round 0.30554 to 0.3055, then to 0.305
    return None if value is None else round(float(value), 6)


def run_squad2(
    settings,
    *,
    data_dir: str | Path | None = None,
    split: str = "all",
    limit: int | None = None,
    out: str | Path = "bench-out/squad2",
    persist_dir: str | None = None,
    collection: str | None = None,
    embeddings=None,
    progress: bool = False,
    missing_evidence: bool = False,
    calibrate: bool = False,
) -> dict:
    """Ingest the articles, answer each split's questions through the chain, write a report per split.

    ``data_dir``: a benchmark folder or the official JSON (see :func:`from_official`); by default
    where ``eval.datasets`` finds squad2. ``calibrate``: fit the collection's decision on the dev
    split's answers before test is answered (dev is then always answered). Returns the bench result (``eval.bench.bench_result``)
    whose figures hold one entry per split.
    """
    from rag import build_chain

    from .bench import bench_result, drop_work
    from .runner import collect_config

    check_selection(split, limit)  # before the data is looked for: a bad option is the first thing to say
    source = benchmark_dir("squad2", data_dir)
    work = Path(tempfile.mkdtemp(prefix="ragbot-squad2-"))
    bench = bench_settings(settings, work, persist_dir, collection)
    try:
        articles, cases = load_benchmark(source, work, missing_evidence)
        chosen = select_cases(cases, "all" if calibrate else split, limit)
        if embeddings is None:
            from rag.embeddings import SentenceEmbeddings

            embeddings = SentenceEmbeddings(bench.embedding_model, bench.embedding_backend, bench.embed_batch_size)
        figures: dict = {"index": ingest_articles(articles, bench, embeddings, persist_dir, progress)}
        chain = build_chain(bench, embeddings=embeddings)
        config = collect_config(bench, [str(source if source.is_file() else source / "questions.jsonl")])
        for name, cases in chosen.items():
            figures[name], report = answer_split(chain, name, cases, config, Path(out) / name, progress)
            if calibrate and name == "dev":
                figures["calibration"] = calibrate_on_dev(bench, cases, report)
    finally:
        drop_work(bench, work)
    notes = list(NOTES)
    if missing_evidence:
        notes.append("--missing-evidence: a seeded third of each article's paragraphs left out; answerable questions "
                     "whose evidence went are unanswerable (type missing-evidence), SQuAD 2.0's own are type adversarial")
    if calibrate:
        notes.append(CALIBRATED_NOTE)
    if limit is not None:
        notes.append(f"--limit {limit}: a subset of each split's questions, not the benchmark's figures")
    result = bench_result("squad2", figures, limit=limit, notes=notes)
    result["settings"] = settings_summary(settings)
    return result


def settings_summary(settings) -> dict:
    """The settings a benchmark's figures depend on, as its result records them."""
    return {
        "mode": settings.mode, "k": settings.k, "fetch_k": settings.fetch_k,
        "embedding_model": settings.embedding_model, "embedding_backend": settings.embedding_backend,
        "chunk_size": settings.chunk_size, "chunk_overlap": settings.chunk_overlap,
    }


def ingest_folder(folder: Path, bench, embeddings, persist_dir: str | None, progress: bool = False) -> dict:
    """Ingest a folder into a benchmark's index; what the index holds and how long it took."""
    from ingest.pipeline import ingest

    t0 = time.perf_counter()
    summary = ingest([folder], bench, embeddings=embeddings, progress=progress)
    return {
        "chunks": getattr(summary, "chunks_total", None),
        "files_added": getattr(summary, "added", None),
        "files_unchanged": getattr(summary, "unchanged", None),
        "ingest_seconds": round(time.perf_counter() - t0, 1),
        "persist_dir": persist_dir or "(temporary)",
    }


def ingest_articles(articles: Path, bench, embeddings, persist_dir: str | None, progress: bool = False) -> dict:
    """Ingest the article files into the benchmark's index; what the index holds and how long it took."""
    count = sum(1 for p in articles.iterdir() if p.suffix == ".txt")
    return {"articles": count, **ingest_folder(articles, bench, embeddings, persist_dir, progress)}


def answer_split(chain, name: str, cases, config: dict, out: Path, progress: bool = False) -> tuple[dict, dict]:
    """Answer one split's questions, write its reports under ``out``; the split's figures and report."""
    from .report import write_reports
    from .runner import evaluate

    report = evaluate(chain, cases, {**config, "split": name, "benchmark": "squad2"}, progress=progress)
    paths = write_reports(report, out)
    return {**split_figures(report), "report": str(paths["json"])}, report


_COLUMNS = (("hit@5", "hit@5"), ("answer pass", "answer_pass_rate"), ("token F1", "token_f1"),
            ("refusal acc", "refusal_accuracy"), ("false refusal", "false_refusal_rate"),
            ("p50 ms", "latency_p50_ms"), ("p95 ms", "latency_p95_ms"))


def _shown(name: str, value, interval) -> str:
    from .report import fmt, fmt_ci

    return f"{fmt(name, value)} ({fmt_ci(name, interval)})" if interval else fmt(name, value)


def format_table(result: Mapping) -> str:
    """One row per split: each headline figure with its 95% interval in brackets."""
    figures = result["figures"]
    index = figures.get("index", {})
    head = (f"SQuAD 2.0 ({index.get('articles', '?')} articles, {index.get('chunks') or '?'} chunks, "
            f"ingested in {index.get('ingest_seconds', '?')} s; mode {result.get('settings', {}).get('mode', '?')})")
    if result.get("limit"):
        head += f"; --limit {result['limit']} questions per split"
    splits = [s for s in SPLITS if s in figures]
    rows = [[s, f"{figures[s]['cases']} ({figures[s]['unanswerable']} unans.)"]
            + [_shown(key, figures[s].get(key), figures[s]["ci95"].get(key)) for _, key in _COLUMNS] for s in splits]
    headers = ["split", "questions", *(label for label, _ in _COLUMNS)]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    kinds = [f"{s} {kind}: {b['cases']} questions, " + ", ".join(f"{n} {b[n]:.3f}" for n in BY_TYPE if b.get(n) is not None)
             for s in splits for kind, b in sorted(figures[s].get("by_type", {}).items())]
    return "\n".join([head, line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows), *kinds,
                      *calibration_line(figures),
                      "(95% bootstrap intervals in brackets; per-split reports: report.json/md/html)"])


def plot_curves(result: Mapping, ax) -> None:
    """The refusal gate's risk-coverage curve of each split, the run's threshold and each refusal level marked."""
    from .plots import LEVEL_MARKERS

    for split, colour in zip(SPLITS, ("#4a7ab5", "#c0504d")):
        fig = result["figures"].get(split)
        if not fig:
            continue
        rc = fig["risk_coverage"]
        pts = rc.get("points") or []
        ax.plot([p["coverage"] for p in pts], [p["risk"] for p in pts], color=colour, label=split)
        cur = rc.get("current")
        if cur and cur.get("risk") is not None:
            ax.plot([cur["coverage"]], [cur["risk"]], "o", color=colour)
        for name, mark in (rc.get("levels") or {}).items():  # open markers: the refusal levels
            if mark.get("risk") is not None:
                ax.plot([mark["coverage"]], [mark["risk"]], LEVEL_MARKERS.get(name, "D"), color=colour, fillstyle="none")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("coverage (share of questions answered)")
    ax.set_ylabel("risk (share of answered wrong)")
    ax.set_title("SQuAD 2.0: risk-coverage (dot: current threshold; square, diamond, triangle: strict, balanced, lenient)",
                 fontsize=9)
    ax.legend(fontsize=8)


def cmd_squad2(args, settings) -> int:
    """Run the benchmark, print the table, write ``<out>/squad2/{squad2.json,squad2.png,<split>/report.*}``."""
    from .bench import write_result

    out = Path(getattr(args, "out", None) or "bench-out") / "squad2"
    result = run_squad2(
        settings,
        data_dir=getattr(args, "data", None),
        split=getattr(args, "split", None) or "all",
        limit=getattr(args, "limit", None),
        out=out,
        persist_dir=getattr(args, "persist_dir", None),
        collection=getattr(args, "collection", None),
        progress=sys.stderr.isatty(),
        missing_evidence=bool(getattr(args, "missing_evidence", False)),
        calibrate=bool(getattr(args, "calibrate", False)),
    )
    print(format_table(result))
    paths = write_result(result, out, plot=plot_curves)
    print(f"wrote {', '.join(str(p) for p in paths)} and the reports under {out}", file=sys.stderr)
    return 0
