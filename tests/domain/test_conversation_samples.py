"""Conversations (ragas' MultiTurnSample) submitted inline or in a dataset file: what is
accepted, and errors that name the sample or line, the message's index and the field."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rag_eval.domain.conversation import MAX_MESSAGE_CHARS, MAX_MESSAGES
from rag_eval.domain.dataset import DatasetFormat, DatasetReader, DatasetRow, RowError
from rag_eval.domain.request import ScoreRequest, parse_request
from rag_eval.domain.turns import CONVERSATION_METRICS
from tests.domain.test_request import only_problem

SEARCH = {"name": "search", "args": {"query": "refund policy"}}
CONVERSATION: list[dict[str, Any]] = [
    {"type": "human", "content": "How long do I have to ask for a refund?"},
    {"type": "ai", "content": "", "tool_calls": [SEARCH]},
    {"type": "tool", "content": "Refunds are accepted within 30 days of purchase."},
    {"type": "ai", "content": "You have 30 days from the purchase."},
]
SINGLE_TURN = {
    "question": "When was the Eiffel Tower completed?",
    "answer": "In 1889.",
    "contexts": ["The Eiffel Tower was completed in 1889."],
    "ground_truth": "1889",
}


def conversation(**fields: Any) -> dict[str, Any]:
    return {"user_input": CONVERSATION, "reference_tool_calls": [SEARCH]} | fields


def parsed(body: dict[str, Any]) -> ScoreRequest:
    request = parse_request(body)
    assert isinstance(request, ScoreRequest)
    return request


def test_a_conversation_is_read_with_its_question_answer_and_reference() -> None:
    # WHEN a conversation is sent with ragas' `reference` for the outcome expected
    request = parsed({"samples": [conversation(reference="The customer learns the 30 days.")]})

    # THEN its question and answer are its first human message and the AI's last words
    (sample,) = request.samples
    assert sample.is_conversation
    assert sample.question == "How long do I have to ask for a refund?"
    assert sample.answer == "You have 30 days from the purchase."
    assert sample.ground_truth == "The customer learns the 30 days."
    assert [call.label() for call in sample.reference_tool_calls or []] == [
        'search(query="refund policy")'
    ]


def test_one_conversation_may_be_sent_inline_without_a_samples_list() -> None:
    request = parsed(conversation(reference="30 days", metrics=["tool_call_accuracy"]))

    assert request.samples[0].ground_truth == "30 days"
    assert request.metrics == ["tool_call_accuracy"]


def test_a_conversation_job_naming_no_metrics_gets_the_conversation_metrics() -> None:
    request = parsed({"samples": [conversation(reference="30 days")]})

    assert request.metrics == list(CONVERSATION_METRICS)
    assert request.metrics == ["tool_call_accuracy", "tool_call_f1", "agent_goal_accuracy"]


@pytest.mark.parametrize(
    ("messages", "field", "says"),
    [
        (
            [CONVERSATION[0], {"type": "tool", "content": "30 days"}],
            "samples[0].user_input",
            "user_input[1]: a tool result with no tool call before it",
        ),
        ([], "samples[0].user_input", "an empty conversation"),
        (
            [CONVERSATION[0], {"type": "ai", "tool_calls": [{"name": "search", "args": "x"}]}],
            "samples[0].user_input[1].tool_calls[0].args",
            "must be an object of arguments",
        ),
        (
            [{"type": "human", "content": "hi"}, {"type": "robot", "content": "hello"}],
            "samples[0].user_input[1].type",
            "'human', 'ai' or 'tool'",
        ),
        (
            [{"type": "human", "content": "x" * (MAX_MESSAGE_CHARS + 1)}],
            "samples[0].user_input[0].content",
            f"at most {MAX_MESSAGE_CHARS} characters",
        ),
        (
            [{"type": "human", "content": "hi"}] * (MAX_MESSAGES + 1),
            "samples[0].user_input",
            f"at most {MAX_MESSAGES} items",
        ),
    ],
    ids=["tool-without-call", "empty", "args-not-object", "unknown-type", "long", "too-many"],
)
def test_a_wrong_conversation_names_the_message_and_its_field(
    messages: list[dict[str, Any]], field: str, says: str
) -> None:
    problem = only_problem({"samples": [{"user_input": messages}]})

    assert problem["field"] == field
    assert says in problem["message"], problem


def test_expected_tool_calls_on_a_single_turn_sample_are_refused() -> None:
    problem = only_problem({"samples": [SINGLE_TURN | {"reference_tool_calls": [SEARCH]}]})

    assert problem["field"] == "samples[0]"
    assert problem["message"].startswith("reference_tool_calls: belongs to a conversation")


def test_a_job_of_both_kinds_is_refused_naming_the_sample_of_the_other_kind() -> None:
    problem = only_problem({"samples": [conversation(), conversation(), SINGLE_TURN]})

    assert problem["field"] == "samples[2]"
    assert problem["message"] == (
        "a job holds one kind of sample: samples[0] is a conversation and samples[2] is a "
        "single-turn sample; submit them as two jobs"
    )


def test_a_single_turn_metric_asked_of_conversations_says_what_it_needs() -> None:
    problem = only_problem(
        {"samples": [conversation()], "metrics": ["tool_call_f1", "faithfulness"]}
    )

    assert problem["field"] == "metrics"
    assert problem["message"].startswith(
        "faithfulness scores single-turn samples (question, answer, contexts, ground_truth) "
        "and needs question, answer, contexts; these samples are conversations"
    )
    assert "tool_call_f1" in problem["allowed"] and "faithfulness" not in problem["allowed"]


def test_a_conversation_metric_asked_of_single_turn_samples_says_what_it_needs() -> None:
    problem = only_problem({"samples": [SINGLE_TURN], "metrics": ["agent_goal_accuracy"]})

    assert problem["field"] == "metrics"
    assert problem["message"].startswith(
        "agent_goal_accuracy scores conversations (user_input as a list of messages, ragas' "
        "MultiTurnSample) and needs user_input messages, reference; these samples are "
        "single-turn samples"
    )
    assert "faithfulness" in problem["allowed"] and "agent_goal_accuracy" not in problem["allowed"]


def test_a_single_turn_job_keeps_the_default_metrics() -> None:
    request = parsed({"samples": [SINGLE_TURN]})

    assert request.metrics == [
        "faithfulness",
        "answer_relevancy",
        "context_precision",
        "context_recall",
    ]


# --- in a dataset file --------------------------------------------------------------------


def read(text: str, fmt: DatasetFormat) -> list[DatasetRow | RowError]:
    return list(DatasetReader([line.encode() for line in text.splitlines(True)], fmt))


def test_a_jsonl_file_of_conversations_is_read_by_ragas_field_names() -> None:
    # GIVEN rows as ragas' MultiTurnSample writes them, one with a wrong third message
    rows = [
        {
            "id": 7,
            "user_input": CONVERSATION,
            "reference": "The customer learns the 30 days.",
            "reference_tool_calls": [SEARCH],
            "reference_topics": ["refunds"],
            "metadata": {"language": "en"},
        },
        {"user_input": [*CONVERSATION[:2], {"type": "human", "content": "hi"}, CONVERSATION[2]]},
    ]

    # WHEN the file is read
    first, second = read("".join(json.dumps(row) + "\n" for row in rows), "jsonl")

    # THEN the first row is a conversation, and the second's error names its line and message
    assert isinstance(first, DatasetRow) and first.sample.is_conversation
    assert first.sample.sample_id == "7"
    assert first.sample.ground_truth == "The customer learns the 30 days."
    assert first.sample.reference_topics == ["refunds"]
    assert first.sample.metadata == {"language": "en"}
    assert isinstance(second, RowError)
    assert second.problem()["field"] == "line 2: user_input[3]"
    assert second.message.startswith("a tool result with no tool call before it")


def test_a_bad_tool_call_in_a_jsonl_row_names_its_line_and_path() -> None:
    call = {"type": "ai", "content": "", "tool_calls": [{"name": "search", "args": ["x"]}]}
    good = json.dumps({"user_input": CONVERSATION})

    *_, error = read(
        f"{good}\n{good}\n{json.dumps({'user_input': [CONVERSATION[0], call]})}\n", "jsonl"
    )

    assert isinstance(error, RowError)
    assert (error.line, error.field) == (3, "user_input[1].tool_calls[0].args")


def test_a_csv_cannot_carry_a_conversation_and_says_to_use_json_lines() -> None:
    messages = json.dumps(CONVERSATION).replace('"', '""')
    text = (
        "user_input,response,reference_topics\n"
        f'"{messages}",,\n'
        "[draft] What is a refund?,Money back.,\n"
        'What is a refund?,Money back.,"[""refunds""]"\n'
    )

    conversation_row, bracketed, topics = read(text, "csv")

    assert isinstance(conversation_row, RowError) and conversation_row.field == "user_input"
    assert "cannot be given in CSV: write the file as JSON Lines" in conversation_row.message
    # a question that merely starts with a bracket is a question
    assert isinstance(bracketed, DatasetRow) and bracketed.sample.question.startswith("[draft]")
    assert isinstance(topics, RowError) and topics.field == "reference_topics"


def test_a_conversation_without_its_outcome_is_told_to_add_reference() -> None:
    # GIVEN conversations with no expected outcome, asked whether the agent reached it
    request = parsed({"samples": [conversation()], "metrics": ["agent_goal_accuracy"]})

    # THEN the metric is skipped naming the input by a conversation's name for it
    assert request.skipped_metrics() == {"agent_goal_accuracy": "missing input: reference"}
