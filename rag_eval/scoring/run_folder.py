"""The run folder's files (docs/ARCHITECTURE.md, "S3 layout"), rendered from a scored run.

Rendering only: `rag_eval.app.pipeline` writes them to the bucket (or a folder).
"""

from __future__ import annotations

import json
import platform
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata as importlib_metadata
from typing import Any

import pandas as pd

from rag_eval import __version__
from rag_eval.domain.budget import Budget
from rag_eval.domain.evidence import why
from rag_eval.domain.job import JobCache
from rag_eval.domain.pricing import Cost
from rag_eval.domain.request import ScoreRequest
from rag_eval.domain.results import Interval, JudgeConcurrency, SampleResult, ScoreRun
from rag_eval.domain.safe_text import markdown_cell, spreadsheet_cell
from rag_eval.domain.sample import Sample
from rag_eval.domain.segments import Segments
from rag_eval.domain.trust import JuryAgreement
from rag_eval.metrics.spec import MetricSpec
from rag_eval.scoring.conversation_columns import (
    conversation_cells,
    conversation_columns,
    conversation_sizes,
)
from rag_eval.scoring.jury_summary import judge_fact, juror_columns, jury_markdown
from rag_eval.scoring.segment_summary import (
    metadata_cells,
    metadata_keys,
    segments_json,
    segments_markdown,
)
from rag_eval.scoring.summary_facts import budget_line, cache_line, dollars
from rag_eval.scoring.trust_summary import trust_markdown

# File name -> content type. Order is the order a reader should open them in.
RUN_FILES = {
    "report.html": "text/html; charset=utf-8",
    "summary.md": "text/markdown; charset=utf-8",
    "optimization_advice.md": "text/markdown; charset=utf-8",
    "scores.csv": "text/csv; charset=utf-8",
    "explanations.jsonl": "application/x-ndjson; charset=utf-8",
    "metadata.json": "application/json",
    "request.json": "application/json",
}
MAX_SUMMARY_ROWS = 200


@dataclass
class RunRecord:
    """Everything the run folder describes, besides the scores themselves."""

    run_id: str
    job_id: str
    created_at: str
    started_at: str
    finished_at: str
    latency_ms: int
    judge_model: str
    embedding_model: str
    partial: bool = False  # a cancelled job: only the samples scored before the cancel
    min_coverage: float = 0.0  # below it, the summary warns that the means rest on little
    cost: Cost | None = None  # the judge's spend, from run.usage and the price table
    cache: JobCache | None = None  # the verdict cache's hits, misses and savings
    budget: Budget | None = None  # the job's limits and its spend against them
    concurrency: JudgeConcurrency | None = None  # judge requests in flight, after 429s
    # metric (and "weighted_score") -> the mean's 95% confidence interval
    intervals: dict[str, Interval] = field(default_factory=dict)
    # With a jury: per judged metric, how far its jurors agree (rag_eval/scoring/jury.py)
    jury: dict[str, JuryAgreement] = field(default_factory=dict)
    # Per metadata key, per value: its samples' figures (rag_eval/scoring/segments.py)
    segments: Segments = field(default_factory=dict)


def run_files(
    record: RunRecord,
    request: ScoreRequest,
    run: ScoreRun,
    advice_md: str,
    report_html: str,
    snapshot: str | None = None,
) -> dict[str, bytes]:
    """File name -> body, in the order of RUN_FILES. `snapshot`: request.json as the caller
    sent it (a dataset job's names its upload), else the request itself."""
    bodies = {
        "report.html": report_html,
        "summary.md": render_summary(record, run, request.samples),
        "optimization_advice.md": advice_md,
        "scores.csv": scores_table(request, run).to_csv(index=False),
        "explanations.jsonl": explanations(run),
        "metadata.json": json.dumps(
            run_metadata(record, request, run), ensure_ascii=False, indent=2
        ),
        "request.json": snapshot or request.model_dump_json(indent=2, exclude_none=True),
    }
    return {name: bodies[name].encode("utf-8") for name in RUN_FILES}


