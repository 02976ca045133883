"""``ragbot bench scifact``: ragbot's retrieval on BEIR SciFact (test split), beside published figures.

Each abstract becomes one file ``<_id>.txt`` (title line, then text), ingested through the normal
pipeline into a fresh Chroma folder; each test claim is searched for chunks, the chunks are
collapsed to documents (first occurrence order) and scored with the BEIR/TREC definitions:
nDCG@10 with graded gains from the qrels and a log2(rank + 1) discount, the ideal from the
query's judged documents; recall@10 over the query's relevant documents. Queries are averaged
with equal weight; a query with no result scores 0.
"""
from __future__ import annotations

import csv
import dataclasses
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

from rag.errors import InputError

from .bench import bench_result, drop_work, write_result
from .datasets import FORMS, benchmark_dir
from .metrics import ndcg, percentile

METHODS = ("dense", "lexical", "hybrid")
K_CHUNKS = 30  # chunks fetched per claim: abstracts run to a few chunks each, so this yields >= 10 documents
PUBLISHED = {
    "published BM25 (BEIR)": {"ndcg@10": 0.665},
    "published all-MiniLM-L6-v2 (MTEB)": {"ndcg@10": [0.645, 0.674]},
}
COMPARED = "published figures: full corpus, whole abstracts; ragbot ranks chunks collapsed to abstracts"


@dataclass(frozen=True)
class SciFact:
    """Corpus (id -> (title, text)), test claims (id -> text) and graded judgements (claim -> doc -> grade)."""

    corpus: dict
    queries: dict
    qrels: dict


