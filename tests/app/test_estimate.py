"""A dry run's estimate with a jury: what the jurors multiply, and what they do not, said
before anything is spent."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rag_eval.app.answers import Estimate
from rag_eval.app.estimate import estimate_samples
from rag_eval.domain.estimate import text_tokens
from rag_eval.domain.request import ScoreOptions
from rag_eval.domain.sample import Sample
from rag_eval.domain.settings import Settings
from rag_eval.metrics import REGISTRY

SAMPLES = [
    Sample(
        question="When was the Eiffel Tower completed?",
        answer="The Eiffel Tower was completed in 1889.",
        contexts=["The Eiffel Tower was completed in 1889 for the World's Fair.", "In Paris."],
        ground_truth="It was completed in 1889.",
    ),
    Sample(
        question="How long may a Lambda function run?",
        answer="At most 15 minutes.",
        contexts=["A Lambda function runs for at most 900 seconds."],
        ground_truth="Up to 900 seconds.",
    ),
]
# A judged metric, and one that is judged and embedded.
METRICS = ["faithfulness", "answer_relevancy"]
JURY = ["house-a", "house-b", "house-c"]
PRICES = {
    "house-a": {"input": 1.0, "output": 2.0},
    "house-b": {"input": 10.0, "output": 20.0},
    "house-c": {"input": 100.0, "output": 200.0},
    "free-judge": {"input": 0.0, "output": 0.0},
    "house-embed": {"input": 1000.0},
}
SETTINGS = Settings(model_prices=json.dumps(PRICES))


def estimated(verdicts: Any = None, **options: Any) -> Estimate:
    asked = ScoreOptions(metrics=METRICS, embedding_model="house-embed", **options)
    return estimate_samples(asked, SETTINGS, SAMPLES, verdicts)


class HeldVerdicts:
    """A verdict cache holding the given pair keys, and noting the keys it was asked for."""

    def __init__(self, held: set[str]) -> None:
        self.held = held
        self.asked: list[str] = []

    def get(self, key: str) -> bytes | None:
        return None

    def put(self, key: str, value: bytes) -> None:
        raise AssertionError("a dry run writes nothing")

    def present(self, keys: list[str]) -> set[str]:
        self.asked += keys
        return self.held & set(keys)


def test_a_jury_of_three_counts_the_judge_three_times_and_the_embeddings_once() -> None:
    # GIVEN samples scored on a judged metric and a judged-and-embedded one
    # AND the embedding requests and tokens answer_relevancy's load asks of them
    relevancy = REGISTRY["answer_relevancy"]
    embedding_calls = relevancy.load.embedding_calls * len(SAMPLES)
    embedded = sum(relevancy.load.embedding_weight * text_tokens(relevancy, s) for s in SAMPLES)
    assert embedding_calls > 0 and embedded > 0

    # WHEN the job is estimated with one judge, then with a jury of three
    one = estimated(judge_model="house-a")
    jury = estimated(judges=JURY)

    # THEN the jury's judge calls and tokens are three times the one judge's, and its
    # embedding requests and tokens are counted once
    assert jury.total.judge_calls == pytest.approx(
        3 * one.total.judge_calls - 2 * embedding_calls, abs=2
    )
    assert jury.total.input_tokens == pytest.approx(
        3 * one.total.input_tokens - 2 * embedded, abs=3
    )
    assert jury.total.output_tokens == pytest.approx(3 * one.total.output_tokens, abs=3)
    assert jury.to_spend == jury.total  # nothing cached

    # AND the estimate names the jury and says what it multiplies
    assert jury.judges == JURY and one.judges == ["house-a"]
    assert jury.judge_model == "house-a + house-b + house-c"
    assert jury.embedding_model == one.embedding_model == "house-embed"
    assert "3 jurors" in str(jury.assumptions["jury"])
    assert "counted 3 times" in str(jury.assumptions["jury"])
    assert "jury" not in one.assumptions

    # AND the time is that of the calls to make
    assert jury.duration_seconds >= one.duration_seconds


def test_each_jurors_tokens_are_priced_at_its_own_models_price() -> None:
    # GIVEN a price for each juror, a far higher one for the embedding model, and a judge
    # that costs nothing (so that its estimate's cost is the embeddings' alone)
    each = [estimated(judge_model=juror).total.cost_usd or 0.0 for juror in JURY]
    embeddings = estimated(judge_model="free-judge").total.cost_usd or 0.0
    assert all(each) and embeddings

    # WHEN the jury's job is estimated
    jury = estimated(judges=JURY)

    # THEN its cost is each juror's judging at that juror's price, with the embeddings paid
    # once, not once per juror
    assert jury.cost_reason is None
    assert jury.total.cost_usd == pytest.approx(sum(each) - 2 * embeddings, abs=1e-5)


def test_a_juror_without_a_price_leaves_the_cost_unknown_and_names_it() -> None:
    # GIVEN a jury whose second juror has no price
    # WHEN its job is estimated
    jury = estimated(judges=["house-a", "unpriced-judge"])

    # THEN the cost is unknown, never a guess, and the reason names that juror only
    assert jury.total.cost_usd is None and jury.to_spend.cost_usd is None
    assert jury.cost_reason is not None and "unpriced-judge" in jury.cost_reason
    assert "house-a" not in jury.cost_reason


def test_the_cached_share_is_counted_per_juror() -> None:
    # GIVEN a cache holding every pair the job scored by juror house-a alone would ask
    alone = HeldVerdicts(set())
    estimated(alone, judge_model="house-a")
    cache = HeldVerdicts(set(alone.asked))
    assert alone.asked

    # WHEN the same job with a jury of three is estimated against it
    jury = estimated(cache, judges=JURY)

    # THEN a third of the jury's pairs are cached: house-a's, not the other jurors'
    assert jury.cached_share == pytest.approx(1 / 3, abs=1e-4)
    assert jury.cache_checked_pairs == 3 * len(alone.asked)
    assert jury.to_spend.judge_calls < jury.total.judge_calls


def test_without_a_judged_metric_no_judge_is_named() -> None:
    # GIVEN a jury but only a metric of embeddings
    asked = ScoreOptions(
        metrics=["semantic_similarity"], embedding_model="house-embed", judges=JURY
    )

    # WHEN it is estimated
    found = estimate_samples(asked, SETTINGS, SAMPLES)

    # THEN no judge is named, nothing is multiplied, and only the embeddings are counted
    assert found.judges == [] and found.judge_model == ""
    assert "jury" not in found.assumptions
    assert found.total.output_tokens == 0
