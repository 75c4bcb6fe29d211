"""The ragas collections metrics beyond the classic four, against the scripted judge: the
numbers are ragas' own, a missing input or a failing judge is a reason code, and what the
judge answered is kept as evidence with a `why` for a low score."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest

from rag_eval.domain.evidence import MAX_ITEMS, evidence_for, why
from rag_eval.domain.request import parse_request
from rag_eval.domain.results import ScoreRun
from rag_eval.domain.settings import Settings
from rag_eval.metrics import REGISTRY
from rag_eval.scoring.scorer import Scorer
from testkit.scripted_judge import ScriptedJudge
from tests.support.samples import GREAT_WALL

RUBRIC_EN = {
    "score1_description": "The answer names no capital or a wrong one.",
    "score2_description": "The answer hints at the capital without naming it.",
    "score3_description": "The answer names Paris with errors around it.",
    "score4_description": "The answer names Paris, with minor slips.",
    "score5_description": "The answer names Paris as the capital of France, correctly.",
}
RUBRIC_ZH = {
    "score1_description": "答案没有给出长度或给错了。",
    "score2_description": "答案提到了长度，但相差很大。",
    "score3_description": "答案给出的长度大致正确，但有明显错误。",
    "score4_description": "答案给出的长度基本正确，只有小的出入。",
    "score5_description": "答案准确给出长城全长约两万一千公里。",
}
ENGLISH = {
    "sample_id": "en-paris",
    "question": "What is the capital of France?",
    # A quotation found in the contexts, and a sentence they do not support.
    "answer": 'Paris is "the capital and largest city of France". It has the Eiffel Tower.',
    "contexts": [
        "Paris is the capital and largest city of France.",
        "Berlin is the capital of Germany.",
    ],
    "ground_truth": "Paris is the capital of France.",
    "rubrics": RUBRIC_EN,
}
CHINESE = GREAT_WALL | {"rubrics": RUBRIC_ZH}
# Off the question, the contexts and the reference: every metric but noise sensitivity
# scores it at the bottom of its scale.
OFF_TOPIC = {
    "sample_id": "en-off-topic",
    "question": "What is the capital of France?",
    "answer": 'Lyon has "the largest art museum of Europe".',
    "contexts": ["The moon orbits the Earth.", "Cheese is made from milk."],
    "ground_truth": "Paris is the capital of France.",
    "rubrics": RUBRIC_EN,
}
# Noise sensitivity is high (bad) when the answer repeats what the reference does not say:
# taken from a context that holds the reference (relevant mode), or from one that does not.
MISLED = {
    "sample_id": "en-misled",
    "question": "What is the capital of France?",
    "answer": "Paris has nine million people.",
    "contexts": [
        "Paris is the capital of France and has nine million people.",
        "Berlin is the capital of Germany.",
    ],
    "ground_truth": "Paris is the capital of France.",
    "rubrics": RUBRIC_EN,
}
DISTRACTED = {**MISLED, "sample_id": "en-distracted", "answer": "Berlin is the capital of Germany."}

# Our metric -> the ragas collections class, its options and the ragas arguments it reads,
# written out here (not taken from our registry) so that the comparison is independent of it.
RAGAS_METRICS: dict[str, tuple[str, dict[str, Any], tuple[str, ...]]] = {
    "context_precision_without_reference": (
        "ContextPrecisionWithoutReference",
        {},
        ("user_input", "response", "retrieved_contexts"),
    ),
    "context_utilization": (
        "ContextUtilization",
        {},
        ("user_input", "response", "retrieved_contexts"),
    ),
    "context_entity_recall": ("ContextEntityRecall", {}, ("reference", "retrieved_contexts")),
    "context_relevance": ("ContextRelevance", {}, ("user_input", "retrieved_contexts")),
    "response_groundedness": ("ResponseGroundedness", {}, ("response", "retrieved_contexts")),
    "noise_sensitivity": (
        "NoiseSensitivity",
        {"mode": "relevant"},
        ("user_input", "response", "reference", "retrieved_contexts"),
    ),
    "noise_sensitivity_irrelevant": (
        "NoiseSensitivity",
        {"mode": "irrelevant"},
        ("user_input", "response", "reference", "retrieved_contexts"),
    ),
    "quoted_spans_alignment": ("QuotedSpansAlignment", {}, ("response", "retrieved_contexts")),
    "answer_accuracy": ("AnswerAccuracy", {}, ("user_input", "response", "reference")),
    "rubrics_score_with_reference": (
        "RubricsScoreWithReference",
        {},
        ("user_input", "response", "reference"),
    ),
    "rubrics_score_without_reference": (
        "RubricsScoreWithoutReference",
        {},
        ("user_input", "response"),
    ),
    "instance_specific_rubrics": (
        "InstanceSpecificRubrics",
        {},
        ("user_input", "response", "rubrics"),
    ),
}
LLM_METRICS = tuple(name for name in RAGAS_METRICS if name != "quoted_spans_alignment")
# ragas' rubric metrics answer 1..5; the others 0..1.
RUBRIC_METRICS = (
    "rubrics_score_with_reference",
    "rubrics_score_without_reference",
    "instance_specific_rubrics",
)

# The judge's requests for the English sample (two contexts), by output schema title.
CALLS_FOR_ENGLISH: dict[str, dict[str, int]] = {
    "context_precision_without_reference": {"ContextPrecisionOutput": 2},
    "context_utilization": {"ContextPrecisionOutput": 2},
    "context_entity_recall": {"EntitiesList": 2},
    "context_relevance": {"ContextRelevanceOutput": 2},
    "response_groundedness": {"ResponseGroundednessOutput": 2},
    "noise_sensitivity": {"StatementGeneratorOutput": 2, "StatementFaithfulnessOutput": 5},
    "noise_sensitivity_irrelevant": {
        "StatementGeneratorOutput": 2,
        "StatementFaithfulnessOutput": 5,
    },
    "quoted_spans_alignment": {},
    "answer_accuracy": {"AnswerAccuracyOutput": 2},
    "rubrics_score_with_reference": {"RubricScoreOutput": 1},
    "rubrics_score_without_reference": {"RubricScoreOutput": 1},
    "instance_specific_rubrics": {"InstanceRubricScoreOutput": 1},
}

# The sample each metric scores low (normalised under 0.5), and the input to leave out.
LOW_SAMPLE = {
    **dict.fromkeys(RAGAS_METRICS, OFF_TOPIC),
    "noise_sensitivity": MISLED,
    "noise_sensitivity_irrelevant": DISTRACTED,
}
LEFT_OUT = {
    "context_precision_without_reference": "answer",
    "context_utilization": "contexts",
    "context_entity_recall": "ground_truth",
    "context_relevance": "contexts",
    "response_groundedness": "answer",
    "noise_sensitivity": "ground_truth",
    "noise_sensitivity_irrelevant": "contexts",
    "quoted_spans_alignment": "contexts",
    "answer_accuracy": "ground_truth",
    "rubrics_score_with_reference": "ground_truth",
    "rubrics_score_without_reference": "answer",
    "instance_specific_rubrics": "rubrics",
}


def ragas_arguments(sample: dict[str, Any]) -> dict[str, Any]:
    return {
        "user_input": sample.get("question"),
        "response": sample.get("answer"),
        "retrieved_contexts": sample.get("contexts"),
        "reference": sample.get("ground_truth"),
        "rubrics": sample.get("rubrics"),
    }


async def score_with_ragas(base_url: str, name: str, samples: list[dict[str, Any]]) -> list[float]:
    """What ragas itself gives, wired to the judge as its documentation shows."""
    from openai import AsyncOpenAI
    from ragas.llms import llm_factory
    from ragas.metrics import collections

    class_name, options, argument_names = RAGAS_METRICS[name]
    client = AsyncOpenAI(base_url=base_url, api_key="test")
    kwargs = dict(options)
    if name in LLM_METRICS:
        kwargs["llm"] = llm_factory("gpt-4o-mini", client=client)
    metric = getattr(collections, class_name)(**kwargs)
    try:
        values = []
        for sample in samples:
            arguments = {k: v for k, v in ragas_arguments(sample).items() if k in argument_names}
            values.append((await metric.ascore(**arguments)).value)
        return values
    finally:
        await client.close()


def clamped(name: str, value: float) -> float:
    low, high = (1.0, 5.0) if name in RUBRIC_METRICS else (0.0, 1.0)
    return min(high, max(low, value))


def score(body: dict[str, Any]) -> ScoreRun:
    return Scorer(Settings.from_env()).score(parse_request(body))


def assert_no_nan(run: ScoreRun) -> None:
    for value in [*run.means.values(), *(v for r in run.results for v in r.scores.values())]:
        assert value is None or math.isfinite(value)


# --- the numbers are ragas' numbers -----------------------------------------------------


@pytest.mark.parametrize("name", list(RAGAS_METRICS))
def test_each_metric_scores_what_ragas_itself_gives(judge_env: ScriptedJudge, name: str) -> None:
    # GIVEN English and Chinese samples, grounded, off-topic or misled by the contexts,
    # and the judge configured in the environment
    samples = [ENGLISH, CHINESE, OFF_TOPIC, MISLED, DISTRACTED]

    # WHEN we score them, and ragas scores them directly against the same judge
    run = score({"samples": samples, "metrics": [name]})
    expected = asyncio.run(score_with_ragas(judge_env.base_url, name, samples))

    # THEN every per-sample value is ragas' value (clamped to its scale), nothing failed
    assert [r.scores[name] for r in run.results] == pytest.approx(
        [clamped(name, v) for v in expected], abs=1e-9
    )
    assert run.failures == {}
    assert [r.sample_id for r in run.results] == [s["sample_id"] for s in samples]
    # AND the grounded samples score better than the off-topic or misled one (the judge is
    # no constant)
    english, chinese, off_topic, misled, distracted = (
        run.normalised(name, r.scores[name]) for r in run.results
    )
    if name == "noise_sensitivity":
        assert min(english, chinese) > misled
    elif name == "noise_sensitivity_irrelevant":
        assert min(english, chinese) > distracted
    else:
        assert min(english, chinese) > off_topic


@pytest.mark.parametrize("name", list(RAGAS_METRICS))
def test_each_metric_asks_the_judge_what_ragas_asks(judge_env: ScriptedJudge, name: str) -> None:
    # GIVEN the English sample (two contexts)
    # WHEN one metric scores it
    run = score({"samples": [ENGLISH], "metrics": [name]})

    # THEN the judge saw the requests ragas makes for it, no more (the dry run's estimate
    # counts the same), and they are the run's usage
    stats = judge_env.stats()
    assert stats.calls_by_title == CALLS_FOR_ENGLISH[name]
    assert stats.embedding_calls == 0
    assert run.usage.requests == stats.total_calls
    load = REGISTRY[name].load
    assert load.calls + load.calls_per_context * len(ENGLISH["contexts"]) == stats.chat_calls


def test_noise_sensitivity_counts_the_claims_the_reference_does_not_make(
    judge_env: ScriptedJudge,
) -> None:
    # GIVEN an answer taken from a relevant context, and one taken from an irrelevant one
    metrics = ["noise_sensitivity", "noise_sensitivity_irrelevant"]

    # WHEN both modes score them
    run = score({"samples": [MISLED, DISTRACTED], "metrics": metrics})

    # THEN each mode counts its own kind of noise (1 is the worst: lower is better)
    misled, distracted = run.results
    assert misled.scores == {"noise_sensitivity": 1.0, "noise_sensitivity_irrelevant": 0.0}
    assert distracted.scores == {"noise_sensitivity": 0.0, "noise_sensitivity_irrelevant": 1.0}
    assert run.normalised("noise_sensitivity", 1.0) == 0.0


# --- what a user sees when a metric cannot score ----------------------------------------


@pytest.mark.parametrize("name", list(RAGAS_METRICS))
def test_a_sample_missing_an_input_is_left_unscored(judge_env: ScriptedJudge, name: str) -> None:
    # GIVEN two samples, one without an input the metric reads
    field = LEFT_OUT[name]
    lacking = {k: v for k, v in ENGLISH.items() if k not in (field, "sample_id")}

    # WHEN the metric scores them
    run = score({"samples": [lacking, ENGLISH], "metrics": [name]})

    # THEN that sample is missing_input, naming the input, and cost no judge call; the
    # other scores and sets the mean
    first, second = run.results
    assert first.scores[name] is None
    assert first.reasons == {name: "missing_input"}
    assert first.details == {name: f"missing input: {field}"}
    assert second.scores[name] is not None and second.reasons == {}
    assert run.means[name] == pytest.approx(second.scores[name], abs=1e-4)
    assert run.failures == {name: {"missing_input": 1}}
    assert judge_env.stats().calls_by_title == CALLS_FOR_ENGLISH[name]


@pytest.mark.parametrize("name", LLM_METRICS)
def test_a_judge_answering_garbage_fails_the_metric_as_invalid_output(
    judge_env: ScriptedJudge, name: str
) -> None:
    # GIVEN a judge that answers every request of the metric with prose, not JSON (more
    # than ragas' own retries of the two-judge metrics and instructor's re-asks)
    judge_env.fail_next("garbage", count=200, fail_titles=set(CALLS_FOR_ENGLISH[name]))

    # WHEN the metric and a model-free one score
    run = score({"samples": [ENGLISH], "metrics": [name, "exact_match"]})

    # THEN the metric is None with a reason code and what went wrong; the other scores
    (result,) = run.results
    assert result.scores[name] is None
    assert result.reasons == {name: "invalid_judge_output"}
    assert "validation error" in result.details[name]
    assert run.failures == {name: {"invalid_judge_output": 1}}
    assert result.scores["exact_match"] is not None
    assert_no_nan(run)


@pytest.mark.parametrize(
    ("name", "title"),
    [
        ("context_relevance", "ContextRelevanceOutput"),
        ("response_groundedness", "ResponseGroundednessOutput"),
        ("answer_accuracy", "AnswerAccuracyOutput"),
    ],
)
def test_a_two_judge_metric_rests_on_one_rating_when_the_other_keeps_failing(
    judge_env: ScriptedJudge, name: str, title: str
) -> None:
    # GIVEN a judge that answers the metric's first prompt with prose until ragas gives it
    # up (5 tries of ragas, each of instructor's 4 attempts with one retry configured)
    judge_env.fail_next("garbage", count=20, fail_titles={title})

    # WHEN the metric scores the English sample
    run = score({"samples": [ENGLISH], "metrics": [name]})

    # THEN ragas scores it from the second rating alone, and says nothing of the first:
    # the evidence shows a single rating
    (result,) = run.results
    evidence = result.evidence[name]
    assert len(evidence["ratings"]) == 1
    assert result.scores[name] == evidence["ratings"][0] / evidence["out_of"]
    assert result.reasons == {}
    assert judge_env.stats().calls_by_title == {title: 21}


# --- evidence and why --------------------------------------------------------------------


@pytest.mark.parametrize("name", LLM_METRICS)
def test_each_judge_metric_keeps_its_evidence_and_says_why_it_is_low(
    judge_env: ScriptedJudge, name: str
) -> None:
    # GIVEN a well-grounded sample and one the metric scores low
    low_sample = LOW_SAMPLE[name]

    # WHEN the metric scores both
    run = score({"samples": [ENGLISH, low_sample], "metrics": [name]})

    # THEN both keep what the judge answered; the low one says why, from that evidence
    good, low = run.results
    assert good.evidence[name] and low.evidence[name]
    normalised = run.normalised(name, low.scores[name])
    assert normalised is not None and normalised < 0.5
    said = why(name, low.evidence[name], normalised)
    assert said
    assert why(name, good.evidence[name], run.normalised(name, good.scores[name])) == ""


def test_the_evidence_is_in_the_metrics_own_terms(judge_env: ScriptedJudge) -> None:
    # GIVEN the off-topic sample
    metrics = [
        "context_utilization",
        "context_entity_recall",
        "context_relevance",
        "response_groundedness",
        "answer_accuracy",
        "rubrics_score_with_reference",
        "instance_specific_rubrics",
        "quoted_spans_alignment",
    ]

    # WHEN the metrics score it
    run = score({"samples": [OFF_TOPIC], "metrics": metrics})

    # THEN each evidence says, in the metric's terms, what the judge found, and why says it
    (result,) = run.results
    evidence = result.evidence
    scores = {m: run.normalised(m, result.scores[m]) for m in metrics}
    assert [c["useful"] for c in evidence["context_utilization"]["contexts"]] == [False, False]
    assert why("context_utilization", evidence["context_utilization"], 0.0) == (
        "none of the 2 retrieved contexts is useful for the answer"
    )
    assert evidence["context_entity_recall"]["reference_entities"] == ["paris", "capital", "france"]
    assert evidence["context_entity_recall"]["missing"] == ["paris", "capital", "france"]
    assert why("context_entity_recall", evidence["context_entity_recall"], 0.0) == (
        '3 of 3 reference entities are not in the contexts, e.g. "paris"'
    )
    assert evidence["context_relevance"] == {"ratings": [0, 0], "out_of": 2}
    assert why("context_relevance", evidence["context_relevance"], 0.0) == (
        "the judge rated the contexts' relevance to the question 0 and 0 of 2"
    )
    assert evidence["response_groundedness"] == {"ratings": [0, 0], "out_of": 2}
    assert evidence["answer_accuracy"] == {"ratings": [0, 0], "out_of": 4}
    rubric = evidence["rubrics_score_with_reference"]
    assert rubric["score"] == 1 and result.scores["rubrics_score_with_reference"] == 1.0
    assert scores["rubrics_score_with_reference"] == 0.0
    assert why("rubrics_score_with_reference", rubric, 0.0) == rubric["feedback"]
    own_rubric = evidence["instance_specific_rubrics"]["feedback"]
    assert RUBRIC_EN["score1_description"] in own_rubric
    # quoted spans is no judge metric: its evidence is ragas' reason
    assert evidence["quoted_spans_alignment"] == {"reason": "Matched 0/1 quoted spans"}
    assert why("quoted_spans_alignment", evidence["quoted_spans_alignment"], 0.0) == (
        "Matched 0/1 quoted spans"
    )


def test_noise_evidence_names_the_statements_and_their_contexts(
    judge_env: ScriptedJudge,
) -> None:
    # GIVEN an answer the reference does not support, taken from the first context
    # WHEN noise sensitivity scores it
    run = score({"samples": [MISLED], "metrics": ["noise_sensitivity"]})

    # THEN the evidence says which contexts hold the reference and where the answer's
    # statement comes from, and why says it
    evidence = run.results[0].evidence["noise_sensitivity"]
    assert evidence == {
        "relevant_contexts": [1],
        "answer_statements": [
            {"statement": "Paris has nine million people.", "in_reference": False, "contexts": [1]}
        ],
    }
    assert why("noise_sensitivity", evidence, 0.0) == (
        "1 of 1 statements of the answer are not in the reference but taken from a relevant "
        'context, e.g. "Paris has nine million people."'
    )


def test_noise_evidence_is_bounded_and_says_when_the_metric_stopped_early() -> None:
    # GIVEN the judge's answers of a noise sensitivity call on one context: many answer
    # statements, and no verdict on the reference yet (the metric failed there)
    many = [f"Statement {n}." for n in range(MAX_ITEMS + 5)]
    verdicts = {"statements": [{"statement": t, "reason": "r", "verdict": 1} for t in many]}
    outputs = [{"statements": ["Ref."]}, {"statements": many}, verdicts, verdicts]

    # WHEN they are read as evidence
    evidence = evidence_for("noise_sensitivity", outputs)

    # THEN at most MAX_ITEMS statements are kept, and it says what is cut and missing
    assert evidence is not None
    assert len(evidence["answer_statements"]) == MAX_ITEMS
    assert evidence["answer_statements"][0] == {
        "statement": "Statement 0.",
        "in_reference": False,
        "contexts": [1],
    }
    assert evidence["cut"] is True and evidence["incomplete"] is True
