"""``ragbot bench query|growth|memory|server``: answer latency, retrieval at scale, memory, a Chroma server.

All of them work on temporary indexes (never on ``data/chroma``) and bounded loops.
"""
from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from .bench import Timer, bench_result, dir_size_mb, print_figures, run_child, summarize, write_result

GOLDEN = Path(__file__).parent / "golden" / "military-diplomacy.jsonl"
LOCAL_QUESTIONS = 5  # the local model takes seconds per answer: a bounded sample of the golden questions


def _local(settings, work: Path, **changes):
    """``settings`` on a fresh local index under ``work``."""
    return dataclasses.replace(settings, persist_dir=str(work / "chroma"), chroma_host=None, **changes)


def _questions(limit: int | None = None) -> list[str]:
    from .golden import load_golden

    qs = [c.question for c in load_golden([GOLDEN]) if not c.history]
    return qs[:limit] if limit else qs


# -- query ---------------------------------------------------------------------------------------

_COLD_CHILD = """
import json, sys, time, dataclasses
from rag.settings import Settings
s = Settings(**json.loads(sys.argv[1] if len(sys.argv) > 1 else {settings!r}))
q = {question!r}
kind = {kind!r}
t0 = time.perf_counter()
if kind == "retrieval":
    from rag.retrieval import build_retriever
    build_retriever(s).search(q)
    out = {{"ms": (time.perf_counter() - t0) * 1000}}
else:
    from rag.answer.chain import build_chain
    ans = None
    for part in build_chain(s).stream({{"question": q, "history": []}}):
        ans = part
    out = {{"ms": (time.perf_counter() - t0) * 1000, "first_token_ms": ans.timings_ms.get("first_token")}}
print(json.dumps(out))
"""


def _cold(settings, kind: str, question: str) -> dict:
    fields = {f.name: getattr(settings, f.name) for f in dataclasses.fields(settings)}
    code = _COLD_CHILD.format(settings=json.dumps(fields), question=question, kind=kind)
    out, rss = run_child(code)
    return {"ms": round(out["ms"], 1), "first_token_ms": round(out["first_token_ms"], 1) if out.get("first_token_ms") else None,
            "peak_rss_mb": rss}


def _answer(chain, question: str):
    final = None
    for part in chain.stream({"question": question, "history": []}):
        final = part
    return final


def run_query(settings, limit: int | None = None) -> dict:
    """Warm p50/p95 of retrieval, extractive and local answers over the golden questions; cold first calls."""
    from ingest.pipeline import ingest

    work = Path(tempfile.mkdtemp(prefix="ragbot-bench-query-"))
    try:
        s = _local(settings, work, mode="extractive")
        ingest([settings.corpus_dir], s)
        questions = _questions(limit)
        figures: dict = {"questions": len(questions), "embedding_backend": s.embedding_backend,
                         "cold": _cold_figures(s, questions[0]), "warm": {}}
        figures["warm"]["retrieval"] = _warm_retrieval(s, questions)
        figures["warm"]["extractive"] = _warm_extractive(s, questions)
        try:
            figures["warm"]["local"] = _warm_local(dataclasses.replace(s, mode="local"), questions)
        except Exception as exc:  # local model not installed
            figures["warm"]["local"] = {"error": str(exc)[:200]}
    finally:
        _forget(settings, work)
    notes = [
        "shipped corpus (data/corpus) ingested into a temporary index; golden questions without history",
        "cold = first call in a fresh Python process (imports, model and index loading included); one process per row",
        f"local mode: first {LOCAL_QUESTIONS} questions; questions the gate refuses never run the model "
        "(first_token counts only answers the model wrote)",
    ]
    return bench_result("query", figures, limit=limit, notes=notes)


def _cold_figures(s, question: str) -> dict:
    """First calls of retrieval, extractive and local answers, each in a fresh process."""
    cold = {"retrieval": _cold(s, "retrieval", question), "extractive": _cold(s, "extractive", question)}
    try:
        cold["local"] = _cold(dataclasses.replace(s, mode="local"), "local", question)
    except RuntimeError as exc:
        cold["local"] = {"error": str(exc)[:200]}
    return cold


def _warm_retrieval(s, questions: list[str]) -> dict:
    """Retrieval times over the questions, after one warm-up search."""
    from rag.retrieval import build_retriever

    retriever = build_retriever(s)
    retriever.search(questions[0])
    times = []
    for q in questions:
        with Timer() as t:
            retriever.search(q)
        times.append(t.ms)
    return summarize(times)


