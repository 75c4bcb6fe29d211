"""Dollars per job: the judge's tokens, model by model, priced; in the job and its run folder."""

from __future__ import annotations

import json

import boto3
import pytest

from testkit.scripted_judge import ScriptedJudge
from tests.support.lambdas import body_of, get_job, invoke, queued_messages, sqs_event, submit

SAMPLE = {
    "question": "When was the Eiffel Tower completed?",
    "contexts": ["The Eiffel Tower was completed in 1889."],
    "answer": "It was completed in 1889.",
    "ground_truth": "The Eiffel Tower was completed in 1889.",
}


def scored(stack, monkeypatch, judge_model: str, prices: str | None = None) -> dict:
    with ScriptedJudge() as judge:
        monkeypatch.setenv("OPENAI_BASE_URL", judge.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "test")
        if prices:
            monkeypatch.setenv("RAGAS_MODEL_PRICES", prices)
        job = body_of(
            submit(
                SAMPLE
                | {"metrics": ["faithfulness", "answer_relevancy"], "judge_model": judge_model}
            )
        )
        invoke("worker", sqs_event(queued_messages(stack)))
    return get_job(job["job_id"])


def test_a_job_costs_its_tokens_at_each_models_price(
    stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    done = scored(stack, monkeypatch, "gpt-4o-mini")

    cost, usage = done["cost"], done["token_usage"]
    assert set(cost["by_model"]) == {"gpt-4o-mini", "text-embedding-3-small"}
    judge = usage["by_model"]["gpt-4o-mini"]
    assert cost["by_model"]["gpt-4o-mini"]["usd"] == round(
        (judge["input_tokens"] * 0.15 + judge["output_tokens"] * 0.60) / 1e6, 6
    )
    assert cost["total_usd"] == round(sum(m["usd"] for m in cost["by_model"].values()), 6) > 0
    # Every token of the job is priced: the models' shares add up to the ledger.
    assert sum(m["input_tokens"] for m in usage["by_model"].values()) == usage["input_tokens"]
    # AND the run folder says the same
    metadata = json.loads(run_file(stack, done, "metadata.json"))
    assert metadata["cost"] == cost
    assert f"- Cost: ${cost['total_usd']:.4f} (gpt-4o-mini $" in run_file(stack, done, "summary.md")


def test_a_model_with_no_price_is_null_with_a_reason_never_zero(stack, monkeypatch) -> None:
    done = scored(stack, monkeypatch, "house-judge-7b")

    assert done["status"] == "completed"
    assert done["cost"]["total_usd"] is None
    assert done["cost"]["by_model"]["house-judge-7b"]["usd"] is None
    assert "no price for house-judge-7b" in done["cost"]["reason"]
    assert "- Cost: unknown" in run_file(stack, done, "summary.md")


def test_a_price_set_for_the_deployment_prices_it(stack, monkeypatch) -> None:
    done = scored(
        stack, monkeypatch, "house-judge-7b", '{"house-judge-7b": {"input": 1, "output": 2}}'
    )

    judge = done["token_usage"]["by_model"]["house-judge-7b"]
    assert done["cost"]["by_model"]["house-judge-7b"]["usd"] == round(
        (judge["input_tokens"] * 1 + judge["output_tokens"] * 2) / 1e6, 6
    )
    assert done["cost"]["total_usd"] is not None


def run_file(stack, job: dict, name: str) -> str:
    key = job["artifact_keys"][name]
    body = boto3.client("s3").get_object(Bucket=stack["ArtifactsBucket"], Key=key)["Body"].read()
    return body.decode("utf-8")
