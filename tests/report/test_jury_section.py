"""report.html of a run scored by a jury: the Run facts name the jurors, and a section says
how far they agree and where least, every name kept as text. A run of one judge has no
such section."""

from __future__ import annotations

import re

from rag_eval.advice.diagnosis import diagnose
from rag_eval.report.html import render_report
from tests.support.jury import jury_run


def page(jurors: list[str] | None = None) -> str:
    request, run, record = jury_run(jurors)
    return render_report(record, request, run, diagnose(run, request))


def part(html: str, section: str) -> str:
    found = re.search(rf'<section id="{section}">.*?</section>', html, re.S)
    assert found is not None, section
    return found.group(0)


def test_the_run_facts_name_the_jury_escaped() -> None:
    # GIVEN a run scored by a jury of three, one named in markup
    # WHEN its report.html is rendered
    run_facts = part(page(), "run")

    # THEN the Run facts name every juror in place of one judge, as text
    assert (
        "<dt>Judges</dt><dd>gpt-4o-mini + &lt;b&gt;evil&lt;/b&gt; + =claude|haiku</dd>" in run_facts
    )
    assert "Judge model" not in run_facts


def test_the_jury_section_shows_each_metrics_alpha_and_the_top_disagreements() -> None:
    # GIVEN a run scored by a jury of three
    # WHEN its report.html is rendered
    html = page()
    jury = part(html, "jury")

    # THEN the section says per metric how far the jurors agree, in plain words
    assert "<h2>The jury</h2>" in jury
    assert (
        "<li><b>faithfulness</b>: Krippendorff&#x27;s alpha 0.82 over 3 samples (1 is full "
        "agreement, 0 what chance gives): they agree closely enough to rely on.</li>" in jury
    )
    assert "<li><b>answer_relevancy</b>: no Krippendorff&#x27;s alpha" in jury
    # AND the sample they disagree on most, each juror's value in a column of its own
    assert (
        "<tr><th>sample</th><th>gpt-4o-mini</th><th>&lt;b&gt;evil&lt;/b&gt;</th>"
        "<th>=claude|haiku</th><th>spread</th></tr>" in jury
    )
    assert (
        '<tr><td><button class="sample" data-sample="s2">s2</button></td>'
        "<td>0.100</td><td>0.900</td><td>–</td><td>0.400</td></tr>" in jury
    )
    # AND it sits after the metrics, before the judge-trust section; no name is markup
    assert html.index('<section id="metrics">') < html.index('<section id="jury">')
    assert html.index('<section id="jury">') < html.index('<section id="trust">')
    assert "<b>evil</b>" not in html


def test_a_run_of_one_judge_has_no_jury_section() -> None:
    # GIVEN the same run scored by one judge
    # WHEN its report.html is rendered
    html = page(jurors=[])

    # THEN there is no jury section, and the Run facts name the one judge
    assert '<section id="jury"' not in html and "<h2>The jury</h2>" not in html
    assert "<dt>Judge model</dt><dd>gpt-4o-mini</dd>" in part(html, "run")
