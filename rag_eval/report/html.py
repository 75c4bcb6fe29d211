"""report.html: the run on one page, for a person: the verdict and what to fix, each
metric's mean and distribution, how far to trust the judge (`rag_eval.report.trust`: how
to label, until people's labels arrive and the section is written again), every sample
(sortable, filterable) with why its scores are low, and on a click the sample's texts (a
conversation's turns, and its tool calls beside the expected ones:
`rag_eval.domain.conversation_view`) and the judge's evidence.

One self-contained file: styles, charts (SVG) and a small script inline, and a Content
Security Policy that allows nothing else, so it opens from a presigned URL or from disk
and fetches nothing. Every text of a request or a judge is escaped (`html.escape` on the
page, `textContent` in the script, `<` escaped inside the JSON): hostile values show as
text. Over MAX_SAMPLES samples it holds the aggregates and the lowest-scoring samples,
and says so.

Values are shown on their metric's own scale ("4.200 of 5", "0.100 (lower is better)"),
with the category a job's discrete metric answered beside its number; what is low (red,
the "low" filter, the charts' colours) is judged on the value put on 0..1 with 1 the best.
"""

from __future__ import annotations

import json
from html import escape
from importlib.resources import files
from string import Template
from typing import Any

from rag_eval.advice.findings import Diagnosis, Evidence, Finding
from rag_eval.advice.guides import on_scale
from rag_eval.domain.conversation_view import conversation_view
from rag_eval.domain.evidence import LOW, why
from rag_eval.domain.request import ScoreRequest
from rag_eval.domain.results import Interval, SampleResult, ScoreRun
from rag_eval.metrics.spec import UNIT
from rag_eval.report.charts import colour_legend, distribution_chart, means_chart
from rag_eval.report.jury import judges_fact, jury_html
from rag_eval.report.segments import segments_html
from rag_eval.report.trust import trust_html
from rag_eval.scoring.run_folder import RunRecord

MAX_SAMPLES = 1_000
_TEXT = 1_000  # characters of a sample's answer, reference or context shown
_CONTEXTS = 10
_CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"


def _asset(name: str) -> str:
    """The page, its styles and its script are files of their own: rag_eval/report/assets/."""
    return (files("rag_eval.report") / "assets" / name).read_text(encoding="utf-8")


_PAGE = Template(_asset("page.html"))
# A conversation's view is shared with `rag-eval review` (conversation.js and .css).
_CSS = _asset("conversation.css") + _asset("report.css")
_SCRIPT = _asset("conversation.js") + _asset("report.js")


