"""Results by segment in the run folder's files: summary.md's section "By segment",
metadata.json's "segments", and scores.csv's column per metadata key.

What a table says is built here once, as plain text (`HEADING`, `INTRO`, `header`,
`rows`), and escaped by each file that shows it: summary.md here, report.html in
`rag_eval.report.segments`. Keys and values come from requests: escaped as any text of
theirs. Without metadata every function here adds nothing, so such a run reads as it did.
"""

from __future__ import annotations

from typing import Any

from rag_eval.domain.results import Interval, ScoreRun
from rag_eval.domain.safe_text import markdown_cell, spreadsheet_cell
from rag_eval.domain.sample import Sample
from rag_eval.domain.segments import Segment, Segments

HEADING = "By segment"
INTRO = (
    "The samples grouped by each metadata key they carry, a table a key: how many samples "
    "have each value, and their means with the 95% interval, each metric on its own scale "
    "(a sample without the key is in none of its rows). A segment far below the others, "
    "its interval clear of theirs, is where the system fails; a segment of few samples "
    "has a wide interval and shows little."
)
_COLUMN_PREFIX = "metadata."


def header(run: ScoreRun) -> list[str]:
    """A key's table: the segment, its count, each metric (its scale beside it where not
    0..1), the weighted score."""
    labels = [f"{m} ({note})" if (note := run.scale(m).note) else m for m in run.metrics]
    return ["segment", "count", *labels, "weighted"]


def rows(segments: dict[str, Segment], run: ScoreRun) -> list[list[str]]:
    return [
        [
            value,
            str(segment.count),
            *(_figure(segment.means.get(m), segment.intervals.get(m)) for m in run.metrics),
            _figure(segment.weighted_score, segment.intervals.get("weighted_score")),
        ]
        for value, segment in segments.items()
    ]


def _figure(mean: float | None, interval: Interval | None) -> str:
    """`0.812 [0.701 – 0.901]`; `–` where no sample of the segment scored."""
    if mean is None:
        return "–"
    if interval is None or interval.low == interval.high:
        return f"{mean:.3f}"
    return f"{mean:.3f} [{interval.low:.3f} – {interval.high:.3f}]"


def segments_markdown(segments: Segments, run: ScoreRun) -> list[str]:
    """summary.md's section, its lines; none without metadata."""
    if not segments:
        return []
    lines = [f"## {HEADING}", "", INTRO, ""]
    columns = header(run)
    for key, values in segments.items():
        lines += [f"### {markdown_cell(key)}", ""]
        lines.append("| " + " | ".join(markdown_cell(c) for c in columns) + " |")
        lines.append("|" + "---|" * len(columns))
        lines += [
            "| " + " | ".join(markdown_cell(c) for c in row) + " |" for row in rows(values, run)
        ]
        lines.append("")
    return lines


def segments_json(segments: Segments) -> dict[str, Any]:
    """metadata.json's "segments": key -> value -> count, means, intervals, weighted."""
    return {
        key: {value: segment.model_dump() for value, segment in values.items()}
        for key, values in segments.items()
    }


def metadata_keys(samples: list[Sample]) -> list[str]:
    """Every metadata key of the samples, sorted: scores.csv's columns."""
    return sorted({key for sample in samples for key in sample.metadata or {}})


def metadata_cells(sample: Sample, keys: list[str]) -> dict[str, str]:
    """A row's `metadata.<key>` cells (empty where the sample lacks the key), each one a
    spreadsheet reads as text."""
    given = sample.metadata or {}
    return {f"{_COLUMN_PREFIX}{key}": spreadsheet_cell(given.get(key, "")) for key in keys}