def _warm_extractive(s, questions: list[str]) -> dict:
    """Extractive answer times over the questions, after one warm-up answer, and how many were refused."""
    from rag.answer.chain import build_chain

    chain = build_chain(s)
    _answer(chain, questions[0])
    times, refused = [], 0
    for q in questions:
        with Timer() as t:
            a = _answer(chain, q)
        times.append(t.ms)
        refused += bool(a.refused)
    return {**summarize(times), "refused": refused}


def _warm_local(s, questions: list[str]) -> dict:
    """Local-model answer times and first-token times over the first LOCAL_QUESTIONS questions."""
    from rag.answer.chain import build_chain

    local = build_chain(s)
    _answer(local, questions[0])
    times, first, answered = [], [], 0
    for q in questions[:LOCAL_QUESTIONS]:
        with Timer() as t:
            a = _answer(local, q)
        times.append(t.ms)
        if "first_token" in a.timings_ms:
            first.append(a.timings_ms["first_token"])
            answered += 1
    return {**summarize(times), "first_token": summarize(first), "model_ran": answered}


def plot_query(result: dict, ax) -> None:
    w = result["figures"]["warm"]
    labels, p50, p95 = [], [], []
    for name in ("retrieval", "extractive", "local"):
        if "p50" in w.get(name, {}):
            labels.append(name)
            p50.append(w[name]["p50"])
            p95.append(w[name]["p95"])
    if "first_token" in w.get("local", {}) and w["local"]["first_token"]["p50"] is not None:
        labels.append("local first token")
        p50.append(w["local"]["first_token"]["p50"])
        p95.append(w["local"]["first_token"]["p95"])
    x = np.arange(len(labels))
    ax.bar(x - 0.2, p50, 0.4, label="p50")
    ax.bar(x + 0.2, p95, 0.4, label="p95")
    ax.set_xticks(x, labels, fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("ms (log)")
    ax.set_title("Warm query latency, golden questions")
    ax.legend()


# -- memory --------------------------------------------------------------------------------------

_INGEST_CHILD = """
import json, sys
from rag.settings import Settings
from ingest.pipeline import ingest
s = Settings(persist_dir={persist!r}, embedding_backend={backend!r})
summary = ingest([{folder!r}], s)
print(json.dumps({{"chunks": summary.chunks_written}}))
"""

_APP_CHILD = """
import json
from rag.settings import Settings
from rag.answer.generators import default_gguf_path, load_llama
from ui.app import create_app
s = Settings(persist_dir={persist!r}, embedding_backend={backend!r}, mode="local")
app = create_app(s, ingest_on_start=False)
llm = load_llama(default_gguf_path())
from rag.answer.chain import build_chain
ans = None
for part in build_chain(s).stream({{"question": "What is soft power?", "history": []}}):
    ans = part
print(json.dumps({{"answered": bool(ans and ans.answer)}}))
"""


def run_memory(settings, limit: int | None = None, data: str | Path | None = None) -> dict:
    """Peak RSS of a child process that ingests, and of one that builds the app and runs the local model."""
    from .scifact import load_scifact, write_corpus

    work = Path(tempfile.mkdtemp(prefix="ragbot-bench-memory-"))
    figures: dict = {"embedding_backend": settings.embedding_backend}
    try:
        corpus = load_scifact(data).corpus
        n = limit or 1000
        write_corpus(dict(list(corpus.items())[:n]), work / "corpus")
        out, rss = run_child(_INGEST_CHILD.format(persist=str(work / "scifact"), backend=settings.embedding_backend,
                                                  folder=str(work / "corpus")))
        figures["ingest_scifact"] = {"documents": n, "chunks": out.get("chunks"), "peak_rss_mb": rss}
        run_child(_INGEST_CHILD.format(persist=str(work / "app"), backend=settings.embedding_backend,
                                       folder=str(Path(settings.corpus_dir).resolve())))
        try:
            out, rss = run_child(_APP_CHILD.format(persist=str(work / "app"), backend=settings.embedding_backend))
            figures["app_with_local_model"] = {"peak_rss_mb": rss, "answered": out.get("answered")}
        except RuntimeError as exc:
            figures["app_with_local_model"] = {"error": str(exc)[:200]}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    notes = ["peak resident set of each child process (its own VmHWM; wait4 would count this parent); floor: app with local model < 2048 MB",
             "app child: ui.app.create_app + rag.answer.generators.load_llama(default GGUF) + one local-mode answer"]
    return bench_result("memory", figures, limit=limit, notes=notes)


def plot_memory(result: dict, ax) -> None:
    from .bench import bar_plot

    f = result["figures"]
    bar_plot(["ingestion (SciFact)", "app + local model"],
             [f["ingest_scifact"].get("peak_rss_mb"), f["app_with_local_model"].get("peak_rss_mb")],
             ax, ylabel="peak RSS (MB)", title="Peak resident memory")
    ax.axhline(2048, color="red", linewidth=0.8, linestyle=":")


# -- server --------------------------------------------------------------------------------------

SERVER_THREADS = (1, 2, 4, 8)
SERVER_QUERIES_PER_THREAD = 25


def run_server(settings, limit: int | None = None) -> dict:
    """Retrievals from 1..8 client threads sharing one retriever, against a real Chroma server."""
    from ingest.pipeline import ingest
    from rag.retrieval import build_retriever

    work = Path(tempfile.mkdtemp(prefix="ragbot-bench-server-"))
    questions = _questions()
    rows = []
    try:
        from .chroma_server import ChromaServer

        with ChromaServer(work / "server") as server:
            s = dataclasses.replace(settings, chroma_host="127.0.0.1", chroma_port=server.port,
                                    persist_dir=str(work / "cache"), collection="bench")
            ingest([settings.corpus_dir], s)
            retriever = build_retriever(s)
            retriever.search(questions[0])
            per_thread = limit or SERVER_QUERIES_PER_THREAD
            for n_threads in SERVER_THREADS:
                latencies: list[float] = []
                errors = []
                lock = threading.Lock()

                def client(offset: int) -> None:
                    for i in range(per_thread):
                        q = questions[(offset * 7 + i) % len(questions)]
                        try:
                            with Timer() as t:
                                retriever.search(q)
                        except Exception as exc:  # counted, not fatal: the figure is what a client sees
                            errors.append(type(exc).__name__)
                            continue
                        with lock:
                            latencies.append(t.ms)

                threads = [threading.Thread(target=client, args=(i,)) for i in range(n_threads)]
                with Timer() as wall:
                    for th in threads:
                        th.start()
                    for th in threads:
                        th.join()
                rows.append({"threads": n_threads, "queries": len(latencies), "errors": len(errors),
                             "queries_per_s": round(len(latencies) / wall.seconds, 2), **summarize(latencies)})
                print(f"  server: {n_threads} threads, {rows[-1]['queries_per_s']} q/s, p50 {rows[-1]['p50']} ms", flush=True)
    finally:
        from rag.retrieval import chroma as store

        store.forget_client(dataclasses.replace(settings, chroma_host="127.0.0.1"))
        shutil.rmtree(work, ignore_errors=True)
    notes = ["hybrid retrieval (query encoding + Chroma query over HTTP + BM25) of the golden questions, "
             "shipped corpus; client threads share one retriever as the app's users do; "
             "the Chroma server runs on the same 2 cores"]
    return bench_result("server", {"rows": rows, "embedding_backend": settings.embedding_backend}, limit=limit, notes=notes)


def plot_server(result: dict, ax) -> None:
    rows = result["figures"]["rows"]
    x = [r["threads"] for r in rows]
    ax.plot(x, [r["queries_per_s"] for r in rows], marker="o", label="queries/s")
    ax.set_xlabel("client threads")
    ax.set_ylabel("queries / s")
    ax2 = ax.twinx()
    ax2.plot(x, [r["p50"] for r in rows], marker="s", color="tab:orange", label="p50 ms")
    ax2.plot(x, [r["p95"] for r in rows], marker="^", color="tab:red", label="p95 ms")
    ax2.set_ylabel("latency ms")
    ax.set_title("Retrieval against a Chroma server")
    ax2.legend(fontsize=8, loc="upper left")


def _forget(settings, work: Path) -> None:
    from rag.retrieval import chroma as store

    store.forget_client(_local(settings, work))
    shutil.rmtree(work, ignore_errors=True)


def _command(run, plot, reads_data: bool = False):
    def cmd(args, settings) -> int:
        data = {"data": getattr(args, "data", None)} if reads_data else {}
        result = run(settings, getattr(args, "limit", None), **data)
        print_figures(result)
        write_result(result, args.out, plot)
        return 0

    return cmd


cmd_query = _command(run_query, plot_query)
cmd_memory = _command(run_memory, plot_memory, reads_data=True)
cmd_server = _command(run_server, plot_server)
