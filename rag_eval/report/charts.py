"""The report's charts: Vega-Lite specs rendered to SVG here, by vl-convert (the Vega
runtime in a Rust library: no browser, no network). The page embeds the SVG as it is, so
it opens from a private bucket or from disk with nothing to fetch and no script to run.
"""

from __future__ import annotations

from typing import Any

from rag_eval.domain.results import ScoreRun

_BLUE, _RED = "#3b6fb6", "#c0392b"
_SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"


def _svg(spec: dict[str, Any]) -> str:
    import vl_convert

    return vl_convert.vegalite_to_svg({"$schema": _SCHEMA, **spec})


def means_chart(run: ScoreRun, low: float) -> str:
    """One bar a metric: its mean, red under `low`."""
    values = [{"metric": m, "mean": v} for m, v in run.means.items() if v is not None]
    return _svg(
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
                    "title": "mean score",
                },
                "color": {
                    "condition": {"test": f"datum.mean < {low}", "value": _RED},
                    "value": _BLUE,
                },
                "tooltip": [{"field": "metric"}, {"field": "mean", "format": ".3f"}],
            },
        }
    )


def distribution_chart(run: ScoreRun) -> str:
    """Per metric, how many samples scored in each tenth of [0, 1]."""
    counts: dict[tuple[str, int], int] = {}
    for result in run.results:
        for metric, value in result.scores.items():
            if value is not None:
                tenth = min(9, int(value * 10))
                counts[metric, tenth] = counts.get((metric, tenth), 0) + 1
    values = [
        {"metric": metric, "from": tenth / 10, "to": (tenth + 1) / 10, "samples": n}
        for (metric, tenth), n in counts.items()
    ]
    return _svg(
        {
            "data": {"values": values},
            "facet": {"field": "metric", "type": "nominal", "title": None, "sort": run.metrics},
            "columns": 3,
            "spec": {
                "width": 180,
                "height": 90,
                "mark": "bar",
                "encoding": {
                    "x": {
                        "field": "from",
                        "bin": {"binned": True, "step": 0.1},
                        "type": "quantitative",
                        "scale": {"domain": [0, 1]},
                        "title": "score",
                    },
                    "x2": {"field": "to"},
                    "y": {"field": "samples", "type": "quantitative", "title": "samples"},
                    "color": {
                        "condition": {"test": "datum.to <= 0.5", "value": _RED},
                        "value": _BLUE,
                    },
                },
            },
            "resolve": {"scale": {"y": "independent"}},
        }
    )
