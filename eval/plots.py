"""Report figures as PNG bytes (matplotlib's object API with the Agg canvas: no pyplot, no global backend)."""
from __future__ import annotations

import base64
import io
from typing import Mapping, Sequence

from .metrics import LATENCY_METRICS, LOWER_IS_BETTER, METRIC_NAMES


def _figure(width: float = 6.4, height: float = 3.6):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def data_uri(png: bytes) -> str:
    """A PNG as a ``data:`` URI, for a self-contained HTML page."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def metric_bars(metrics: Mapping[str, float | None]) -> bytes:
    """Horizontal bars of the 0-1 metrics; lower-is-better ones in another colour; missing ones marked n/a."""
    names = [n for n in METRIC_NAMES if n not in LATENCY_METRICS]
    fig = _figure(6.4, 0.32 * len(names) + 0.9)
    ax = fig.add_subplot()
    values = [metrics.get(n) for n in names]
    colours = ["#c0504d" if n in LOWER_IS_BETTER else "#4f81bd" for n in names]
    ax.barh(range(len(names)), [v or 0.0 for v in values], color=colours)
    for i, v in enumerate(values):
        ax.text(min((v or 0.0) + 0.01, 0.93), i, "n/a" if v is None else f"{v:.3f}", va="center", fontsize=8)
    ax.set_yticks(range(len(names)), labels=names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.05)
    ax.set_title("Metrics (red: lower is better)", fontsize=10)
    return _png(fig)


def type_bars(breakdown: Mapping[str, Mapping]) -> bytes:
    """Share of correct cases (answer passes, or refusal of an unanswerable one) per case type."""
    fig = _figure(6.4, 3.2)
    ax = fig.add_subplot()
    names = list(breakdown)
    pass_rate = [breakdown[n].get("answer_pass_rate") for n in names]
    refusal = [breakdown[n].get("refusal_accuracy") for n in names]
    x = range(len(names))
    ax.bar([i - 0.2 for i in x], [v or 0 for v in pass_rate], width=0.4, label="answer_pass_rate", color="#4f81bd")
    ax.bar([i + 0.2 for i in x], [v or 0 for v in refusal], width=0.4, label="refusal_accuracy", color="#9bbb59")
    ax.set_xticks(list(x), labels=[f"{n}\n(n={breakdown[n].get('n', 0)})" for n in names], fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title("By case type", fontsize=10)
    return _png(fig)


def latency_histogram(latencies_ms: Sequence[float], p50: float | None, p95: float | None) -> bytes:
    """Histogram of per-question latency with the p50 and p95 lines."""
    fig = _figure(6.4, 3.2)
    ax = fig.add_subplot()
    if latencies_ms:
        ax.hist(latencies_ms, bins=min(30, max(5, len(latencies_ms) // 3)), color="#4f81bd")
    for value, label, style in ((p50, "p50", "--"), (p95, "p95", ":")):
        if value is not None:
            ax.axvline(value, color="#333333", linestyle=style, label=f"{label} {value:.0f} ms")
    ax.set_xlabel("total latency per question (ms)", fontsize=9)
    ax.set_ylabel("cases", fontsize=9)
    if p50 is not None:
        ax.legend(fontsize=8)
    ax.set_title("Latency", fontsize=10)
    return _png(fig)


LEVEL_MARKERS = {"strict": "s", "balanced": "D", "lenient": "^"}


def risk_coverage_plot(rc: Mapping) -> bytes:
    """Risk (wrong share of answered cases) against coverage (answered share) as the gate threshold
    moves; the run's threshold as a dot, and each refusal level's as an open marker."""
    fig = _figure(6.4, 3.6)
    ax = fig.add_subplot()
    points = rc.get("points") or []
    if points:
        pts = sorted(points, key=lambda p: p["coverage"])
        ax.plot([p["coverage"] for p in pts], [p["risk"] for p in pts], color="#4f81bd", marker=".", markersize=4)
    current = rc.get("current")
    if current and current.get("risk") is not None:
        ax.plot([current["coverage"]], [current["risk"]], marker="o", markersize=9, color="#c0504d",
                label=f"current threshold {rc.get('threshold'):.3g}")
    for name, mark in (rc.get("levels") or {}).items():  # where each refusal level sits
        if mark.get("risk") is None:
            continue
        ax.plot([mark["coverage"]], [mark["risk"]], marker=LEVEL_MARKERS.get(name, "D"), markersize=7, linestyle="none",
                markerfacecolor="none", markeredgecolor="#333333", label=f"{name} ({mark['threshold']:.3g})")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    if not points:
        ax.text(0.5, 0.5, "no gate scores in the answers' support", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("coverage (share of cases answered)", fontsize=9)
    ax.set_ylabel("risk (share of answered cases wrong)", fontsize=9)
    ax.set_title("Refusal gate: risk-coverage", fontsize=10)
    return _png(fig)


def reliability_plot(rel: Mapping) -> bytes:
    """Each confidence bin's share of answerable questions against its mean confidence, beside the
    diagonal a calibrated confidence would follow; the bins' sizes as bars below."""
    fig = _figure(6.4, 3.6)
    ax = fig.add_subplot()
    bins = rel.get("bins") or []
    ax.plot([0, 1], [0, 1], color="#999999", linestyle="--", linewidth=1, label="calibrated")
    if bins:
        n = max(b["n"] for b in bins)
        ax.bar([(b["lo"] + b["hi"]) / 2 for b in bins], [0.25 * b["n"] / n for b in bins], width=0.09,
               color="#dbe5f1", label="questions (scaled)")
        ax.plot([b["confidence"] for b in bins], [b["answerable"] for b in bins], color="#4f81bd", marker="o",
                markersize=5, label=f"ECE {rel.get('ece'):.3f} over {rel.get('n')} answers")
        ax.legend(fontsize=8, loc="upper left")
    else:
        ax.text(0.5, 0.5, "no confidence in the answers", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlim(0, 1.0)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("confidence (mean of the bin)", fontsize=9)
    ax.set_ylabel("share answerable", fontsize=9)
    ax.set_title("Confidence: reliability", fontsize=10)
    return _png(fig)
