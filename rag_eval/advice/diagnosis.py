"""The diagnosis of a run: every rule that fires, its evidence, the strengths, the metrics
that could not score, and a one-line verdict. Never raises on odd but valid input."""

from __future__ import annotations

import re

from rag_eval.advice.findings import (
    SEVERITY_ORDER,
    Diagnosis,
    Finding,
    Strength,
    UnscoredMetric,
)
from rag_eval.advice.guides import FAILURE_ADVICE, INPUT_HINTS, STRONG_AT, band
from rag_eval.advice.patterns import pattern_findings
from rag_eval.advice.rules import combination_findings, judge_findings, single_findings
from rag_eval.advice.view import RunView, finite
from rag_eval.domain.request import ScoreRequest
from rag_eval.domain.results import ScoreRun
from rag_eval.metrics import REFERENCE_METRICS, REGISTRY


def diagnose(run: ScoreRun, request: ScoreRequest) -> Diagnosis:
    """Read the scores like a RAG engineer would; never raises on odd but valid input."""
    means = {name: finite(value) for name, value in run.means.items()}
    view = RunView(run, request, means)
    findings = [*combination_findings(view)]
    explained = {m for f in findings for m in f.metrics}
    findings += single_findings(view, explained)
    findings += judge_findings(view)
    for finding in findings:
        finding.evidence = view.evidence(
            finding.metrics,
            failed=finding.rule == "judge_failures",
            good=_claimed_good(finding),
        )
    findings.sort(key=lambda f: (SEVERITY_ORDER[f.severity], _first_mean(f, view)))
    # Single samples' failure patterns first: the means can hide them.
    findings = [*pattern_findings(view), *findings]
    for finding in findings:
        finding.next_steps = [_said_of_this_run(step, run.metrics) for step in finding.next_steps]
    strengths = [
        Strength(
            metric=name,
            mean=mean,
            meaning=guide.strength if (guide := view.guide(name)) is not None else "",
        )
        for name, mean in means.items()
        if mean is not None and (view.mean(name) or 0.0) >= STRONG_AT
    ]
    return Diagnosis(
        sample_count=len(run.results),
        means=means,
        weighted_score=finite(run.weighted_score),
        coverage=finite(run.coverage),
        verdict=_verdict(run, means, findings),
        findings=findings,
        strengths=strengths,
        unscored=_unscored(run, view),
        scales={name: view.scale(name) for name in means},
    )


def _unscored(run: ScoreRun, view: RunView) -> list[UnscoredMetric]:
    entries: list[UnscoredMetric] = []
    for metric, reason in run.skipped.items():
        missing = _missing_inputs(metric, view)
        entries.append(
            UnscoredMetric(
                metric=metric,
                status="skipped",
                reason=reason,
                reason_counts={"missing_input": len(run.results)},
                advice=[_unlock_advice(metric, missing)] if missing else [],
            )
        )
    for metric, counts in run.failures.items():
        advice = []
        for code in sorted(counts, key=lambda c: -counts[c]):
            if code == "missing_input":
                missing = _missing_inputs(metric, view)
                advice.append(f"`missing_input`: {_unlock_advice(metric, missing)}")
            else:
                text = FAILURE_ADVICE.get(code, "read the error column of scores.csv.")
                advice.append(f"`{code}`: {text}")
        summary = ", ".join(f"{code} × {n}" for code, n in counts.items())
        unscored = sum(counts.values())
        entries.append(
            UnscoredMetric(
                metric=metric,
                status="not scored" if unscored >= len(run.results) else "partly scored",
                reason=f"did not score on {unscored} of {len(run.results)} samples ({summary})",
                reason_counts=dict(counts),
                advice=advice,
            )
        )
    return entries


def _missing_inputs(metric: str, view: RunView) -> list[str]:
    spec = view.specs.get(metric) or REGISTRY.get(metric)  # a job's own metric too
    if spec is None:
        return []
    return sorted({m for s in view.samples.values() for m in s.missing_inputs(spec.inputs)})


def _unlock_advice(metric: str, missing: list[str]) -> str:
    if not missing:
        return f"some samples lack an input {metric} needs; see the error column of scores.csv."
    wanted = " and ".join(INPUT_HINTS.get(name, f"`{name}`") for name in missing)
    return f"add {wanted} to every sample to unlock {metric}."


def _verdict(run: ScoreRun, means: dict[str, float | None], findings: list[Finding]) -> str:
    scored = sum(v is not None for v in means.values())
    score = finite(run.weighted_score)
    samples = len(run.results)
    if score is None:
        return (
            f"Nothing could be scored: 0 of {len(means)} metric(s) produced a score over "
            f"{samples} sample(s). See the metrics that could not score below."
        )
    coverage = finite(run.coverage)
    text = (
        f"Weighted score {score:.4f} ({band(score)}), coverage "
        f"{'—' if coverage is None else f'{coverage:.0%}'} of the scorable pairs ({scored} of "
        f"{len(means)} metrics scored), {samples} sample(s)."
    )
    # findings arrive sorted by severity, worst first
    first = next((f for f in findings if f.severity != "note"), None)
    if first is not None:
        text += f" Fix first ({first.component}): {first.title}."
    else:
        text += " No metric is weak or poor."
    return text


def _claimed_good(finding: Finding) -> tuple[str, ...]:
    """The metrics a finding says are good: its evidence shows only samples where they are
    ("the generator sticks to its contexts" beside a sample of faithfulness 0 would be a
    contradiction)."""
    if finding.rule == "overlap_low_paraphrase":
        return tuple(m for m in finding.metrics if m in REFERENCE_METRICS)
    return {
        "retriever_bottleneck": ("faithfulness",),
        "generator_ignores_context": ("context_recall",),
    }.get(finding.rule, ())


def _said_of_this_run(step: str, requested: list[str]) -> str:
    """A step that names a metric this run did not score says so: it is one worth adding,
    not one whose score is known."""
    others = [m for m in REGISTRY if m not in requested and re.search(rf"\b{m}\b", step)]
    if not others:
        return step
    return f"{step} ({', '.join(others)}: not scored in this run; worth adding)"


def _first_mean(finding: Finding, view: RunView) -> float:
    value = view.mean(finding.metrics[0])  # on 0..1: the worst first, whatever the scale
    return 1.0 if value is None else value
