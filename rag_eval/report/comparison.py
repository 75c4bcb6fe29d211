"""A comparison of two runs, for a person: `compare-<baseline_run_id>.md` and `.html`.

Means and differences are on each metric's own scale; a metric not on 0..1, higher
better, says its scale beside its name ("noise_sensitivity (lower is better)"), so that
a rise called a regression reads as one. Each verdict says what it rests on: the judge's
scores, or both runs' means corrected by people's labels (`MetricChange.basis`).
"""

from __future__ import annotations

from html import escape

from rag_eval.domain.comparison import JUDGE_BASIS, Comparison, MetricChange
from rag_eval.domain.safe_text import markdown_cell, markdown_text


def _n(value: float | None, sign: bool = False) -> str:
    if value is None:
        return "–"
    return f"{value:+.3f}" if sign else f"{value:.3f}"


def _p(value: float | None) -> str:
    return "–" if value is None else ("< 0.001" if value < 0.001 else f"{value:.3f}")


def verdict_line(comparison: Comparison) -> str:
    """One line: what changed, significantly after the correction for several metrics, or
    likely (the interval says so, the test cannot confirm it)."""
    moved = [
        c for c in comparison.metrics if c.verdict not in ("no significant change", "too few pairs")
    ]
    if not moved:
        untested = any(c.underpowered for c in comparison.metrics)
        return "No significant change on any metric" + (
            ", but too few pairs to show one (see the notes)." if untested else "."
        )
    return (
        "; ".join(
            f"{c.metric} {c.verdict} ({_n(c.shown_difference, True)}"
            + ("" if c.scale.higher_is_better else ", lower is better")
            + (", on means corrected by human labels" if c.basis == "corrected" else "")
            + ")"
            for c in moved
        )
        + "."
    )


def basis_line(comparison: Comparison) -> str:
    """What the verdicts rest on: the judge's scores, or means corrected by people's labels
    (where both runs have them), and how to get the latter."""
    corrected = [c.metric for c in comparison.metrics if c.basis == "corrected"]
    judged = [c.metric for c in comparison.metrics if c.basis == "judge"]
    label = (
        "label samples of both runs: rag-eval review "
        f"{comparison.baseline_job}, rag-eval review {comparison.candidate_job}"
    )
    if not corrected:
        return f"Verdicts rest on the {JUDGE_BASIS}. To judge on people's scores, {label}."
    if not judged:
        return "Verdicts rest on both runs' means corrected by human labels."
    return (
        f"Verdicts rest on means corrected by human labels for {', '.join(corrected)}, and on "
        f"the {JUDGE_BASIS} for {', '.join(judged)}. To judge those on people's scores too, "
        f"{label}."
    )


def _label(change: MetricChange) -> str:
    note = change.scale.note
    return f"{change.metric} ({note})" if note else change.metric


def _labels(comparison: Comparison) -> dict[str, str]:
    return {c.metric: _label(c) for c in comparison.metrics}


def metric_notes(comparison: Comparison) -> list[str]:
    """Why a verdict is only "likely", or why the test could not decide, and what a verdict
    rests on where only one run has corrected means: one line each."""
    return [f"{c.metric}: {c.note}" for c in comparison.metrics if c.note] + [
        f"{c.metric}: {c.basis_note}"
        for c in comparison.metrics
        if c.basis == "judge" and c.basis_note != JUDGE_BASIS
    ]


SEGMENTS_HEADING = "Segments that changed"
SEGMENTS_INTRO = (
    "Per metadata key=value both runs have, per metric: the paired difference of the "
    "segment's samples with its 95% interval, significant when its p-value, corrected "
    "(Holm) for every segment and metric tested together, is under 0.05."
)


def segment_lines(comparison: Comparison) -> list[str]:
    """Each segment x metric that regressed or improved significantly, one line each."""
    return [
        f"{s.name} {s.verdict} (p {_p(s.p_adjusted)})"
        for s in comparison.segments
        if s.verdict in ("regressed", "improved")
    ]


def _corrected(change: MetricChange) -> str:
    shown = change.corrected
    if change.basis != "corrected" or shown is None:
        return "–"
    return f"{_n(shown.difference, True)} ({_n(shown.low, True)} to {_n(shown.high, True)})"


def rows(comparison: Comparison) -> list[list[str]]:
    return [
        [
            _label(c),
            _n(c.baseline),
            _n(c.candidate),
            _n(c.difference, True),
            f"{_n(c.low, True)} to {_n(c.high, True)}",
            _corrected(c),
            _p(c.adjusted_p),
            c.verdict,
            BASIS[c.basis],
            str(c.pairs),
        ]
        for c in comparison.metrics
    ]


