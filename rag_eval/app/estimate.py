"""A dry run: what a job would ask of its judge, cost and take, before any of it is spent.

Nothing is created: no job, no message, no file. The samples are read as planning reads
them (an upload streamed); the cached share is the share of the judge-backed (sample,
metric) pairs whose every request is in the verdict cache, looked up for at most
MAX_CHECKED_PAIRS of them, drawn evenly at random, and extrapolated.

A jury (`judges`) multiplies what a judged metric asks: each juror makes its own requests,
priced at its own model's price, and is cached under its own key; the embedding requests
are the same for every juror, made once.

Light (the API answers it): no ragas, only the metrics' fitted loads.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable

from rag_eval.app.answers import Estimate, Spend
from rag_eval.app.planning import request_rows
from rag_eval.app.ports import ObjectStore
from rag_eval.app.sample_kinds import first_row, of_kind
from rag_eval.domain.budget import budget_limits
from rag_eval.domain.errors import DatasetInvalid
from rag_eval.domain.estimate import Load
from rag_eval.domain.job import judges_named, resolved_judges, resolved_models
from rag_eval.domain.pricing import price_of
from rag_eval.domain.request import DatasetJob, ScoreOptions, ScoreRequest
from rag_eval.domain.sample import Sample
from rag_eval.domain.settings import Settings
from rag_eval.domain.turns import turns_of
from rag_eval.domain.verdicts import VerdictStore, pair_key

logger = logging.getLogger(__name__)

MAX_CHECKED_PAIRS = 1_000
MAX_INVALID_ROWS_SHOWN = 5


def estimate(
    request: ScoreRequest | DatasetJob,
    settings: Settings,
    store: ObjectStore,
    verdicts: VerdictStore | None,
    owner: str,
) -> Estimate:
    """The dry run of a submission. Raises DatasetInvalid for a file that cannot be read."""
    first, rows = first_row(request_rows(store, request, owner))
    if first is not None:  # the metrics of the file's kind of sample, as the job would get
        request = of_kind(request, turns_of(first.sample))
    invalid = 0

    def samples() -> Iterable[Sample]:
        nonlocal invalid
        for row in rows:
            if hasattr(row, "sample"):
                yield row.sample
            else:
                invalid += 1

    found = estimate_samples(request.options(), settings, samples(), verdicts)
    if found.samples == 0:
        raise DatasetInvalid([{"field": "dataset", "message": "no valid rows to score"}])
    return found.model_copy(update={"invalid_rows": invalid})


def estimate_samples(
    options: ScoreOptions,
    settings: Settings,
    samples: Iterable[Sample],
    verdicts: VerdictStore | None = None,
) -> Estimate:
    judge, embeddings = resolved_models(options, settings)
    jurors = resolved_judges(options, settings)
    specs = [spec for spec in options.metric_specs() if not spec.model_free]
    load = Load()
    count = pairs = 0
    checked: list[str] = []
    chance = random.Random(0)  # the same draw for the same samples
    for sample in samples:
        count += 1
        for spec in specs:
            if sample.missing_inputs(spec.inputs):
                continue
            arguments = spec.arguments(sample.model_dump())
            for index, juror in enumerate(jurors if spec.needs_judge else [judge]):
                load.add(spec, sample, juror, embeddings, embed=index == 0)
                pairs += 1
                key = pair_key(spec.key, (juror, embeddings), arguments)
                # Reservoir sampling: every pair equally likely to be looked up.
                if len(checked) < MAX_CHECKED_PAIRS:
                    checked.append(key)
                elif (slot := chance.randrange(pairs)) < MAX_CHECKED_PAIRS:
                    checked[slot] = key
    share = 0.0
    looked_up = False
    if verdicts is not None and options.cache == "use" and checked:
        try:
            share = round(len(verdicts.present(checked)) / len(checked), 4)
            looked_up = True
        except Exception:  # an estimate without its cached share beats no estimate
            logger.warning("verdict cache unreadable; estimating as if nothing were cached")
    total = _spend(load, 1.0, settings)
    to_spend = _spend(load, 1.0 - share, settings)
    workers = max(1, min(settings.worker_concurrency, -(-count // settings.shard_size)))
    in_flight = workers * settings.max_concurrency
    limits = budget_limits(options, settings)
    judged = options.needs_judge()
    jury = (
        {
            "jury": f"{len(jurors)} jurors: every judged metric's calls and tokens counted "
            f"{len(jurors)} times, its embeddings once"
        }
        if judged and len(jurors) > 1
        else {}
    )
    return Estimate(
        samples=count,
        metrics=list(options.metrics),
        judge_model=judges_named(options, settings) if judged else "",
        judges=jurors if judged else [],
        embedding_model=embeddings if options.needs_embeddings() else "",
        total=total,
        cached_share=share,
        cache_checked_pairs=len(checked) if looked_up else 0,
        to_spend=to_spend,
        duration_seconds=round(to_spend.judge_calls * settings.judge_seconds_per_call / in_flight),
        cost_reason=_cost_reason(load, settings),
        budget=limits if limits.any else None,
        exceeds_budget=(
            limits.max_judge_calls is not None and to_spend.judge_calls > limits.max_judge_calls
        )
        or (
            limits.max_cost_usd is not None
            and to_spend.cost_usd is not None
            and to_spend.cost_usd > limits.max_cost_usd
        ),
        assumptions={
            "seconds_per_judge_call": settings.judge_seconds_per_call,
            "judge_calls_in_flight": in_flight,
            "workers": workers,
            "tokens": "about 4 characters a token (a CJK character: 1)",
            **jury,
        },
    )


def _spend(load: Load, part: float, settings: Settings) -> Spend:
    dollars = 0.0
    cost: float | None = None  # stays None when a model has no price
    for model, (tokens_in, tokens_out) in load.by_model.items():
        price = price_of(model, settings.model_prices)
        if price is None:
            break
        dollars += price.dollars(round(tokens_in * part), round(tokens_out * part))
    else:
        cost = round(dollars, 6)
    return Spend(
        judge_calls=round(load.calls * part),
        input_tokens=round(load.input_tokens * part),
        output_tokens=round(load.output_tokens * part),
        cost_usd=cost,
    )


def _cost_reason(load: Load, settings: Settings) -> str | None:
    unpriced = [m for m in load.by_model if price_of(m, settings.model_prices) is None]
    if not unpriced:
        return None
    return (
        f"no price for {', '.join(unpriced)}: add it to RAGAS_MODEL_PRICES "
        "(template parameter ModelPrices), dollars per million tokens"
    )
