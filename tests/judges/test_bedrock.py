"""The Bedrock judge scores the ragas collections metrics through a real boto3 client.

The client talks to `BedrockStub`, a loopback Bedrock Runtime, so botocore's request
serialisation, error parsing and adaptive retries all run for real, offline.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from ragas.metrics import collections
from ragas.metrics.collections.faithfulness.util import (
    StatementGeneratorInput,
    StatementGeneratorOutput,
    StatementGeneratorPrompt,
)

from rag_eval.domain.pricing import job_cost
from rag_eval.domain.settings import Settings
from rag_eval.judges.bedrock import (
    BedrockConverseLLM,
    BedrockEmbeddings,
    InvalidJudgeOutput,
    build_bedrock_models,
)
from rag_eval.judges.gate import JudgeGate
from testkit.bedrock_stub import BedrockStub

CLAUDE = "anthropic.claude-3-haiku-20240307-v1:0"
TITAN = "amazon.titan-embed-text-v2:0"
COHERE = "cohere.embed-english-v3"

QUESTION = "What is the capital of France?"
GROUNDED_ANSWER = "Paris is the capital of France. The Eiffel Tower stands in Paris."
UNGROUNDED_ANSWER = "Lyon is the capital of France. Lyon hosts the national parliament."
CONTEXTS = [
    "Paris is the capital and largest city of France.",
    "The Eiffel Tower stands on the Champ de Mars in Paris.",
]
REFERENCE = "The capital of France is Paris."

# metric name -> (build from llm and embeddings, ascore arguments)
METRICS: dict[str, tuple[Callable[[Any, Any], Any], dict[str, Any]]] = {
    "faithfulness": (
        lambda llm, _: collections.Faithfulness(llm=llm),
        {"user_input": QUESTION, "response": GROUNDED_ANSWER, "retrieved_contexts": CONTEXTS},
    ),
    "answer_relevancy": (
        lambda llm, emb: collections.AnswerRelevancy(llm=llm, embeddings=emb),
        {"user_input": QUESTION, "response": GROUNDED_ANSWER},
    ),
    "context_precision": (
        lambda llm, _: collections.ContextPrecision(llm=llm),
        {"user_input": QUESTION, "reference": REFERENCE, "retrieved_contexts": CONTEXTS},
    ),
    "context_recall": (
        lambda llm, _: collections.ContextRecall(llm=llm),
        {"user_input": QUESTION, "reference": REFERENCE, "retrieved_contexts": CONTEXTS},
    ),
    "answer_correctness": (
        lambda llm, emb: collections.AnswerCorrectness(llm=llm, embeddings=emb),
        {"user_input": QUESTION, "response": GROUNDED_ANSWER, "reference": REFERENCE},
    ),
    "factual_correctness": (
        lambda llm, _: collections.FactualCorrectness(llm=llm),
        {"response": GROUNDED_ANSWER, "reference": REFERENCE},
    ),
    "semantic_similarity": (
        lambda _, emb: collections.SemanticSimilarity(embeddings=emb),
        {"response": GROUNDED_ANSWER, "reference": REFERENCE},
    ),
}


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch) -> Iterator[BedrockStub]:
    """A running stub, and an environment where boto3 finds it with fake credentials."""
    with BedrockStub() as running:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": running.endpoint_url,
            "AWS_CONFIG_FILE": "/nonexistent/aws-config",
            "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
        }.items():
            monkeypatch.setenv(name, value)
        for name in ("AWS_PROFILE", "AWS_REGION", "AWS_BEARER_TOKEN_BEDROCK"):
            monkeypatch.delenv(name, raising=False)
        yield running


@pytest.fixture
def gate() -> JudgeGate:
    return JudgeGate()


def judge(gate: JudgeGate, *, max_retries: int = 3, embedding_model: str = TITAN):
    """The judge LLM and embeddings as the worker builds them, from settings."""
    settings = Settings(max_retries=max_retries, metric_timeout_seconds=10)
    return build_bedrock_models(CLAUDE, embedding_model, settings, gate)


def score(metric: Any, **arguments: Any) -> float:
    return asyncio.run(metric.ascore(**arguments)).value


@pytest.mark.parametrize("metric_name", list(METRICS))
def test_every_judge_metric_scores_between_0_and_1_through_bedrock(stub, gate, metric_name):
    # GIVEN the Bedrock judge and embeddings, and a grounded sample
    llm, embeddings = judge(gate)
    build, arguments = METRICS[metric_name]

    # WHEN the ragas collections metric scores it
    value = score(build(llm, embeddings), **arguments)

    # THEN it is a number in [0, 1], computed from Bedrock answers
    assert not math.isnan(value)
    assert 0.0 <= value <= 1.0
    assert stub.models_seen <= {CLAUDE, TITAN}
    assert gate.usage.requests == sum(stub.calls.values())


def test_grounded_answer_is_more_faithful_than_an_ungrounded_one(stub, gate):
    # GIVEN one answer the contexts support and one they contradict
    llm, _ = judge(gate)
    faithfulness = collections.Faithfulness(llm=llm)

    # WHEN both are scored
    arguments = METRICS["faithfulness"][1]
    grounded = score(faithfulness, **arguments)
    ungrounded = score(faithfulness, **{**arguments, "response": UNGROUNDED_ANSWER})

    # THEN the grounded answer scores higher
    assert grounded == 1.0
    assert ungrounded < grounded


def test_judge_and_embedding_tokens_are_counted(stub, gate):
    # GIVEN the judge and embeddings sharing one usage counter
    llm, embeddings = judge(gate)

    # WHEN faithfulness (2 Converse calls) is scored
    score(collections.Faithfulness(llm=llm), **METRICS["faithfulness"][1])

    # THEN the Converse usage is counted
    assert gate.usage.requests == 2
    assert gate.usage.input_tokens > 0
    assert gate.usage.output_tokens > 0
    judge_input, judge_output = gate.usage.input_tokens, gate.usage.output_tokens

    # WHEN semantic similarity (2 Titan embeddings, sync calls) is scored
    score(
        collections.SemanticSimilarity(embeddings=embeddings), **METRICS["semantic_similarity"][1]
    )

    # THEN embedding input tokens are counted too, with no output tokens
    assert gate.usage.requests == 4
    assert gate.usage.input_tokens > judge_input
    assert gate.usage.output_tokens == judge_output
    # AND each model's share is kept under the name a request gives it, and priced
    assert set(gate.usage.by_model) == {f"bedrock:{CLAUDE}", f"bedrock:{TITAN}"}
    assert gate.usage.by_model[f"bedrock:{CLAUDE}"].input_tokens == judge_input
    cost = job_cost(gate.usage)
    assert cost.total_usd is not None and cost.total_usd > 0
    assert cost.by_model[f"bedrock:{TITAN}"].output_tokens == 0


def test_throttled_twice_then_answered_still_scores(stub, gate):
    # GIVEN Bedrock throttles the next two requests, and 3 retries are allowed
    llm, _ = judge(gate, max_retries=3)
    stub.throttle(2)

    # WHEN faithfulness is scored
    value = score(collections.Faithfulness(llm=llm), **METRICS["faithfulness"][1])

    # THEN botocore retried after both throttles and the score is the unthrottled one
    assert stub.calls["throttled"] == 2
    assert value == 1.0


def test_throttling_beyond_the_retries_raises_the_throttling_error(stub, gate):
    # GIVEN Bedrock keeps throttling and 1 retry is allowed
    llm, _ = judge(gate, max_retries=1)
    stub.throttle(100)

    # WHEN a metric calls the judge
    with pytest.raises(ClientError) as raised:
        score(collections.Faithfulness(llm=llm), **METRICS["faithfulness"][1])

    # THEN the caller sees ThrottlingException after 2 attempts
    assert raised.value.response["Error"]["Code"] == "ThrottlingException"
    assert stub.calls["throttled"] == 2
    assert gate.usage.requests == 0


def test_a_text_answer_without_json_raises_invalid_judge_output(stub, gate):
    # GIVEN a model that answers prose instead of using the tool
    llm, _ = judge(gate)
    stub.answer_in_text(100)

    # WHEN a metric calls the judge
    with pytest.raises(InvalidJudgeOutput, match="StatementGeneratorOutput") as raised:
        score(collections.Faithfulness(llm=llm), **METRICS["faithfulness"][1])

    # THEN the error names the failure, is a ValueError, and the tokens spent count
    assert isinstance(raised.value, ValueError)
    assert "stopReason=end_turn" in str(raised.value)
    assert gate.usage.requests == 1


def test_json_inside_a_text_answer_is_used(stub, gate):
    # GIVEN a model that answers the JSON in a fenced text block instead of the tool
    llm, _ = judge(gate)
    stub.answer_in_text(100, with_json=True)

    # WHEN faithfulness is scored
    value = score(collections.Faithfulness(llm=llm), **METRICS["faithfulness"][1])

    # THEN the JSON is parsed as if it came through the tool
    assert value == 1.0


def test_sync_generate_returns_the_response_model(stub, gate):
    # GIVEN a ragas prompt, called outside any event loop
    llm, _ = judge(gate)
    prompt = StatementGeneratorPrompt().to_string(
        StatementGeneratorInput(question=QUESTION, answer=GROUNDED_ANSWER)
    )

    # WHEN the sync API is used
    result = llm.generate(prompt, StatementGeneratorOutput)

    # THEN it is the typed model ragas asked for
    assert isinstance(result, StatementGeneratorOutput)
    assert result.statements == [
        "Paris is the capital of France.",
        "The Eiffel Tower stands in Paris.",
    ]


def test_cohere_embeddings_batch_texts_in_one_request(stub, gate):
    # GIVEN a Cohere embedding model
    llm, embeddings = judge(gate, embedding_model=COHERE)
    assert isinstance(embeddings, BedrockEmbeddings)

    # WHEN three texts are embedded
    vectors = embeddings.embed_texts([QUESTION, REFERENCE, QUESTION])

    # THEN one request returns one vector per text, in order, and its tokens count
    assert stub.calls["invoke"] == 1
    assert len(vectors) == 3
    assert vectors[0] == vectors[2] != vectors[1]
    assert gate.usage.input_tokens > 0

    # AND answer relevancy scores with Cohere embeddings too
    relevancy = collections.AnswerRelevancy(llm=llm, embeddings=embeddings)
    value = score(relevancy, **METRICS["answer_relevancy"][1])
    assert 0.0 < value <= 1.0


def test_build_bedrock_models_builds_only_what_is_named(gate):
    # GIVEN a client the caller already has
    client = object()

    # WHEN only a judge, only embeddings, or nothing is named
    judge_only = build_bedrock_models(CLAUDE, None, Settings(), gate, client=client)
    embeddings_only = build_bedrock_models(None, TITAN, Settings(), gate, client=client)
    nothing = build_bedrock_models(None, None, Settings(), gate)

    # THEN exactly those are built, on the given client
    assert isinstance(judge_only[0], BedrockConverseLLM) and judge_only[1] is None
    assert judge_only[0].client is client
    assert embeddings_only[0] is None and isinstance(embeddings_only[1], BedrockEmbeddings)
    assert nothing == (None, None)
