"""Agent metrics: a conversation (ragas' MultiTurnSample) scored for its tool calls, whether
it reached the user's goal, whether it kept to its topics, and by a rubric.

ragas' collections classes score the tool calls, the goal and the topics. Its collections
rubric metrics read single-turn strings only, so the conversation rubrics use ragas'
own multi-turn rubric scoring (`RubricsScore` / `InstanceRubrics.multi_turn_ascore`),
whose prompt asks the same judge for a `ScoreFeedback`.
"""

from __future__ import annotations

import warnings
from types import MappingProxyType
from typing import Any

from rag_eval.metrics.rubrics import RUBRIC_SCALE
from rag_eval.metrics.spec import JudgeLoad, MetricGuide, MetricSpec, Reading

_TOOL_STEPS = (
    "Read the evidence of the lowest-scored conversations: it lists each expected call "
    "beside the call made in its place (missing, another tool, other arguments).",
    "Describe each tool's purpose and arguments precisely in the agent's tool schema; "
    "an argument the agent keeps getting wrong usually has a vague description.",
    "Check the expected calls themselves (reference_tool_calls): an argument written "
    'another way ("Paris" vs "paris") counts as wrong.',
)
_GOAL_STEPS = (
    "Read the judge's end state and reason in the evidence: what the conversation "
    "arrived at, beside what was wanted.",
    "Check the tool results in the failing conversations: an agent cannot finish a task "
    "its tools did not do.",
)
_TOPIC_STEPS = (
    "Read the topics in the evidence: which were answered, which refused, and which lie "
    "outside reference_topics.",
    "State the allowed topics in the agent's system prompt, with how to decline others.",
)
_RUBRIC_STEPS = (
    "Read the judge's feedback on the lowest-scored conversations (explanations.jsonl): "
    "it says which part of the rubric the conversation missed.",
)


# What the advisor says of each family: a finding's title, the strength, the next steps.
_Guide = tuple[str, str, tuple[str, ...]]
_TOOLS: _Guide = (
    "The agent calls the wrong tools, or with the wrong arguments",
    "the agent makes the expected tool calls",
    _TOOL_STEPS,
)
_GOAL: _Guide = (
    "Conversations end without reaching the user's goal",
    "conversations end where the user wanted",
    _GOAL_STEPS,
)
_TOPICS: _Guide = (
    "The agent strays from its topics, or refuses its own",
    "the agent answers its own topics and declines others",
    _TOPIC_STEPS,
)
_RUBRIC: _Guide = (
    "Conversations fall short of the rubric",
    "conversations meet the rubric's higher scores",
    _RUBRIC_STEPS,
)


def _agent(
    name: str,
    ragas_class: str,
    inputs: tuple[str, ...],
    description: str,
    meaning: str,
    guide: _Guide,
    **more: Any,
) -> MetricSpec:
    """A metric of conversations; judged unless `needs_judge=False` says otherwise."""
    title, strength, steps = guide
    return MetricSpec(
        name,
        ragas_class,
        inputs,
        needs_judge=more.pop("needs_judge", True),
        needs_embeddings=False,
        description=description,
        guide=MetricGuide("agent", title, meaning, strength, steps),
        turns="multi",
        **more,
    )


def _tool_calls(
    name: str, ragas_class: str, description: str, meaning: str, **options: Any
) -> MetricSpec:
    return _agent(
        name,
        ragas_class,
        ("user_input", "reference_tool_calls"),
        description,
        meaning,
        _TOOLS,
        needs_judge=False,
        ragas_options=MappingProxyType(options),
    )


def _goal(
    name: str, ragas_class: str, inputs: tuple[str, ...], description: str, meaning: str
) -> MetricSpec:
    return _agent(
        name,
        ragas_class,
        inputs,
        description,
        meaning,
        _GOAL,
        # The judge infers the goal and the end state, then compares them.
        chain=2,
        # Requests and tokens per sample (bench/estimate.py --fit).
        load=JudgeLoad(
            calls=2, prompt_tokens=557, text_weight=1.07, output_tokens=31, output_weight=0.01
        ),
    )


def _topics(name: str, mode: str, description: str, meaning: str) -> MetricSpec:
    return _agent(
        name,
        "TopicAdherence",
        ("user_input", "reference_topics"),
        description,
        meaning,
        _TOPICS,
        ragas_options=MappingProxyType({"mode": mode}),
        # The topics, then for each topic whether it was refused (one after another),
        # then their classification: 2 + one per topic, at least one topic.
        chain=3,
        # Requests and tokens per sample (bench/estimate.py --fit): the conversation is
        # in the prompt of every topic's question.
        load=JudgeLoad(
            calls=4.12, prompt_tokens=554, text_weight=5.55, output_tokens=9.4, output_weight=0.08
        ),
    )


class _ConversationRubric:
    """ragas' multi-turn rubric scoring of a conversation, called as a collections metric
    is (`await metric.ascore(**arguments)`), with our field names."""

    def __init__(self, metric: Any) -> None:
        self._metric = metric

    async def ascore(
        self,
        user_input: list[Any],
        ground_truth: str | None = None,
        rubrics: dict[str, str] | None = None,
    ) -> float:
        from ragas.dataset_schema import MultiTurnSample

        sample = MultiTurnSample(user_input=user_input, reference=ground_truth, rubrics=rubrics)
        score: float = await self._metric.multi_turn_ascore(sample)
        return score


