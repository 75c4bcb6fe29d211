"""The agent metrics of conversations (ragas' MultiTurnSample): the numbers are ragas' own,
on a trajectory that matches, one that partly does and one that goes wrong; the evidence
says which expected calls matched and which did not; the dry run counts their judge calls."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from rag_eval.adapters.local_files import DiskVerdictStore
from rag_eval.app.estimate import estimate_samples
from rag_eval.domain.evidence import why
from rag_eval.domain.request import parse_inline_request
from rag_eval.domain.results import ScoreRun
from rag_eval.domain.settings import Settings
from rag_eval.judges.gate import JudgeGate
from rag_eval.metrics import CONVERSATION_METRIC_NAMES, MODEL_FREE_METRICS, REGISTRY
from rag_eval.scoring.scorer import Scorer
from testkit.scripted_judge import ScriptedJudge

# ragas warns on each import of its legacy metrics; the conversation rubrics are scored
# by them (its collections rubrics read single-turn strings only).
pytestmark = pytest.mark.filterwarnings("ignore:Importing .* from 'ragas.metrics' is deprecated")

RUBRIC = {
    "score1_description": "The agent gives no forecast, or the wrong one.",
    "score2_description": "The agent gives a forecast for another day or city.",
    "score3_description": "The agent gives part of the forecast.",
    "score4_description": "The agent gives the forecast with a slip.",
    "score5_description": "The agent gives tomorrow's forecast for Paris, correctly.",
}
WEATHER = {"name": "weather", "args": {"city": "Paris", "day": "tomorrow"}}
DOCS = {"name": "search_docs", "args": {"query": "Lambda timeout"}}
BOOKING = {"name": "restaurant_book", "args": {"name": "Golden Dragon", "time": "20:00"}}

# The expected tool call made, the forecast given: every metric at the top of its scale
# but the reference-free rubric (the reply leaves out the word "weather").
MATCHING = {
    "sample_id": "matching",
    "user_input": [
        {"type": "human", "content": "What will the weather be in Paris tomorrow?"},
        {"type": "ai", "content": "Let me check.", "tool_calls": [WEATHER]},
        {"type": "tool", "content": "Tomorrow in Paris: 18 degrees and sunny."},
        {"type": "ai", "content": "Tomorrow Paris will be sunny, about 18 degrees."},
    ],
    "reference_tool_calls": [WEATHER],
    "reference": "Paris will be sunny and 18 degrees tomorrow.",
    "reference_topics": ["weather forecast"],
    "rubrics": RUBRIC,
}
# Both expected tools, in order, but the forecast asked for the wrong day; and an answer
# on a topic outside the reference topics.
PARTIAL = {
    "sample_id": "partial",
    "user_input": [
        {"type": "human", "content": "How long may an AWS Lambda function run?"},
        {"type": "ai", "content": "", "tool_calls": [DOCS]},
        {"type": "tool", "content": "A function can run for at most 900 seconds."},
        {"type": "ai", "content": "At most 900 seconds per invocation."},
        {"type": "human", "content": "What will the weather be in Paris tomorrow?"},
        {
            "type": "ai",
            "content": "",
            "tool_calls": [{"name": "weather", "args": {"city": "Paris", "day": "today"}}],
        },
        {"type": "tool", "content": "Today in Paris: 15 degrees and rainy."},
        {"type": "ai", "content": "Paris will be rainy, about 15 degrees."},
    ],
    "reference_tool_calls": [DOCS, WEATHER],
    "reference": "Paris will be sunny and 18 degrees tomorrow.",
    "reference_topics": ["AWS documentation"],
    "rubrics": RUBRIC,
}
# The right calls in the wrong order, and a refusal of the very topic the agent is for.
WRONG = {
    "sample_id": "wrong",
    "user_input": [
        {
            "type": "human",
            "content": "Book a table at the Golden Dragon at 8pm, then tell me the weather.",
        },
        {"type": "ai", "content": "", "tool_calls": [WEATHER]},
        {"type": "tool", "content": "Tomorrow in Paris: 18 degrees and sunny."},
        {"type": "ai", "content": "", "tool_calls": [BOOKING]},
        {"type": "tool", "content": "Booked: Golden Dragon, 20:00."},
        {"type": "ai", "content": "Sorry, I can't help with restaurant bookings."},
    ],
    "reference_tool_calls": [BOOKING, WEATHER],
    "reference": "A table is booked at the Golden Dragon for 8pm.",
    "reference_topics": ["table booking"],
    "rubrics": RUBRIC,
}
CONVERSATIONS = [MATCHING, PARTIAL, WRONG]

# Our metric -> how ragas itself is called for it, written out here (not taken from our
# registry) so that the comparison is independent of it.
RAGAS_METRICS: dict[str, tuple[str, dict[str, Any], tuple[str, ...]]] = {
    "tool_call_accuracy": (
        "ToolCallAccuracy",
        {"strict_order": True},
        ("user_input", "reference_tool_calls"),
    ),
    "tool_call_f1": ("ToolCallF1", {}, ("user_input", "reference_tool_calls")),
    "agent_goal_accuracy": ("AgentGoalAccuracyWithReference", {}, ("user_input", "reference")),
    "agent_goal_accuracy_without_reference": (
        "AgentGoalAccuracyWithoutReference",
        {},
        ("user_input",),
    ),
    "topic_adherence": ("TopicAdherence", {"mode": "f1"}, ("user_input", "reference_topics")),
    "topic_adherence_precision": (
        "TopicAdherence",
        {"mode": "precision"},
        ("user_input", "reference_topics"),
    ),
    "topic_adherence_recall": (
        "TopicAdherence",
        {"mode": "recall"},
        ("user_input", "reference_topics"),
    ),
}
# ragas' multi-turn rubric scoring (its legacy metrics), with the sample fields it reads.
RAGAS_RUBRICS: dict[str, tuple[str, tuple[str, ...]]] = {
    "conversation_rubrics_score": ("RubricsScore", ()),
    "conversation_instance_rubrics": ("InstanceRubrics", ("reference", "rubrics")),
}
# What each metric gives the three conversations (matching, partial, wrong).
EXPECTED = {
    "tool_call_accuracy": [1.0, 0.75, 0.0],
    "tool_call_f1": [1.0, 0.5, 1.0],
    "agent_goal_accuracy": [1.0, 0.0, 0.0],
    "agent_goal_accuracy_without_reference": [1.0, 0.0, 0.0],
    "topic_adherence": [1.0, 2 / 3, 0.0],
    "topic_adherence_precision": [1.0, 0.5, 0.0],
    "topic_adherence_recall": [1.0, 1.0, 0.0],
    "conversation_rubrics_score": [4.0, 2.0, 1.0],
    "conversation_instance_rubrics": [5.0, 3.0, 1.0],
}
# The judge's requests for the matching conversation (one topic), by output schema title.
CALLS_FOR_MATCHING: dict[str, dict[str, int]] = {
    "tool_call_accuracy": {},
    "tool_call_f1": {},
    "agent_goal_accuracy": {"WorkflowOutput": 1, "CompareOutcomeOutput": 1},
    "agent_goal_accuracy_without_reference": {"WorkflowOutput": 1, "CompareOutcomeOutput": 1},
    **{
        name: {"TopicExtractionOutput": 1, "TopicRefusedOutput": 1, "TopicClassificationOutput": 1}
        for name in ("topic_adherence", "topic_adherence_precision", "topic_adherence_recall")
    },
    "conversation_rubrics_score": {"ScoreFeedback": 1},
    "conversation_instance_rubrics": {"ScoreFeedback": 1},
}


def ragas_values(sample: dict[str, Any]) -> dict[str, Any]:
    """The sample as ragas' own classes, built here as its documentation shows."""
    from ragas.messages import AIMessage, HumanMessage, ToolCall, ToolMessage

    def call(raw: dict[str, Any]) -> ToolCall:
        return ToolCall(name=raw["name"], args=raw["args"])

    kinds = {"human": HumanMessage, "tool": ToolMessage}
    messages = [
        AIMessage(content=m["content"], tool_calls=[call(c) for c in m.get("tool_calls", [])])
        if m["type"] == "ai"
        else kinds[m["type"]](content=m["content"])
        for m in sample["user_input"]
    ]
    return {
        "user_input": messages,
        "reference_tool_calls": [call(c) for c in sample["reference_tool_calls"]],
        "reference": sample["reference"],
        "reference_topics": sample["reference_topics"],
        "rubrics": sample["rubrics"],
    }