def scores_table(request: ScoreRequest, run: ScoreRun) -> pd.DataFrame:
    """One row per sample: inputs (a conversation's whole as JSON: conversation_columns.py),
    a readable error column, one column per metric (on its own scale), and beside a metric
    that answers categories, `<metric>.category`; with a jury, each juror's value after the
    metrics, `<metric>@<juror>`."""
    categorised = {metric for result in run.results for metric in result.categories}
    juries, keys = juror_columns(run), metadata_keys(request.samples)
    conversation = conversation_columns(request.samples)
    rows = []
    for sample, result in zip(request.samples, run.results, strict=True):
        texts = {
            "sample_id": result.sample_id,
            "question": sample.question,
            "answer": sample.answer or "",
            "contexts": json.dumps(sample.contexts or [], ensure_ascii=False),
            "ground_truth": sample.ground_truth or "",
            "error": "; ".join(f"{m}: {r}" for m, r in result.reasons.items()),
            "why": sample_why(run, result),
        }
        row: dict[str, Any] = {name: spreadsheet_cell(text) for name, text in texts.items()}
        row |= conversation_cells(sample, conversation)
        row |= metadata_cells(sample, keys)
        for metric, value in result.scores.items():
            row[metric] = value
            if metric in categorised:
                # The job's own labels: text a spreadsheet must not run either.
                row[f"{metric}.category"] = spreadsheet_cell(result.categories.get(metric, ""))
        row |= {column: result.jurors.get(m, {}).get(j) for column, m, j in juries}
        row["weighted_score"] = run.sample_weighted_score(result)
        rows.append(row)
    return pd.DataFrame(rows)


def sample_why(run: ScoreRun, result: SampleResult) -> str:
    """Why the sample's low scores are low, a clause a metric, from their evidence."""
    return "; ".join(
        f"{metric}: {said}"
        for metric, value in result.scores.items()
        if (said := _why(run, result, metric, value))
    )


def _why(run: ScoreRun, result: SampleResult, metric: str, value: float | None) -> str:
    # Low is judged on 0..1 with 1 the best: a 2 of 5, a noise_sensitivity of 0.8.
    return why(metric, result.evidence.get(metric), run.normalised(metric, value))


def explanations(run: ScoreRun) -> str:
    """explanations.jsonl: one line a sample, each metric's score (on its own scale), its
    category where it answered one, reason code, `why` and the judge's evidence (bounded:
    rag_eval/domain/evidence.py)."""
    lines = []
    for result in run.results:
        metrics = {metric: _explained(run, result, metric) for metric in result.scores}
        lines.append(
            json.dumps({"sample_id": result.sample_id, "metrics": metrics}, ensure_ascii=False)
        )
    return "".join(line + "\n" for line in lines)


def _explained(run: ScoreRun, result: SampleResult, metric: str) -> dict[str, Any]:
    value = result.scores[metric]
    category = {"category": result.categories[metric]} if metric in result.categories else {}
    return {"score": value, **category} | {
        "reason": result.reasons.get(metric),
        "detail": result.details.get(metric),
        "why": _why(run, result, metric, value) or None,
        "evidence": result.evidence.get(metric),
    }


