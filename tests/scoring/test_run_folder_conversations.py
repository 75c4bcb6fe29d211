"""A conversation job's run folder: scores.csv holds each conversation whole (read back,
its JSON cells give the same sample), no cell starts a formula, and summary.md says how
long each conversation is."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from rag_eval.domain.request import ScoreRequest
from rag_eval.domain.results import SampleResult, ScoreRun
from rag_eval.domain.sample import Sample
from rag_eval.scoring.run_folder import RunRecord, run_files

METRICS = ["tool_call_accuracy", "tool_call_f1"]
FORMULA = '=HYPERLINK("http://example.invalid") 退款政策？'
SEARCHED: dict[str, Any] = {
    "sample_id": "searched",
    "user_input": [
        {"type": "human", "content": FORMULA},
        {
            "type": "ai",
            "content": "",
            "tool_calls": [{"name": "search", "args": {"query": "refund", "limit": 3}}],
        },
        {"type": "tool", "content": "-5 days: refunds within 30 days."},
        {"type": "ai", "content": "@you: refunds within 30 days."},
    ],
    "reference_tool_calls": [{"name": "search", "args": {"query": "refund", "limit": 3}}],
    "reference": "The user learns the refund window.",
}
# The agent should have called no tool (an empty list), and has no expected outcome.
CHATTED: dict[str, Any] = {
    "sample_id": "chatted",
    "user_input": [
        {"type": "human", "content": "Hello"},
        {"type": "ai", "content": "Hello! How can I help?"},
    ],
    "reference_tool_calls": [],
}


def _files(*samples: dict[str, Any], metrics: list[str] = METRICS) -> dict[str, bytes]:
    request = ScoreRequest.model_validate({"samples": list(samples), "metrics": metrics})
    results = [
        SampleResult(sample_id=s["sample_id"], scores=dict.fromkeys(metrics, 1.0)) for s in samples
    ]
    run = ScoreRun(metrics=metrics, results=results, skipped={})
    record = RunRecord("run-1", "job-1", "t0", "t1", "t2", 5, "", "")
    return run_files(record, request, run, "# advice", "<html></html>")


def _rows(files: dict[str, bytes]) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(files["scores.csv"].decode("utf-8"))))


def test_scores_csv_round_trips_each_conversation() -> None:
    # WHEN a conversation job's run folder is written
    rows = _rows(_files(SEARCHED, CHATTED))

    # THEN the documented columns come first, then the conversation's own, then the metrics
    assert list(rows[0]) == [
        "sample_id",
        "question",
        "answer",
        "contexts",
        "ground_truth",
        "error",
        "why",
        "user_input",
        "reference_tool_calls",
        *METRICS,
        "weighted_score",
    ]
    # AND the tables' question and answer are the first human message and the AI's last words
    searched, chatted = rows
    assert searched["answer"] == "'@you: refunds within 30 days."
    assert chatted["question"] == "Hello" and chatted["answer"] == "Hello! How can I help?"
    assert searched["ground_truth"] == SEARCHED["reference"] and chatted["ground_truth"] == ""
    # AND read back, the JSON cells give the samples that were scored
    for row, sent in ((searched, SEARCHED), (chatted, CHATTED)):
        read = Sample.model_validate(
            {
                "sample_id": row["sample_id"],
                "user_input": json.loads(row["user_input"]),
                "reference_tool_calls": json.loads(row["reference_tool_calls"]),
                "reference": row["ground_truth"] or None,
            }
        )
        assert read == Sample.model_validate(sent)
    # AND no expected call at all stays an empty list, not a missing value
    assert chatted["reference_tool_calls"] == "[]"


def test_no_conversation_cell_starts_a_formula() -> None:
    [row, _] = _rows(_files(SEARCHED, CHATTED))

    # THEN a message starting with "=" is marked as text where it is a cell of its own
    assert row["question"] == "'" + FORMULA
    # AND the JSON cells start with "[": no spreadsheet reads them as a formula
    for value in row.values():
        assert not value.startswith(("=", "+", "-", "@")), value
    assert row["user_input"].startswith('[{"type": "human", "content": "=HYPERLINK(')


def test_only_the_conversation_fields_given_are_columns() -> None:
    # WHEN one sample gives reference topics and none gives expected calls
    topical = {
        "sample_id": "topical",
        "user_input": CHATTED["user_input"],
        "reference_topics": ["greetings", "订单"],
    }
    [row] = _rows(_files(topical, metrics=["topic_adherence"]))

    # THEN scores.csv has its topics column and no expected calls column
    assert "reference_tool_calls" not in row
    assert json.loads(row["reference_topics"]) == ["greetings", "订单"]
    assert json.loads(row["user_input"]) == CHATTED["user_input"]


def test_a_single_turn_job_keeps_its_columns() -> None:
    single = {"sample_id": "s1", "question": "q", "answer": "a", "ground_truth": "a"}
    files = _files(single, metrics=["exact_match"])

    assert not {"user_input", "reference_tool_calls", "reference_topics"} & set(*_rows(files))
    assert "| sample_id | exact_match | weighted |" in files["summary.md"].decode("utf-8")


def test_summary_says_how_long_each_conversation_is() -> None:
    summary = _files(SEARCHED, CHATTED)["summary.md"].decode("utf-8")

    assert "| sample_id | conversation | tool_call_accuracy | tool_call_f1 | weighted |" in summary
    assert "| searched | 4 messages, 1 tool call | 1.0000 | 1.0000 | 1.0000 |" in summary
    assert "| chatted | 2 messages, 0 tool calls | 1.0000 | 1.0000 | 1.0000 |" in summary
