"""``ragbot bench squad2``: the answer chain on Wikipedia articles and SQuAD 2.0 questions nobody here wrote.

The 19 articles of ``eval/data/squad2/articles`` are ingested through the normal pipeline into a
fresh temporary Chroma folder (or ``--persist-dir``, collection ``squad2``, incrementally), then
every question of each split goes through the real chain with the eval runner, so each split
gets the same report.json/md/html as ``ragbot eval`` (metrics with bootstrap intervals, the
risk-coverage curve, failing cases). ``--limit N`` keeps N questions per split, evenly spaced
through the file (so they spread over the split's articles and both kinds of question); the
index always holds all articles, so retrieval is as hard as in the full run.
"""
from __future__ import annotations

import dataclasses
import sys
import tempfile
import time
from pathlib import Path
from typing import Mapping, Sequence

from rag.errors import InputError

from .golden import GoldenCase, load_golden

DATA_DIR = Path(__file__).parent / "data" / "squad2"
SPLITS = ("dev", "test")
SPLIT_CHOICES = (*SPLITS, "all")
COLLECTION = "squad2"
HEADLINE = ("hit@5", "answer_pass_rate", "token_f1", "refusal_accuracy", "false_refusal_rate",
            "latency_p50_ms", "latency_p95_ms")
CURVE_POINTS = 40  # risk-coverage points kept in squad2.json (report.json keeps them all)
NOTES = (
    "answer_pass_rate, token_f1 and false_refusal_rate are over answerable questions (a refusal is a miss "
    "and scores F1 0); refusal_accuracy over unanswerable ones; hit@5: the evidence sentence in one of the "
    "first 5 passages handed to the answer step",
    "intervals: 95% percentile bootstrap over the split's questions (1000 resamples, fixed seed)",
)


def select_cases(cases: Sequence[GoldenCase], split: str = "all", limit: int | None = None) -> dict[str, list[GoldenCase]]:
    """``{split: cases}`` for ``dev``, ``test`` or both; with ``limit``, that many per split, evenly spaced."""
    if split not in SPLIT_CHOICES:
        raise InputError(f"unknown split {split!r}; known: {', '.join(SPLIT_CHOICES)}")
    if limit is not None and limit < 1:
        raise InputError(f"--limit must be at least 1, got {limit}")
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
        "risk_coverage": {"threshold": rc.get("threshold"), "current": rc.get("current"),
                          "points": thin_curve(rc.get("points") or [])},
    }


def _round(value):
    # 6 places: the table rounds again to 3, and 4 here would round 0.30554 to 0.3055, then to 0.305
    return None if value is None else round(float(value), 6)


def run_squad2(
    settings,
    *,
    data_dir: str | Path = DATA_DIR,
    split: str = "all",
    limit: int | None = None,
    out: str | Path = "bench-out/squad2",
    persist_dir: str | None = None,
    collection: str | None = None,
    embeddings=None,
    progress: bool = False,
) -> dict:
    """Ingest the articles, answer each split's questions through the chain, write a report per split.

    Returns the bench result (``eval.bench.bench_result``) whose figures hold one entry per split.
    """
    from rag import build_chain

    from .bench import bench_result, drop_work
    from .runner import collect_config

    data_dir = Path(data_dir)
    questions = data_dir / "questions.jsonl"
    articles = data_dir / "articles"
    if not articles.is_dir():
        raise InputError(f"{articles}: missing; the SQuAD 2.0 articles belong in {DATA_DIR / 'articles'}")
    chosen = select_cases(load_golden([questions]), split, limit)
    work = Path(tempfile.mkdtemp(prefix="ragbot-squad2-"))
    bench = bench_settings(settings, work, persist_dir, collection)
    if embeddings is None:
        from rag.embeddings import SentenceEmbeddings

        embeddings = SentenceEmbeddings(bench.embedding_model, bench.embedding_backend, bench.embed_batch_size)
    try:
        figures: dict = {"index": ingest_articles(articles, bench, embeddings, persist_dir, progress)}
        chain = build_chain(bench, embeddings=embeddings)
        config = collect_config(bench, [str(questions)])
        for name, cases in chosen.items():
            figures[name] = answer_split(chain, name, cases, config, Path(out) / name, progress)
    finally:
        drop_work(bench, work)
    notes = list(NOTES)
    if limit is not None:
        notes.append(f"--limit {limit}: a subset of each split's questions, not the benchmark's figures")
    result = bench_result("squad2", figures, limit=limit, notes=notes)
    result["settings"] = {
        "mode": settings.mode, "k": settings.k, "fetch_k": settings.fetch_k,
        "embedding_model": settings.embedding_model, "embedding_backend": settings.embedding_backend,
        "chunk_size": settings.chunk_size, "chunk_overlap": settings.chunk_overlap,
    }
    return result


def ingest_articles(articles: Path, bench, embeddings, persist_dir: str | None, progress: bool = False) -> dict:
    """Ingest the article files into the benchmark's index; what the index holds and how long it took."""
    from ingest.pipeline import ingest

    t0 = time.perf_counter()
    summary = ingest([articles], bench, embeddings=embeddings, progress=progress)
    return {
        "articles": sum(1 for p in articles.iterdir() if p.suffix == ".txt"),
        "chunks": getattr(summary, "chunks_total", None),
        "files_added": getattr(summary, "added", None),
        "files_unchanged": getattr(summary, "unchanged", None),
        "ingest_seconds": round(time.perf_counter() - t0, 1),
        "persist_dir": persist_dir or "(temporary)",
    }


def answer_split(chain, name: str, cases, config: dict, out: Path, progress: bool = False) -> dict:
    """Answer one split's questions, write its reports under ``out``; the split's figures."""
    from .report import write_reports
    from .runner import evaluate

    report = evaluate(chain, cases, {**config, "split": name, "benchmark": "squad2"}, progress=progress)
    paths = write_reports(report, out)
    return {**split_figures(report), "report": str(paths["json"])}


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
    return "\n".join([head, line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows),
                      "(95% bootstrap intervals in brackets; per-split reports: report.json/md/html)"])


def plot_curves(result: Mapping, ax) -> None:
    """The refusal gate's risk-coverage curve of each split, the run's threshold marked."""
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
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("coverage (share of questions answered)")
    ax.set_ylabel("risk (share of answered wrong)")
    ax.set_title("SQuAD 2.0: refusal gate risk-coverage (dot: current threshold)")
    ax.legend(fontsize=8)


def cmd_squad2(args, settings) -> int:
    """Run the benchmark, print the table, write ``<out>/squad2/{squad2.json,squad2.png,<split>/report.*}``."""
    from .bench import write_result

    out = Path(getattr(args, "out", None) or "bench-out") / "squad2"
    result = run_squad2(
        settings,
        split=getattr(args, "split", None) or "all",
        limit=getattr(args, "limit", None),
        out=out,
        persist_dir=getattr(args, "persist_dir", None),
        collection=getattr(args, "collection", None),
        progress=sys.stderr.isatty(),
    )
    print(format_table(result))
    paths = write_result(result, out, plot=plot_curves)
    print(f"wrote {', '.join(str(p) for p in paths)} and the reports under {out}", file=sys.stderr)
    return 0