def metric_stats(run: ScoreRun) -> pd.DataFrame:
    """Per metric: mean, min, max and how many samples scored."""
    frame = pd.DataFrame([r.scores for r in run.results], columns=run.metrics, dtype="float64")
    return pd.DataFrame(
        {"mean": frame.mean(), "min": frame.min(), "max": frame.max(), "scored": frame.count()}
    )


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.4f}"
    return markdown_cell(str(value))


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def render_summary(record: RunRecord, run: ScoreRun, samples: Sequence[Sample] = ()) -> str:
    stats = metric_stats(run)
    total = len(run.results)
    failures = run.failures
    # A metric not on 0..1, higher better, says its scale beside its name: "x (1–5)".
    labels = {m: f"{m} ({note})" if (note := run.scale(m).note) else m for m in run.metrics}
    metric_rows = [
        [
            labels[name],
            stats.at[name, "mean"],
            _range(record.intervals.get(name)),
            stats.at[name, "min"],
            stats.at[name, "max"],
            f"{int(stats.at[name, 'scored'])}/{total}",
            ", ".join(f"{reason} x{n}" for reason, n in failures.get(name, {}).items())
            or run.skipped.get(name, ""),
        ]
        for name in run.metrics
    ]
    shown = run.results[:MAX_SUMMARY_ROWS]
    sized, sizes = conversation_sizes(samples, len(shown))  # a conversation's length
    weighted = run.sample_weighted_score
    sample_rows = [
        [r.sample_id, *size, *(_score_cell(r, m) for m in run.metrics), weighted(r)]
        for r, size in zip(shown, sizes, strict=True)
    ]
    parts = [
        f"# Scoring run {record.run_id}",
        "",
        f"- Job: `{record.job_id}`",
        f"- Samples: {total}",
        *([f"- **Partial**: {run.partial_note()}"] if record.partial else []),
        judge_fact(record.judge_model, run, record.jury),
        f"- Embedding model: {record.embedding_model or '(none)'}",
        f"- Finished: {record.finished_at} ({record.latency_ms} ms)",
        f"- Weighted score: {_cell(run.weighted_score)} "
        + (
            f"(95% interval {_range(record.intervals['weighted_score'])}; "
            if "weighted_score" in record.intervals
            else "("
        )
        + f"coverage {_cell(run.coverage)}: share of the scorable sample x metric pairs that "
        "scored)",
        *(
            [
                f"- **Low coverage**: under {record.min_coverage:.0%} of the pairs scored; the "
                "means stand for part of the set only (see `metric_failures` and the error "
                "column of `scores.csv`)"
            ]
            if run.coverage is not None and run.coverage < record.min_coverage
            else []
        ),
        f"- Judge tokens: {run.usage.input_tokens} in, {run.usage.output_tokens} out, "
        f"{run.usage.requests} requests",
        *([f"- Cost: {dollars(record.cost)}"] if record.cost is not None else []),
        *([f"- Cache: {cache_line(record.cache, record.cost)}"] if record.cache else []),
        *(
            [
                f"- **Budget exhausted**: {budget_line(record.budget)}; the pairs not scored "
                "by then are left with reason `budget_exhausted`"
            ]
            if record.budget is not None and record.budget.exhausted
            else [f"- Budget: {budget_line(record.budget)}"]
            if record.budget is not None
            else []
        ),
        *(
            [
                f"- The judge answered 429 {run.usage.rate_limited} time(s): requests in flight "
                f"went down to {record.concurrency.lowest} of {record.concurrency.configured} "
                f"(mean {record.concurrency.effective})"
            ]
            if run.usage.rate_limited and record.concurrency and record.concurrency.lowest
            else []
        ),
        "",
        "## Metric means",
        "",
        _table(
            ["metric", "mean", "95% interval", "min", "max", "scored", "not scored because"],
            metric_rows,
        ),
        "",
        "Each metric is on its own scale (a rubric 1 to 5; noise_sensitivity lower is "
        "better); the weighted score puts each on 0..1 with 1 the best first. The interval "
        "is where the mean of this system would fall for 95 of 100 evaluation sets like this "
        "one (bootstrap over the samples): two runs whose intervals overlap widely are not "
        "shown to differ.",
        "",
        *jury_markdown(run, record.jury),
        # Nobody has labelled yet: how to. Written again as labels arrive (`splice`).
        trust_markdown(None, record.job_id),
        "",
        *segments_markdown(record.segments, run),
        "## Per sample",
        "",
        _table(["sample_id", *sized, *labels.values(), "weighted"], sample_rows),
    ]
    if total > len(shown):
        parts += ["", f"Showing {len(shown)} of {total} samples; all are in `scores.csv`."]
    parts += [
        "",
        "## Files in this folder",
        "",
        "- `report.html`: this run on one page, with charts and every sample's evidence",
        "- `summary.md`: this page",
        "- `optimization_advice.md`: what to improve, and why",
        "- `scores.csv`: one row per sample, one column per metric, and `why` a score is low",
        "- `explanations.jsonl`: per sample and metric, what the judge answered (statements "
        "and verdicts, attributed sentences, per-context verdicts, generated questions)",
        "- `metadata.json`: run, models, metrics, timings, library versions",
        "- `request.json`: the request as submitted",
        "",
    ]
    return "\n".join(parts)