async def score_with_ragas(base_url: str, name: str, samples: list[dict[str, Any]]) -> list[float]:
    """What ragas itself gives, wired to the judge as its documentation shows."""
    from openai import AsyncOpenAI
    from ragas import metrics
    from ragas.dataset_schema import MultiTurnSample
    from ragas.llms import llm_factory
    from ragas.metrics import collections

    client = AsyncOpenAI(base_url=base_url, api_key="test")
    llm = llm_factory("gpt-4o-mini", client=client)
    try:
        values = []
        for sample in samples:
            given = ragas_values(sample)
            if name in RAGAS_RUBRICS:
                class_name, fields = RAGAS_RUBRICS[name]
                legacy = getattr(metrics, class_name)(llm=llm)
                conversation = MultiTurnSample(
                    user_input=given["user_input"], **{f: given[f] for f in fields}
                )
                values.append(float(await legacy.multi_turn_ascore(conversation)))
                continue
            class_name, options, argument_names = RAGAS_METRICS[name]
            kwargs = dict(options)
            if REGISTRY[name].needs_judge:
                kwargs["llm"] = llm
            metric = getattr(collections, class_name)(**kwargs)
            result = await metric.ascore(**{k: given[k] for k in argument_names})
            values.append(result.value)
        return values
    finally:
        await client.close()


