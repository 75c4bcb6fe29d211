"""The OpenAPI 3.1 schema of the whole API, and Swagger UI on it, built when asked.

The schema is made from the models the service validates and answers with (the request
models of `rag_eval.domain`, the answers of `rag_eval.app.answers`), so it cannot drift
from them unnoticed: the local stack's tests fuzz the API from it and check
every answer against it (tests/local/test_openapi_fuzz.py).

Built on the two documentation routes only, and cached: none of it is on the cold start.
`python -m rag_eval.adapters.http.openapi` prints it (docs/openapi.json is that output).
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.json_schema import models_json_schema

from rag_eval.app.answers import (
    ArtifactLinks,
    ComparisonPending,
    ComparisonReady,
    Error,
    Estimate,
    JobPage,
    MetricCatalogue,
    SubmittedJob,
    UploadTicket,
)
from rag_eval.app.jobs import MAX_IDEMPOTENCY_KEY_CHARS, MAX_LIST_LIMIT
from rag_eval.domain.job import JobStatus
from rag_eval.domain.request import DatasetJob, Sample, ScoreOptions, ScoreRequest
from rag_eval.domain.states import JobState
from rag_eval.domain.upload import UploadRequest

API_TITLE = "ragas-serverless"
SCHEMA_REF = "#/components/schemas/{model}"


class SingleSampleJob(ScoreOptions, Sample):
    """One sample inline, with the options at the same level (the original single-sample body)."""

    model_config = ConfigDict(extra="forbid", title="SingleSampleJob")


def _ref(name: str) -> dict[str, str]:
    return {"$ref": SCHEMA_REF.format(model=name)}


_REQUESTS: tuple[type[BaseModel], ...] = (SingleSampleJob, ScoreRequest, DatasetJob, UploadRequest)
_MODELS: tuple[type[BaseModel], ...] = (
    *_REQUESTS,
    JobStatus,
    SubmittedJob,
    Estimate,
    JobPage,
    ArtifactLinks,
    ComparisonReady,
    ComparisonPending,
    UploadTicket,
    MetricCatalogue,
    Error,
)

# The body of POST /score-jobs: the three forms exclude each other (extra fields are refused).
_SUBMISSION = {
    "Submission": {
        "description": "One sample inline, `samples`, or an uploaded `dataset`.",
        "oneOf": [_ref(model.__name__) for model in (SingleSampleJob, ScoreRequest, DatasetJob)],
    }
}
# status -> (component name, description). Each is the service's error shape.
_ERRORS = {
    400: ("MalformedJson", "The body is not JSON, not UTF-8, or nested too deeply."),
    403: ("Forbidden", "API Gateway refused the caller's signature or API key."),
    404: ("NotFound", "No such job among the caller's (another caller's job too), or route."),
    409: ("Conflict", "The job is not in a state that allows this."),
    413: ("TooLarge", "The body, or the declared or uploaded file, is over the limit."),
    422: ("Invalid", "The request is not valid: `details` names each field, why, what is allowed."),
    429: ("Throttled", "API Gateway's throttling: retry later."),
    503: ("Unavailable", "A dependency (the queue) is unavailable: retry later."),
}
# Answered by API Gateway itself on every route.
_GATEWAY = (403, 429)

_EXAMPLE_SAMPLE = {
    "question": "When was the Eiffel Tower completed?",
    "contexts": ["The Eiffel Tower was completed in 1889."],
    "answer": "It was completed in 1889.",
    "ground_truth": "The Eiffel Tower was completed in 1889.",
}


def _json(schema: dict[str, Any], examples: dict[str, Any] | None = None) -> dict[str, Any]:
    media: dict[str, Any] = {"schema": schema}
    if examples:
        media["examples"] = {name: {"value": value} for name, value in examples.items()}
    return {"application/json": media}


def _answer(description: str, model: str, **extra: Any) -> dict[str, Any]:
    return {"description": description, "content": _json(_ref(model)), **extra}


def _operation(
    summary: str,
    operation_id: str,
    answers: dict[int, dict[str, Any]],
    errors: tuple[int, ...],
    **extra: Any,
) -> dict[str, Any]:
    responses: dict[str, Any] = {str(status): answer for status, answer in answers.items()}
    for status in sorted({*errors, *_GATEWAY}):
        responses[str(status)] = {"$ref": f"#/components/responses/{_ERRORS[status][0]}"}
    return {"summary": summary, "operationId": operation_id, **extra, "responses": responses}


_JOB_ID = {
    "name": "job_id",
    "in": "path",
    "required": True,
    "description": "the job's id, as POST /score-jobs answered it (24 hex digits)",
    "schema": {"type": "string"},
}


def _paths() -> dict[str, Any]:
    submit_body = {
        "required": True,
        "content": _json(
            _ref("Submission"),
            {
                "one sample": _EXAMPLE_SAMPLE | {"metrics": ["chrf_score", "exact_match"]},
                "several samples": {"samples": [_EXAMPLE_SAMPLE], "metrics": ["chrf_score"]},
                "an uploaded dataset": {
                    "dataset": {"upload_id": "5f3a9c0e1b2d4f6a8c0e1b2d"},
                    "metrics": ["chrf_score"],
                    "on_invalid": "skip",
                },
                "a dry run (an estimate, no job)": {
                    "samples": [_EXAMPLE_SAMPLE],
                    "metrics": ["faithfulness", "context_recall"],
                    "dry_run": True,
                },
            },
        ),
    }
    return {
        "/score-jobs": {
            "post": _operation(
                "Submit a scoring job",
                "submitScoreJob",
                {
                    202: _answer(
                        "The job, queued (or the same job again on an Idempotency-Key replay).",
                        "SubmittedJob",
                        headers={
                            "Location": {"schema": {"type": "string"}},
                            "Idempotent-Replayed": {
                                "description": "`true` when a replay answered an existing job",
                                "schema": {"type": "string", "enum": ["true"]},
                            },
                        },
                    ),
                    200: _answer(
                        "A dry run's estimate: judge calls, tokens, dollars, duration and the "
                        "share already cached. Nothing was created.",
                        "Estimate",
                    ),
                },
                (400, 409, 413, 422, 503),
                description=(
                    "One sample inline, `samples` (up to 1,000), or an uploaded `dataset` "
                    "(POST /uploads first). LLM metrics need a judge configured on the service."
                ),
                parameters=[
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "description": "a repeat with the same key and body answers the same job",
                        "schema": {
                            "type": "string",
                            "minLength": 1,
                            "maxLength": MAX_IDEMPOTENCY_KEY_CHARS,
                        },
                    }
                ],
                requestBody=submit_body,
            ),
            "get": _operation(
                "List the caller's jobs, newest first",
                "listScoreJobs",
                {200: _answer("A page of jobs.", "JobPage")},
                (422,),
                parameters=[
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIST_LIMIT},
                    },
                    {
                        "name": "cursor",
                        "in": "query",
                        "description": "`next_cursor` of the previous page",
                        "schema": {"type": "string"},
                    },
                    {
                        "name": "status",
                        "in": "query",
                        "schema": {"type": "string", "enum": [s.value for s in JobState]},
                    },
                ],
            ),
        },
        "/score-jobs/{job_id}": {
            "get": _operation(
                "Read a job: status, scores, progress, failures",
                "getScoreJob",
                {200: _answer("The job.", "JobStatus")},
                (404,),
                parameters=[_JOB_ID],
            )
        },
        "/score-jobs/{job_id}/cancel": {
            "post": _operation(
                "Cancel a queued or running job (what was scored is kept)",
                "cancelScoreJob",
                {202: _answer("The job, cancelled (also when it already was).", "JobStatus")},
                (404, 409),
                parameters=[_JOB_ID],
            )
        },
        "/score-jobs/{job_id}/artifacts": {
            "get": _operation(
                "Presigned URLs of the job's run folder",
                "getScoreJobArtifacts",
                {200: _answer("The run folder's files.", "ArtifactLinks")},
                (404, 409),
                parameters=[_JOB_ID],
            )
        },
        "/score-jobs/{job_id}/compare": {
            "get": _operation(
                "Compare the job's run with a baseline run of the caller's",
                "compareScoreJobs",
                {
                    200: _answer("The comparison.", "ComparisonReady"),
                    202: _answer(
                        "The worker is comparing the runs: ask again.",
                        "ComparisonPending",
                        headers={"Retry-After": {"schema": {"type": "string"}}},
                    ),
                },
                (404, 409, 422, 503),
                parameters=[
                    _JOB_ID | {"description": "the candidate: the job whose run is compared"},
                    {
                        "name": "baseline",
                        "in": "query",
                        "required": True,
                        "description": "the job id of the run to compare with",
                        "schema": {"type": "string"},
                    },
                ],
            )
        },
        "/uploads": {
            "post": _operation(
                "A presigned S3 POST for one dataset file (JSON Lines or CSV)",
                "createUpload",
                {201: _answer("Where and how to send the file.", "UploadTicket")},
                (400, 413, 422),
                requestBody={"required": False, "content": _json(_ref("UploadRequest"))},
            )
        },
        "/metrics": {
            "get": _operation(
                "The metrics, their inputs and needs, and whether this service can score each",
                "listMetrics",
                {200: _answer("The metric registry.", "MetricCatalogue")},
                (),
            )
        },
        "/openapi.json": {
            "get": _operation(
                "This schema",
                "getOpenApiSchema",
                {
                    200: {
                        "description": "The OpenAPI 3.1 schema.",
                        "content": _json({"type": "object"}),
                    }
                },
                (),
            )
        },
        "/docs": {
            "get": _operation(
                "Swagger UI on this schema",
                "getSwaggerUi",
                {
                    200: {
                        "description": "An HTML page.",
                        "content": {"text/html": {"schema": {"type": "string"}}},
                    }
                },
                (),
            )
        },
    }


@cache
def openapi_schema() -> dict[str, Any]:
    """The schema, with no `servers` (the base URL depends on how the API is reached)."""
    _, definitions = models_json_schema(
        [(model, "validation" if model in _REQUESTS else "serialization") for model in _MODELS],
        ref_template=SCHEMA_REF,
    )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": API_TITLE,
            "version": "1",
            "description": (
                "RAG answer scoring with ragas metrics. Every route is the caller's: with "
                "AuthMode=IAM requests are signed with SigV4 (service execute-api), with "
                "AuthMode=API_KEY they carry `x-api-key`. Errors are "
                '`{"error": {"code", "message", "details"}}`.'
            ),
        },
        # SigV4 (AuthMode=IAM) has no OpenAPI scheme: an unsigned request is the other option.
        "security": [{}, {"api_key": []}],
        "paths": _paths(),
        "components": {
            "schemas": dict(sorted((definitions["$defs"] | _SUBMISSION).items())),
            "responses": {
                name: {"description": text, "content": _json(_ref("Error"))}
                for name, text in _ERRORS.values()
            },
            "securitySchemes": {
                "api_key": {"type": "apiKey", "in": "header", "name": "x-api-key"},
            },
        },
    }


def openapi_json(base_url: str) -> str:
    """The schema as served: its server is where the caller reached the API."""
    return json.dumps(openapi_schema() | {"servers": [{"url": base_url or "/"}]}, indent=1)


def swagger_page(base_url: str) -> str:
    """Swagger UI on the schema, with the assets Powertools ships (no CDN needed)."""
    from pathlib import Path

    from aws_lambda_powertools.event_handler.openapi.swagger_ui import html

    assets = Path(html.__file__).parent
    return html.generate_swagger_html(
        openapi_json(base_url).replace("</", "<\\/"),
        (assets / "swagger-ui-bundle.min.js").read_text(encoding="utf-8"),
        (assets / "swagger-ui.min.css").read_text(encoding="utf-8"),
        swagger_base_url="",
        oauth2_config=None,
    )


if __name__ == "__main__":
    print(json.dumps(openapi_schema(), indent=2, ensure_ascii=False))