def _legacy(class_name: str) -> Any:
    """A class of ragas' legacy metrics, without the deprecation warning each import
    gives: the collections classes that replace them score no conversation."""
    import ragas.metrics

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return getattr(ragas.metrics, class_name)


def _rubrics_score(llm: Any) -> _ConversationRubric:
    metric = _legacy("RubricsScore")(name="conversation_rubrics_score", llm=llm)
    return _ConversationRubric(metric)


def _instance_rubrics(llm: Any) -> _ConversationRubric:
    metric = _legacy("InstanceRubrics")(name="conversation_instance_rubrics", llm=llm)
    return _ConversationRubric(metric)


def _read_rubric(value: Any) -> Reading:
    """ragas' legacy rubric metrics give the judge's score as a bare number (its feedback
    is the evidence, read from the judge's answer)."""
    try:
        score = float(value)
    except (TypeError, ValueError):
        return Reading(None, problem=f"the judge answered {value!r}, not a score")
    if not RUBRIC_SCALE.low <= score <= RUBRIC_SCALE.high:
        return Reading(None, problem=f"the judge answered {score:g}, outside 1..5")
    return Reading(score)


def _rubric(
    name: str, ragas_class: str, inputs: tuple[str, ...], description: str, meaning: str
) -> MetricSpec:
    return _agent(
        name,
        ragas_class,
        inputs,
        description,
        meaning,
        _RUBRIC,
        chain=1,
        # Requests and tokens per sample (bench/estimate.py --fit); ragas' own rubric is
        # in the prompt of the one without a sample's rubric.
        load=(
            JudgeLoad(calls=1, prompt_tokens=392, text_weight=1.06, output_tokens=54)
            if "rubrics" in inputs
            else JudgeLoad(calls=1, prompt_tokens=515, text_weight=1.06, output_tokens=30)
        ),
        scale=RUBRIC_SCALE,
        builder=_instance_rubrics if "rubrics" in inputs else _rubrics_score,
        reader=_read_rubric,
    )


SPECS = (
    _tool_calls(
        "tool_call_accuracy",
        "ToolCallAccuracy",
        "The agent's tool calls against the expected ones, in order, arguments matched.",
        "ragas tool_call_accuracy pairs the calls made with reference_tool_calls by position: "
        "0 unless the tools come in the expected order; otherwise the share of expected "
        "arguments given the same value, lowered for each expected call not made.",
        strict_order=True,
    ),
    _tool_calls(
        "tool_call_f1",
        "ToolCallF1",
        "F1 of the tool calls made against the expected ones, as sets (order ignored).",
        "ragas tool_call_f1 compares the calls made and reference_tool_calls as sets of "
        "(tool, arguments): a call with one argument off counts as both unexpected and "
        "missing. Order does not matter.",
    ),
    _goal(
        "agent_goal_accuracy",
        "AgentGoalAccuracyWithReference",
        ("user_input", "ground_truth"),
        "1 if the conversation ends in the expected outcome (`reference`), by the judge.",
        "ragas agent_goal_accuracy has the judge infer where the conversation ended and "
        "compare it with the reference outcome: 1 reached, 0 not.",
    ),
    _goal(
        "agent_goal_accuracy_without_reference",
        "AgentGoalAccuracyWithoutReference",
        ("user_input",),
        "1 if the conversation ends where the user wanted, by the judge (no reference).",
        "ragas agent_goal_accuracy_without_reference has the judge infer the user's goal "
        "and where the conversation ended, and compare the two: 1 reached, 0 not.",
    ),
    _topics(
        "topic_adherence",
        "f1",
        "F1 of answering the reference topics and declining others, by the judge.",
        "ragas topic_adherence has the judge list the conversation's topics, say which the "
        "agent refused and which lie within reference_topics: the F1 of answering in-scope "
        "topics (precision) and not refusing them (recall).",
    ),
    _topics(
        "topic_adherence_precision",
        "precision",
        "Share of the topics the agent answered that are within the reference topics.",
        "ragas topic_adherence in precision mode: of the topics the agent answered, the "
        "share within reference_topics. Low: the agent answers what it should decline.",
    ),
    _topics(
        "topic_adherence_recall",
        "recall",
        "Share of the in-scope topics the agent answered rather than refused.",
        "ragas topic_adherence in recall mode: of the topics within reference_topics, the "
        "share the agent answered. Low: the agent refuses what it is there for.",
    ),
    _rubric(
        "conversation_rubrics_score",
        "RubricsScore",
        ("user_input",),
        "The judge's 1-5 score of the conversation, by ragas' rubric (no reference).",
        "ragas' rubric score of a conversation has the judge score the whole interaction "
        "from 1 to 5 by ragas' reference-free rubric (accurate, clear, complete), with "
        "feedback.",
    ),
    _rubric(
        "conversation_instance_rubrics",
        "InstanceRubrics",
        ("user_input", "ground_truth", "rubrics"),
        "The judge's 1-5 score of the conversation by the sample's own rubric (`rubrics`).",
        "ragas' instance rubrics of a conversation have the judge score the interaction "
        "from 1 to 5 by the rubric the sample carries, against its reference, with feedback.",
    ),
)
CONVERSATION_METRIC_NAMES: tuple[str, ...] = tuple(spec.name for spec in SPECS)
