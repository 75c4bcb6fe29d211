"""The run folder opened by a person: hostile sample texts stay text in every file."""

from __future__ import annotations

import csv
import io
import re

from rag_eval.advice.diagnosis import diagnose
from rag_eval.advice.render import render_advice
from rag_eval.domain.request import ScoreRequest
from rag_eval.domain.results import SampleResult, ScoreRun
from rag_eval.scoring.run_folder import RunRecord, run_files

HOSTILE = {
    "sample_id": "s|1\n| injected | row |",
    "question": "<img src=x onerror=alert(1)> | what?",
    "answer": '=HYPERLINK("http://example.invalid","click")',
    "contexts": ["@SUM(A1:A9)"],
    "ground_truth": "+1 (555) 0100",
}


def hostile_run() -> tuple[ScoreRequest, ScoreRun, RunRecord]:
    request = ScoreRequest.model_validate(
        {"samples": [HOSTILE], "metrics": ["exact_match", "chrf_score"]}
    )
    result = SampleResult(
        sample_id=HOSTILE["sample_id"], scores={"exact_match": 0.0, "chrf_score": 0.2}
    )
    run = ScoreRun(metrics=["exact_match", "chrf_score"], results=[result], skipped={})
    record = RunRecord("run-1", "job-1", "t0", "t1", "t2", 5, "", "")
    return request, run, record


def table_rows(markdown: str) -> list[str]:
    return [line for line in markdown.splitlines() if line.startswith("|")]


def cells(row: str) -> int:
    return len(re.findall(r"(?<!\\)\|", row)) - 1  # unescaped separators


def test_markdown_tables_keep_their_shape_and_render_no_html() -> None:
    request, run, record = hostile_run()
    advice = render_advice(diagnose(run, request), "Fix <b>this</b> | now")
    files = run_files(record, request, run, advice, "<html></html>")

    for name in ("summary.md", "optimization_advice.md"):
        text = files[name].decode("utf-8")
        assert "<img" not in text and "<b>" not in text, name
        for table in re.split(r"\n\n", text):
            rows = table_rows(table)
            # every row of a table has as many cells as its header
            assert len({cells(row) for row in rows}) <= 1, (name, rows)
        assert "| injected | row |" not in text


def test_scores_csv_cells_never_start_a_formula() -> None:
    request, run, record = hostile_run()
    body = run_files(record, request, run, "# advice", "")["scores.csv"].decode("utf-8")

    [row] = list(csv.DictReader(io.StringIO(body)))
    assert row["answer"] == "'" + HOSTILE["answer"]
    assert row["ground_truth"] == "'" + HOSTILE["ground_truth"]
    assert row["contexts"] == '["@SUM(A1:A9)"]'  # a JSON list: starts with [, stays as is
    assert row["sample_id"] == HOSTILE["sample_id"]
    for value in row.values():
        assert not value.startswith(("=", "+", "-", "@")), value
