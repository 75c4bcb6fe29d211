"""Judge providers: which LLM and embedding model score a job, and whether one is reachable.

Light at import time: the API validates requests with `judge_problems` without ragas;
the provider clients are built by `rag_eval.judges.factory` only when the worker scores.

Model names may carry a provider prefix: `openai:gpt-4o-mini`, `bedrock:anthropic.claude-...`.
No prefix means the OpenAI-compatible provider (OpenAI, Azure, vLLM, Ollama, LiteLLM).
"""

from __future__ import annotations

from typing import Any

from rag_eval.domain.job import resolved_models
from rag_eval.domain.request import ScoreRequest
from rag_eval.domain.settings import Settings

PROVIDERS = ("openai", "bedrock")


def split_model(name: str) -> tuple[str, str]:
    """`bedrock:amazon.nova-pro-v1:0` -> ("bedrock", "amazon.nova-pro-v1:0")."""
    provider, sep, rest = name.partition(":")
    if sep and provider in PROVIDERS:
        return provider, rest
    return "openai", name


def judge_problems(request: ScoreRequest, settings: Settings) -> list[dict[str, Any]]:
    """Why this request cannot be scored with the configured judges (empty if it can).

    Refused at submission so that a missing judge is a clear 422, not a job that fails
    minutes later.
    """
    problems: list[dict[str, Any]] = []
    wants = (
        ("judge_model", request.judge_model or settings.judge_model, request.needs_judge()),
        (
            "embedding_model",
            request.embedding_model or settings.embedding_model,
            request.needs_embeddings(),
        ),
    )
    for field_name, model, needed in wants:
        if not needed:
            continue
        provider, _ = split_model(model)
        if provider == "openai" and not settings.openai_configured:
            needing = [
                spec.name
                for spec in request.metric_specs()
                if (spec.needs_judge if field_name == "judge_model" else spec.needs_embeddings)
            ]
            problems.append(
                {
                    "field": "metrics",
                    "message": (
                        f"metric(s) {', '.join(needing)} need a "
                        f"{'judge' if field_name == 'judge_model' else 'embedding'} "
                        f"model, and none is configured: set OPENAI_API_KEY and/or "
                        f"OPENAI_BASE_URL, name a 'bedrock:<model-id>' {field_name}, or "
                        "choose model-free metrics"
                    ),
                    "allowed": [s for s in request.metrics if s not in needing],
                }
            )
    return problems


def judge_configured(request: ScoreRequest, settings: Settings) -> bool:
    """Whether a judge LLM is reachable for this request (used for the advice narrative)."""
    provider, _ = split_model(resolved_models(request, settings)[0])
    return provider == "bedrock" or settings.openai_configured
