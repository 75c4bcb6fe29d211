"""How far to trust the judge, as summary.md says it: a section of its own between two
markers, written with the run folder (nobody has labelled yet: how to) and written again
whenever labels arrive (`splice`), from judge-trust.json (`rag_eval.domain.trust`).

What the section says is built here once, as plain text (`metric_rows`, `metric_notes`,
`gap_rows`), and escaped by each file that shows it: summary.md here, report.html in
`rag_eval.report.trust`. The scoring layer, not the report's, because summary.md is
rendered here (`rag_eval.scoring.run_folder`). Every text of a request, the judge or a
labeler is escaped, `<` with the rest: the markers can only be the ones written here.
"""

from __future__ import annotations

from rag_eval.domain.results import Interval
from rag_eval.domain.safe_text import markdown_cell, markdown_text
from rag_eval.domain.trust import GapShown, MetricTrust, TrustReport

TRUST_START = "<!-- judge-trust -->"
TRUST_END = "<!-- /judge-trust -->"
HEADING = "How far to trust the judge"
GAPS_HEADING = "Where the judge goes wrong"
MAX_GAPS = 5  # per metric: the largest, as judge-trust.json orders them
_TEXT = 300  # characters of a `why` or a labeler's note shown

UNLABELLED = [
    "No person has labelled samples of this run yet, so nothing says how far the judge's "
    "scores agree with people's: the means above are unchecked.",
    "A few dozen labels change that. People label the samples the label queue draws (each "
    "with a known chance, so that a few stand for the whole run); their values correct the "
    "judge's mean for what the judge gets wrong, and widen its interval by how much it gets "
    "wrong. They also show where the judge goes wrong, sample by sample. This section is "
    "written again as labels arrive.",
]
LABELLED = (
    "People's labels correct the judge's mean (prediction-powered inference): the corrected "
    "mean estimates the mean people would give the whole run, and its 95% interval counts "
    "the judge's errors as well as the samples'. A corrected interval wider than the judge's "
    "is the honest one."
)


def legend(report: TrustReport) -> str:
    """What the table's less plain columns mean."""
    return (
        "Bias is the judge's value minus people's over the labelled draws, each weighted so "
        "that it speaks for the whole run (positive: the judge scores higher than people "
        "do). Krippendorff's alpha is 1 where the judge and people agree on every labelled "
        "sample and 0 where they agree no more than chance would"
        + ("; Cohen's kappa, for categories, reads the same way." if has_kappa(report) else ".")
    )


def label_commands(job_id: str) -> list[tuple[str, str]]:
    """The commands that label the run, each with what it does."""
    return [
        (f"rag-eval review {job_id}", "label the samples the queue draws, one at a time"),
        (f"rag-eval label {job_id} --file labels.csv", "send labels from a file"),
    ]


def cut(text: str | None, limit: int = _TEXT) -> str:
    text = text or ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def number(value: float | None, sign: bool = False) -> str:
    if value is None:
        return "–"
    return f"{value:+.3f}" if sign else f"{value:.3f}"


def interval(shown: Interval | None) -> str:
    """`0.812 [0.790, 0.834]`, or why there is none."""
    if shown is None:
        return "too few labels"
    return f"{shown.mean:.3f} [{shown.low:.3f}, {shown.high:.3f}]"


def has_kappa(report: TrustReport) -> bool:
    """Cohen's kappa is given for categories only: its column is shown only then."""
    return any(t.agreement.kappa is not None for t in report.metrics.values())


def metric_header(report: TrustReport) -> list[str]:
    return [
        "metric",
        "judge's mean [95%]",
        "corrected mean [95%]",
        "labels (samples)",
        "bias (judge − people)",
        "mean |difference|",
        "Krippendorff's alpha",
        *(["Cohen's kappa"] if has_kappa(report) else []),
    ]


def metric_rows(report: TrustReport) -> list[list[str]]:
    """One row a labelled metric, in plain text: escape it for the file it goes in."""
    kappa = has_kappa(report)
    return [
        [
            metric,
            interval(trust.judge),
            interval(trust.corrected),
            f"{trust.labels} ({trust.labelled_samples} samples)",
            number(trust.bias, sign=True),
            number(trust.mean_abs_difference),
            _alpha(trust),
            *([number(trust.agreement.kappa)] if kappa else []),
        ]
        for metric, trust in report.metrics.items()
    ]