def score(body: dict[str, Any], gate: JudgeGate | None = None) -> ScoreRun:
    return Scorer(Settings.from_env()).score(parse_inline_request(body), gate=gate)


# --- the numbers are ragas' numbers -----------------------------------------------------


@pytest.mark.parametrize("name", CONVERSATION_METRIC_NAMES)
def test_each_agent_metric_scores_what_ragas_itself_gives(
    judge_env: ScriptedJudge, name: str
) -> None:
    # GIVEN a matching trajectory, one partly right and one gone wrong, and the judge
    # configured in the environment
    # WHEN we score them, and ragas scores them directly against the same judge
    run = score({"samples": CONVERSATIONS, "metrics": [name]})
    expected = asyncio.run(score_with_ragas(str(judge_env.base_url), name, CONVERSATIONS))

    # THEN every value is ragas' value, and says what the trajectory did; nothing failed
    scores = [r.scores[name] for r in run.results]
    assert scores == pytest.approx(expected, abs=1e-9)
    assert scores == pytest.approx(EXPECTED[name], abs=1e-6)
    assert run.failures == {}


@pytest.mark.parametrize("name", CONVERSATION_METRIC_NAMES)
def test_each_agent_metric_asks_the_judge_what_ragas_asks(
    judge_env: ScriptedJudge, name: str
) -> None:
    # GIVEN the matching conversation (one topic)
    # WHEN one metric scores it
    run = score({"samples": [MATCHING], "metrics": [name]})

    # THEN the judge saw the requests ragas makes for it, all through the job's ledger,
    # and the dry run's estimate counts as many (tool calls are compared with no judge)
    stats = judge_env.stats()
    assert stats.calls_by_title == CALLS_FOR_MATCHING[name]
    assert run.usage.requests == stats.total_calls
    assert (run.usage.input_tokens > 0) == REGISTRY[name].needs_judge
    if name.startswith("topic_adherence"):  # 2 + one request per topic found
        assert REGISTRY[name].load.calls == pytest.approx(4, abs=0.5)
    else:
        assert REGISTRY[name].load.calls == stats.chat_calls


