"""One cheap call before a job's first judge call: a judge that cannot answer at all fails
the job at once, naming its endpoint (never its key), instead of a job that "completes"
with every judge metric null.

Only what no retry fixes fails the job: no connection, a refused key, an endpoint that is
not an OpenAI-compatible API. A 429 or 5xx is left to the metrics' own retries and reason
codes. Bedrock needs only the worker's role; its failures show per metric.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from rag_eval.domain.job import resolved_judges, resolved_models
from rag_eval.domain.request import ScoreOptions
from rag_eval.domain.settings import Settings
from rag_eval.judges.provider import split_model

logger = logging.getLogger(__name__)

PREFLIGHT_TIMEOUT_SECONDS = 10.0


def judge_unreachable(settings: Settings, models: list[str]) -> str | None:
    """Why the OpenAI-compatible endpoint of these models cannot be used, or None."""
    if not any(split_model(model)[0] == "openai" for model in models):
        return None
    import openai

    endpoint = settings.openai_base_url or "https://api.openai.com/v1"
    client = openai.OpenAI(
        base_url=settings.openai_base_url or None,
        api_key=settings.openai_api_key or "not-needed",
        max_retries=1,
        timeout=min(PREFLIGHT_TIMEOUT_SECONDS, settings.metric_timeout_seconds),
    )
    try:
        client.models.list()  # GET /models: no tokens, and every compatible server has it
    except openai.APIConnectionError as exc:
        cause = type(exc.__cause__ or exc).__name__
        return (
            f"cannot reach the judge at {endpoint} ({cause}); check OPENAI_BASE_URL and that "
            "the judge is up"
        )
    except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
        return (
            f"the judge at {endpoint} refused its API key ({exc.status_code}); check "
            "OPENAI_API_KEY (OpenAIApiKeyParameter on AWS)"
        )
    except openai.NotFoundError:
        return f"{endpoint} answered 404 to GET /models: it is not an OpenAI-compatible API"
    except openai.APIError:
        logger.warning("judge preflight answered an error; scoring goes on", exc_info=True)
    finally:
        client.close()
    return None


def judge_failure(
    options: ScoreOptions,
    settings: Settings,
    check: Callable[[Settings, list[str]], str | None] = judge_unreachable,
) -> str | None:
    """The job's error when the judge or embedding model it needs cannot answer at all
    (`JudgeUnreachable: ...`), else None. The service and `rag-eval score` both ask this
    before scoring, so the same broken judge fails a job the same way in both. Every juror
    of a jury is checked: a jury short of one is not the jury asked for."""
    jurors = resolved_judges(options, settings) if options.needs_judge() else []
    embeddings = resolved_models(options, settings)[1]
    models = jurors + ([embeddings] if options.needs_embeddings() else [])
    problem = check(settings, models) if models else None
    if not problem:
        return None
    # The OpenAI-compatible jurors share the one endpoint the check reached: name them, as
    # the jury's other jurors (Bedrock) are not the ones at fault.
    at_fault = [juror for juror in jurors if split_model(juror)[0] == "openai"]
    if options.judges and at_fault:
        plural = "s" if len(at_fault) > 1 else ""
        problem += f" (the endpoint of juror{plural} {', '.join(at_fault)})"
    return f"JudgeUnreachable: {problem}"
