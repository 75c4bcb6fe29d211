"""Dollars from a token ledger: built-in prices, overrides, and no number when one is missing."""

from __future__ import annotations

from rag_eval.domain.pricing import UNKNOWN_MODEL, ModelPrice, job_cost
from rag_eval.domain.results import TokenUsage


def ledger(*calls: tuple[str, int, int]) -> TokenUsage:
    usage = TokenUsage()
    for model, tokens_in, tokens_out in calls:
        usage.add(tokens_in, tokens_out, model)
    return usage


def test_known_models_are_priced_per_million_tokens_and_summed() -> None:
    usage = ledger(("gpt-4o-mini", 1_000_000, 100_000), ("text-embedding-3-small", 500_000, 0))

    cost = job_cost(usage)

    assert cost.by_model["gpt-4o-mini"].usd == 0.15 + 0.06
    assert cost.by_model["text-embedding-3-small"].usd == 0.01
    assert cost.total_usd == 0.22
    assert cost.reason is None


def test_an_unknown_model_makes_the_total_unknown_and_says_which_never_zero() -> None:
    usage = ledger(("gpt-4o-mini", 1000, 10), ("llama3.1", 2000, 20))

    cost = job_cost(usage)

    assert cost.total_usd is None
    assert cost.by_model["llama3.1"].usd is None
    assert cost.by_model["gpt-4o-mini"].usd is not None
    assert "llama3.1" in cost.reason and "RAGAS_MODEL_PRICES" in cost.reason


def test_a_price_given_in_the_settings_prices_it_or_overrides_the_built_in_one() -> None:
    usage = ledger(("llama3.1", 1_000_000, 1_000_000), ("gpt-4o-mini", 1_000_000, 0))

    cost = job_cost(
        usage,
        {
            "llama3.1": ModelPrice(input=0.1, output=0.2),
            "gpt-4o-mini": ModelPrice(input=1.0, output=1.0),
        },
    )

    assert cost.by_model["llama3.1"].usd == 0.3
    assert cost.by_model["gpt-4o-mini"].usd == 1.0
    assert cost.total_usd == 1.3


def test_tokens_counted_without_their_model_are_not_priced_as_free() -> None:
    usage = TokenUsage(input_tokens=500, output_tokens=50, requests=1)

    cost = job_cost(usage)

    assert cost.total_usd is None
    assert cost.by_model[UNKNOWN_MODEL].input_tokens == 500


def test_a_job_that_used_no_judge_cost_nothing() -> None:
    assert job_cost(TokenUsage()).total_usd == 0.0


def test_ledgers_merge_model_by_model() -> None:
    shard_one = ledger(("gpt-4o-mini", 10, 1))
    shard_one.merge(ledger(("gpt-4o-mini", 5, 2), ("text-embedding-3-small", 7, 0)))

    assert shard_one.input_tokens == 22 and shard_one.requests == 3
    assert shard_one.by_model["gpt-4o-mini"].input_tokens == 15
    assert shard_one.by_model["text-embedding-3-small"].requests == 1
