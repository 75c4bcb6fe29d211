"""Results by segment on report.html: `<section id="segments">`, the same tables as
summary.md's section (`rag_eval.scoring.segment_summary`).

Every key, value and metric name is `html.escape`d, as the rest of the page's texts are
(`rag_eval.report.html`): a hostile label shows as text. Without metadata there is no
section at all.
"""

from __future__ import annotations

from html import escape

from rag_eval.domain.results import ScoreRun
from rag_eval.domain.segments import Segments
from rag_eval.scoring.segment_summary import HEADING, INTRO, header, rows


def segments_html(segments: Segments, run: ScoreRun) -> str:
    """report.html's `<section id="segments">`; "" without metadata."""
    if not segments:
        return ""
    head = "".join(f"<th>{escape(cell)}</th>" for cell in header(run))
    parts = [f'<section id="segments"><h2>{escape(HEADING)}</h2>', f"<p>{escape(INTRO)}</p>"]
    for key, values in segments.items():
        body = "".join(
            "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>"
            for row in rows(values, run)
        )
        parts.append(
            f"<h3>{escape(key)}</h3>"
            f'<table class="segments"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
        )
    parts.append("</section>")
    return "".join(parts)
