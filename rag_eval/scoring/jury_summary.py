"""A jury of judges in the run folder's files: summary.md's section "The jury", its line
among the run's facts, and scores.csv's column per juror beside each judged metric.

What the section says is built here once, as plain text (`intro`, `alpha_notes`,
`disagreement_header`, `disagreement_row`), and escaped by each file that shows it:
summary.md here, report.html in `rag_eval.report.jury`, as the judge-trust section is
(`rag_eval.scoring.trust_summary`). Model names and sample ids come from requests:
escaped as any text of theirs. Without a jury every function here adds nothing, so a run
of one judge reads as it did before juries.
"""

from __future__ import annotations

from rag_eval.domain.results import ScoreRun
from rag_eval.domain.safe_text import markdown_cell, spreadsheet_cell
from rag_eval.domain.trust import Disagreement, JuryAgreement

HEADING = "The jury"
DISAGREEMENTS_HEADING = "Where the jurors disagree most"
SPREAD_NOTE = (
    "Spread is the standard deviation of the jurors' values, each on the metric's own "
    "scale; – is a juror that did not score the sample."
)
# Krippendorff's own reading of alpha (Content Analysis, 2004): data to rely on from 0.8,
# tentative conclusions only from 0.667. Read on the value as shown, so that the words
# agree with the number beside them.
_RELIABLE, _TENTATIVE = 0.8, 0.67
_LEVELS = {"interval": "", "ordinal": ", compared as ranks", "nominal": ", compared as categories"}


def jurors_of(run: ScoreRun, jury: dict[str, JuryAgreement]) -> list[str]:
    """The jury's models in the order the job named them; empty: one judge."""
    if run.jurors:
        return list(run.jurors)
    named = [juror for agreement in jury.values() for juror in agreement.jurors]
    return list(dict.fromkeys(named))


def intro(jurors: list[str]) -> str:
    return (
        f"Every judged metric was scored by each of {len(jurors)} judges: "
        f"{', '.join(jurors)}. A sample's value is theirs together: their mean, or for a "
        "metric of categories the category most of them gave. Where they disagree, a "
        "score says as much about which model was asked as about the sample."
    )


def alpha_notes(jury: dict[str, JuryAgreement]) -> list[tuple[str, str]]:
    """Per metric, how far its jurors agree, in plain words."""
    return [(metric, _alpha_sentence(agreement)) for metric, agreement in jury.items()]


def _alpha_sentence(agreement: JuryAgreement) -> str:
    if agreement.alpha is None:
        return (
            "no Krippendorff's alpha: no sample was scored by two jurors or more "
            f"({agreement.samples} samples)."
        )
    alpha = round(agreement.alpha, 2)
    reading = (
        "they agree closely enough to rely on"
        if alpha >= _RELIABLE
        else "they agree in part: draw tentative conclusions only"
        if alpha >= _TENTATIVE
        else "they agree little: read its mean with care"
        if alpha >= 0
        else "they disagree more than chance would: read its mean with care"
    )
    return (
        f"Krippendorff's alpha {alpha:.2f} over {agreement.samples} samples"
        f"{_LEVELS[agreement.level]} (1 is full agreement, 0 what chance gives): {reading}."
    )


def disagreement_header(agreement: JuryAgreement) -> list[str]:
    return ["sample", *agreement.jurors, "spread"]


def disagreement_row(agreement: JuryAgreement, disagreement: Disagreement) -> list[str]:
    values = [disagreement.scores.get(juror) for juror in agreement.jurors]
    return [
        disagreement.sample_id,
        *("–" if value is None else f"{value:.3f}" for value in values),
        f"{disagreement.spread:.3f}",
    ]


def judge_fact(judge_model: str, run: ScoreRun, jury: dict[str, JuryAgreement]) -> str:
    """summary.md's line naming who judged: the jury's models, else the one judge."""
    if jurors := jurors_of(run, jury):
        return f"- Judges: {' + '.join(markdown_cell(j) for j in jurors)} (a jury: see below)"
    return f"- Judge model: {judge_model or '(none: model-free metrics only)'}"


def jury_markdown(run: ScoreRun, jury: dict[str, JuryAgreement]) -> list[str]:
    """summary.md's section "The jury", as lines ending in a blank one; none without a jury."""
    jurors = jurors_of(run, jury)
    if not jurors:
        return []
    lines = [f"## {HEADING}", "", markdown_cell(intro(jurors)), ""]
    lines += [f"- **{markdown_cell(m)}**: {markdown_cell(s)}" for m, s in alpha_notes(jury)]
    shown = {metric: a for metric, a in jury.items() if a.disagreements}
    if shown:
        lines += ["", f"### {DISAGREEMENTS_HEADING}", "", SPREAD_NOTE]
    for metric, agreement in shown.items():
        rows = [disagreement_row(agreement, d) for d in agreement.disagreements]
        lines += [
            "",
            f"**{markdown_cell(metric)}**",
            "",
            _table(disagreement_header(agreement), rows),
        ]
    return [*lines, ""]


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(markdown_cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(markdown_cell(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def juror_columns(run: ScoreRun) -> list[tuple[str, str, str]]:
    """scores.csv's juror columns: (column, metric, juror), `<metric>@<juror>`, for each
    metric a juror scored; none without a jury."""
    judged = [m for m in run.metrics if any(m in r.jurors for r in run.results)]
    # A column's name is a cell too: a model name must not start a formula either.
    return [(spreadsheet_cell(f"{m}@{j}"), m, j) for m in judged for j in jurors_of(run, {})]
