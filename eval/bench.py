"""Shared pieces of ``ragbot bench``: latency summaries, the result JSON, plots, machine facts, child memory.

Every benchmark returns a result made by :func:`bench_result` and is written by :func:`write_result`
as ``<out>/<name>.json`` and ``<out>/<name>.png``. Speed figures are only comparable within one
run on one machine (the benchmark machines are shared), so each benchmark measures its baselines
in the same process, back to back, and reports ratios.
"""
from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Mapping, Sequence

from .metrics import percentile

RESULT_KEYS = ("benchmark", "created", "machine", "limit", "figures", "notes")


def summarize(values_ms: Sequence[float]) -> dict:
    """``n``, ``p50``, ``p95``, ``mean`` and ``max`` of latencies in milliseconds (None when empty)."""
    vals = [float(v) for v in values_ms]
    if not vals:
        return {"n": 0, "p50": None, "p95": None, "mean": None, "max": None}
    return {
        "n": len(vals),
        "p50": round(percentile(vals, 50), 2),
        "p95": round(percentile(vals, 95), 2),
        "mean": round(sum(vals) / len(vals), 2),
        "max": round(max(vals), 2),
    }


def rate(count: float, seconds: float) -> float | None:
    """``count / seconds``, rounded; None for a zero or negative duration."""
    return round(count / seconds, 2) if seconds > 0 else None


def ratio(a: float | None, b: float | None) -> float | None:
    """``a / b`` rounded to 3 places; None when either is missing or ``b`` is zero."""
    if a is None or not b:
        return None
    return round(a / b, 3)


def machine() -> dict:
    """CPU model, cores available to this process, Python and platform."""
    model = platform.processor() or ""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except (OSError, subprocess.SubprocessError):
        pass
    from rag.encoders import cpu_threads

    return {"cpu": model, "cores": cpu_threads(), "python": platform.python_version(), "platform": platform.platform()}


def bench_result(name: str, figures: Mapping, *, limit: int | None = None, notes: Sequence[str] = ()) -> dict:
    """The JSON every benchmark writes: name, UTC time, machine, --limit, figures, notes."""
    return {
        "benchmark": name,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "limit": limit,
        "figures": dict(figures),
        "notes": list(notes) + ["shared machine: compare figures within one run, not across runs"],
    }


def write_result(result: Mapping, out: str | Path, plot: Callable | None = None) -> list[Path]:
    """Write ``<out>/<benchmark>.json`` and, given ``plot(result, ax)``, ``<out>/<benchmark>.png``."""
    missing = [k for k in RESULT_KEYS if k not in result]
    if missing:
        raise ValueError(f"bench result lacks {', '.join(missing)}")
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{result['benchmark']}.json"]
    paths[0].write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if plot is not None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 4))
        plot(result, ax)
        ax.set_title(ax.get_title() or result["benchmark"], fontsize=10)
        fig.text(0.99, 0.01, f"{result['machine']['cpu']}, {result['machine']['cores']} cores, {result['created'][:10]}",
                 ha="right", va="bottom", fontsize=7, color="gray")
        fig.tight_layout()
        png = folder / f"{result['benchmark']}.png"
        fig.savefig(png, dpi=110)
        plt.close(fig)
        paths.append(png)
    return paths


def bar_plot(labels: Sequence[str], values: Sequence[float | None], ax, *, ylabel: str, title: str) -> None:
    """Labelled bars (missing values drawn as zero)."""
    vals = [v or 0 for v in values]
    bars = ax.bar(list(labels), vals, color="#4a7ab5")
    for b, v in zip(bars, values):
        ax.annotate("n/a" if v is None else f"{v:g}", (b.get_x() + b.get_width() / 2, b.get_height()),
                    ha="center", va="bottom", fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.tick_params(axis="x", labelsize=8)


class Timer:
    """``with Timer() as t: ...`` then ``t.seconds`` / ``t.ms``."""

    def __enter__(self) -> "Timer":
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.start
        self.ms = self.seconds * 1000


PEAK_MARKER = "ragbot-peak-rss-kb="


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB: VmHWM, which belongs to the process image and
    starts afresh at exec. (``wait4``'s ru_maxrss does not: a child started from a 1 GB parent
    reports at least 1 GB, however little it used; measured here, 790 MB for a child that printed
    one line.)"""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


# Prepended to a child's code: at exit it writes its own VmHWM (KiB) to stderr, importing nothing
# that would add to it.
_REPORT_PEAK = f"""
import atexit as _atexit, sys as _sys
def _ragbot_peak():
    try:
        kb = [ln.split()[1] for ln in open("/proc/self/status") if ln.startswith("VmHWM:")][0]
    except (OSError, IndexError):
        return
    _sys.stderr.write("\\n{PEAK_MARKER}" + kb + "\\n")
_atexit.register(_ragbot_peak)
"""


def run_child(code: str, *, env: Mapping | None = None, timeout: float = 900) -> tuple[dict, float]:
    """Run ``python -c code`` (which prints one JSON line last); its parsed output and peak RSS in MB.

    The peak is the child's own (``peak_rss_mb``, written by the child as it exits), so neither
    this process nor others on the machine count.
    """
    proc = subprocess.Popen(
        [sys.executable, "-c", _REPORT_PEAK + code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, **(env or {})},
    )
    deadline = time.monotonic() + timeout
    out_chunks: list[str] = []
    import threading

    err_chunks: list[str] = []
    readers = [threading.Thread(target=lambda: out_chunks.append(proc.stdout.read()), daemon=True),
               threading.Thread(target=lambda: err_chunks.append(proc.stderr.read()), daemon=True)]
    for r in readers:
        r.start()
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            proc.kill()
            pid, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(0.05)
    proc.returncode = os.waitstatus_to_exitcode(status)
    for r in readers:
        r.join(timeout=5)
    out = "".join(out_chunks)
    err = [ln for ln in "".join(err_chunks).splitlines() if ln.strip()]
    peaks = [int(ln.split("=")[1]) for ln in err if ln.startswith(PEAK_MARKER)]
    if proc.returncode != 0:
        tail = [ln for ln in err if not ln.startswith(PEAK_MARKER)][-3:]
        raise RuntimeError(f"benchmark child exited with {proc.returncode}: {' | '.join(tail)}")
    lines = [ln for ln in out.splitlines() if ln.strip().startswith("{")]
    peak = round(peaks[-1] / 1024, 1) if peaks else round(usage.ru_maxrss / 1024, 1)
    return (json.loads(lines[-1]) if lines else {}), peak


def drop_work(settings, work: Path) -> None:
    """Close the Chroma client of a benchmark's temporary index and delete its working folder."""
    try:
        from rag.retrieval import chroma as store

        store.forget_client(settings)
    except Exception:  # cleanup must not hide the benchmark's own error
        pass
    shutil.rmtree(work, ignore_errors=True)


def dir_size_mb(path: str | Path) -> float:
    """Bytes of all files under ``path``, in MB."""
    total = sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())
    return round(total / 1e6, 2)


def print_figures(result: Mapping, file=None) -> None:
    """Flat ``key: value`` lines of the figures, nested keys joined by dots."""
    file = file or sys.stdout

    def walk(prefix: str, value) -> None:
        if isinstance(value, Mapping):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        else:
            print(f"  {prefix}: {value}", file=file)

    print(f"{result['benchmark']} ({result['machine']['cpu']}, {result['machine']['cores']} cores)", file=file)
    walk("", result["figures"])
    for note in result["notes"]:
        print(f"  note: {note}", file=file)