def test_a_second_scoring_takes_the_judges_verdicts_from_the_cache(
    judge_env: ScriptedJudge, tmp_path: Path
) -> None:
    # GIVEN the judge metrics of conversations, and a verdict cache
    store = DiskVerdictStore(tmp_path)
    metrics = [n for n in CONVERSATION_METRIC_NAMES if REGISTRY[n].needs_judge]
    body = {"samples": CONVERSATIONS, "metrics": metrics}

    # WHEN the conversations are scored twice
    first = score(body, JudgeGate(store=store))
    asked = judge_env.stats().chat_calls
    second = score(body, JudgeGate(store=store))

    # THEN the second asks the judge nothing, and gives the same scores and evidence
    assert asked > 0
    assert judge_env.stats().chat_calls == asked
    assert second.cache.misses == 0 and second.cache.hits >= asked
    assert [r.scores for r in second.results] == [r.scores for r in first.results]
    assert [r.evidence for r in second.results] == [r.evidence for r in first.results]


def test_a_conversation_without_expected_calls_is_left_unscored_by_the_tool_metrics(
    judge_env: ScriptedJudge,
) -> None:
    # GIVEN a conversation with no reference_tool_calls, beside one with them
    lacking = {k: v for k, v in MATCHING.items() if k not in ("reference_tool_calls", "sample_id")}

    # WHEN the tool call metrics score both
    run = score({"samples": [lacking, MATCHING], "metrics": ["tool_call_accuracy"]})

    # THEN that conversation is missing_input, naming the input; the other scores
    first, second = run.results
    assert first.scores["tool_call_accuracy"] is None
    assert first.details == {"tool_call_accuracy": "missing input: reference_tool_calls"}
    assert second.scores["tool_call_accuracy"] == 1.0


def test_a_chinese_conversation_is_judged_by_its_characters(judge_env: ScriptedJudge) -> None:
    # GIVEN a conversation in Chinese that answers one question and declines another
    chinese = {
        "sample_id": "zh",
        "user_input": [
            {"type": "human", "content": "长城有多长？"},
            {
                "type": "ai",
                "content": "",
                "tool_calls": [{"name": "search", "args": {"q": "长城"}}],
            },
            {"type": "tool", "content": "长城全长约两万一千多公里。"},
            {"type": "ai", "content": "长城全长约两万一千多公里。"},
            {"type": "human", "content": "写一首关于大海的诗。"},
            {"type": "ai", "content": "抱歉，我只能回答关于长城的问题。"},
        ],
        "reference": "长城全长约两万一千公里。",
        "reference_topics": ["长城的历史"],
    }
    metrics = ["agent_goal_accuracy", "topic_adherence"]

    # WHEN it is scored
    (result,) = score({"samples": [chinese], "metrics": metrics}).results

    # THEN it ended on a refusal, not on the length asked; the Great Wall was answered
    # and in scope, the poem refused and out of scope: the agent kept to its topic
    assert result.scores == {"agent_goal_accuracy": 0.0, "topic_adherence": pytest.approx(1.0)}
    topics = result.evidence["topic_adherence"]["topics"]
    assert [(t["answered"], t["in_reference"]) for t in topics] == [(True, True), (False, False)]


# --- evidence and why --------------------------------------------------------------------


