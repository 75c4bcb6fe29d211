"""What the operator sees in the logs: one JSON line per event, a job's lifecycle at INFO
with its job id, and no sample text or LLM payload at any level."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from rag_eval.adapters.aws.observability import FUNCTION_PACKAGES, PAYLOAD_LOGGERS
from tests.support.lambdas import (
    body_of,
    invoke,
    load_function,
    queued_messages,
    reset_cached_clients,
    sqs_event,
    submit,
)

# Texts that appear nowhere else, so that any log line holding one leaked it.
SAMPLE = {
    "question": "Which harbour did the violet ferry Quillon leave at dawn?",
    "contexts": ["The violet ferry Quillon left the harbour of Brinmoor at dawn."],
    "answer": "The Quillon left Brinmoor harbour at dawn.",
    "ground_truth": "The violet ferry Quillon left from Brinmoor.",
}
LIFECYCLE = ["job queued", "job planned", "run folder written", "job completed"]


@pytest.fixture
def log_lines(request: pytest.FixtureRequest) -> Iterator[io.StringIO]:
    """The handlers' log stream, at the level the test's `level` mark names (INFO default)."""
    mark = request.node.get_closest_marker("level")
    level = mark.args[0] if mark else "INFO"
    loggers = [load_function(name).logger for name in ("api", "list", "worker")]
    handlers = {handler for logger in loggers for handler in logger.handlers}
    packages = [logging.getLogger(name) for name in FUNCTION_PACKAGES]
    saved = [(lg, lg.level) for lg in [*packages, *(lg._logger for lg in loggers)]]
    stream = io.StringIO()
    streams = [(handler, handler.setStream(stream)) for handler in handlers]
    for logger in [*packages, *(lg._logger for lg in loggers)]:
        logger.setLevel(level)
    yield stream
    for handler, previous in streams:
        handler.setStream(previous)
    for logger, previous_level in saved:
        logger.setLevel(previous_level)


def run_job(stack, judge, monkeypatch, metrics: list[str]) -> str:
    monkeypatch.setenv("OPENAI_BASE_URL", judge.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "test")
    reset_cached_clients()
    job_id = body_of(submit({**SAMPLE, "metrics": metrics}))["job_id"]
    assert invoke("worker", sqs_event(queued_messages(stack))) == {"batchItemFailures": []}
    return job_id


def parsed(stream: io.StringIO) -> list[dict]:
    lines = stream.getvalue().splitlines()
    assert lines, "nothing was logged"
    return [json.loads(line) for line in lines]  # every line is one JSON object


def test_a_jobs_lifecycle_is_logged_at_info_with_its_job_id(
    stack, judge, monkeypatch, log_lines
) -> None:
    job_id = run_job(stack, judge, monkeypatch, ["faithfulness", "chrf_score"])
    records = parsed(log_lines)

    lifecycle = [r for r in records if r["message"] in LIFECYCLE]
    assert [r["message"] for r in lifecycle] == LIFECYCLE
    assert all(r["job_id"] == job_id and r["level"] == "INFO" for r in lifecycle)
    assert {r["name"].rsplit(".", 1)[0] for r in lifecycle} == {"rag_eval.app"}
    completed = next(r for r in lifecycle if r["message"] == "job completed")
    assert completed["run_id"].endswith(job_id) and "latency_ms" in completed


@pytest.mark.level("DEBUG")
def test_no_sample_text_reaches_the_logs_even_at_debug(
    stack, judge, monkeypatch, log_lines
) -> None:
    job_id = run_job(
        stack, judge, monkeypatch, ["faithfulness", "answer_relevancy", "context_recall"]
    )
    records = parsed(log_lines)

    # The scorer's own DEBUG lines are there, stamped with the job they belong to.
    scored = [r for r in records if r["message"] == "metric scored"]
    assert scored and all(r["job_id"] == job_id and r["level"] == "DEBUG" for r in scored)
    texts = [SAMPLE["question"], SAMPLE["answer"], SAMPLE["ground_truth"], *SAMPLE["contexts"]]
    words = {"Quillon", "Brinmoor"}  # in every text: a cut or quoted fragment shows too
    for line in log_lines.getvalue().splitlines():
        assert not any(text in line for text in texts), line
        assert not any(word in line for word in words), line
    # The libraries that log request bodies at DEBUG stay at WARNING.
    assert all(
        logging.getLogger(name).getEffectiveLevel() >= logging.WARNING for name in PAYLOAD_LOGGERS
    )
