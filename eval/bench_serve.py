"""``ragbot bench load``: concurrent clients against ``ragbot serve`` on loopback.

Each client holds its own conversation (a question, then a follow-up carrying the history) over
``/v1/chat/completions``. Two runs: clients that give up on a 503, and clients that wait the
``Retry-After`` and try again. Prints answers/s, p50/p95 latency, 503s and the server's memory.
"""
from __future__ import annotations

import concurrent.futures
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

QUESTIONS = [
    ("Who coined the term soft power?", "What does it refer to?"),
    ("How does the essay define military diplomacy?", "Why does it matter?"),
    ("What are the main tasks of a peacekeeping operation?", "Who carries them out?"),
    ("How many member states does NATO currently have?", "When was it founded?"),
    ("What is the boiling point of mercury on Mars?", "And on Venus?"),
]


def _client(url: str, i: int, per_client: int, retry: bool) -> list[tuple[int, float, bool]]:
    import httpx

    out = []
    with httpx.Client(timeout=300) as http:
        history: list[dict] = []
        for j in range(per_client):
            first, follow = QUESTIONS[(i + j // 2) % len(QUESTIONS)]
            q = first if j % 2 == 0 else follow
            messages = (history if j % 2 else []) + [{"role": "user", "content": q}]
            t0 = time.perf_counter()
            while True:
                r = http.post(f"{url}/v1/chat/completions", json={"model": "ragbot", "messages": messages})
                if r.status_code == 503 and retry:
                    time.sleep(float(r.headers.get("retry-after", "1")))
                    continue
                break
            ms = (time.perf_counter() - t0) * 1000
            if r.status_code == 200:
                text = r.json()["choices"][0]["message"]["content"]
                history = [{"role": "user", "content": q}, {"role": "assistant", "content": text}]
                out.append((200, ms, True))
            else:
                out.append((r.status_code, ms, r.status_code == 503 and bool(r.headers.get("retry-after"))))
    return out


def run_load(url: str, clients: int, per_client: int, retry: bool) -> dict:
    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        results = [r for rs in pool.map(lambda i: _client(url, i, per_client, retry), range(clients)) for r in rs]
    wall = time.perf_counter() - t0
    ok = np.array([ms for code, ms, _ in results if code == 200]) if results else np.array([])
    return {
        "clients": clients, "questions_each": per_client, "retry_on_503": retry,
        "answered": int(len(ok)), "busy_503": sum(1 for c, _, _ in results if c == 503),
        "other_errors": sum(1 for c, _, clean in results if c not in (200, 503) or not clean),
        "answers_per_s": round(len(ok) / wall, 2), "wall_s": round(wall, 1),
        "p50_ms": round(float(np.percentile(ok, 50)), 1) if len(ok) else None,
        "p95_ms": round(float(np.percentile(ok, 95)), 1) if len(ok) else None,
    }


def cmd_load(args, settings) -> int:
    from .bench import bench_result, write_result
    from .serve_process import ServeProcess

    clients, per_client = getattr(args, "clients", None) or 20, getattr(args, "questions", None) or 10
    corpus = Path(settings.corpus_dir)
    with tempfile.TemporaryDirectory(prefix="ragbot-load-") as tmp:
        shutil.copytree(corpus, Path(tmp) / "corpus")
        with ServeProcess(Path(tmp) / "corpus", Path(tmp) / "chroma") as server:
            rss0 = round(server.rss_mb(), 1)
            _client(server.url, 0, 2, True)  # warm: models loaded, caches filled
            runs = []
            for retry in (False, True):
                runs.append(run_load(server.url, clients, per_client, retry))
                runs[-1]["rss_mb_after"] = round(server.rss_mb(), 1)
    for r in runs:
        how = "retrying after Retry-After" if r["retry_on_503"] else "giving up on 503"
        print(f"load ({how}): {r['clients']} clients x {r['questions_each']} questions: {r['answered']} answered, "
              f"{r['busy_503']} busy (503), {r['other_errors']} other errors; {r['answers_per_s']} answers/s, "
              f"p50 {r['p50_ms']} ms, p95 {r['p95_ms']} ms; server RSS {rss0} -> {r['rss_mb_after']} MB")
    result = bench_result("load", {"corpus": str(corpus), "rss_mb_idle": rss0, "runs": runs},
                          notes=[f"{clients} clients x {per_client} questions, each a conversation over /v1/chat/completions, "
                                 "against `ragbot serve` on loopback serving a copy of the corpus"])
    paths = write_result(result, getattr(args, "out", None) or "bench-out")
    print(f"wrote {', '.join(str(p) for p in paths)}")
    return 0 if all(r["other_errors"] == 0 for r in runs) else 1
