"""How far to trust the judge, in both files a person opens: summary.md's section
(`trust_markdown`, rendered in `rag_eval.scoring.trust_summary` with the rest of
summary.md) and report.html's (`trust_html`), each between TRUST_START and TRUST_END so
that `splice` can write it again whenever labels arrive.

report.html treats every text of a request, the judge or a labeler as hostile, as the rest
of the page does (`rag_eval.report.html`): each is `html.escape`d, and the judge's evidence
is shown as escaped text, a list of its claims and verdicts, bounded in items and length.
Nothing here runs a script or loads anything: the page's Content Security Policy holds.
"""

from __future__ import annotations

import json
from html import escape

from pydantic import JsonValue

from rag_eval.domain.trust import GapShown, TrustReport
from rag_eval.scoring.trust_summary import (
    GAP_HEADER,
    GAPS_HEADING,
    HEADING,
    LABELLED,
    TRUST_END,
    TRUST_START,
    UNLABELLED,
    cut,
    gap_row,
    label_commands,
    legend,
    metric_header,
    metric_notes,
    metric_rows,
    shown_gaps,
    splice,
    trust_markdown,
)

__all__ = ["TRUST_END", "TRUST_START", "splice", "trust_html", "trust_markdown"]

_ITEMS = 8  # a list's items shown of the judge's evidence, and its keys
_ITEM_TEXT = 240  # characters of one of them
_SAMPLE_TEXT = 600  # characters of the sample's question or answer
# The keys whose true or false is an item's verdict (as report.js reads them).
_VERDICTS = ("supported", "attributed", "useful")


def trust_html(report: TrustReport | None, job_id: str) -> str:
    """report.html's `<section id="trust">`, markers included: the same content as
    summary.md's (`trust_markdown`), every text escaped."""
    parts = [f'<section id="trust"><h2>{escape(HEADING)}</h2>']
    if report is None or not report.metrics:
        parts += [f"<p>{escape(paragraph)}</p>" for paragraph in UNLABELLED]
        commands = "".join(
            f"<li><code>{escape(command)}</code>: {escape(what)}</li>"
            for command, what in label_commands(job_id)
        )
        parts.append(f'<p>To label:</p><ul class="commands">{commands}</ul>')
    else:
        parts += [
            f"<p>{report.labels} label(s) as of {escape(report.computed_at)}. "
            f"{escape(LABELLED)}</p>",
            _table(metric_header(report), metric_rows(report), "figures"),
            "<ul>"
            + "".join(
                f"<li><b>{escape(metric)}</b>: {escape(sentence)}</li>"
                for metric, sentence in metric_notes(report)
            )
            + "</ul>",
            f'<p class="small">{escape(legend(report))}</p>',
            f"<h3>{escape(GAPS_HEADING)}</h3>",
            _gaps(report),
        ]
    parts.append("</section>")
    return "\n".join([TRUST_START, "".join(parts), TRUST_END])


def _table(header: list[str], rows: list[list[str]], css_class: str) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f'<table class="{css_class}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _gaps(report: TrustReport) -> str:
    gaps = shown_gaps(report)
    if not gaps:
        return "<p>No labelled sample differs from the judge's score.</p>"
    head = "".join(f"<th>{escape(h)}</th>" for h in [*GAP_HEADER, "the judge's evidence"])
    parts = []
    for metric, shown in gaps.items():
        rows = "".join(
            "<tr>"
            + "".join(f"<td>{escape(cell)}</td>" for cell in gap_row(gap))
            + f"<td>{_details(gap)}</td></tr>"
            for gap in shown
        )
        parts.append(
            f"<h4>{escape(metric)}</h4><p class='small'>Largest differences first "
            "(judge − people).</p>"
            f'<table class="gaps"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'
        )
    return "".join(parts)


def _details(gap: GapShown) -> str:
    """The sample's question and answer and the judge's evidence, folded away."""
    texts = "".join(
        f"<dt>{name}</dt><dd>{escape(cut(text, _SAMPLE_TEXT))}</dd>"
        for name, text in (("question", gap.question), ("answer", gap.answer))
        if text
    )
    evidence = _evidence(gap.evidence)
    if not texts and not evidence:
        return "–"
    return (
        "<details><summary>show</summary>"
        + (f"<dl>{texts}</dl>" if texts else "")
        + (evidence or "<p class='small'>The judge left no evidence.</p>")
        + "</details>"
    )


def _evidence(evidence: JsonValue) -> str:
    """The judge's claims and verdicts as a list, as report.js shows a sample's: a ✓ or ✗
    before an item with a verdict; at most _ITEMS keys and items a list, each cut short."""
    if evidence is None or evidence == {} or evidence == []:
        return ""
    entries = list(evidence.items()) if isinstance(evidence, dict) else [("", evidence)]
    items = []
    for key, value in entries[:_ITEMS]:
        name = f"{escape(key)}: " if key else ""
        if isinstance(value, list):
            inner = "".join(_item(item) for item in value[:_ITEMS]) + _more(len(value))
            items.append(f"<li>{name}<ul>{inner}</ul></li>")
        else:
            items.append(f"<li>{name}{escape(cut(_text(value), _ITEM_TEXT))}</li>")
    return f'<ul class="ev">{"".join(items)}{_more(len(entries))}</ul>'


def _item(item: JsonValue) -> str:
    if not isinstance(item, dict):
        return f"<li>{escape(cut(_text(item), _ITEM_TEXT))}</li>"
    verdict = next((key for key in _VERDICTS if key in item), None)
    text = " ".join(
        f"({_text(value)})"
        if key == "reason"
        else f"context {_text(value)}"
        if key == "context"
        else _text(value)
        for key, value in item.items()
        if key != verdict
    )
    shown = escape(cut(text, _ITEM_TEXT))
    if verdict is None:
        return f"<li>{shown}</li>"
    held = bool(item[verdict])
    return f'<li class="{"yes" if held else "no"}">{"✓" if held else "✗"} {shown}</li>'


def _more(total: int) -> str:
    return f'<li class="small">and {total - _ITEMS} more</li>' if total > _ITEMS else ""


def _text(value: JsonValue) -> str:
    """A scalar as itself, anything nested as compact JSON (cut short by the caller)."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)