def _cut(text: str | None, limit: int = _TEXT) -> str:
    text = text or ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _number(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _samples(request: ScoreRequest, run: ScoreRun) -> tuple[list[dict[str, Any]], int]:
    """The samples the page holds (the lowest-scoring when there are too many), and how
    many there are in all."""
    pairs = list(zip(request.samples, run.results, strict=True))
    if len(pairs) > MAX_SAMPLES:
        pairs.sort(key=lambda pair: run.sample_weighted_score(pair[1]) or 0.0)
        pairs = pairs[:MAX_SAMPLES]
    rows = []
    for sample, result in pairs:
        normalised = _normalised(run, result)
        rows.append(
            {
                "id": result.sample_id,
                "question": _cut(sample.question, 300),
                "answer": _cut(sample.answer),
                "contexts": [_cut(c, 600) for c in (sample.contexts or [])[:_CONTEXTS]],
                "reference": _cut(sample.ground_truth),
                "conversation": conversation_view(sample),  # None: a single-turn sample
                "scores": result.scores,  # on each metric's own scale: shown, sorted
                "normalised": normalised,  # on 0..1, 1 the best: what is low
                "categories": result.categories,
                "weighted": run.sample_weighted_score(result),
                "why": {
                    m: w
                    for m in result.scores
                    if (w := why(m, result.evidence.get(m), normalised.get(m)))
                },
                "reasons": result.reasons,
                "evidence": result.evidence,
            }
        )
    return rows, len(run.results)


def _low(run: ScoreRun, metric: str, value: float | None) -> bool:
    normalised = run.normalised(metric, value)
    return normalised is not None and normalised < LOW


def _normalised(run: ScoreRun, result: SampleResult) -> dict[str, float | None]:
    return {metric: run.normalised(metric, value) for metric, value in result.scores.items()}


def _scales(run: ScoreRun) -> dict[str, dict[str, object]]:
    """What the page's script says of each metric's values: its scale, and the note its
    column header carries ("" for 0..1, higher better)."""
    return {m: {**run.scale(m).describe(), "note": run.scale(m).note} for m in run.metrics}


def _evidence_scores(finding: Finding, evidence: Evidence, run: ScoreRun) -> str:
    """The scores beside a sample's chip, each named by its metric: a bare number would
    not say which of the finding's metrics it is."""
    shown = []
    for position, metric in enumerate(finding.metrics):
        value = evidence.score if position == 0 else evidence.other_scores.get(metric)
        text = escape(on_scale(value, run.scale(metric), 3)) if value is not None else "–"
        category = _category(run, evidence.sample_id, metric)
        if category:
            text += f" ({escape(category)})"
        if value is None and position == 0 and evidence.note:  # the first metric's reason
            text = f"not scored ({escape(evidence.note)})"
        elif _low(run, metric, value):
            text = f'<span class="low">{text}</span>'
        shown.append(f"{escape(metric)} {text}")
    return " · ".join(shown)


def _category(run: ScoreRun, sample_id: str, metric: str) -> str:
    """The category a job's discrete metric answered for the sample ("" for none)."""
    result = next((r for r in run.results if r.sample_id == sample_id), None)
    return result.categories.get(metric, "") if result is not None else ""


def _findings(diagnosis: Diagnosis, run: ScoreRun) -> str:
    if not diagnosis.findings:
        return "<p>No finding: no metric and no sample stands out as weak.</p>"
    parts = []
    for finding in diagnosis.findings:
        samples = "".join(
            f'<li><button class="sample" data-sample="{escape(e.sample_id)}">'
            f"{escape(e.sample_id)}</button> {_evidence_scores(finding, e, run)}"
            + (f' <span class="small">{escape(e.why)}</span>' if e.why else "")
            + "</li>"
            for e in finding.evidence
        )
        steps = "".join(f"<li>{escape(step)}</li>" for step in finding.next_steps[:3])
        parts.append(
            f'<article class="finding sev-{escape(finding.severity)}">'
            f"<h3>{escape(finding.title)}</h3>"
            f'<p class="meta">{escape(finding.severity)} · {escape(finding.component)} · '
            f"{escape(', '.join(finding.metrics))}</p>"
            f"<p>{escape(finding.meaning)}</p>"
            + (f'<ul class="samples">{samples}</ul>' if samples else "")
            + (f"<ul>{steps}</ul>" if steps else "")
            + "</article>"
        )
    return "".join(parts)


def _metric_rows(run: ScoreRun, intervals: dict[str, Interval]) -> str:
    rows = []
    failures = run.failures
    for metric in run.metrics:
        scored = sum(r.scores.get(metric) is not None for r in run.results)
        why_not = run.skipped.get(metric) or ", ".join(
            f"{code} × {count}" for code, count in failures.get(metric, {}).items()
        )
        interval = intervals.get(metric)
        shown = "–" if interval is None else f"{interval.low:.3f} – {interval.high:.3f}"
        mean = run.means.get(metric)
        cell = '<td class="low">' if _low(run, metric, mean) else "<td>"
        rows.append(
            f"<tr><td>{escape(metric)}</td>{cell}"
            f"{escape(on_scale(mean, run.scale(metric), 3)) if mean is not None else '–'}</td>"
            f"<td>{shown}</td>"
            f"<td>{scored} of {len(run.results)}</td><td>{escape(why_not)}</td></tr>"
        )
    return "".join(rows)


def _run_facts(record: RunRecord, run: ScoreRun) -> str:
    # A jury names its models where one judge would be named.
    judge = judges_fact(run, record.jury) or {
        "Judge model": record.judge_model or "none (model-free metrics only)"
    }
    facts = {
        **judge,
        "Embedding model": record.embedding_model or "none",
        "Finished": f"{record.finished_at} ({record.latency_ms:,} ms)",
        "Tokens": f"{run.usage.input_tokens:,} in, {run.usage.output_tokens:,} out, "
        f"{run.usage.requests:,} requests",
    }
    if record.cost is not None:
        total = record.cost.total_usd
        facts["Cost"] = (f"${total:.4f}" if total is not None else "unknown") + (
            f" ({record.cost.reason})" if record.cost.reason else ""
        )
    if record.cache is not None:
        facts["Cache"] = f"{record.cache.hits:,} hits, {record.cache.misses:,} misses"
    if record.budget is not None:
        facts["Budget"] = (
            f"{record.budget.judge_calls:,} judge calls, ${record.budget.cost_usd:.4f}"
            + (" — exhausted: some pairs are unscored" if record.budget.exhausted else "")
        )
    return "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in facts.items())


def render_report(
    record: RunRecord, request: ScoreRequest, run: ScoreRun, diagnosis: Diagnosis
) -> str:
    rows, total = _samples(request, run)
    data = {"metrics": run.metrics, "scales": _scales(run), "low": LOW, "samples": rows}
    # Inside <script>, "</" would end it: no "<" reaches the page unescaped.
    payload = json.dumps(data, ensure_ascii=False).replace("<", "\\u003c")
    shown = (
        f"The {len(rows):,} lowest-scoring of {total:,} samples are shown; all are in "
        "scores.csv and explanations.jsonl."
        if total > len(rows)
        else f"All {total:,} samples."
    )
    # A metric's name may break after an underscore, so that its column stays narrow.
    header_cells = "".join(
        f'<th data-key="{escape(m)}" class="num">{escape(m).replace("_", "_<wbr>")}'
        + (f' <span class="small">({escape(note)})</span>' if (note := run.scale(m).note) else "")
        + "</th>"
        for m in run.metrics
    )
    return _PAGE.substitute(
        css=_CSS,
        csp=_CSP,
        title=escape(f"Run {record.run_id}"),
        run_id=escape(record.run_id),
        job_id=escape(record.job_id),
        partial=(
            f"<p class='warn'>Partial: {escape(run.partial_note())}.</p>" if record.partial else ""
        ),
        verdict=escape(diagnosis.verdict),
        weighted=_number(run.weighted_score),
        weighted_range=(
            f"95% interval {record.intervals['weighted_score'].low:.3f} – "
            f"{record.intervals['weighted_score'].high:.3f}"
            if "weighted_score" in record.intervals
            else ""
        ),
        coverage="–" if run.coverage is None else f"{run.coverage:.0%}",
        samples=f"{total:,}",
        findings=_findings(diagnosis, run),
        legend=colour_legend(LOW, scaled=any(run.scale(m) != UNIT for m in run.metrics)),
        means_chart=means_chart(run, LOW),
        distribution_chart=distribution_chart(run, LOW),
        metric_rows=_metric_rows(run, record.intervals),
        jury=jury_html(run, record.jury) + segments_html(record.segments, run),  # "" if neither
        # Nobody has labelled yet: how to. Written again as labels arrive (`splice`).
        trust=trust_html(None, record.job_id),
        header_cells=header_cells,
        shown=escape(shown),
        facts=_run_facts(record, run),
        data=payload,
        script=_SCRIPT,
    )
