"""The label queue of a conversation job (GET /score-jobs/{job_id}/label-queue,
`LabelService.queue`) on in-memory ports, from label files the run folder's writer made
(`rag_eval.scoring.label_files`): each sample comes with its turns, its tool calls beside
the expected ones and its reference topics, so a person can judge the agent, not only its
last words; a single-turn sample comes without."""

from __future__ import annotations

import json
from typing import Any

from rag_eval.app.answers import LabelQueue
from rag_eval.app.jobs import JobService
from rag_eval.app.labels import LabelService
from rag_eval.domain.request import ScoreRequest, parse_request
from rag_eval.domain.results import SampleResult, ScoreRun
from rag_eval.domain.settings import Settings
from rag_eval.scoring.label_files import label_files
from tests.app.fakes import InMemoryJobs, InMemoryQueue
from tests.app.test_labels import JOB, ME, RUN, CountingStore, InMemoryLabels, a_job
from tests.support.conversations import MATCHING, mismatching

UNIT_SCALE = {"low": 0, "high": 1, "higher_is_better": True}
WRONG_SEARCH = mismatching("How do I get a refund? <b>now</b>")
RIGHT_SEARCH = MATCHING
SINGLE_TURN = {
    "sample_id": "eiffel",
    "question": "When was the Eiffel Tower completed?",
    "answer": "In 1889.",
    "contexts": ["It was completed in 1889."],
}


def queue_of(samples: list[dict[str, Any]], metric: str) -> LabelQueue:
    """GIVEN a job of `samples` scored on `metric` (the first 0, the others 1), its run
    folder's label files as the worker writes them; WHEN the queue on `metric` is asked."""
    request = parse_request({"samples": samples, "metrics": [metric]})
    assert isinstance(request, ScoreRequest)
    results = [
        SampleResult(sample_id=sample.sample_id or "", scores={metric: float(i > 0)})
        for i, sample in enumerate(request.samples)
    ]
    run = ScoreRun(metrics=[metric], results=results, skipped={})
    jobs, store = InMemoryJobs(), CountingStore()
    jobs.create(a_job(), "hash", 0)
    metadata = {"run_id": RUN, "job_id": JOB, "metrics": {metric: {"scale": UNIT_SCALE}}}
    store.put(f"score-async/{RUN}/metadata.json", json.dumps(metadata).encode(), "")
    for name, body in label_files(RUN, request, run).items():
        store.put(f"score-async/{RUN}/{name}", body, "")
    service = JobService(Settings(), jobs, InMemoryQueue(), store)
    labels = LabelService(service, store, InMemoryLabels(), InMemoryQueue())
    return labels.queue(JOB, caller=ME, metric=metric, n=str(len(samples)))


def test_a_conversation_sample_comes_with_its_turns_calls_and_topics() -> None:
    queue = queue_of([WRONG_SEARCH, RIGHT_SEARCH], "agent_goal_accuracy")

    # THEN the conversation whose agent searched for the wrong thing holds every turn in
    # order, the tool's result under the AI turn that called it
    answer = queue.model_dump(mode="json")
    wrong = next(s for s in answer["samples"] if s["sample_id"] == "refund-wrong")
    assert wrong["question"] == "How do I get a refund? <b>now</b>"
    assert wrong["ground_truth"] == "A refund ticket is opened for the user."
    assert wrong["conversation"]["turns"] == [
        {"type": "human", "content": "How do I get a refund? <b>now</b>"},
        {
            "type": "ai",
            "content": "",
            "calls": ['search(query="shipping times")'],
            "results": ["Parcels ship within 5 days."],
        },
        {"type": "ai", "content": "Parcels ship within 5 days.", "calls": [], "results": []},
    ]
    # AND each expected call beside the call made in its place, its mismatch named
    assert wrong["conversation"]["calls"] == [
        {
            "expected": 'search(query="refund policy")',
            "actual": 'search(query="shipping times")',
            "verdict": "arguments differ",
            "args_matched": 0.0,
            "differing": ["query"],
        },
        {"expected": 'open_ticket(topic="refund")', "actual": None, "verdict": "missing"},
    ]
    assert wrong["conversation"]["topics"] == ["refunds", "orders"]
    assert wrong["judge"]["score"] == 0.0
    # AND the agent that called as expected shows its match
    right = next(s for s in answer["samples"] if s["sample_id"] == "refund-ok")
    assert [pair["verdict"] for pair in right["conversation"]["calls"]] == ["match"]
    assert "topics" not in right["conversation"]


def test_a_single_turn_sample_comes_as_before_without_a_conversation() -> None:
    queue = queue_of([SINGLE_TURN, SINGLE_TURN | {"sample_id": "eiffel-2"}], "faithfulness")

    [sample] = [s for s in queue.samples if s.sample_id == "eiffel-2"]
    assert sample.conversation is None
    assert (sample.question, sample.answer) == ("When was the Eiffel Tower completed?", "In 1889.")
    assert sample.contexts == ["It was completed in 1889."]
