"""What a job's judge calls cost, in US dollars, from its token ledger and a price table.

Prices are per million tokens, input and output, keyed by the model as a request names it
(`gpt-4o-mini`, `bedrock:anthropic.claude-3-5-haiku-20241022-v1:0`). A few common models
are built in (list prices of 2026-11; providers change them); RAGAS_MODEL_PRICES adds or
overrides entries. A model with no price makes the job's total `null` with a reason naming
it: a number that leaves out part of the spend would be a wrong number, and $0 a lie.
"""

from __future__ import annotations

from types import MappingProxyType

from pydantic import BaseModel, Field

from rag_eval.domain.results import TokenUsage


class ModelPrice(BaseModel):
    """US dollars per million tokens."""

    input: float = Field(ge=0)
    output: float = Field(0.0, ge=0)

    def dollars(self, input_tokens: int, output_tokens: int) -> float:
        return (input_tokens * self.input + output_tokens * self.output) / 1e6


BUILT_IN_PRICES = MappingProxyType(
    {
        "gpt-4o-mini": ModelPrice(input=0.15, output=0.60),
        "gpt-4o": ModelPrice(input=2.50, output=10.00),
        "gpt-4.1-nano": ModelPrice(input=0.10, output=0.40),
        "gpt-4.1-mini": ModelPrice(input=0.40, output=1.60),
        "gpt-4.1": ModelPrice(input=2.00, output=8.00),
        "text-embedding-3-small": ModelPrice(input=0.02),
        "text-embedding-3-large": ModelPrice(input=0.13),
        "bedrock:anthropic.claude-3-5-haiku-20241022-v1:0": ModelPrice(input=0.80, output=4.00),
        "bedrock:anthropic.claude-3-haiku-20240307-v1:0": ModelPrice(input=0.25, output=1.25),
        "bedrock:amazon.nova-micro-v1:0": ModelPrice(input=0.035, output=0.14),
        "bedrock:amazon.nova-lite-v1:0": ModelPrice(input=0.06, output=0.24),
        "bedrock:amazon.titan-embed-text-v2:0": ModelPrice(input=0.02),
        "bedrock:cohere.embed-english-v3": ModelPrice(input=0.10),
    }
)


UNKNOWN_MODEL = "(model not recorded)"


def price_of(model: str, overrides: dict[str, ModelPrice] | None = None) -> ModelPrice | None:
    """The model's price: the setting's, else the built-in one, else None."""
    return (overrides or {}).get(model) or BUILT_IN_PRICES.get(model)


class ModelCost(BaseModel):
    input_tokens: int
    output_tokens: int
    usd: float | None  # None: no price for this model


class Cost(BaseModel):
    """A job's spend on its judge and embeddings (the advice's narrative included)."""

    total_usd: float | None = Field(description="null when a model used has no price")
    by_model: dict[str, ModelCost]
    # Why total_usd is null: which model has no price, and how to give it one.
    reason: str | None = None
    # What the verdict cache's hits would have cost (null when one of their models has no
    # price); not part of total_usd, which is what was spent.
    saved_usd: float | None = None


def job_cost(
    usage: TokenUsage,
    overrides: dict[str, ModelPrice] | None = None,
    saved: TokenUsage | None = None,
) -> Cost:
    """The cost of a token ledger, model by model; `saved`: the cache hits' tokens."""
    cost = _ledger_cost(usage, overrides)
    if saved is not None:
        cost.saved_usd = _ledger_cost(saved, overrides).total_usd
    return cost


def _ledger_cost(usage: TokenUsage, overrides: dict[str, ModelPrice] | None) -> Cost:
    by_model: dict[str, ModelCost] = {}
    for model, tokens in sorted(usage.by_model.items()):
        price = price_of(model, overrides)
        usd = (
            round(price.dollars(tokens.input_tokens, tokens.output_tokens), 6)
            if price is not None
            else None
        )
        by_model[model] = ModelCost(
            input_tokens=tokens.input_tokens, output_tokens=tokens.output_tokens, usd=usd
        )
    attributed = sum(c.input_tokens + c.output_tokens for c in by_model.values())
    if usage.input_tokens + usage.output_tokens > attributed:  # counted without its model
        by_model[UNKNOWN_MODEL] = ModelCost(
            input_tokens=usage.input_tokens - sum(c.input_tokens for c in by_model.values()),
            output_tokens=usage.output_tokens - sum(c.output_tokens for c in by_model.values()),
            usd=None,
        )
    unpriced = [model for model, cost in by_model.items() if cost.usd is None]
    if unpriced:
        return Cost(
            total_usd=None,
            by_model=by_model,
            reason=f"no price for {', '.join(unpriced)}: add it to RAGAS_MODEL_PRICES "
            '(e.g. {"' + unpriced[0] + '": {"input": 0.5, "output": 1.5}}, dollars per million '
            "tokens; template parameter ModelPrices)",
        )
    return Cost(total_usd=round(sum(c.usd or 0.0 for c in by_model.values()), 6), by_model=by_model)
