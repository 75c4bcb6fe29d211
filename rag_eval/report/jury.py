"""A jury of judges on report.html: `<section id="jury">`, the same content as summary.md's
section (`rag_eval.scoring.jury_summary`), and "Judges: a + b + c" among the run's facts.

Every model name, metric name and sample id is `html.escape`d, as the rest of the page's
texts are (`rag_eval.report.html`): a hostile name shows as text. Without a jury there is
no section at all.
"""

from __future__ import annotations

from html import escape

from rag_eval.domain.results import ScoreRun
from rag_eval.domain.trust import Disagreement, JuryAgreement
from rag_eval.scoring.jury_summary import (
    DISAGREEMENTS_HEADING,
    HEADING,
    SPREAD_NOTE,
    alpha_notes,
    disagreement_header,
    disagreement_row,
    intro,
    jurors_of,
)


def judges_fact(run: ScoreRun, jury: dict[str, JuryAgreement]) -> dict[str, str]:
    """The Run facts' entry for a jury, plain text (the facts are escaped together)."""
    jurors = jurors_of(run, jury)
    return {"Judges": " + ".join(jurors)} if jurors else {}


def jury_html(run: ScoreRun, jury: dict[str, JuryAgreement]) -> str:
    """report.html's `<section id="jury">`; "" without a jury."""
    jurors = jurors_of(run, jury)
    if not jurors:
        return ""
    notes = "".join(
        f"<li><b>{escape(metric)}</b>: {escape(sentence)}</li>"
        for metric, sentence in alpha_notes(jury)
    )
    parts = [
        f'<section id="jury"><h2>{escape(HEADING)}</h2>',
        f"<p>{escape(intro(jurors))}</p>",
        f"<ul>{notes}</ul>" if notes else "",
    ]
    shown = {metric: agreement for metric, agreement in jury.items() if agreement.disagreements}
    if shown:
        parts += [
            f"<h3>{escape(DISAGREEMENTS_HEADING)}</h3>",
            f'<p class="small">{escape(SPREAD_NOTE)}</p>',
        ]
    for metric, agreement in shown.items():
        head = "".join(f"<th>{escape(h)}</th>" for h in disagreement_header(agreement))
        rows = "".join(_row(agreement, d) for d in agreement.disagreements)
        parts.append(
            f"<h4>{escape(metric)}</h4>"
            f'<table class="jury"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'
        )
    parts.append("</section>")
    return "".join(parts)


def _row(agreement: JuryAgreement, disagreement: Disagreement) -> str:
    """A disagreement's row; its sample opens the sample's texts and evidence, as the
    findings' samples do (report.js)."""
    sample, *values = (escape(cell) for cell in disagreement_row(agreement, disagreement))
    button = f'<button class="sample" data-sample="{sample}">{sample}</button>'
    return f"<tr><td>{button}</td>" + "".join(f"<td>{v}</td>" for v in values) + "</tr>"
