"""How far to trust the judge, as a person reads it in summary.md and report.html: how to
label before anyone has, the judge's mean beside the corrected one once people have, where
the judge goes wrong, every text of a request, judge or labeler shown as text; and the
section written again in place (`splice`) as labels arrive."""

from __future__ import annotations

import html
import re

import pytest

from rag_eval.advice.diagnosis import diagnose
from rag_eval.domain.results import Interval
from rag_eval.domain.trust import TrustReport
from rag_eval.report.html import render_report
from rag_eval.report.trust import TRUST_END, TRUST_START, splice, trust_html, trust_markdown
from rag_eval.scoring.run_folder import render_summary
from tests.scoring.test_run_folder import cells, hostile_run, table_rows
from tests.support.trust import gap, metric_trust, trust_report

HOSTILE = "<img src=x onerror=alert(1)> | cell\n| row |"
JUDGE = Interval(mean=0.8, low=0.76, high=0.84, n=100)
CORRECTED = Interval(mean=0.7, low=0.62, high=0.78, n=12)


def labelled() -> TrustReport:
    """Two metrics labelled: faithfulness corrected, answer_relevancy with too few labels;
    a gap whose texts are hostile."""
    return trust_report(
        "run-1",
        {
            "faithfulness": metric_trust(JUDGE, CORRECTED, outside=3),
            "answer_relevancy": metric_trust(JUDGE, None, labels=4, samples=4, bias=None),
        },
        gaps={
            "faithfulness": [
                gap(
                    HOSTILE,
                    why="<script>alert(1)</script>",
                    notes=["says | nothing\nnew", "=cmd"],
                    question="<b>q</b>",
                    evidence={
                        "statements": [
                            {"statement": "<i>the sky is green</i>", "supported": False},
                            {"statement": "water is wet", "supported": True},
                        ]
                    },
                ),
                *(gap(f"s{i}", 0.8, 0.5) for i in range(2, 9)),
            ]
        },
    )


def test_before_anyone_labels_the_section_says_what_labels_do_and_how_to_give_them() -> None:
    # GIVEN a run nobody has labelled
    # WHEN its sections are written
    markdown = trust_markdown(None, "job-7")
    page = trust_html(None, "job-7")

    # THEN each sits between the markers and says so, what labels do, and the commands
    for section in (markdown, html.unescape(page)):
        assert section.startswith(TRUST_START) and section.endswith(TRUST_END)
        assert "How far to trust the judge" in section
        assert "No person has labelled samples of this run yet" in section
        assert "correct the judge's mean" in section and "widen its interval" in section
    assert "`rag-eval review job-7`" in markdown
    assert "`rag-eval label job-7 --file labels.csv`" in markdown
    assert "<code>rag-eval review job-7</code>" in page
    assert '<section id="trust">' in page


def test_a_report_with_no_metric_reads_as_nobody_having_labelled() -> None:
    empty = trust_report("run-1", {})

    assert trust_markdown(empty, "job-7") == trust_markdown(None, "job-7")
    assert trust_html(empty, "job-7") == trust_html(None, "job-7")


def test_labelled_figures_show_the_judges_mean_beside_the_corrected_one() -> None:
    # GIVEN faithfulness corrected by 12 labels, answer_relevancy with too few
    # WHEN summary.md's section is written
    markdown = trust_markdown(labelled(), "job-1")

    # THEN each metric's row shows both means and intervals, labels, bias and agreement
    rows = {row.split(" | ")[0].strip("| "): row for row in table_rows(markdown)}
    faithfulness = rows["faithfulness"]
    assert "| 0.800 [0.760, 0.840] | 0.700 [0.620, 0.780] | 12 (10 samples) |" in faithfulness
    assert "| +0.100 | 0.150 | 0.620 (10 pairs) |" in faithfulness
    assert "| too few labels | 4 (4 samples) | – | – |" in rows["answer_relevancy"]
    assert "Cohen's kappa" not in markdown  # given for categories only
    # AND what each says in words, and the labels the queue did not draw
    assert "- **faithfulness**: the judge scores 0.10 higher than people do" in markdown
    assert "- **answer_relevancy**: too few labels to correct the judge" in markdown
    assert "3 labelled sample(s) the label queue has not drawn" in markdown
    assert "No person has labelled" not in markdown


def test_cohens_kappa_is_shown_where_the_metric_answers_categories() -> None:
    report = trust_report("run-1", {"tone": metric_trust(JUDGE, CORRECTED, kappa=0.55)})

    markdown = trust_markdown(report, "job-1")

    assert "| Cohen's kappa |" in markdown
    assert "| 0.620 (10 pairs) | 0.550 |" in markdown


