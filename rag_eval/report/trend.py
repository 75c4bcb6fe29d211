"""trend.html: a suite's runs over time, for a person: per metric, whether it drifts (the
drift test's sentence, a decline flagged), its means as a line with their 95% intervals
as a band, and a rule where the judge, the dataset or the metrics changed, since those
move scores by themselves; then every run in a table.

One self-contained file as the run report is: styles inline, charts rendered to SVG here
(`rag_eval.report.charts`), no script, a Content Security Policy that allows nothing else.
Every text of the suite (its name, job ids, models, changes) is escaped. The charts'
tooltips are SVG titles: a browser shows them on hover without a script.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from html import escape
from importlib.resources import files
from typing import Any

from rag_eval.domain.states import JobState
from rag_eval.domain.suites import SuiteRun, SuiteRuns
from rag_eval.report.charts import vega_svg

_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
_BLUE, _RED = "#3b6fb6", "#c0392b"
_EXTRA_CSS = (
    ".drift li{margin:.2rem 0} .declining{color:#a04000;font-weight:600}"
    " h3{font-size:1rem;margin:1.4rem 0 .2rem} .changes{color:#a04000}"
    " #runs td:nth-child(-n+4){white-space:nowrap}"
)
# A point of the chart, as rendered: its tooltip is in its aria-label, already escaped.
_POINT = re.compile(r'(<path aria-label="([^"]*)" role="graphics-symbol"[^>]*?)/>')


def _css() -> str:
    return (files("rag_eval.report") / "assets" / "report.css").read_text(encoding="utf-8")


def _number(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _when(created_at: str) -> str:
    """A run's time to the minute: 2026-11-30 06:00."""
    return created_at[:16].replace("T", " ")


def _metrics(runs: SuiteRuns) -> list[str]:
    """Every metric any shown run has, in the newest run's order, then the older ones'."""
    seen: dict[str, None] = {}
    for run in runs.runs:
        seen.update(dict.fromkeys([*run.metrics, *run.scores]))
    return list(seen)


def _hover(rendered: str) -> str:
    """Each point's tooltip as its SVG title too: hovering shows it, with no script."""
    return _POINT.sub(r"\1><title>\2</title></path>", rendered)


def _time_axis(points: list[dict[str, Any]]) -> dict[str, Any]:
    """Tick labels as fine as the runs' span needs: days for a weekly suite, seconds for
    runs of one afternoon (a coarser label would repeat on every tick)."""
    first, last = (datetime.fromisoformat(p["time"]) for p in (points[0], points[-1]))
    span = last - first
    if span >= timedelta(days=14):
        return {"format": "%d %b %Y", "tickCount": 8}
    return {"format": "%d %b %H:%M" if span >= timedelta(hours=1) else "%H:%M:%S", "tickCount": 8}


def _chart(runs: SuiteRuns, metric: str) -> str:
    """The metric's means over time (oldest left), their intervals as a band, and a
    labelled rule at each run whose judge, dataset or metrics changed."""
    points: list[dict[str, Any]] = []
    for run in reversed(runs.runs):
        mean = run.scores.get(metric)
        if mean is None:
            continue
        interval = run.intervals.get(metric)
        points.append(
            {
                "time": run.created_at,
                "job": run.job_id,
                "mean": round(mean, 4),
                "low": None if interval is None else round(interval.low, 4),
                "high": None if interval is None else round(interval.high, 4),
                "samples": run.sample_count,
            }
        )
    if len(points) < 2:
        scored = "no run" if not points else "one run"
        return (
            f'<p class="small">{scored.capitalize()} of the suite scored {escape(metric)}: '
            "a trend needs two or more.</p>"
        )
    oldest = points[0]["time"]
    changed = [run for run in reversed(runs.runs) if run.changes and run.created_at > oldest]
    # Labels of nearby rules take turns on three lines, so that they do not print over
    # each other (`scale: null`: the value is the pixel).
    changes = [
        {"time": run.created_at, "label": "; ".join(run.changes), "top": 4 + 12 * (i % 3)}
        for i, run in enumerate(changed)
    ]
    x = {"field": "time", "type": "temporal", "title": "run", "axis": _time_axis(points)}
    y = {"field": "mean", "type": "quantitative", "title": f"{metric} mean"}
    layers: list[dict[str, Any]] = [
        {
            "transform": [{"filter": "datum.low != null && datum.high != null"}],
            "mark": {"type": "area", "opacity": 0.18, "color": _BLUE},
            "encoding": {
                "x": x,
                "y": {"field": "low", "type": "quantitative", "scale": {"zero": False}},
                "y2": {"field": "high"},
            },
        },
        {
            "mark": {"type": "line", "color": _BLUE, "point": {"filled": True, "size": 45}},
            "encoding": {
                "x": x,
                "y": y | {"scale": {"zero": False}},
                "tooltip": [
                    {"field": "job", "title": "job"},
                    {"field": "time", "type": "temporal", "format": "%Y-%m-%d %H:%M"},
                    {"field": "mean"},
                    {"field": "low", "title": "95% low"},
                    {"field": "high", "title": "95% high"},
                    {"field": "samples"},
                ],
            },
        },
    ]
    if changes:
        layers.append(
            {
                "data": {"values": changes},
                "layer": [
                    {
                        "mark": {"type": "rule", "color": _RED, "strokeDash": [4, 3]},
                        "encoding": {"x": x},
                    },
                    {
                        "mark": {
                            "type": "text",
                            "align": "left",
                            "baseline": "top",
                            "dx": 4,
                            "fontSize": 10,
                            "color": _RED,
                            "limit": 260,
                        },
                        "encoding": {
                            "x": x,
                            "y": {"field": "top", "type": "quantitative", "scale": None},
                            "text": {"field": "label"},
                        },
                    },
                ],
            }
        )
    spec = {"width": 900, "height": 200, "data": {"values": points}, "layer": layers}
    return _hover(vega_svg(spec))


