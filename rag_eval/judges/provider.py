"""Judge providers: which LLM and embedding model score a job, and whether one is reachable.

Light at import time: the API validates requests with `judge_problems` without ragas;
the provider clients are built by `rag_eval.judges.factory` only when the worker scores.

Model names may carry a provider prefix: `openai:gpt-4o-mini`, `bedrock:anthropic.claude-...`.
No prefix means the OpenAI-compatible provider (OpenAI, Azure, vLLM, Ollama, LiteLLM).
"""

from __future__ import annotations

from typing import Any

from rag_eval.domain.budget import budget_limits
from rag_eval.domain.job import resolved_judges, resolved_models
from rag_eval.domain.pricing import price_of
from rag_eval.domain.request import ScoreOptions
from rag_eval.domain.settings import Settings
from rag_eval.metrics import REGISTRY
from rag_eval.metrics.spec import MetricSpec, Turns

PROVIDERS = ("openai", "bedrock")


def split_model(name: str) -> tuple[str, str]:
    """`bedrock:amazon.nova-pro-v1:0` -> ("bedrock", "amazon.nova-pro-v1:0")."""
    provider, sep, rest = name.partition(":")
    if sep and provider in PROVIDERS:
        return provider, rest
    return "openai", name


def _reachable(model: str, settings: Settings) -> bool:
    """Bedrock needs only AWS credentials; an OpenAI-compatible model needs its settings."""
    return split_model(model)[0] == "bedrock" or settings.openai_configured


def unavailable(
    spec: MetricSpec, settings: Settings, judge_model: str = "", embedding_model: str = ""
) -> str | None:
    """Why this service cannot score the metric with these models, or None if it can."""
    wants = []
    if spec.needs_judge and not _reachable(judge_model or settings.judge_model, settings):
        wants.append("a judge model")
    if spec.needs_embeddings and not _reachable(
        embedding_model or settings.embedding_model, settings
    ):
        wants.append("an embedding model")
    return f"needs {' and '.join(wants)}, and none is configured" if wants else None


def available_metrics(
    settings: Settings,
    judge_model: str = "",
    embedding_model: str = "",
    turns: Turns | None = None,
) -> list[str]:
    """Every metric of the registry this service can score with these models (of one
    kind of sample, when `turns` says which)."""
    return [
        spec.name
        for spec in REGISTRY.values()
        if unavailable(spec, settings, judge_model, embedding_model) is None
        and turns in (None, spec.turns)
    ]


def judge_problems(request: ScoreOptions, settings: Settings) -> list[dict[str, Any]]:
    """Why this request cannot be scored with the configured judges (empty if it can).

    Refused at submission so that a missing judge is a clear 422, not a job that fails
    minutes later; `allowed` lists what this service can score instead.
    """
    first = _unusable_jurors(request, settings) + _unpriced_budget(request, settings)
    if first:
        return first
    # A jury's jurors are all usable by now: the first stands for the judge of every metric.
    models = ((request.judges or [request.judge_model or ""])[0], request.embedding_model or "")
    refused = {
        spec.name: reason
        for spec in request.metric_specs()
        if (reason := unavailable(spec, settings, *models)) is not None
    }
    if not refused:
        return []
    return [
        {
            "field": "metrics",
            "message": (
                f"metric(s) {', '.join(refused)} cannot be scored here: "
                + "; ".join(f"{name} {reason}" for name, reason in refused.items())
                + ". Set OPENAI_BASE_URL (and OPENAI_API_KEY) where the scoring runs (for "
                "the local stack: in the shell that runs `rag-eval local start`, then "
                "restart it), name a 'bedrock:<model-id>' judge_model / embedding_model, "
                "or choose metrics from the allowed ones"
            ),
            # Metrics of the requested ones' kind: a job holds one kind of sample.
            "allowed": available_metrics(settings, *models, turns=request.metric_specs()[0].turns),
        }
    ]


def _unusable_jurors(request: ScoreOptions, settings: Settings) -> list[dict[str, Any]]:
    """Each juror of a jury is checked as the one judge is: a jury missing a juror would
    not be the jury asked for, so the job is refused rather than judged by fewer."""
    if not request.judges or not request.needs_judge():
        return []
    unusable = [juror for juror in request.judges if not _reachable(juror, settings)]
    if not unusable:
        return []
    named = ", ".join(unusable)
    return [
        {
            "field": "judges",
            "message": f"juror{'s' if len(unusable) > 1 else ''} {named} cannot judge here: "
            "an OpenAI-compatible model needs OPENAI_BASE_URL (and OPENAI_API_KEY) where the "
            "scoring runs (for the local stack: in the shell that runs `rag-eval local "
            "start`, then restart it). Set it, name a 'bedrock:<model-id>' juror instead, or "
            f"leave {named} out of the jury",
        }
    ]


def _unpriced_budget(request: ScoreOptions, settings: Settings) -> list[dict[str, Any]]:
    """A dollar budget needs a price for every model the job pays for: each juror of a
    jury too."""
    if budget_limits(request, settings).max_cost_usd is None:
        return []
    embeddings = resolved_models(request, settings)[1]
    used = resolved_judges(request, settings) if request.needs_judge() else []
    used += [embeddings] if request.needs_embeddings() else []
    unpriced = [model for model in used if price_of(model, settings.model_prices) is None]
    if not unpriced:
        return []
    return [
        {
            "field": "max_cost_usd",
            "message": f"no price is known for {', '.join(unpriced)}, so dollars cannot be "
            "counted: give its price in RAGAS_MODEL_PRICES (template parameter ModelPrices), "
            "or limit the job with max_judge_calls instead",
        }
    ]


def judge_configured(request: ScoreOptions, settings: Settings) -> bool:
    """Whether the judge LLM, every juror of a jury, is reachable for this request (used
    for the advice narrative)."""
    return all(_reachable(judge, settings) for judge in resolved_judges(request, settings))