def _read_jsonl(path: Path) -> Iterable[dict]:
    try:
        with path.open(encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if line.strip():
                    try:
                        yield json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise InputError(f"{path}:{n}: invalid JSON ({exc.msg})") from None
    except FileNotFoundError:
        raise InputError(f"{path}: missing; SciFact's data is {FORMS['scifact']}") from None


def load_qrels(path: Path) -> dict[str, dict[str, int]]:
    """``query-id -> {corpus-id: score}`` from a BEIR qrels TSV (header line first)."""
    qrels: dict[str, dict[str, int]] = {}
    try:
        with path.open(encoding="utf-8", newline="") as f:
            reader = csv.reader(f, delimiter="\t")
            header = next(reader, None)
            if header != ["query-id", "corpus-id", "score"]:
                raise InputError(f"{path}: expected the header query-id, corpus-id, score; got {header}")
            for n, row in enumerate(reader, 2):
                if len(row) != 3 or not row[2].lstrip("-").isdigit():
                    raise InputError(f"{path}:{n}: expected query-id, corpus-id and an integer score, got {row}")
                qrels.setdefault(row[0], {})[row[1]] = int(row[2])
    except FileNotFoundError:
        raise InputError(f"{path}: missing; SciFact's data is {FORMS['scifact']}") from None
    return qrels


def load_scifact(data_dir: str | Path | None = None) -> SciFact:
    """The corpus, the test claims (those with judgements) and the test qrels, from ``data_dir`` (a
    BEIR folder) or where ``eval.datasets`` finds SciFact."""
    data_dir = benchmark_dir("scifact", data_dir)
    qrels = load_qrels(data_dir / "qrels" / "test.tsv")
    corpus = {str(d["_id"]): (d.get("title", ""), d.get("text", "")) for d in _read_jsonl(data_dir / "corpus.jsonl")}
    queries = {str(q["_id"]): q["text"] for q in _read_jsonl(data_dir / "queries.jsonl") if str(q["_id"]) in qrels}
    missing = sorted(set(qrels) - set(queries))
    if missing:
        raise InputError(f"{data_dir}: judged claims missing from queries.jsonl: {', '.join(missing[:5])}")
    return SciFact(corpus, queries, qrels)


def select_subset(data: SciFact, limit: int | None) -> SciFact:
    """At most ``limit`` documents: claims are taken in order while their relevant documents fit,
    those documents are kept, and the rest is filled with other documents in corpus order."""
    if limit is None:
        return data
    if limit < 1:
        raise InputError(f"--limit must be at least 1, got {limit}")
    keep: list[str] = []
    chosen: list[str] = []
    for qid in data.queries:
        rel = [d for d, s in data.qrels[qid].items() if s > 0 and d in data.corpus and d not in keep]
        if len(keep) + len(rel) > limit:
            continue
        keep += rel
        chosen.append(qid)
    if not chosen:
        need = min(len(r) for r in data.qrels.values())
        raise InputError(f"--limit {limit} is too small to hold the relevant documents of any claim (needs {need})")
    kept = set(keep)
    for doc_id in data.corpus:
        if len(keep) >= limit:
            break
        if doc_id not in kept:
            keep.append(doc_id)
            kept.add(doc_id)
    return SciFact(
        {d: data.corpus[d] for d in data.corpus if d in kept},
        {q: data.queries[q] for q in chosen},
        {q: data.qrels[q] for q in chosen},
    )


def write_corpus(corpus: Mapping[str, tuple[str, str]], folder: str | Path) -> int:
    """One ``<_id>.txt`` per abstract: the title on the first line, then the text."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for doc_id, (title, text) in corpus.items():
        (folder / f"{doc_id}.txt").write_text(f"{title}\n{text}\n" if title else f"{text}\n", encoding="utf-8")
    return len(corpus)


def doc_id(source: str) -> str:
    """``"4983.txt"`` (or ``"sub/4983.txt"``) -> ``"4983"``."""
    name = Path(source).name
    return name[:-4] if name.endswith(".txt") else name


def collapse(passages: Sequence) -> list[str]:
    """Document ids of ranked passages, each at its first occurrence."""
    seen: dict[str, None] = {}
    for p in passages:
        source = p.source if hasattr(p, "source") else p["source"]
        seen.setdefault(doc_id(source), None)
    return list(seen)


def ndcg_at_k(ranked: Sequence[str], judged: Mapping[str, int], k: int = 10) -> float:
    """BEIR/TREC nDCG@k: gain = the qrels grade, discount log2(rank + 1), ideal from the judged grades."""
    gains = [float(max(judged.get(d, 0), 0)) for d in ranked[:k]]
    return ndcg(gains, [float(s) for s in judged.values() if s > 0], k)


def recall_at_k(ranked: Sequence[str], judged: Mapping[str, int], k: int = 10) -> float:
    """Share of the relevant documents found in the first ``k``."""
    relevant = {d for d, s in judged.items() if s > 0}
    return len(relevant & set(ranked[:k])) / len(relevant) if relevant else 0.0


def score_rankings(rankings: Mapping[str, Sequence[str]], qrels: Mapping[str, Mapping[str, int]], k: int = 10) -> dict:
    """Mean nDCG@k and recall@k over all judged queries (a query without a ranking scores 0)."""
    per_query = {q: ndcg_at_k(rankings.get(q, []), judged, k) for q, judged in qrels.items()}
    recall = [recall_at_k(rankings.get(q, []), judged, k) for q, judged in qrels.items()]
    n = len(qrels) or 1
    return {f"ndcg@{k}": sum(per_query.values()) / n, f"recall@{k}": sum(recall) / n, "per_query_ndcg": per_query}


def bench_settings(settings, work: Path):
    """The user's chunking and embedding settings, on a fresh local index in ``work``."""
    return dataclasses.replace(
        settings, persist_dir=str(work / "chroma"), collection="scifact", chroma_host=None, corpus_dir=str(work / "corpus")
    )


def run_scifact(
    settings,
    *,
    data_dir: str | Path | None = None,
    limit: int | None = None,
    k_chunks: int = K_CHUNKS,
    methods: Sequence[str] = METHODS,
    work_dir: str | Path | None = None,
    progress: bool = False,
    ingest_fn: Callable | None = None,
    retriever_factory: Callable | None = None,
) -> dict:
    """Ingest the (sub)corpus into a fresh index, search every test claim with each method, score them."""
    data = select_subset(load_scifact(data_dir), limit)
    own_work = work_dir is None
    work = Path(tempfile.mkdtemp(prefix="ragbot-scifact-")) if own_work else Path(work_dir)
    bench = bench_settings(settings, work)
    if ingest_fn is None:
        from ingest.pipeline import ingest as ingest_fn
    if retriever_factory is None:
        from rag.retrieval import build_retriever as retriever_factory
    try:
        write_corpus(data.corpus, bench.corpus_dir)
        t0 = time.perf_counter()
        summary = ingest_fn([bench.corpus_dir], bench, progress=progress)
        ingest_seconds = time.perf_counter() - t0
        retriever = retriever_factory(bench)
        results = {method: score_method(retriever, data, method, k_chunks, progress) for method in methods}
        chunks = getattr(summary, "chunks_total", None)
    finally:
        if own_work:
            drop_work(bench, work)
    figures = {
        "split": "test",
        "documents": len(data.corpus),
        "claims": len(data.queries),
        "chunks": chunks,
        "k_chunks": k_chunks,
        "ingest_seconds": round(ingest_seconds, 1),
        "methods": results,
    }
    notes = [COMPARED]
    if limit is not None:
        notes.append(f"--limit {limit}: a subset of the corpus, not comparable with the published figures")
    return {
        **bench_result("scifact", figures, limit=limit, notes=notes),
        "settings": {
            "embedding_model": settings.embedding_model,
            "embedding_backend": settings.embedding_backend,
            "chunk_size": settings.chunk_size,
            "chunk_overlap": settings.chunk_overlap,
            "fetch_k": settings.fetch_k,
        },
        "published": PUBLISHED,
    }


def score_method(retriever, data, method: str, k_chunks: int, progress: bool = False) -> dict:
    """Search every claim with one retrieval method; its nDCG@10, recall@10 and query times."""
    from tqdm import tqdm

    rankings: dict[str, list[str]] = {}
    times: list[float] = []
    short = 0
    for qid, claim in tqdm(data.queries.items(), desc=method, unit="claim", file=sys.stderr,
                           disable=not progress, leave=False):
        t = time.perf_counter()
        passages = retriever.search(claim, k=k_chunks, method=method)
        times.append((time.perf_counter() - t) * 1000)
        rankings[qid] = collapse(passages)
        short += len(rankings[qid]) < 10
    scored = score_rankings(rankings, data.qrels)
    return {
        "ndcg@10": round(scored["ndcg@10"], 4),
        "recall@10": round(scored["recall@10"], 4),
        "query_ms_p50": round(percentile(times, 50) or 0.0, 1),
        "query_ms_p95": round(percentile(times, 95) or 0.0, 1),
        "claims_with_fewer_than_10_documents": short,
        "per_query_ndcg@10": {q: round(v, 4) for q, v in scored["per_query_ndcg"].items()},
    }


def format_table(result: Mapping) -> str:
    """Our figures beside the published ones."""
    f = result["figures"]
    head = (
        f"SciFact test: {f['claims']} claims over {f['documents']} abstracts "
        f"({f.get('chunks') or '?'} chunks, ingested in {f['ingest_seconds']} s)"
    )
    if result.get("limit"):
        head += f"; --limit {result['limit']}: not comparable with the published figures"
    lines = [head, f"{'retriever':<36}{'nDCG@10':>12}{'recall@10':>11}{'ms/claim':>10}"]
    for method, r in f["methods"].items():
        lines.append(f"{'ragbot ' + method:<36}{r['ndcg@10']:>12.3f}{r['recall@10']:>11.3f}{r['query_ms_p50']:>10.1f}")
    for name, r in result["published"].items():
        v = r["ndcg@10"]
        shown = f"{v[0]:.3f}-{v[1]:.3f}" if isinstance(v, list) else f"{v:.3f}"
        lines.append(f"{name:<36}{shown:>12}")
    lines.append(f"({COMPARED})")
    return "\n".join(lines)


def cmd_scifact(args, settings) -> int:
    """Run the benchmark, print the table, write ``<out>/scifact.json``."""
    result = run_scifact(settings, data_dir=getattr(args, "data", None), limit=getattr(args, "limit", None),
                         progress=sys.stderr.isatty())
    print(format_table(result))
    paths = write_result(result, getattr(args, "out", None) or "bench-out")
    print(f"wrote {', '.join(str(p) for p in paths)}", file=sys.stderr)
    return 0