def _flag(runs: SuiteRuns, metric: str) -> str:
    """Beside a metric's chart: whether the drift test found it declining."""
    drift = runs.drift.get(metric)
    return ' <span class="declining">declining</span>' if drift and drift.declining else ""


def _drift(runs: SuiteRuns, metrics: list[str]) -> str:
    items = []
    for metric in metrics:
        drift = runs.drift.get(metric)
        if drift is None:
            continue
        flag = '<b class="declining">declining</b>: ' if drift.declining else ""
        items.append(f"<li>{flag}{escape(drift.sentence)}</li>")
    if not items:
        return '<p class="small">No drift test: no completed run of the suite has one.</p>'
    return f'<ul class="drift">{"".join(items)}</ul>'


def _row(run: SuiteRun, metrics: list[str]) -> str:
    state = "" if run.status is JobState.COMPLETED else f" ({escape(run.status)})"
    means = "".join(f'<td class="num">{_number(run.scores.get(m))}</td>' for m in metrics)
    return (
        f"<tr><td>{escape(_when(run.created_at))}</td><td>{escape(run.job_id)}{state}</td>"
        f'<td class="num">{run.sample_count:,}</td><td>{escape(run.judge_model or "–")}</td>'
        f'{means}<td class="num">{_number(run.weighted_score)}</td>'
        f'<td class="changes">{escape("; ".join(run.changes))}</td></tr>'
    )


def _table(runs: SuiteRuns, metrics: list[str]) -> str:
    head = "".join(f'<th class="num">{escape(m).replace("_", "_<wbr>")}</th>' for m in metrics)
    rows = "".join(_row(run, metrics) for run in runs.runs)
    return (
        '<div class="tablewrap"><table><thead><tr><th>created</th><th>job</th>'
        f'<th class="num">samples</th><th>judge</th>{head}<th class="num">weighted</th>'
        f"<th>changed since the run before</th></tr></thead><tbody>{rows}</tbody></table></div>"
    )


def trend_html(runs: SuiteRuns) -> str:
    """The page of a suite's runs (newest first, as the API gives them)."""
    metrics = _metrics(runs)
    title = escape(f"Suite {runs.suite}")
    count = len(runs.runs)
    if count == 0:
        span = "No run of the suite yet."
    else:
        span = f"{count} run{'s' if count > 1 else ''}, {runs.runs[-1].created_at[:10]} to "
        span += f"{runs.runs[0].created_at[:10]}; the charts put the newest right, the table first."
    if count < 2:
        body = f"<p>{'One run' if count else 'No run'} so far: a trend needs two or more.</p>"
    else:
        body = "".join(
            f"<h3>{escape(m)}{_flag(runs, m)}</h3><figure>{_chart(runs, m)}</figure>"
            for m in metrics
        )
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<meta http-equiv='Content-Security-Policy' content=\"{_CSP}\">"
        f"<title>{title}</title><style>{_css()}{_EXTRA_CSS}</style></head><body>"
        f"<header><h1>{title}</h1><p class='meta'>{escape(span)}</p></header>"
        f"<section id='drift'><h2>Drift</h2>{_drift(runs, metrics)}</section>"
        f"<section id='trend'><h2>Means over time</h2>"
        "<p class='small'>Each point a run's mean, the band its 95% interval; a dashed red "
        "line marks a run whose judge, dataset or metrics changed, which move scores by "
        f"themselves.</p>{body}</section>"
        f"<section id='runs'><h2>Runs</h2>{_table(runs, metrics)}</section>"
        "</body></html>"
    )