def _score_cell(result: SampleResult, metric: str) -> float | str | None:
    """The score, and beside it the category it counts (a job's discrete metric)."""
    value, category = result.scores.get(metric), result.categories.get(metric)
    return value if value is None or category is None else f"{value:.4f} ({category})"


def _range(interval: Interval | None) -> str:
    return "–" if interval is None else f"{interval.low:.3f} – {interval.high:.3f}"


def _version(distribution: str) -> str | None:
    try:
        return importlib_metadata.version(distribution)
    except importlib_metadata.PackageNotFoundError:
        return None


def run_metadata(record: RunRecord, request: ScoreRequest, run: ScoreRun) -> dict[str, Any]:
    specs = {spec.name: spec for spec in request.metric_specs()}
    return {
        "run_id": record.run_id,
        "job_id": record.job_id,
        "created_at": record.created_at,
        "started_at": record.started_at,
        "finished_at": record.finished_at,
        "latency_ms": record.latency_ms,
        "partial": record.partial,
        "judge_model": record.judge_model,
        "embedding_model": record.embedding_model,
        "judges": run.jurors,  # a jury's models; empty: judge_model alone
        "jury": {metric: a.model_dump(mode="json") for metric, a in record.jury.items()},
        "metrics": {name: _metric_entry(name, run, specs.get(name)) for name in run.metrics},
        "weights": run.weights,
        "weighted_score": run.weighted_score,
        "intervals": {name: i.model_dump() for name, i in record.intervals.items()},
        "segments": segments_json(record.segments),  # empty: no sample carried metadata
        "coverage": run.coverage,
        "samples": {
            "total": len(run.results),
            "fully_scored": sum(not r.reasons for r in run.results),
            "cancelled": run.samples_cancelled,
        },
        "token_usage": run.usage.model_dump(),
        "cost": record.cost.model_dump() if record.cost is not None else None,
        "cache": record.cache.model_dump() if record.cache is not None else None,
        "budget": record.budget.model_dump() if record.budget is not None else None,
        "judge": {
            "rate_limited": run.usage.rate_limited,
            "concurrency": (
                record.concurrency.model_dump(exclude={"seconds"}) if record.concurrency else None
            ),
        },
        "versions": {"rag_eval": __version__}
        | {name: _version(name) for name in ("ragas", "openai", "pandas")}
        | {"python": platform.python_version()},
        "files": list(RUN_FILES),
    }


def _metric_entry(name: str, run: ScoreRun, spec: MetricSpec | None) -> dict[str, Any]:
    """metadata.json's entry of a metric: its mean and scale, what it needs, how it fared,
    and for a metric the job defined, its definition and the digest compare matches on."""
    scale = spec.scale if spec is not None else run.scale(name)
    entry: dict[str, Any] = {
        "mean": run.means[name],
        "scale": scale.describe(),
        "needs_judge": spec.needs_judge if spec is not None else None,
        "needs_embeddings": spec.needs_embeddings if spec is not None else None,
        "failures": run.failures.get(name, {}),
        "skipped": run.skipped.get(name),
    }
    if spec is not None and spec.definition is not None:
        entry["definition"] = dict(spec.definition)
        entry["fingerprint"] = spec.fingerprint
    return entry
