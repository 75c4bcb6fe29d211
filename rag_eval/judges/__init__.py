"""Judge providers: which LLM and embedding model score a job, and how failures are named.

Light at import time: the API validates requests with `judge_problems` without ragas;
the provider clients are built only when the worker scores.

Model names may carry a provider prefix: `openai:gpt-4o-mini`, `bedrock:anthropic.claude-...`.
No prefix means the OpenAI-compatible provider (OpenAI, Azure, vLLM, Ollama, LiteLLM).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from rag_eval.models import ReasonCode, ScoreRequest, TokenUsage
from rag_eval.settings import Settings

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


@dataclass
class JudgeModels:
    """The ragas LLM and embeddings for one job, and the tokens they spent."""

    llm: Any = None
    embeddings: Any = None
    usage: TokenUsage = field(default_factory=TokenUsage)
    _closers: list[Any] = field(default_factory=list)

    async def aclose(self) -> None:
        for close in self._closers:
            await close()


def build_judge(
    judge_model: str,
    embedding_model: str,
    settings: Settings,
    *,
    need_llm: bool,
    need_embeddings: bool,
) -> JudgeModels:
    """The job's models. One client per provider, shared by LLM and embeddings, so its
    connection limit caps everything the job sends to that provider."""
    models = JudgeModels()
    wanted = {
        kind: split_model(model)
        for kind, model, needed in (
            ("llm", judge_model, need_llm),
            ("embeddings", embedding_model, need_embeddings),
        )
        if needed
    }
    for provider in dict.fromkeys(provider for provider, _ in wanted.values()):
        names = {kind: name for kind, (p, name) in wanted.items() if p == provider}
        if provider == "bedrock":
            from rag_eval.judges.bedrock import build_bedrock_models

            llm, embeddings = build_bedrock_models(
                names.get("llm"), names.get("embeddings"), settings, models.usage
            )
        else:
            from rag_eval.judges.openai_compatible import OpenAICompatible

            client = OpenAICompatible(settings, models.usage)
            models._closers.append(client.aclose)
            llm = client.llm(names["llm"]) if "llm" in names else None
            embeddings = client.embeddings(names["embeddings"]) if "embeddings" in names else None
        models.llm = llm or models.llm
        models.embeddings = embeddings or models.embeddings
    return models


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception and what it wraps (instructor hides the provider error inside)."""
    seen: set[int] = set()
    stack = [exc]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        stack.extend([current.__cause__, current.__context__])
        for attempt in getattr(current, "failed_attempts", None) or ():
            stack.append(getattr(attempt, "exception", None))


_THROTTLING_CODES = {"ThrottlingException", "TooManyRequestsException", "ServiceQuotaExceeded"}


def failure_reason(exc: BaseException) -> ReasonCode:
    """Name a failed metric call by its root cause, most specific first."""
    causes = list(_causes(exc))
    names = {type(e).__name__ for e in causes}
    if isinstance(exc, TimeoutError) or names & {
        "APITimeoutError",
        "ReadTimeout",
        "ReadTimeoutError",
        "ConnectTimeoutError",
    }:
        return "timeout"
    if "RateLimitError" in names:
        return "rate_limited"
    for e in causes:
        code = getattr(e, "response", None)
        if isinstance(code, dict):  # botocore ClientError
            error_code = code.get("Error", {}).get("Code", "")
            return "rate_limited" if error_code in _THROTTLING_CODES else "judge_error"
    if names & {
        "APIConnectionError",
        "APIStatusError",
        "InternalServerError",
        "BadRequestError",
        "AuthenticationError",
        "PermissionDeniedError",
        "NotFoundError",
        "EndpointConnectionError",
    }:
        return "judge_error"
    if names & {
        "ValidationError",
        "JSONDecodeError",
        "InstructorRetryException",
        "ResponseParsingError",
        "IncompleteOutputException",
        "InvalidJudgeOutput",
    } or any(isinstance(e, json.JSONDecodeError) for e in causes):
        return "invalid_judge_output"
    return "metric_error"
