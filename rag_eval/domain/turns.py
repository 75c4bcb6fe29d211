"""A job is single-turn or multi-turn, said by its samples: one kind a job, and only the
metrics of its kind. Checked where samples are first read (the API for inline samples, the
planner for a dataset), before any judge call."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from rag_eval.domain.errors import RequestInvalid
from rag_eval.domain.sample import Sample
from rag_eval.metrics import REGISTRY
from rag_eval.metrics.spec import MetricSpec, Turns

# The metrics a conversation job gets when it names none (a single-turn job gets
# DEFAULT_METRICS): the agent's tool calls and whether it reached the goal.
CONVERSATION_METRICS: tuple[str, ...] = (
    "tool_call_accuracy",
    "tool_call_f1",
    "agent_goal_accuracy",
)

# What each kind of sample is, in a sentence that tells a client what to send.
KIND = {
    "single": "single-turn samples (question, answer, contexts, ground_truth)",
    "multi": "conversations (user_input as a list of messages, ragas' MultiTurnSample)",
}


def turns_of(sample: Sample) -> Turns:
    return "multi" if sample.is_conversation else "single"


def mixed_kinds(samples: Iterable[Sample], *, listed: bool = True) -> list[dict[str, Any]]:
    """The first sample of another kind than the first, as a request problem."""
    first: Turns | None = None
    for index, sample in enumerate(samples):
        kind = turns_of(sample)
        if first is None:
            first = kind
        elif kind != first:
            return [
                {
                    "field": f"samples[{index}]" if listed else "samples",
                    "message": f"a job holds one kind of sample: samples[0] is "
                    f"{_one(first)} and samples[{index}] is {_one(kind)}; submit them as "
                    "two jobs",
                }
            ]
    return []


def metric_kind_problems(specs: Iterable[MetricSpec], kind: Turns) -> list[dict[str, Any]]:
    """Each requested metric that scores the other kind of sample, naming what it needs."""
    return [
        {
            "field": "metrics",
            "message": f"{spec.name} scores {KIND[spec.turns]} and needs "
            f"{', '.join(_needs(spec))}; these samples are {KIND[kind]}: ask for "
            f"metrics of their kind (GET /metrics says each metric's turns)",
            "allowed": [name for name, known in REGISTRY.items() if known.turns == kind],
        }
        for spec in specs
        if spec.turns != kind
    ]


def job_kind(samples: Sequence[Sample], *, listed: bool = True) -> Turns:
    """The kind of the job's samples; RequestInvalid naming the first of another kind."""
    if problems := mixed_kinds(samples, listed=listed):
        raise RequestInvalid(problems)
    return turns_of(samples[0])


def check_metric_kinds(specs: Iterable[MetricSpec], kind: Turns) -> None:
    if problems := metric_kind_problems(specs, kind):
        raise RequestInvalid(problems)


def _one(kind: Turns) -> str:
    return "a conversation" if kind == "multi" else "a single-turn sample"


def _needs(spec: MetricSpec) -> list[str]:
    if spec.turns == "multi":
        return [_CONVERSATION_NAMES.get(name, name) for name in spec.inputs]
    return list(spec.inputs)


# A conversation's inputs by ragas' names (its expected outcome is `reference`).
_CONVERSATION_NAMES = {"ground_truth": "reference", "user_input": "user_input messages"}