def test_tool_call_evidence_pairs_each_expected_call_with_the_call_made(
    judge_env: ScriptedJudge,
) -> None:
    # GIVEN the partial and the wrong trajectories
    metrics = ["tool_call_accuracy", "tool_call_f1"]

    # WHEN the tool call metrics score them
    partial, wrong = score({"samples": [PARTIAL, WRONG], "metrics": metrics}).results

    # THEN the evidence shows each expected call beside the one made in its place
    assert partial.evidence["tool_call_accuracy"] == {
        "calls": [
            {
                "expected": 'search_docs(query="Lambda timeout")',
                "actual": 'search_docs(query="Lambda timeout")',
                "verdict": "match",
            },
            {
                "expected": 'weather(city="Paris", day="tomorrow")',
                "actual": 'weather(city="Paris", day="today")',
                "verdict": "arguments differ",
                "args_matched": 0.5,
                "differing": ["day"],
            },
        ],
        "in_order": True,
    }
    assert partial.evidence["tool_call_f1"] == {
        "matched": ['search_docs(query="Lambda timeout")'],
        "missing": ['weather(city="Paris", day="tomorrow")'],
        "unexpected": ['weather(city="Paris", day="today")'],
    }
    assert [c["verdict"] for c in wrong.evidence["tool_call_accuracy"]["calls"]] == [
        "other tool",
        "other tool",
    ]
    assert wrong.evidence["tool_call_accuracy"]["in_order"] is False
    # AND says why a score is low, in the metric's terms
    assert why("tool_call_accuracy", wrong.evidence["tool_call_accuracy"], 0.0) == (
        "the tools were not called in the expected order; 2 of 2 expected calls not made "
        'as expected, e.g. restaurant_book(name="Golden Dragon", time="20:00") expected, '
        'weather(city="Paris", day="tomorrow") called'
    )
    assert why("tool_call_f1", partial.evidence["tool_call_f1"], 0.5, below=0.9) == (
        '1 of 2 expected calls not made, e.g. weather(city="Paris", day="tomorrow"); '
        '1 unexpected calls, e.g. weather(city="Paris", day="today")'
    )
    assert why("tool_call_accuracy", partial.evidence["tool_call_accuracy"], 0.75) == ""


def test_a_conversation_expected_to_call_no_tool_says_why_its_f1_is_zero(
    judge_env: ScriptedJudge,
) -> None:
    # GIVEN a conversation that calls no tool, and none is expected (`[]`)
    chat = {
        "sample_id": "no-tools",
        "user_input": [
            {"type": "human", "content": "Hello, who are you?"},
            {"type": "ai", "content": "I am the store's assistant."},
        ],
        "reference_tool_calls": [],
    }

    # WHEN the tool call metrics score it
    (result,) = score(
        {"samples": [chat], "metrics": ["tool_call_accuracy", "tool_call_f1"]}
    ).results

    # THEN ragas' accuracy is 1 and its F1 0, and the F1's evidence says why
    assert result.scores == {"tool_call_accuracy": 1.0, "tool_call_f1": 0.0}
    assert result.evidence["tool_call_accuracy"] == {"calls": [], "in_order": True}
    assert why("tool_call_f1", result.evidence["tool_call_f1"], 0.0) == (
        "no call was expected and none was made: ragas' F1 of two empty sets is 0"
    )