HEADER = [
    "metric",
    "baseline",
    "candidate",
    "difference",
    "95% interval",
    "corrected difference (95%)",
    "p (Holm)",
    "verdict",
    "verdict rests on",
    "pairs",
]
# The table's word for what a verdict rests on; `basis_line` says it in full.
BASIS = {"judge": "judge's scores", "corrected": "human-corrected means"}


def comparison_markdown(comparison: Comparison) -> str:
    labels = _labels(comparison)
    lines = [
        f"# Comparison: {comparison.candidate_run} against {comparison.baseline_run}",
        "",
        f"**Verdict.** {verdict_line(comparison)}",
        "",
        markdown_text(basis_line(comparison)),
        "",
        *(f"- **Note:** {markdown_cell(w)}" for w in comparison.warnings),
        *(f"- {markdown_cell(n)}" for n in metric_notes(comparison)),
        "",
        f"{comparison.matched} samples matched; {comparison.only_in_baseline} only in the "
        f"baseline, {comparison.only_in_candidate} only in the candidate.",
        "",
        "| " + " | ".join(HEADER) + " |",
        "|" + "---|" * len(HEADER),
        *("| " + " | ".join(markdown_cell(v) for v in row) + " |" for row in rows(comparison)),
        "",
        "A difference is significant when its p-value, corrected (Holm) for the metrics "
        "compared together, is under 0.05; its interval is where the true difference lies "
        "with 95% confidence. Wilcoxon's signed-rank test for graded scores, McNemar's exact "
        'test for 0/1 scores. "Likely" means the interval excludes zero but the corrected '
        "test does not confirm it (the notes say why): score more samples to decide. Each "
        "metric is on its own scale; for one lower is better of, a rise is a regression. "
        "Where both runs have means corrected by human labels, the verdict rests on their "
        "difference instead (the corrected difference column), with an interval that takes "
        "the two runs' estimates as independent: conservative, as both answer the same "
        "questions.",
        "",
    ]
    if moved := segment_lines(comparison):
        lines += [f"## {SEGMENTS_HEADING}", "", SEGMENTS_INTRO, ""]
        lines += [f"- {markdown_cell(line)}" for line in moved] + [""]
    if comparison.regressions:
        lines += [
            "## Samples that lost most",
            "",
            "| sample | metric | baseline | candidate | why |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {markdown_cell(r.sample_id)} | {markdown_cell(labels.get(r.metric, r.metric))} | "
            f"{_n(r.baseline)} | "
            f"{_n(r.candidate)} | {markdown_cell(r.why)} |"
            for r in comparison.regressions
        ]
        lines.append("")
    return "\n".join(lines)


def comparison_html(comparison: Comparison) -> str:
    labels = _labels(comparison)
    cells = "".join(
        "<tr>" + "".join(f"<td>{escape(v)}</td>" for v in row) + "</tr>" for row in rows(comparison)
    )
    lost = "".join(
        f"<tr><td>{escape(r.sample_id)}</td><td>{escape(labels.get(r.metric, r.metric))}</td>"
        f"<td>{_n(r.baseline)}</td>"
        f"<td>{_n(r.candidate)}</td><td>{escape(r.why)}</td></tr>"
        for r in comparison.regressions
    )
    notes = "".join(
        f"<p class='warn'>{escape(w)}</p>"
        for w in [*comparison.warnings, *metric_notes(comparison)]
    )
    head = "".join(f"<th>{escape(h)}</th>" for h in HEADER)
    moved = "".join(f"<li>{escape(line)}</li>" for line in segment_lines(comparison))
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; "
        "style-src 'unsafe-inline'\">"
        f"<title>Comparison {escape(comparison.candidate_run)}</title><style>"
        "body{font:15px/1.45 system-ui,sans-serif;max-width:1000px;margin:auto;padding:1rem}"
        "table{border-collapse:collapse;width:100%}td,th{padding:.3rem;border-bottom:1px solid "
        "#eee;text-align:left}.warn{color:#a04000;font-weight:600}</style></head><body>"
        f"<h1>{escape(comparison.candidate_run)} against {escape(comparison.baseline_run)}</h1>"
        f"<p><b>{escape(verdict_line(comparison))}</b></p>"
        f"<p>{escape(basis_line(comparison))}</p>{notes}"
        f"<p>{comparison.matched} samples matched; {comparison.only_in_baseline} only in the "
        f"baseline, {comparison.only_in_candidate} only in the candidate.</p>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{cells}</tbody></table>"
        + (
            f"<h2>{SEGMENTS_HEADING}</h2><p>{escape(SEGMENTS_INTRO)}</p><ul>{moved}</ul>"
            if moved
            else ""
        )
        + (
            "<h2>Samples that lost most</h2><table><thead><tr><th>sample</th><th>metric</th>"
            f"<th>baseline</th><th>candidate</th><th>why</th></tr></thead><tbody>{lost}"
            "</tbody></table>"
            if lost
            else ""
        )
        + "</body></html>"
    )
