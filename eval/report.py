"""Write an eval report as report.json, report.md and a self-contained report.html."""
from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Mapping

from rag.errors import InputError

from . import plots
from .jsonfile import read_json
from .metrics import LATENCY_METRICS, METRIC_NAMES

BREAKDOWN_COLUMNS = (
    "answer_pass_rate", "must_include_recall", "hit@5", "faithfulness", "refusal_accuracy", "false_refusal_rate",
)
CONFIG_KEYS = ("created", "golden", "split", "mode", "k", "fetch_k", "mmr", "refusal", "decision", "embedding_model",
               "generator_model", "collection", "index", "index_fingerprint", "warmup_ms", "seconds")


def fmt(name: str, value) -> str:
    """A metric value for people: 3 decimals for rates, whole milliseconds for latency, n/a for None."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if name in LATENCY_METRICS or name == "latency_ms":
        return f"{value:.0f}"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def fmt_ci(name: str, interval) -> str:
    """A ``[lo, hi]`` interval formatted like its metric; empty when there is none."""
    if not interval:
        return ""
    return f"{fmt(name, float(interval[0]))}-{fmt(name, float(interval[1]))}"


def _cell(text, limit: int = 300) -> str:
    """One markdown table cell: single line, pipes escaped, shortened."""
    s = " ".join(str(text).split())
    if len(s) > limit:
        s = s[: limit - 1] + "…"
    return s.replace("|", "\\|")


def _config_value(value) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items()) or "-"
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "-"
    return str(value)


def level_lines(rc: Mapping) -> list[str]:
    """A line per refusal level: where its threshold puts the run's coverage and risk."""
    return [f"- Refusal level {name} (threshold {m['threshold']:.3g}): coverage {m['coverage']:.3f}, "
            f"risk {fmt('risk', m['risk'])}." for name, m in (rc.get("levels") or {}).items()]


def failing(report: Mapping) -> list[dict]:
    """The cases with a failure reason."""
    return [c for c in report.get("cases", []) if c.get("failures")]


def render_markdown(report: Mapping) -> str:
    """report.md: config, aggregate table, per-type breakdown and the failing cases."""
    counts = report.get("counts", {})
    config = report.get("config", {})
    out = ["# ragbot evaluation report", ""]
    for key in CONFIG_KEYS:
        if key in config:
            out.append(f"- **{key}**: {_cell(_config_value(config[key]), 500)}")
    out.append(
        f"- **cases**: {counts.get('cases', 0)} ({counts.get('answerable', 0)} answerable, "
        f"{counts.get('unanswerable', 0)} unanswerable); failed {counts.get('failed', 0)}, errors {counts.get('errors', 0)}"
    )
    out += ["", "## Metrics", "", "| metric | value | 95% CI |", "|---|---:|---:|"]
    metrics = report.get("metrics", {})
    ci = report.get("metrics_ci") or {}
    out += [f"| {name} | {fmt(name, metrics.get(name))} | {fmt_ci(name, ci.get(name))} |" for name in METRIC_NAMES]
    out += [""] + [f"- {note}" for note in report.get("notes", [])]
    rc = report.get("risk_coverage") or {}
    if rc.get("current"):
        cur = rc["current"]
        out.append(
            f"- Refusal gate at threshold {rc['threshold']:.3g}: coverage {cur['coverage']:.3f}, "
            f"risk {fmt('risk', cur['risk'])} ({rc['n_scored']} cases with a gate score)."
        )
    out += level_lines(rc)
    rel = report.get("reliability") or {}
    if rel.get("n"):
        out.append(f"- Confidence: expected calibration error {rel['ece']:.3f} over {rel['n']} answers (ten bins).")
    for key, title in (("type", "By type"), ("split", "By split")):
        table = (report.get("breakdown") or {}).get(key) or {}
        if not table:
            continue
        out += ["", f"## {title}", "", f"| {key} | n | " + " | ".join(BREAKDOWN_COLUMNS) + " |",
                "|---|---:|" + "---:|" * len(BREAKDOWN_COLUMNS)]
        for value, row in table.items():
            cells = " | ".join(fmt(c, row.get(c)) for c in BREAKDOWN_COLUMNS)
            out.append(f"| {_cell(value)} | {row.get('n', 0)} | {cells} |")
    bad = failing(report)
    out += ["", f"## Failing cases ({len(bad)})", ""]
    if bad:
        out += ["| id | type | question | answer | why | hit@5 | faithfulness |", "|---|---|---|---|---|---:|---:|"]
        for c in bad:
            m = c.get("metrics", {})
            out.append(
                f"| {_cell(c.get('id'))} | {_cell(c.get('type', ''))} | {_cell(c.get('question', ''), 160)} | "
                f"{_cell(c.get('answer', ''), 240)} | {_cell('; '.join(c['failures']))} | "
                f"{fmt('hit@5', m.get('hit@5'))} | {fmt('faithfulness', m.get('faithfulness'))} |"
            )
    else:
        out.append("None.")
    return "\n".join(out) + "\n"