def test_the_largest_gaps_are_listed_five_a_metric_with_hostile_texts_kept_as_text() -> None:
    # GIVEN eight gaps, the first one's id, reason and notes made of markup
    # WHEN summary.md's section is written
    markdown = trust_markdown(labelled(), "job-1")

    # THEN the five largest are listed under "Where the judge goes wrong"
    gaps = markdown.split("### Where the judge goes wrong")[1]
    assert [f"| s{i} |" in gaps for i in range(2, 9)] == [True] * 4 + [False] * 3
    assert "| 0.900 | 0.200 | +0.700 |" in gaps
    # AND no text renders as HTML nor breaks a table
    assert "<img" not in markdown and "<script" not in markdown
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in gaps
    assert "says \\| nothing new / =cmd" in gaps
    for table in markdown.split("\n\n"):
        assert len({cells(row) for row in table_rows(table)}) <= 1, table
    assert markdown.count(TRUST_START) == 1 and markdown.count(TRUST_END) == 1


def test_the_page_shows_the_same_figures_and_the_judges_evidence_escaped() -> None:
    # GIVEN the same labels
    # WHEN report.html's section is written
    page = trust_html(labelled(), "job-1")

    # THEN the figures are those of summary.md
    assert "<td>0.800 [0.760, 0.840]</td><td>0.700 [0.620, 0.780]</td>" in page
    assert "<td>12 (10 samples)</td>" in page
    # AND every hostile text is escaped, the judge's evidence folded away with its verdicts
    assert "<img" not in page and "<script" not in page and "<b>q" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<details><summary>show</summary>" in page
    assert '<li class="no">✗ &lt;i&gt;the sky is green&lt;/i&gt;</li>' in page
    assert '<li class="yes">✓ water is wet</li>' in page
    assert "<dt>question</dt><dd>&lt;b&gt;q&lt;/b&gt;</dd>" in page


def test_the_judges_evidence_is_bounded_on_the_page() -> None:
    # GIVEN evidence of 50 statements, each 5,000 characters long
    statements = [{"statement": "x" * 5_000, "supported": False} for _ in range(50)]
    report = trust_report(
        "run-1",
        {"faithfulness": metric_trust(JUDGE, CORRECTED)},
        gaps={"faithfulness": [gap("s1", evidence={"statements": statements})]},
    )

    # WHEN the page's section is written
    page = trust_html(report, "job-1")

    # THEN a few statements are shown, each cut short, and the rest counted
    assert page.count('<li class="no">') == 8
    assert "and 42 more" in page
    assert "x" * 300 not in page and len(page) < 10_000


def test_splice_replaces_the_section_and_is_the_same_however_often() -> None:
    # GIVEN a document holding the section of an unlabelled run
    document = f"# Run\n\n{trust_markdown(None, 'job-1')}\n\n## Per sample\n"
    section = trust_markdown(labelled(), "job-1")

    # WHEN the section is written in it, once and twice
    once = splice(document, section)
    twice = splice(once, section)

    # THEN the new section stands where the old one did, and nothing else changed
    assert once == twice
    assert once == f"# Run\n\n{section}\n\n## Per sample\n"
    assert "No person has labelled" not in once


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ("# Run\n", "the document holds <!-- judge-trust --> 0 times, not once"),
        (f"{TRUST_START}\n", "the document holds <!-- /judge-trust --> 0 times, not once"),
        (f"{TRUST_END}\n{TRUST_START}", "<!-- /judge-trust --> before <!-- judge-trust -->"),
        (f"{TRUST_START}{TRUST_START}{TRUST_END}", "<!-- judge-trust --> 2 times, not once"),
    ],
)
def test_splice_names_missing_repeated_or_misordered_markers(document: str, problem: str) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)):
        splice(document, trust_markdown(None, "job-1"))


def test_splice_refuses_a_section_without_its_markers() -> None:
    document = trust_markdown(None, "job-1")

    with pytest.raises(ValueError, match="the section holds <!-- judge-trust --> 0 times"):
        splice(document, "## How far to trust the judge")


def test_a_new_run_folder_holds_the_unlabelled_section_where_labels_will_go() -> None:
    # GIVEN a run just scored
    request, run, record = hostile_run()

    # WHEN its summary.md and report.html are rendered
    summary = render_summary(record, run)
    page = render_report(record, request, run, diagnose(run, request))

    # THEN each holds the section saying how to label, after the metrics, before the samples
    assert trust_markdown(None, "job-1") in summary
    assert summary.index("## Metric means") < summary.index(TRUST_START)
    assert summary.index(TRUST_END) < summary.index("## Per sample")
    assert trust_html(None, "job-1") in page
    assert page.index('<section id="metrics">') < page.index('<section id="trust">')
    assert page.index(TRUST_END) < page.index('<section id="samples">')
    # AND labels arriving later write their figures in place of it
    for document, section in (
        (summary, trust_markdown(labelled(), "job-1")),
        (page, trust_html(labelled(), "job-1")),
    ):
        written = splice(document, section)
        assert section in written and "No person has labelled" not in written
