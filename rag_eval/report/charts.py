"""The report's charts: Vega-Lite specs rendered to SVG here, by vl-convert (the Vega
runtime in a Rust library: no browser, no network). The page embeds the SVG as it is, so
it opens from a private bucket or from disk with nothing to fetch and no script to run.

Bars are red under the run's `low` threshold and blue at or above it; `colour_legend`
says so in words on the page, with the same colours. Both charts plot each value put on
0..1 with 1 the best (`Scale.normalise`), so that a 1-5 rubric and a lower-is-better
metric share the axis and the threshold with the others; the means' tooltips give the
value on the metric's own scale.
"""

from __future__ import annotations

from html import escape
from itertools import count
from typing import Any

from rag_eval.advice.guides import on_scale
from rag_eval.domain.results import ScoreRun
from rag_eval.metrics.spec import UNIT

_BLUE, _RED = "#3b6fb6", "#c0392b"
_NORMALISED = " (on 0..1, 1 the best)"


def _scaled(run: ScoreRun) -> bool:
    return any(run.scale(metric) != UNIT for metric in run.metrics)


_SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"


def vega_svg(spec: dict[str, Any]) -> str:
    import vl_convert

    return vl_convert.vegalite_to_svg({"$schema": _SCHEMA, **spec})


def _nothing(text: str) -> str:
    """What stands in for a chart with no data: a sentence, not an empty axis frame."""
    return f'<p class="small">{escape(text)}</p>'


def colour_legend(low: float, scaled: bool = False) -> str:
    """The colours in words: the bars of the charts, the scores of the samples table.
    `scaled`: some metric is not on 0..1 higher better, and the legend says how it is read."""
    swatch = '<span class="swatch" style="background:{}"></span>'
    how = (
        "; a metric of another scale is put on 0..1 with 1 the best first (a rubric's 3 of "
        "5 is 0.5; a lower-is-better metric's 0.2 is 0.8)"
        if scaled
        else ""
    )
    return (
        '<p class="legend">'
        f"<span>{swatch.format(_RED)}red: low, under {low:g}</span>"
        f"<span>{swatch.format(_BLUE)}blue: {low:g} or above</span>"
        '<span class="small">the bars of the charts; scores in red elsewhere are low too'
        f"{escape(how)}</span></p>"
    )


def means_chart(run: ScoreRun, low: float) -> str:
    """One bar a metric: its mean on 0..1 (1 the best), red under `low`."""
    values = [
        {
            "metric": m,
            "mean": run.normalised(m, v),
            "value": on_scale(v, run.scale(m), 3),  # as the metric gives it, for the tooltip
        }
        for m, v in run.means.items()
        if v is not None
    ]
    if not values:
        return _nothing("No metric has a mean: nothing scored.")
    return vega_svg(
        {
            "width": 420,
            "height": {"step": 26},
            "data": {"values": values},
            "mark": {"type": "bar", "cornerRadiusEnd": 3},
            "encoding": {
                "y": {"field": "metric", "type": "nominal", "sort": None, "title": None},
                "x": {
                    "field": "mean",
                    "type": "quantitative",
                    "scale": {"domain": [0, 1]},
                    "title": "mean score" + (_NORMALISED if _scaled(run) else ""),
                },
                "color": {
                    "condition": {"test": f"datum.mean < {low}", "value": _RED},
                    "value": _BLUE,
                },
                "tooltip": [{"field": "metric"}, {"field": "value", "title": "mean"}],
            },
        }
    )


def _whole_ticks(most: int) -> list[int]:
    """0 to `most` or just above, in steps of 1, 2, 5, 10, 20, 50, ...: five ticks at most.
    Counts of samples have no halves; Vega's `tickMinStep` does not stop them yet
    (vega/vega#4163), so the ticks are given."""
    steps = (factor * 10**power for power in count() for factor in (1, 2, 5))
    step = next(s for s in steps if most <= 4 * s)
    return list(range(0, -(-most // step) * step + 1, step))


def _histogram(metric: str, tenths: dict[int, int], low: float, note: str) -> dict[str, Any]:
    """`tenths`: how many samples scored in each tenth of [0, 1] that any did."""
    values = [{"from": t / 10, "to": (t + 1) / 10, "samples": n} for t, n in tenths.items()]
    ticks = _whole_ticks(max(tenths.values()))
    return {
        "title": f"{metric} ({note})" if note else metric,
        "width": 180,
        "height": 90,
        "data": {"values": values},
        "mark": "bar",
        "encoding": {
            "x": {
                "field": "from",
                "bin": {"binned": True, "step": 0.1},
                "type": "quantitative",
                "scale": {"domain": [0, 1]},
                "title": "score" + (_NORMALISED if note else ""),
            },
            "x2": {"field": "to"},
            "y": {
                "field": "samples",
                "type": "quantitative",
                "title": "samples",
                "scale": {"domain": [0, ticks[-1]], "nice": False},
                "axis": {"values": ticks, "format": "d"},
            },
            "color": {
                "condition": {"test": f"datum.to <= {low}", "value": _RED},
                "value": _BLUE,
            },
        },
    }


def distribution_chart(run: ScoreRun, low: float) -> str:
    """Per metric, how many samples scored in each tenth of [0, 1] (1 the best). A metric
    with no score gets a sentence instead of an empty frame."""
    counts: dict[str, dict[int, int]] = {}
    for result in run.results:
        for metric, value in result.scores.items():
            normalised = run.normalised(metric, value)
            if normalised is not None:
                tenth = min(9, max(0, int(normalised * 10)))
                tenths = counts.setdefault(metric, {})
                tenths[tenth] = tenths.get(tenth, 0) + 1
    charts = [
        _histogram(metric, counts[metric], low, run.scale(metric).note)
        for metric in run.metrics
        if metric in counts
    ]
    unplotted = [metric for metric in run.metrics if metric not in counts]
    return (vega_svg({"concat": charts, "columns": 3}) if charts else "") + (
        _nothing(f"No score to plot for {', '.join(unplotted)}: the table below says why.")
        if unplotted
        else ""
    )
