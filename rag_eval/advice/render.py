"""The markdown of `optimization_advice.md`, for a person browsing the run folder."""

from __future__ import annotations

from rag_eval.advice.findings import Diagnosis, Finding, UnscoredMetric
from rag_eval.advice.guides import (
    COMPONENT_LABELS,
    EVIDENCE_SAMPLES,
    POOR_BELOW,
    STRONG_AT,
    WEAK_BELOW,
    band,
    on_scale,
)
from rag_eval.domain.safe_text import markdown_cell, markdown_text
from rag_eval.metrics.spec import UNIT


def render_advice(
    diagnosis: Diagnosis, narrative: str | None = None, *, narrative_note: str | None = None
) -> str:
    """The markdown of `optimization_advice.md`, for a person browsing the run folder."""
    lines = ["# Optimization advice", "", f"**Verdict.** {diagnosis.verdict}", ""]
    lines += _means_table(diagnosis)
    if narrative or narrative_note:
        lines += ["## Narrative (written by the judge model)", ""]
        # The judge's words are not ours: no markup of theirs renders.
        lines += (
            [markdown_text(narrative.strip()), ""] if narrative else [f"_{narrative_note}_", ""]
        )
    if diagnosis.all_good:
        lines += _all_good_section(diagnosis)
    lines += _findings_section(diagnosis)
    if diagnosis.strengths:
        lines += ["## Strengths", ""]
        lines += [
            f"- **{s.metric}** {on_scale(s.mean, diagnosis.scale(s.metric))}: {s.meaning}."
            for s in diagnosis.strengths
        ]
        lines.append("")
    lines += _unscored_section(diagnosis.unscored)
    lines += [
        "---",
        "_Rule-based advice from the metric means (ragas metric definitions); the worst "
        f"{EVIDENCE_SAMPLES} samples per finding are listed, full scores are in scores.csv._",
        "",
    ]
    return "\n".join(lines)


def _means_table(diagnosis: Diagnosis) -> list[str]:
    if not diagnosis.means:
        return []
    lines = ["| metric | mean | band |", "|---|---|---|"]
    for name, value in diagnosis.means.items():
        shown = on_scale(value, diagnosis.scale(name))
        lines.append(f"| {name} | {shown} | {band(diagnosis.normalised(name))} |")
    legend = f"Bands: poor < {POOR_BELOW}, weak < {WEAK_BELOW}, ok, strong ≥ {STRONG_AT}"
    if any(diagnosis.scale(name) != UNIT for name in diagnosis.means):
        legend += (
            ", of each metric's scale put on 0..1 with 1 the best (a rubric's 4 of 5 is "
            "0.75; a lower-is-better metric's 0.1 is 0.9)"
        )
    return [*lines, "", legend + ".", ""]


def _findings_section(diagnosis: Diagnosis) -> list[str]:
    lines = ["## Findings", ""]
    if not diagnosis.findings:
        reason = (
            "no metric is below the weak band."
            if diagnosis.scored
            else "no metric produced a score (see the metrics that could not score)."
        )
        return [*lines, f"No findings: {reason}", ""]
    for number, finding in enumerate(diagnosis.findings, start=1):
        metrics = ", ".join(
            f"{m} {on_scale(diagnosis.means.get(m), diagnosis.scale(m))}" for m in finding.metrics
        )
        lines += [
            f"### {number}. [{finding.severity}] {finding.title}",
            "",
            f"- **Where:** {COMPONENT_LABELS[finding.component]}",
            f"- **Metrics (mean):** {metrics}",
            "",
            f"**What it usually means.** {finding.meaning}",
            "",
        ]
        if finding.evidence:
            lines += ["**Worst samples**", "", *_evidence_table(finding, diagnosis), ""]
        if finding.next_steps:
            lines += ["**Next steps**", ""]
            lines += [f"{i}. {step}" for i, step in enumerate(finding.next_steps, start=1)]
            lines.append("")
    return lines


def _evidence_table(finding: Finding, diagnosis: Diagnosis) -> list[str]:
    metrics = finding.metrics
    said = any(item.why for item in finding.evidence)  # the judge's evidence, a column
    # Bare values in the cells: a metric not on 0..1, higher better, says its scale above.
    headers = [f"{m} ({note})" if (note := diagnosis.scale(m).note) else m for m in metrics]
    lines = [
        "| sample | question | " + " | ".join(headers) + (" | why |" if said else " |"),
        "|---|---|" + "---|" * (len(metrics) + said),
    ]
    for item in finding.evidence:
        first = _fmt(item.score) if item.score is not None or not item.note else item.note
        others = [_fmt(item.other_scores.get(m)) for m in metrics[1:]]
        cells = [markdown_cell(item.sample_id), markdown_cell(item.question), first, *others]
        cells += [markdown_cell(item.why)] if said else []
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _all_good_section(diagnosis: Diagnosis) -> list[str]:
    steps = [
        "Add harder questions: multi-hop ones that need facts from several documents, "
        "questions whose answer is not in the corpus (the system should say so), and "
        "paraphrased or ambiguous phrasings.",
        "Sample real user questions, including recent documents and edge cases.",
    ]
    if diagnosis.sample_count < 20:
        steps.append(
            f"Score more samples: with {diagnosis.sample_count}, the means are indicative only."
        )
    if diagnosis.unscored:
        steps.append("Unlock the metrics that could not score (below) for a fuller picture.")
    return [
        "## All good",
        "",
        "Every scored metric is ok or strong (at or above the weak band): nothing in these "
        "scores needs fixing. The test set may be too easy to show the weak spots; make it "
        "harder:",
        "",
        *(f"{i}. {step}" for i, step in enumerate(steps, start=1)),
        "",
    ]


def _unscored_section(unscored: list[UnscoredMetric]) -> list[str]:
    if not unscored:
        return []
    lines = ["## Metrics that could not score", ""]
    for entry in unscored:
        lines += [
            f"### {entry.metric}: {entry.status}",
            "",
            f"{entry.reason[:1].upper()}{entry.reason[1:]}.",
        ]
        lines += ["", *(f"- {advice}" for advice in entry.advice)] if entry.advice else []
        lines.append("")
    return lines


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"
