"""The scripted judge runs the real openai + instructor + ragas path offline.

Every LLM metric of ``ragas.metrics.collections`` that we offer scores a well-grounded
sample higher than an ungrounded one against it, and failure injection surfaces as the
exceptions a real provider would cause.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from instructor.core.exceptions import InstructorRetryException
from openai import AsyncOpenAI, OpenAI
from pydantic import ValidationError

from testkit.scripted_judge import HANDLED_TITLES, ScriptedJudge, embed

REPO_ROOT = Path(__file__).resolve().parents[2]

QUESTION = "What is the capital of France?"
CONTEXTS = [
    "Paris is the capital and largest city of France.",
    "Berlin is the capital of Germany.",
]
REFERENCE = "Paris is the capital of France."
GOOD = "Paris is the capital of France. Paris is the largest city of France."
BAD = "The moon is made of green cheese."


@pytest.fixture(scope="session", autouse=True)
def _ragas_offline() -> None:
    os.environ["RAGAS_DO_NOT_TRACK"] = "true"
    from ragas import _analytics

    _analytics.do_not_track.cache_clear()


@pytest.fixture(scope="module")
def shared_judge() -> Iterator[ScriptedJudge]:
    with ScriptedJudge() as judge:
        yield judge


@pytest.fixture
def judge(shared_judge: ScriptedJudge) -> ScriptedJudge:
    shared_judge.clear_failures()
    shared_judge.reset_stats()
    return shared_judge


def _llm(judge: ScriptedJudge, **client_kwargs: Any) -> Any:
    from ragas.llms import llm_factory

    client = AsyncOpenAI(base_url=judge.base_url, api_key="test", **client_kwargs)
    return llm_factory("gpt-4o-mini", client=client)


def _async_embeddings(judge: ScriptedJudge) -> Any:
    from ragas.embeddings import OpenAIEmbeddings

    return OpenAIEmbeddings(client=AsyncOpenAI(base_url=judge.base_url, api_key="test"))


def _sync_embeddings(judge: ScriptedJudge) -> Any:
    from ragas.embeddings import OpenAIEmbeddings

    return OpenAIEmbeddings(client=OpenAI(base_url=judge.base_url, api_key="test"))


# Each case: metric builder, ascore kwargs for a good and a bad sample, and the LLM calls
# one good sample makes, by schema title.
MetricCase = tuple[
    Callable[[ScriptedJudge], Any], dict[str, Any], dict[str, Any], dict[str, int], int
]


def _cases() -> dict[str, MetricCase]:
    from ragas.metrics.collections import (
        AnswerAccuracy,
        AnswerCorrectness,
        AnswerRelevancy,
        ContextEntityRecall,
        ContextPrecision,
        ContextPrecisionWithoutReference,
        ContextRecall,
        ContextRelevance,
        ContextUtilization,
        FactualCorrectness,
        Faithfulness,
        ResponseGroundedness,
        SemanticSimilarity,
    )

    return {
        "faithfulness": (
            lambda j: Faithfulness(llm=_llm(j)),
            {"user_input": QUESTION, "response": GOOD, "retrieved_contexts": CONTEXTS},
            {"user_input": QUESTION, "response": BAD, "retrieved_contexts": CONTEXTS},
            {"StatementGeneratorOutput": 1, "NLIStatementOutput": 1},
            0,
        ),
        "answer_relevancy": (
            lambda j: AnswerRelevancy(llm=_llm(j), embeddings=_async_embeddings(j)),
            {"user_input": QUESTION, "response": GOOD},
            {"user_input": QUESTION, "response": BAD},
            {"AnswerRelevanceOutput": 3},  # strictness=3, one call after the other
            2,
        ),
        "context_precision": (
            lambda j: ContextPrecision(llm=_llm(j)),
            {"user_input": QUESTION, "reference": REFERENCE, "retrieved_contexts": CONTEXTS},
            {
                "user_input": QUESTION,
                "reference": REFERENCE,
                "retrieved_contexts": list(reversed(CONTEXTS)),
            },
            {"ContextPrecisionOutput": 2},  # one per retrieved context
            0,
        ),
        "context_recall": (
            lambda j: ContextRecall(llm=_llm(j)),
            {"user_input": QUESTION, "reference": REFERENCE, "retrieved_contexts": CONTEXTS},
            {"user_input": QUESTION, "reference": REFERENCE, "retrieved_contexts": CONTEXTS[1:]},
            {"ContextRecallOutput": 1},
            0,
        ),
        "answer_correctness": (
            lambda j: AnswerCorrectness(llm=_llm(j), embeddings=_async_embeddings(j)),
            {"user_input": QUESTION, "response": GOOD, "reference": REFERENCE},
            {"user_input": QUESTION, "response": BAD, "reference": REFERENCE},
            {"StatementGeneratorOutput": 2, "ClassificationWithReason": 1},
            2,
        ),
        "factual_correctness": (
            lambda j: FactualCorrectness(llm=_llm(j)),
            {"response": GOOD, "reference": REFERENCE},
            {"response": BAD, "reference": REFERENCE},
            {"ClaimDecompositionOutput": 2, "NLIStatementOutput": 2},  # mode="f1"
            0,
        ),
        "semantic_similarity": (
            # ascore calls the sync embed_text(): needs a sync OpenAI client.
            lambda j: SemanticSimilarity(embeddings=_sync_embeddings(j)),
            {"response": GOOD, "reference": REFERENCE},
            {"response": BAD, "reference": REFERENCE},
            {},
            2,
        ),
        "context_precision_without_reference": (
            lambda j: ContextPrecisionWithoutReference(llm=_llm(j)),
            {"user_input": QUESTION, "response": GOOD, "retrieved_contexts": CONTEXTS},
            {"user_input": QUESTION, "response": BAD, "retrieved_contexts": CONTEXTS},
            {"ContextPrecisionOutput": 2},  # one per retrieved context
            0,
        ),
        "context_utilization": (
            lambda j: ContextUtilization(llm=_llm(j)),
            {"user_input": QUESTION, "response": GOOD, "retrieved_contexts": CONTEXTS},
            {"user_input": QUESTION, "response": BAD, "retrieved_contexts": CONTEXTS},
            {"ContextPrecisionOutput": 2},
            0,
        ),
        "context_entity_recall": (
            lambda j: ContextEntityRecall(llm=_llm(j)),
            {"reference": REFERENCE, "retrieved_contexts": CONTEXTS},
            {"reference": REFERENCE, "retrieved_contexts": CONTEXTS[1:]},
            {"EntitiesList": 2},  # the reference's entities, then the contexts'
            0,
        ),
        "context_relevance": (
            lambda j: ContextRelevance(llm=_llm(j)),
            {"user_input": QUESTION, "retrieved_contexts": CONTEXTS},
            {"user_input": QUESTION, "retrieved_contexts": [BAD]},
            {"ContextRelevanceOutput": 2},  # two judge prompts
            0,
        ),
        "response_groundedness": (
            lambda j: ResponseGroundedness(llm=_llm(j)),
            {"response": GOOD, "retrieved_contexts": CONTEXTS},
            {"response": BAD, "retrieved_contexts": CONTEXTS},
            {"ResponseGroundednessOutput": 2},
            0,
        ),
        "answer_accuracy": (
            lambda j: AnswerAccuracy(llm=_llm(j)),
            {"user_input": QUESTION, "response": GOOD, "reference": REFERENCE},
            {"user_input": QUESTION, "response": BAD, "reference": REFERENCE},
            {"AnswerAccuracyOutput": 2},  # answer and reference, then swapped
            0,
        ),
    }


METRIC_NAMES = [
    "faithfulness",
    "answer_relevancy",
    "context_precision",
    "context_recall",
    "answer_correctness",
    "factual_correctness",
    "semantic_similarity",
    "context_precision_without_reference",
    "context_utilization",
    "context_entity_recall",
    "context_relevance",
    "response_groundedness",
    "answer_accuracy",
]


def _in_unit_interval(value: float) -> bool:
    return not math.isnan(value) and -1e-9 <= value <= 1 + 1e-9


@pytest.mark.parametrize("name", METRIC_NAMES)
def test_grounded_sample_scores_higher_than_ungrounded(judge: ScriptedJudge, name: str) -> None:
    # GIVEN a ragas collections metric wired to the judge through the real openai client
    build, good_kwargs, bad_kwargs, calls_per_sample, embedding_calls = _cases()[name]

    async def score() -> tuple[float, float, Any]:
        metric = build(judge)
        good = (await metric.ascore(**good_kwargs)).value
        judge_after_good = judge.stats()
        bad = (await metric.ascore(**bad_kwargs)).value
        return good, bad, judge_after_good

    # WHEN it scores a grounded and an ungrounded sample
    good, bad, after_good = asyncio.run(score())

    # THEN both are in [0, 1] and the grounded one is clearly higher
    assert _in_unit_interval(good), good
    assert _in_unit_interval(bad), bad
    assert good >= 0.6, good
    assert bad <= 0.5, bad
    assert good > bad
    # AND the judge saw exactly the calls this metric makes per sample
    assert after_good.calls_by_title == calls_per_sample
    assert after_good.embedding_calls == embedding_calls


def test_every_llm_metric_schema_is_scripted(judge: ScriptedJudge) -> None:
    # GIVEN all metric cases WHEN they run THEN no request hit an unknown schema title
    async def run_all() -> None:
        for name in METRIC_NAMES:
            build, good_kwargs, *_ = _cases()[name]
            await build(judge).ascore(**good_kwargs)

    asyncio.run(run_all())
    assert set(judge.calls_by_title) <= set(HANDLED_TITLES)
    assert all(status == 200 for _, _, status in judge.request_log)


def test_chinese_text_is_judged_by_characters(judge: ScriptedJudge) -> None:
    # GIVEN a Chinese question and context
    from ragas.metrics.collections import Faithfulness

    contexts = ["巴黎是法国的首都和最大城市。"]

    async def score(response: str) -> float:
        metric = Faithfulness(llm=_llm(judge))
        result = await metric.ascore(
            user_input="法国的首都是哪里？", response=response, retrieved_contexts=contexts
        )
        return result.value

    # WHEN a grounded and an ungrounded Chinese answer are scored
    good = asyncio.run(score("巴黎是法国的首都。"))
    bad = asyncio.run(score("月亮是由奶酪做的。"))

    # THEN the grounded answer is faithful and the other is not
    assert good == 1.0
    assert bad == 0.0


def test_chinese_entities_are_characters(judge: ScriptedJudge) -> None:
    # GIVEN a Chinese reference, and contexts that hold it or not
    from ragas.metrics.collections import ContextEntityRecall

    reference = "长城全长约两万一千公里。"

    async def score(contexts: list[str]) -> float:
        metric = ContextEntityRecall(llm=_llm(judge))
        result = await metric.ascore(reference=reference, retrieved_contexts=contexts)
        return result.value

    # WHEN entity recall scores them
    found = asyncio.run(score(["长城是中国古代的军事防御工程，全长约两万一千多公里。"]))
    missed = asyncio.run(score(["巴黎是法国的首都。"]))

    # THEN the reference's characters are its entities: all found, or none
    assert found == pytest.approx(1.0)
    assert missed == 0.0


@pytest.mark.parametrize(
    ("mode", "misled_by"),
    [
        # an answer the reference does not make, taken from the context that holds it
        ("relevant", "Paris has nine million people."),
        # an answer taken from a context that holds none of the reference
        ("irrelevant", "Berlin is the capital of Germany."),
    ],
)
def test_noise_sensitivity_is_high_for_an_answer_misled_by_the_contexts(
    judge: ScriptedJudge, mode: str, misled_by: str
) -> None:
    # GIVEN a context holding the reference and more, and one on something else
    from ragas.metrics.collections import NoiseSensitivity

    contexts = [
        "Paris is the capital of France and has nine million people.",
        "Berlin is the capital of Germany.",
    ]

    async def score(response: str) -> tuple[float, dict[str, int]]:
        judge.reset_stats()
        result = await NoiseSensitivity(llm=_llm(judge), mode=mode).ascore(
            user_input=QUESTION, response=response, reference=REFERENCE, retrieved_contexts=contexts
        )
        return result.value, judge.calls_by_title

    # WHEN the answer that keeps to the reference and the misled one are scored
    (faithful, calls), (misled, _) = asyncio.run(score(REFERENCE)), asyncio.run(score(misled_by))

    # THEN the misled answer is all noise (lower is better), the other none
    assert faithful == 0.0
    assert misled == 1.0
    # AND the judge split the reference and the answer, then judged both against each
    # context and the answer against the reference
    assert calls == {"StatementGeneratorOutput": 2, "StatementFaithfulnessOutput": 5}


def test_rubric_metrics_score_one_to_five_by_word_overlap(judge: ScriptedJudge) -> None:
    # GIVEN ragas' rubric metrics, and a rubric of the sample's own
    from ragas.metrics.collections import (
        InstanceSpecificRubrics,
        RubricsScoreWithoutReference,
        RubricsScoreWithReference,
    )

    rubrics = {f"score{n}_description": f"Level {n} of naming Paris." for n in range(1, 6)}

    async def score(response: str) -> list[tuple[float, str]]:
        llm = _llm(judge)
        results = [
            await RubricsScoreWithReference(llm=llm).ascore(
                user_input=QUESTION, response=response, reference=REFERENCE
            ),
            await RubricsScoreWithoutReference(llm=llm).ascore(
                user_input=QUESTION, response=response
            ),
            await InstanceSpecificRubrics(llm=llm).ascore(
                user_input=QUESTION, response=response, rubrics=rubrics
            ),
        ]
        return [(r.value, r.reason) for r in results]

    # WHEN a grounded, an ungrounded and an evasive answer are scored
    good = asyncio.run(score(GOOD))
    bad = asyncio.run(score(BAD))
    evasive = asyncio.run(score("I don't know the capital of France."))

    # THEN the grounded one scores 5, the others 1, each with feedback saying why
    assert [value for value, _ in good] == [5.0, 5.0, 5.0]
    assert [value for value, _ in bad] == [1.0, 1.0, 1.0]
    assert [value for value, _ in evasive] == [1.0, 1.0, 1.0]
    assert (
        good[0][1]
        == "100% of the reference's key words appear in the response, so it scores 5 of 5."
    )
    assert (
        bad[1][1] == "0% of the question's key words appear in the response, so it scores 1 of 5."
    )
    assert evasive[0][1].startswith("The response evades the question")
    # AND the sample's own rubric is quoted for the score given
    assert good[2][1].endswith('The rubric for 5: "Level 5 of naming Paris."')
    assert judge.calls_by_title == {"RubricScoreOutput": 6, "InstanceRubricScoreOutput": 3}


def test_agent_prompts_are_answered_from_the_conversation(judge: ScriptedJudge) -> None:
    # GIVEN ragas' agent metrics, and a conversation that answers one request (a booking)
    # and declines another (sports)
    from ragas.messages import AIMessage, HumanMessage, ToolCall, ToolMessage
    from ragas.metrics.collections import (
        AgentGoalAccuracyWithoutReference,
        AgentGoalAccuracyWithReference,
        TopicAdherence,
    )

    booked = [
        HumanMessage(content="Book a table at the Golden Dragon for 8pm tonight."),
        AIMessage(content="", tool_calls=[ToolCall(name="book", args={"time": "20:00"})]),
        ToolMessage(content="Booked: Golden Dragon, 20:00."),
        AIMessage(content="Your table at the Golden Dragon is booked for 8pm tonight."),
    ]
    declined = [
        HumanMessage(content="Who will win the football final on Sunday?"),
        AIMessage(content="Sorry, I can't help with sports predictions."),
    ]

    async def score() -> list[float]:
        llm = _llm(judge)
        goal = AgentGoalAccuracyWithReference(llm=llm)
        reached = "A table is booked at the Golden Dragon for 8pm."
        results = [
            await goal.ascore(user_input=booked, reference=reached),
            await goal.ascore(user_input=[*booked, *declined], reference=reached),
            await AgentGoalAccuracyWithoutReference(llm=llm).ascore(user_input=booked),
            await TopicAdherence(llm=llm, mode="precision").ascore(
                user_input=[*booked, *declined], reference_topics=["table booking"]
            ),
            await TopicAdherence(llm=llm, mode="recall").ascore(
                user_input=[*declined, *booked], reference_topics=["football"]
            ),
        ]
        return [r.value for r in results]

    # WHEN they score it
    # THEN the goal is reached where the last reply says so; the booking is the one topic
    # answered and in scope, the declined one is refused (recall 0 when it is the scope)
    assert asyncio.run(score()) == pytest.approx([1.0, 0.0, 1.0, 1.0, 0.0], abs=1e-6)
    assert set(judge.calls_by_title) <= set(HANDLED_TITLES)
    assert judge.calls_by_title["TopicRefusedOutput"] == 4  # one per topic found


def test_a_statement_prompt_may_give_its_text_as_text(judge: ScriptedJudge) -> None:
    # GIVEN a statement prompt whose input names the text to split `text`, not `answer`
    client = OpenAI(base_url=judge.base_url, api_key="test", max_retries=0)
    prompt = _statement_prompt().replace('"answer":', '"text":')

    # WHEN the judge answers
    completion = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": prompt}],
        response_format={"type": "json_object"},
    )

    # THEN it split that text
    assert json.loads(completion.choices[0].message.content)["statements"] == [
        "Paris is the capital of France.",
        "Paris is the largest city of France.",
    ]


def _own_metric(kind: str, instructions: str, allowed: Any) -> Any:
    from ragas.metrics import DiscreteMetric, NumericMetric

    if kind == "discrete":
        return DiscreteMetric(name="tone", prompt=instructions, allowed_values=allowed)
    return NumericMetric(name="detail", prompt=instructions, allowed_values=allowed)


def test_a_discrete_metric_gets_one_of_its_values_the_same_for_the_same_prompt(
    judge: ScriptedJudge,
) -> None:
    # GIVEN a job's own discrete metric (free-text instructions, no input JSON)
    metric = _own_metric("discrete", "Is this answer polite? {answer}", ["yes", "no", "partly"])

    async def score(answer: str) -> Any:
        return await metric.ascore(llm=_llm(judge), answer=answer)

    # WHEN it scores answers, one of them twice
    first, again = asyncio.run(score(GOOD)), asyncio.run(score(GOOD))
    others = [asyncio.run(score(f"{GOOD} ({n})")) for n in range(12)]

    # THEN each answer is an allowed value, the same prompt gets the same one, and the
    # reason says the instructions were not followed
    assert first.value == again.value and first.reason == again.reason
    assert {r.value for r in [first, *others]} <= {"yes", "no", "partly"}
    assert len({r.value for r in others}) > 1  # it does depend on the prompt
    assert first.reason.startswith("The scripted judge does not follow this metric's instructions")
    assert judge.calls_by_title == {"DiscreteResponseModel": 14}


@pytest.mark.parametrize(
    ("instructions", "low", "high", "whole"),
    [
        ("Rate how detailed the answer is from 0 to 10: {answer}", 0, 10, True),
        ("Score the answer between 1 and 5. {answer}", 1, 5, True),
        ("Give 1-5 for detail: {answer}", 1, 5, True),
        ("How detailed is this answer? {answer}", 0, 1, False),
        ("Give a share of 0..1 for the detail of {answer}", 0, 1, False),
    ],
)
def test_a_numeric_metric_gets_a_number_in_the_range_its_prompt_states(
    judge: ScriptedJudge, instructions: str, low: float, high: float, whole: bool
) -> None:
    # GIVEN a job's own numeric metric whose instructions state a range, or none
    metric = _own_metric("numeric", instructions, (low, high))

    async def score(answer: str) -> Any:
        return await metric.ascore(llm=_llm(judge), answer=answer)

    # WHEN it scores answers, one of them twice
    results = [asyncio.run(score(f"{GOOD} ({n})")) for n in range(8)]
    again = asyncio.run(score(f"{GOOD} (0)"))

    # THEN each value is in the stated range (0..1 without one), an integer for a range
    # of integers, two decimals else, and the same prompt gets the same value
    values = [r.value for r in results]
    assert all(low <= v <= high for v in values)
    assert all(v == round(v) if whole else v == round(v, 2) for v in values)
    assert len(set(values)) > 1
    assert again.value == values[0]
    assert all("does not follow this metric's instructions" in r.reason for r in results)


def test_noncommittal_answer_has_zero_relevancy(judge: ScriptedJudge) -> None:
    # GIVEN an evasive answer that repeats the question's words
    from ragas.metrics.collections import AnswerRelevancy

    async def score() -> float:
        metric = AnswerRelevancy(llm=_llm(judge), embeddings=_async_embeddings(judge))
        result = await metric.ascore(
            user_input=QUESTION, response="I don't know what the capital of France is."
        )
        return result.value

    # WHEN it is scored THEN the noncommittal flag zeroes the score
    assert asyncio.run(score()) == 0.0


def test_embeddings_endpoint_is_deterministic_and_normalised(judge: ScriptedJudge) -> None:
    # GIVEN a sync OpenAI client on the judge
    client = OpenAI(base_url=judge.base_url, api_key="test", max_retries=0)

    # WHEN it embeds a single string and a list
    single = client.embeddings.create(model="text-embedding-3-small", input=REFERENCE)
    many = client.embeddings.create(
        model="text-embedding-3-small", input=[REFERENCE, CONTEXTS[0], BAD]
    )

    # THEN vectors are 256-dim unit vectors, deterministic, with usage
    assert len(single.data) == 1
    vec = single.data[0].embedding
    assert len(vec) == 256
    assert math.isclose(sum(x * x for x in vec), 1.0, rel_tol=1e-9)
    assert vec == many.data[0].embedding == embed(REFERENCE)
    assert [d.index for d in many.data] == [0, 1, 2]
    assert single.usage.prompt_tokens > 0
    assert many.usage.total_tokens >= single.usage.total_tokens

    # AND texts that share words are closer than unrelated ones
    def cos(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b, strict=True))

    ref, ctx, bad = (d.embedding for d in many.data)
    assert cos(ref, ctx) > 0.5 > cos(ref, bad)
    assert judge.embedding_calls == 2


def _statement_prompt(answer: str = GOOD) -> str:
    from ragas.metrics.collections.faithfulness.util import (
        StatementGeneratorInput,
        StatementGeneratorPrompt,
    )

    data = StatementGeneratorInput(question=QUESTION, answer=answer)
    return StatementGeneratorPrompt().to_string(data)


def test_chat_completion_shape_and_usage(judge: ScriptedJudge) -> None:
    # GIVEN a ragas prompt sent with response_format json_object (as instructor does)
    client = OpenAI(base_url=judge.base_url, api_key="test", max_retries=0)

    # WHEN the judge answers
    completion = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": _statement_prompt()}],
        response_format={"type": "json_object"},
    )

    # THEN it is a chat.completion with JSON content for the schema and token usage
    assert completion.object == "chat.completion"
    assert completion.choices[0].finish_reason == "stop"
    content = json.loads(completion.choices[0].message.content)
    assert content == {
        "statements": [
            "Paris is the capital of France.",
            "Paris is the largest city of France.",
        ]
    }
    usage = completion.usage
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert judge.calls_by_title == {"StatementGeneratorOutput": 1}


def test_tool_calling_requests_are_answered_with_tool_calls(judge: ScriptedJudge) -> None:
    # GIVEN a request in function-calling style (instructor Mode.TOOLS)
    client = OpenAI(base_url=judge.base_url, api_key="test", max_retries=0)
    tool = {
        "type": "function",
        "function": {"name": "StatementGeneratorOutput", "parameters": {"type": "object"}},
    }

    # WHEN the judge answers
    completion = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": _statement_prompt()}],
        tools=[tool],
        tool_choice={"type": "function", "function": {"name": "StatementGeneratorOutput"}},
    )

    # THEN the answer comes as a tool call with the JSON as arguments
    call = completion.choices[0].message.tool_calls[0]
    assert call.function.name == "StatementGeneratorOutput"
    assert len(json.loads(call.function.arguments)["statements"]) == 2


def test_unknown_schema_title_is_a_visible_400(judge: ScriptedJudge) -> None:
    # GIVEN a structured-output request for a schema the judge does not script
    from pydantic import BaseModel

    class SomethingNew(BaseModel):
        value: int

    # WHEN ragas' instructor LLM asks for it
    with pytest.raises(InstructorRetryException) as caught:
        asyncio.run(_llm(judge, max_retries=0).agenerate("Say a number.", SomethingNew))

    # THEN the cause is a 400 naming the title, and instructor did not retry it
    cause = caught.value.__cause__
    assert isinstance(cause, openai.BadRequestError)
    assert "SomethingNew" in str(cause)
    assert judge.calls_by_title == {"SomethingNew": 1}


def test_rate_limit_raises_rate_limit_error_with_retry_after(judge: ScriptedJudge) -> None:
    # GIVEN a client that does not retry and an injected 429
    client = OpenAI(base_url=judge.base_url, api_key="test", max_retries=0)
    judge.fail_next("rate_limit", retry_after=7)

    # WHEN a request is made THEN openai raises RateLimitError carrying Retry-After
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": _statement_prompt()}]
        )
    assert caught.value.response.headers["retry-after"] == "7"
    assert caught.value.code == "rate_limit_exceeded"
    # AND the next request succeeds
    client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": _statement_prompt()}]
    )
    assert judge.stats().injected_failures == 1


def test_openai_client_retries_429_and_5xx_transparently(judge: ScriptedJudge) -> None:
    # GIVEN the openai client's default 2 retries and two injected failures
    from ragas.metrics.collections import ContextRecall

    judge.fail_next("rate_limit", retry_after=0.01)
    judge.fail_next("server_error", status=503, retry_after=0.01)

    # WHEN a metric scores
    async def score() -> float:
        metric = ContextRecall(llm=_llm(judge))
        result = await metric.ascore(
            user_input=QUESTION, reference=REFERENCE, retrieved_contexts=CONTEXTS
        )
        return result.value

    # THEN it still succeeds, after three HTTP calls. (The judge is shared by the module's
    # tests and logs a request when it ends: one an earlier test left in flight may come first.)
    assert asyncio.run(score()) == 1.0
    assert [status for _, _, status in judge.request_log][-3:] == [429, 503, 200]
    assert judge.stats().injected_failures == 2


@pytest.mark.parametrize(
    ("kind", "kwargs", "expected"),
    [
        ("rate_limit", {}, openai.RateLimitError),
        ("server_error", {}, openai.InternalServerError),
        ("server_error", {"status": 503}, openai.InternalServerError),
        ("garbage", {"count": 4}, ValidationError),
    ],
)
def test_failures_surface_through_ragas_metric(
    judge: ScriptedJudge, kind: str, kwargs: dict[str, Any], expected: type[Exception]
) -> None:
    # GIVEN a metric on a client without HTTP retries and an injected failure
    from ragas.metrics.collections import Faithfulness

    judge.fail_next(kind, **kwargs)

    # WHEN it scores
    async def score() -> float:
        metric = Faithfulness(llm=_llm(judge, max_retries=0))
        result = await metric.ascore(
            user_input=QUESTION, response=GOOD, retrieved_contexts=CONTEXTS
        )
        return result.value

    # THEN instructor wraps the underlying error in InstructorRetryException
    with pytest.raises(InstructorRetryException) as caught:
        asyncio.run(score())
    assert isinstance(caught.value.__cause__, expected)


def test_instructor_recovers_from_a_single_garbage_answer(judge: ScriptedJudge) -> None:
    # GIVEN one unparseable answer for the NLI step only
    from ragas.metrics.collections import Faithfulness

    judge.fail_next("garbage", fail_titles={"NLIStatementOutput"})

    # WHEN faithfulness scores
    async def score() -> float:
        metric = Faithfulness(llm=_llm(judge, max_retries=0))
        result = await metric.ascore(
            user_input=QUESTION, response=GOOD, retrieved_contexts=CONTEXTS
        )
        return result.value

    # THEN instructor re-asks and the score is unaffected
    assert asyncio.run(score()) == 1.0
    assert judge.calls_by_title == {"StatementGeneratorOutput": 1, "NLIStatementOutput": 2}


def test_fail_titles_fails_one_metric_while_others_score(judge: ScriptedJudge) -> None:
    # GIVEN failures only for the context-recall schema
    from ragas.metrics.collections import ContextRecall, Faithfulness

    judge.fail_next("server_error", count=10, fail_titles={"ContextRecallOutput"})

    async def score() -> tuple[float, BaseException | None]:
        faithfulness = await Faithfulness(llm=_llm(judge, max_retries=0)).ascore(
            user_input=QUESTION, response=GOOD, retrieved_contexts=CONTEXTS
        )
        try:
            await ContextRecall(llm=_llm(judge, max_retries=0)).ascore(
                user_input=QUESTION, reference=REFERENCE, retrieved_contexts=CONTEXTS
            )
        except InstructorRetryException as exc:
            return faithfulness.value, exc
        return faithfulness.value, None

    # WHEN both metrics score
    faithfulness, recall_error = asyncio.run(score())

    # THEN faithfulness scores and context recall fails with a 500
    assert faithfulness == 1.0
    assert isinstance(recall_error, InstructorRetryException)
    assert isinstance(recall_error.__cause__, openai.InternalServerError)
    assert judge.pending_failures == 9


def test_embedding_failures_can_be_injected(judge: ScriptedJudge) -> None:
    # GIVEN a 500 injected for the embeddings endpoint only
    client = OpenAI(base_url=judge.base_url, api_key="test", max_retries=0)
    judge.fail_next("server_error", endpoint="embeddings")

    # WHEN a chat request and an embedding request are made
    client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": _statement_prompt()}]
    )

    # THEN only the embedding request fails
    with pytest.raises(openai.InternalServerError):
        client.embeddings.create(model="text-embedding-3-small", input="x")


def test_hang_times_out_and_stop_releases_it() -> None:
    # GIVEN a judge whose next request hangs, and a client with a short timeout
    with ScriptedJudge() as judge:
        judge.fail_next("hang")
        client = OpenAI(base_url=judge.base_url, api_key="test", max_retries=0, timeout=0.3)

        # WHEN a request is made THEN it times out, the judge still holding it
        with pytest.raises(openai.APITimeoutError):
            client.chat.completions.create(
                model="gpt-4o-mini",
                messages=[{"role": "user", "content": _statement_prompt()}],
            )
        assert judge.stats().in_flight == 1
        # AND stopping the judge does not wait for the hanging request (which never ends)
        stopping = threading.Thread(target=judge.stop)
        stopping.start()
        stopping.join(timeout=60)
        assert not stopping.is_alive(), "stop() waited for a request that hangs forever"


def test_stopped_judge_refuses_connections() -> None:
    # GIVEN a judge that served one request on a pooled connection, then stopped
    judge = ScriptedJudge().__enter__()
    client = OpenAI(base_url=judge.base_url, api_key="test", max_retries=0, timeout=2)
    client.embeddings.create(model="text-embedding-3-small", input="warm up")
    judge.stop()

    # WHEN the client calls again THEN it gets a connection error
    with pytest.raises(openai.APIConnectionError):
        client.embeddings.create(model="text-embedding-3-small", input="x")


def test_latency_and_concurrency_are_observed() -> None:
    # GIVEN a judge with 0.2 s latency and no cap
    with ScriptedJudge(latency_s=0.2) as judge:

        async def burst() -> None:
            client = AsyncOpenAI(base_url=judge.base_url, api_key="test", max_retries=0)
            await asyncio.gather(
                *(client.embeddings.create(model="m", input=str(i)) for i in range(5))
            )

        # WHEN five requests go out at once
        started = time.monotonic()
        asyncio.run(burst())
        elapsed = time.monotonic() - started

        # THEN they were served in parallel (all five in flight at once), each delayed by
        # the latency
        assert elapsed >= 0.2
        stats = judge.stats()
        assert stats.max_in_flight == 5
        assert stats.total_calls == stats.embedding_calls == 5
        assert stats.in_flight == 0


def test_max_concurrency_answers_429_above_the_cap() -> None:
    # GIVEN a judge that allows two requests in flight
    with ScriptedJudge(latency_s=0.3, max_concurrency=2) as judge:

        async def burst() -> list[Any]:
            client = AsyncOpenAI(base_url=judge.base_url, api_key="test", max_retries=0)
            return await asyncio.gather(
                *(client.embeddings.create(model="m", input=str(i)) for i in range(5)),
                return_exceptions=True,
            )

        # WHEN five requests go out at once
        results = asyncio.run(burst())

        # THEN two succeed and three get RateLimitError
        errors = [r for r in results if isinstance(r, BaseException)]
        assert len(errors) == 3
        assert all(isinstance(e, openai.RateLimitError) for e in errors)
        stats = judge.stats()
        assert stats.concurrency_rejections == 3
        # (rejections return at once, so not all five need to overlap)
        assert stats.max_in_flight >= 3


def test_standalone_module_prints_base_url_and_serves() -> None:
    # GIVEN the judge started as `python -m testkit.scripted_judge`
    proc = subprocess.Popen(
        [sys.executable, "-m", "testkit.scripted_judge", "--port", "0", "--latency", "0"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # WHEN it prints its base URL
        base_url = proc.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")

        # THEN it answers requests
        client = OpenAI(base_url=base_url, api_key="test", max_retries=0, timeout=5)
        result = client.embeddings.create(model="m", input="hello")
        assert len(result.data[0].embedding) == 256
    finally:
        # AND Ctrl-C stops it cleanly
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