_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem;max-width:1200px;color:#222}
table{border-collapse:collapse;margin:1rem 0;font-size:.9rem}
th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top}
td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.fail td{background:#fdecea}
img{max-width:100%;margin:.5rem 0}
.figs{display:flex;flex-wrap:wrap;gap:1rem}
.small{color:#555;font-size:.85rem}
"""


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _html_table(headers: list[str], rows: list[list[tuple[str, bool]]], row_classes: list[str] | None = None) -> str:
    """Cells are ``(already-escaped html, is_number)``."""
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        cls = f' class="{_e(row_classes[i])}"' if row_classes and row_classes[i] else ""
        cells = "".join(f'<td class="num">{v}</td>' if num else f"<td>{v}</td>" for v, num in row)
        body.append(f"<tr{cls}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def render_html(report: Mapping) -> str:
    """report.html: the markdown's content plus plots as embedded PNGs and every case; all text escaped."""
    parts = ["<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
             "<title>ragbot evaluation report</title>", f"<style>{_CSS}</style></head><body>",
             "<h1>ragbot evaluation report</h1>"]
    parts += _html_summary(report)
    parts += _html_figures(report)
    parts += _html_breakdowns(report)
    parts += _html_failing(report)
    parts += _html_all_cases(report)
    parts.append("</details></body></html>")
    return "\n".join(parts) + "\n"


def _html_summary(report: Mapping) -> list[str]:
    """The settings, the case counts, the metrics table with intervals, and the notes."""
    metrics = report.get("metrics", {})
    counts = report.get("counts", {})
    config = report.get("config", {})
    ci = report.get("metrics_ci") or {}
    return [
        _html_table(["setting", "value"], [[(_e(k), False), (_e(_config_value(config[k])), False)]
                                           for k in CONFIG_KEYS if k in config]),
        f"<p>{counts.get('cases', 0)} cases ({counts.get('answerable', 0)} answerable, "
        f"{counts.get('unanswerable', 0)} unanswerable); failed {counts.get('failed', 0)}, "
        f"errors {counts.get('errors', 0)}.</p>",
        "<h2>Metrics</h2>",
        _html_table(["metric", "value", "95% CI"], [[(_e(n), False), (_e(fmt(n, metrics.get(n))), True),
                                                    (_e(fmt_ci(n, ci.get(n))), True)] for n in METRIC_NAMES]),
        "<ul class='small'>" + "".join(f"<li>{_e(n)}</li>" for n in report.get("notes", [])) + "</ul>",
    ]


def _html_figures(report: Mapping) -> list[str]:
    """The plots as embedded PNGs, and how to read the risk-coverage curve."""
    metrics = report.get("metrics", {})
    latencies = [c["metrics"]["latency_ms"] for c in report.get("cases", [])
                 if c.get("metrics", {}).get("latency_ms") is not None]
    type_table = (report.get("breakdown") or {}).get("type") or {}
    figures = [
        ("metrics", plots.metric_bars(metrics)),
        ("latency histogram", plots.latency_histogram(latencies, metrics.get("latency_p50_ms"), metrics.get("latency_p95_ms"))),
        ("risk-coverage curve of the refusal gate", plots.risk_coverage_plot(report.get("risk_coverage") or {})),
    ]
    if (report.get("reliability") or {}).get("n"):
        figures.append(("reliability of the confidence", plots.reliability_plot(report["reliability"])))
    if type_table:
        figures.insert(1, ("results by case type", plots.type_bars(type_table)))
    return [
        "<div class='figs'>",
        *(f"<img alt='{_e(alt)}' src='{plots.data_uri(png)}'>" for alt, png in figures),
        "</div>",
        "<p class='small'>Risk-coverage: each point is a gate threshold; coverage is the share of cases answered, "
        "risk the share of answered cases that are wrong. Cases the run refused at its own threshold but a lower "
        "threshold would answer count as wrong (their answer is unknown). Open markers: where each refusal level "
        "(strict, balanced, lenient) puts the threshold. Reliability: answers binned by confidence; a calibrated "
        "confidence keeps to the diagonal.</p>",
    ]


def _html_breakdowns(report: Mapping) -> list[str]:
    """The metrics by case type and by split."""
    parts = []
    for key, title in (("type", "By type"), ("split", "By split")):
        table = (report.get("breakdown") or {}).get(key) or {}
        if table:
            parts.append(f"<h2>{_e(title)}</h2>")
            parts.append(_html_table(
                [key, "n", *BREAKDOWN_COLUMNS],
                [[(_e(v), False), (_e(row.get("n", 0)), True)] + [(_e(fmt(c, row.get(c))), True) for c in BREAKDOWN_COLUMNS]
                 for v, row in table.items()],
            ))
    return parts


def _html_failing(report: Mapping) -> list[str]:
    """The failing cases with the reasons they fail."""
    bad = failing(report)
    parts = [f"<h2>Failing cases ({len(bad)})</h2>"]
    if bad:
        parts.append(_html_table(
            ["id", "type", "question", "answer", "why"],
            [[(_e(c.get("id")), False), (_e(c.get("type", "")), False), (_e(c.get("question", "")), False),
              (_e(c.get("answer", "")), False), (_e("; ".join(c["failures"])), False)] for c in bad],
        ))
    else:
        parts.append("<p>None.</p>")
    return parts


_CASE_COLUMNS = ["hit@5", "ndcg@10", "must_include_recall", "token_f1", "citation_precision", "faithfulness", "latency_ms"]


def _html_all_cases(report: Mapping) -> list[str]:
    """Every case with its figures, failing rows marked, inside a <details> the caller closes."""
    cases = report.get("cases", [])
    return [
        f"<h2>All cases ({len(cases)})</h2><details><summary>show</summary>",
        _html_table(
            ["id", "type", "question", "answer", "refused", *_CASE_COLUMNS],
            [[(_e(c.get("id")), False), (_e(c.get("type", "")), False), (_e(c.get("question", "")), False),
              (_e(c.get("answer", "")), False), (_e(fmt("refused", bool(c.get("refused")))), False)]
             + [(_e(fmt(n, c.get("metrics", {}).get(n))), True) for n in _CASE_COLUMNS] for c in cases],
            ["fail" if c.get("failures") else "" for c in cases],
        ),
    ]


def write_reports(report: Mapping, out_dir: str | Path) -> dict[str, Path]:
    """Write report.json, report.md and report.html into ``out_dir`` (created); returns their paths."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create report folder {out}: {exc.strerror or exc}") from None
    paths = {"json": out / "report.json", "md": out / "report.md", "html": out / "report.html"}
    paths["json"].write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    paths["md"].write_text(render_markdown(report), encoding="utf-8")
    paths["html"].write_text(render_html(report), encoding="utf-8")
    return paths


def load_report(path: str | Path) -> dict:
    """A report.json (or the folder holding one), checked to have metrics and cases."""
    p = Path(path)
    if p.is_dir():
        p = p / "report.json"
    data = read_json(p, "report", "not a JSON report")
    if not isinstance(data, dict) or not isinstance(data.get("metrics"), dict) or not isinstance(data.get("cases"), list):
        raise InputError(f"{p}: not an eval report (needs 'metrics' and 'cases')")
    return data
