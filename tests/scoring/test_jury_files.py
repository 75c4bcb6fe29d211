"""A run scored by a jury, as a team reads its folder: metadata.json names the jurors and
their agreement, summary.md says in plain words how far they agree and where least, and
scores.csv holds each juror's value. A run of one judge shows none of it."""

from __future__ import annotations

import csv
import io
import json

import pytest

from rag_eval.domain.trust import JuryAgreement
from rag_eval.scoring.run_folder import run_files
from tests.scoring.test_run_folder import cells, table_rows
from tests.support.jury import JURORS, jury_run


def folder(jurors: list[str] | None = None) -> dict[str, str]:
    request, run, record = jury_run(jurors)
    files = run_files(record, request, run, "# advice", "<html></html>")
    return {name: body.decode("utf-8") for name, body in files.items()}


def section(summary: str) -> str:
    start = summary.index("## The jury")
    return summary[start : summary.index("\n## ", start + 1)]


def test_metadata_names_the_jurors_and_each_metrics_agreement() -> None:
    # GIVEN a run scored by a jury of three
    # WHEN its folder is written
    metadata = json.loads(folder()["metadata.json"])

    # THEN metadata.json names the jurors in the job's order
    assert metadata["judges"] == JURORS
    # AND per judged metric, their agreement as the job's status has it
    assert set(metadata["jury"]) == {"faithfulness", "answer_relevancy"}
    faithfulness = JuryAgreement.model_validate(metadata["jury"]["faithfulness"])
    assert faithfulness.alpha == pytest.approx(0.8234)
    assert faithfulness.samples == 3 and faithfulness.jurors == JURORS
    [disagreement] = faithfulness.disagreements
    assert disagreement.sample_id == "s2"
    assert disagreement.scores == {"gpt-4o-mini": 0.1, "<b>evil</b>": 0.9, "=claude|haiku": None}
    assert metadata["jury"]["answer_relevancy"]["alpha"] is None


def test_summary_says_who_judged_and_how_far_they_agree_in_plain_words() -> None:
    # GIVEN a run scored by a jury of three, one of them named in markup
    # WHEN its summary.md is written
    summary = folder()["summary.md"]
    jury = section(summary)

    # THEN the run's facts name the jury in place of one judge, escaped
    assert "- Judges: gpt-4o-mini + &lt;b&gt;evil&lt;/b&gt; + =claude\\|haiku" in summary
    assert "- Judge model:" not in summary
    # AND the section reads each metric's alpha with what it means
    assert "each of 3 judges: gpt-4o-mini, &lt;b&gt;evil&lt;/b&gt;, =claude\\|haiku" in jury
    assert (
        "- **faithfulness**: Krippendorff's alpha 0.82 over 3 samples (1 is full agreement, "
        "0 what chance gives): they agree closely enough to rely on." in jury
    )
    assert "- **answer_relevancy**: no Krippendorff's alpha" in jury
    # AND the sample they disagree on most, with each juror's value (– for none)
    assert "| sample | gpt-4o-mini | &lt;b&gt;evil&lt;/b&gt; | =claude\\|haiku | spread |" in jury
    assert "| s2 | 0.100 | 0.900 | – | 0.400 |" in jury
    # AND it sits after the means, before the judge-trust section; no name renders as HTML
    assert summary.index("## Metric means") < summary.index("## The jury")
    assert summary.index("## The jury") < summary.index("## How far to trust the judge")
    assert "<b>" not in summary
    for table in summary.split("\n\n"):
        assert len({cells(row) for row in table_rows(table)}) <= 1, table


@pytest.mark.parametrize(
    ("alpha", "level", "said"),
    [
        (
            0.7,
            "interval",
            "alpha 0.70 over 3 samples (1 is full agreement, 0 what chance gives)"
            ": they agree in part: draw tentative conclusions only.",
        ),
        (
            0.799,
            "interval",
            "alpha 0.80 over 3 samples (1 is full agreement, 0 what chance "
            "gives): they agree closely enough to rely on.",
        ),
        (
            0.2,
            "nominal",
            "alpha 0.20 over 3 samples, compared as categories (1 is full "
            "agreement, 0 what chance gives): they agree little: read its mean with care.",
        ),
        (
            -0.3,
            "ordinal",
            "alpha -0.30 over 3 samples, compared as ranks (1 is full "
            "agreement, 0 what chance gives): they disagree more than chance would",
        ),
    ],
)
def test_the_words_beside_alpha_follow_the_number_shown(
    alpha: float, level: str, said: str
) -> None:
    # GIVEN a jury whose alpha on faithfulness is `alpha`, at the metric's `level`
    request, run, record = jury_run()
    record.jury["faithfulness"] = record.jury["faithfulness"].model_copy(
        update={"alpha": alpha, "level": level}
    )

    # WHEN its summary.md is written
    summary = run_files(record, request, run, "", "")["summary.md"].decode("utf-8")

    # THEN the words agree with the number shown beside them
    assert f"- **faithfulness**: Krippendorff's {said}" in summary


def test_scores_csv_holds_each_jurors_value_beside_the_metrics() -> None:
    # GIVEN a run scored by a jury of three
    # WHEN its scores.csv is written
    rows = list(csv.DictReader(io.StringIO(folder()["scores.csv"])))

    # THEN each judged metric has a column per juror, `<metric>@<juror>`; none for the
    # model-free metric
    juror_columns = [c for c in rows[0] if "@" in c]
    assert juror_columns == [
        f"{metric}@{juror}" for metric in ("faithfulness", "answer_relevancy") for juror in JURORS
    ]
    # AND each holds that juror's value, empty where it did not score
    s2 = next(row for row in rows if row["sample_id"] == "s2")
    assert s2["faithfulness@gpt-4o-mini"] == "0.1"
    assert s2["faithfulness@<b>evil</b>"] == "0.9"
    assert s2["faithfulness@=claude|haiku"] == ""
    assert s2["faithfulness"] == "0.5" and s2["weighted_score"] != ""


def test_a_run_of_one_judge_shows_no_jury_anywhere() -> None:
    # GIVEN the same run scored by one judge
    # WHEN its folder is written
    files = folder(jurors=[])

    # THEN metadata.json says so with empty entries
    metadata = json.loads(files["metadata.json"])
    assert metadata["judges"] == [] and metadata["jury"] == {}
    # AND summary.md names its one judge and has no jury section
    assert "- Judge model: gpt-4o-mini" in files["summary.md"]
    assert "The jury" not in files["summary.md"] and "Judges:" not in files["summary.md"]
    # AND scores.csv has no juror column
    header = next(csv.reader(io.StringIO(files["scores.csv"])))
    assert not [column for column in header if "@" in column]