def test_judge_evidence_says_where_the_conversation_ended_and_which_topics_strayed(
    judge_env: ScriptedJudge,
) -> None:
    # GIVEN the matching and the wrong trajectories
    metrics = [
        "agent_goal_accuracy",
        "topic_adherence_recall",
        "topic_adherence_precision",
        "conversation_instance_rubrics",
    ]

    # WHEN the judge metrics score them
    run = score({"samples": [MATCHING, PARTIAL, WRONG], "metrics": metrics})
    matching, partial, wrong = run.results

    # THEN the goal's evidence is the judge's goal, end state and verdict
    goal = wrong.evidence["agent_goal_accuracy"]
    assert goal["end_state"] == "Sorry, I can't help with restaurant bookings."
    assert goal["achieved"] is False and goal["verdict_reason"]
    assert why("agent_goal_accuracy", goal, 0.0) == (
        "the judge found the goal not reached; the conversation ended with "
        '"Sorry, I can\'t help with restaurant bookings."'
    )
    assert matching.evidence["agent_goal_accuracy"]["achieved"] is True
    # AND the topics' evidence says which were answered and which are in scope
    assert partial.evidence["topic_adherence_precision"]["topics"] == [
        {
            "topic": "How long may an AWS Lambda function run",
            "answered": True,
            "in_reference": True,
        },
        {
            "topic": "What will the weather be in Paris tomorrow",
            "answered": True,
            "in_reference": False,
        },
    ]
    assert why("topic_adherence_precision", partial.evidence["topic_adherence_precision"], 0.4) == (
        '1 of 2 topics answered though outside the reference topics, e.g. "What will the '
        'weather be in Paris tomorrow"'
    )
    refused = wrong.evidence["topic_adherence_recall"]
    assert [(t["answered"], t["in_reference"]) for t in refused["topics"]] == [(False, True)]
    assert why("topic_adherence_recall", refused, 0.0).startswith(
        '1 of 1 topics of the reference refused, e.g. "Book a table'
    )
    # AND the rubric's evidence is the judge's score and feedback
    rubric = wrong.evidence["conversation_instance_rubrics"]
    assert rubric["score"] == 1
    assert "refuses or evades" in rubric["feedback"]
    assert why("conversation_instance_rubrics", rubric, 0.0) == rubric["feedback"][:119] + "…"


# --- what GET /metrics says and the dry run counts ---------------------------------------


def test_the_agent_metrics_are_described_as_scoring_conversations() -> None:
    # GIVEN the registry
    # WHEN the agent metrics are described (GET /metrics)
    described = {name: REGISTRY[name].describe() for name in CONVERSATION_METRIC_NAMES}

    # THEN each scores conversations, with the inputs and scale ragas gives it
    assert {d["turns"] for d in described.values()} == {"multi"}
    assert described["tool_call_accuracy"]["inputs"] == ["user_input", "reference_tool_calls"]
    assert described["tool_call_accuracy"]["needs_judge"] is False
    assert described["conversation_instance_rubrics"]["scale"]["high"] == 5.0
    # AND the model-free metrics of single-turn samples leave them out
    assert not set(CONVERSATION_METRIC_NAMES) & set(MODEL_FREE_METRICS)


def test_the_dry_run_counts_the_judge_calls_of_a_conversation_job() -> None:
    # GIVEN a conversation job with the default metrics of conversations
    request = parse_inline_request({"samples": CONVERSATIONS})

    # WHEN it is estimated, and a job of the tool call metrics alone
    estimate = estimate_samples(request, Settings(), request.samples).total
    tools = parse_inline_request({"samples": CONVERSATIONS, "metrics": ["tool_call_accuracy"]})
    tools_only = estimate_samples(tools, Settings(), tools.samples).total

    # THEN the goal metric's two calls a conversation are counted, with tokens and dollars
    # that grow with the conversation; the tool call metrics cost nothing
    assert request.metrics == ["tool_call_accuracy", "tool_call_f1", "agent_goal_accuracy"]
    assert estimate.judge_calls == 2 * len(CONVERSATIONS)
    assert estimate.input_tokens > 2 * len(CONVERSATIONS) * 500
    assert estimate.cost_usd is not None and estimate.cost_usd > 0
    assert (tools_only.judge_calls, tools_only.input_tokens) == (0, 0)
    longer = parse_inline_request({"samples": [PARTIAL], "metrics": ["agent_goal_accuracy"]})
    shorter = parse_inline_request({"samples": [MATCHING], "metrics": ["agent_goal_accuracy"]})
    assert (
        estimate_samples(longer, Settings(), longer.samples).total.input_tokens
        > estimate_samples(shorter, Settings(), shorter.samples).total.input_tokens
    )