def _alpha(trust: MetricTrust) -> str:
    shown = number(trust.agreement.alpha)
    return shown if trust.agreement.alpha is None else f"{shown} ({trust.agreement.pairs} pairs)"


def metric_notes(report: TrustReport) -> list[tuple[str, str]]:
    """(metric, sentence): what the figures say in words, and the labels the correction
    left out, per metric."""
    notes = []
    for metric, trust in report.metrics.items():
        notes.append((metric, trust.sentence))
        if trust.labels_outside_queue > 0:
            notes.append(
                (
                    metric,
                    f"{trust.labels_outside_queue} labelled sample(s) the label queue has not "
                    "drawn: compared with the judge (agreement, gaps), not used for the "
                    "correction, since nothing says how likely they were to be chosen",
                )
            )
    return notes


GAP_HEADER = ["sample", "judge", "people", "difference", "why the judge said so", "notes"]


def shown_gaps(report: TrustReport) -> dict[str, list[GapShown]]:
    """Per metric, the largest gaps shown: at most MAX_GAPS."""
    return {metric: gaps[:MAX_GAPS] for metric, gaps in report.gaps.items() if gaps}


def gap_row(gap: GapShown) -> list[str]:
    return [
        gap.sample_id,
        number(gap.judge),
        number(gap.human),
        number(gap.difference, sign=True),
        cut(gap.why) or "–",
        cut(" / ".join(note for note in gap.notes if note)) or "–",
    ]


def trust_markdown(report: TrustReport | None, job_id: str) -> str:
    """summary.md's section, markers included: how to label while nobody has, else the
    judge's figures beside the corrected ones, and where the judge goes wrong."""
    lines = [TRUST_START, f"## {HEADING}", ""]
    if report is None or not report.metrics:
        lines += [*(p for paragraph in UNLABELLED for p in (paragraph, "")), "To label:", ""]
        lines += [f"- `{_code(command)}`: {what}" for command, what in label_commands(job_id)]
        return "\n".join([*lines, "", TRUST_END])
    lines += [
        f"{report.labels} label(s) as of {markdown_text(report.computed_at)}. {LABELLED}",
        "",
        _table(metric_header(report), metric_rows(report)),
        "",
        *(f"- **{markdown_cell(m)}**: {markdown_cell(s)}" for m, s in metric_notes(report)),
        "",
        legend(report),
        "",
        f"### {GAPS_HEADING}",
        "",
    ]
    gaps = shown_gaps(report)
    if not gaps:
        lines += ["No labelled sample differs from the judge's score.", ""]
    for metric, shown in gaps.items():
        lines += [
            f"**{markdown_cell(metric)}**, largest differences first (judge − people):",
            "",
            _table(GAP_HEADER, [gap_row(gap) for gap in shown]),
            "",
        ]
    return "\n".join([*lines, TRUST_END])


def _code(text: str) -> str:
    """Inside a code span: one line, no backtick to end it early."""
    return " ".join(text.replace("`", "'").split())


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = [_row(header), "|" + "---|" * len(header), *(_row(row) for row in rows)]
    return "\n".join(lines)


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(markdown_cell(cell) for cell in cells) + " |"


def splice(document: str, section: str) -> str:
    """The document with its section from TRUST_START through TRUST_END replaced by
    `section` (markers included): the same document for the same section, however often.
    ValueError, naming the problem, when a marker is missing, repeated or out of order."""
    for what, text in (("the section", section), ("the document", document)):
        for marker in (TRUST_START, TRUST_END):
            count = text.count(marker)
            if count != 1:
                raise ValueError(f"{what} holds {marker} {count} times, not once")
    if not (section.startswith(TRUST_START) and section.endswith(TRUST_END)):
        raise ValueError(f"the section must start with {TRUST_START} and end with {TRUST_END}")
    start, end = document.index(TRUST_START), document.index(TRUST_END)
    if end < start:
        raise ValueError(f"the document holds {TRUST_END} before {TRUST_START}")
    return document[:start] + section + document[end + len(TRUST_END) :]
