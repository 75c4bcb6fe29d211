"""The API's routes, each declared once: method, path, the function that serves it, what it
takes, and what it answers with which status.

From this table follow the handlers' routing (`rag_eval.adapters.http.routing`: each
function registers its routes from it, and an answer's status is the one its model has
here), the OpenAPI paths (`rag_eval.adapters.http.openapi`), the client's paths and how it
reads each answer (`rag_eval.client.api`); tests/test_template.py holds template.yaml's
routes to it.

Light (the API's cold start): data, and the models of `rag_eval.app.answers`.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import ConfigDict

from rag_eval.app.announce import WebhookSecret
from rag_eval.app.answers import (
    ArtifactLinks,
    ComparisonPending,
    ComparisonReady,
    Estimate,
    JobPage,
    LabelPage,
    LabelQueue,
    LabelsStored,
    MetricCatalogue,
    SubmittedJob,
    UploadTicket,
)
from rag_eval.app.jobs import MAX_IDEMPOTENCY_KEY_CHARS, MAX_LIST_LIMIT
from rag_eval.app.labels import DEFAULT_QUEUE, MAX_LABELS_PAGE, MAX_QUEUE
from rag_eval.app.route_types import Answer as Answer
from rag_eval.app.route_types import Body as Body
from rag_eval.app.route_types import Function as Function
from rag_eval.app.route_types import Header as Header
from rag_eval.app.route_types import Parameter as Parameter
from rag_eval.app.route_types import Route as Route
from rag_eval.domain.job import JobStatus
from rag_eval.domain.labels import MAX_LABELS_PER_REQUEST, LabelBatch, LabelList
from rag_eval.domain.request import DatasetJob, ScoreOptions, ScoreRequest
from rag_eval.domain.sample import Sample
from rag_eval.domain.states import JobState
from rag_eval.domain.suites import SuitePage, SuiteRuns
from rag_eval.domain.upload import UploadRequest


class SingleSampleJob(ScoreOptions, Sample):
    """One sample inline, with the options at the same level (the original single-sample body)."""

    model_config = ConfigDict(extra="forbid", title="SingleSampleJob", defer_build=True)


_JOB_ID = Parameter(
    "job_id",
    "path",
    {"type": "string"},
    "the job's id, as POST /score-jobs answered it (24 hex digits)",
    required=True,
)
_EXAMPLE_SAMPLE = {
    "question": "When was the Eiffel Tower completed?",
    "contexts": ["The Eiffel Tower was completed in 1889."],
    "answer": "It was completed in 1889.",
    "ground_truth": "The Eiffel Tower was completed in 1889.",
}

_LIMIT = Parameter("limit", "query", {"type": "integer", "minimum": 1, "maximum": MAX_LIST_LIMIT})
_CURSOR = Parameter("cursor", "query", {"type": "string"}, "`next_cursor` of the previous page")

ROUTES: tuple[Route, ...] = (
    Route(
        "POST",
        "/score-jobs",
        "ApiFunction",
        "submitScoreJob",
        "Submit a scoring job",
        (
            Answer(
                202,
                "The job, queued (or the same job again on an Idempotency-Key replay).",
                SubmittedJob,
                headers={
                    "Location": Header({"type": "string"}),
                    "Idempotent-Replayed": Header(
                        {"type": "string", "enum": ["true"]},
                        "`true` when a replay answered an existing job",
                    ),
                },
            ),
            Answer(
                200,
                "A dry run's estimate: judge calls, tokens, dollars, duration and the "
                "share already cached. Nothing was created.",
                Estimate,
            ),
        ),
        (400, 409, 413, 422, 503),
        parameters=(
            Parameter(
                "Idempotency-Key",
                "header",
                {"type": "string", "minLength": 1, "maxLength": MAX_IDEMPOTENCY_KEY_CHARS},
                "a repeat with the same key and body answers the same job",
                required=False,
            ),
        ),
        body=Body(
            (SingleSampleJob, ScoreRequest, DatasetJob),
            required=True,
            name="Submission",
            description="One sample inline, `samples`, or an uploaded `dataset`.",
            examples={
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
        description=(
            "One sample inline, `samples` (up to 1,000), or an uploaded `dataset` "
            "(POST /uploads first). LLM metrics need a judge configured on the service."
        ),
    ),
    Route(
        "GET",
        "/score-jobs",
        "ListFunction",
        "listScoreJobs",
        "List the caller's jobs, newest first",
        (Answer(200, "A page of jobs.", JobPage),),
        (422,),
        parameters=(
            _LIMIT,
            _CURSOR,
            Parameter("status", "query", {"type": "string", "enum": [s.value for s in JobState]}),
        ),
    ),
    Route(
        "GET",
        "/score-jobs/{job_id}",
        "ApiFunction",
        "getScoreJob",
        "Read a job: status, scores, progress, failures",
        (Answer(200, "The job.", JobStatus),),
        (404,),
        parameters=(_JOB_ID,),
    ),
    Route(
        "POST",
        "/score-jobs/{job_id}/cancel",
        "ApiFunction",
        "cancelScoreJob",
        "Cancel a queued or running job (what was scored is kept)",
        (Answer(202, "The job, cancelled (also when it already was).", JobStatus),),
        (404, 409),
        parameters=(_JOB_ID,),
    ),
    Route(
        "GET",
        "/score-jobs/{job_id}/artifacts",
        "ApiFunction",
        "getScoreJobArtifacts",
        "Presigned URLs of the job's run folder",
        (Answer(200, "The run folder's files.", ArtifactLinks),),
        (404, 409),
        parameters=(_JOB_ID,),
    ),
    Route(
        "GET",
        "/score-jobs/{job_id}/compare",
        "ApiFunction",
        "compareScoreJobs",
        "Compare the job's run with a baseline run of the caller's",
        (
            Answer(200, "The comparison.", ComparisonReady),
            Answer(
                202,
                "The worker is comparing the runs: ask again.",
                ComparisonPending,
                headers={"Retry-After": Header({"type": "string"})},
            ),
        ),
        (404, 409, 422, 503),
        parameters=(
            Parameter(
                "job_id",
                "path",
                {"type": "string"},
                "the candidate: the job whose run is compared",
                required=True,
            ),
            Parameter(
                "baseline",
                "query",
                {"type": "string"},
                "the job id of the run to compare with",
                required=True,
            ),
        ),
    ),
    Route(
        "POST",
        "/score-jobs/{job_id}/labels",
        "ApiFunction",
        "postScoreJobLabels",
        "Label the run's samples by hand (a label given again replaces the one before)",
        (Answer(200, "The labels were stored: how many, per metric.", LabelsStored),),
        (400, 404, 409, 413, 422),
        parameters=(_JOB_ID,),
        body=Body(
            (LabelBatch, LabelList),
            required=True,
            name="Labels",
            description=f"Up to {MAX_LABELS_PER_REQUEST:,} labels, as `labels` or a bare list.",
            examples={
                "a number on the metric's scale, and a category": {
                    "labels": [
                        {
                            "sample_id": "eiffel",
                            "metric": "faithfulness",
                            "value": 1,
                            "labeler": "alice",
                            "note": "every claim is in the first context",
                        },
                        {"sample_id": "eiffel", "metric": "uses_the_contexts", "value": "yes"},
                    ]
                },
            },
        ),
        description=(
            "Each label is one person's value for one sample of the job's run on one of the "
            "job's metrics: a number on the metric's scale (GET /metrics), or for a discrete "
            "metric the job defined, one of its categories. One label per (sample_id, "
            "metric, labeler): posting it again replaces it. All labels of a request are "
            "stored, or none (422 names each problem). 409 until the job's run is written."
        ),
    ),
    Route(
        "GET",
        "/score-jobs/{job_id}/labels",
        "ApiFunction",
        "listScoreJobLabels",
        "The labels given to the job's run",
        (Answer(200, "A page of the job's labels (empty before any was given).", LabelPage),),
        (404, 422),
        parameters=(
            _JOB_ID,
            Parameter(
                "limit",
                "query",
                {"type": "integer", "minimum": 1, "maximum": MAX_LABELS_PAGE},
                f"labels on the page (default {MAX_LABELS_PAGE:,})",
            ),
            Parameter("cursor", "query", {"type": "string"}, "`next_cursor` of the previous page"),
        ),
    ),
    Route(
        "GET",
        "/score-jobs/{job_id}/label-queue",
        "ApiFunction",
        "getLabelQueue",
        "The next samples to label on a metric, drawn with the probabilities they had",
        (Answer(200, "Samples nobody has labelled yet, in the order drawn.", LabelQueue),),
        (404, 409, 422),
        parameters=(
            _JOB_ID,
            Parameter("metric", "query", {"type": "string"}, "the metric to label", required=True),
            Parameter(
                "n",
                "query",
                {"type": "integer", "minimum": 1, "maximum": MAX_QUEUE},
                f"samples to answer (default {DEFAULT_QUEUE})",
            ),
        ),
        description=(
            "The label queue draws the run's samples for people to label, with replacement "
            "and with probabilities it recorded when the run was written (every sample the "
            "judge scored alike: never zero). Labels of the "
            "samples it hands out, in its order, let the job's `corrected` figures correct "
            "the judge's mean without bias. Each answer holds the next samples nobody has "
            "labelled on the metric: label them (POST .../labels), then ask again."
        ),
    ),
    Route(
        "GET",
        "/suites",
        "ListFunction",
        "listSuites",
        "List the caller's suites, most recently run first",
        (Answer(200, "A page of suites: each one's runs and its last run.", SuitePage),),
        (422,),
        parameters=(_LIMIT, _CURSOR),
    ),
    Route(
        "GET",
        "/suites/{name+}",
        "ListFunction",
        "getSuite",
        "A suite's runs, newest first: scores, what changed, and the drift test",
        (Answer(200, "A page of the suite's runs.", SuiteRuns),),
        (404, 422),
        parameters=(
            Parameter(
                "name+", "path", {"type": "string"}, "the suite's name, e.g. a/b", required=True
            ),
            _LIMIT,
            _CURSOR,
        ),
        description=(
            "Each run is a job that named the suite: its means, intervals and what changed "
            "since the run before it (judge, metrics, their definitions, samples, dataset). "
            "`drift` is the newest completed run's drift test: per metric, whether its means "
            "decline over the suite's comparable runs (Mann-Kendall, Theil-Sen slope). "
            "Another caller's suite is as unknown as one never run (404)."
        ),
    ),
    Route(
        "POST",
        "/uploads",
        "ApiFunction",
        "createUpload",
        "A presigned S3 POST for one dataset file (JSON Lines or CSV)",
        (Answer(201, "Where and how to send the file.", UploadTicket),),
        (400, 413, 422),
        body=Body((UploadRequest,), required=False),
    ),
    Route(
        "GET",
        "/webhook-secret",
        "ApiFunction",
        "getWebhookSecret",
        "Your webhook signing secret (made on your first call; the same after)",
        (Answer(200, "The secret, and how each delivery is signed with it.", WebhookSecret),),
        description="A job's `notify.url` receives its events signed with it (README, "
        '"Events and webhooks"); only its owner reads it.',
    ),
    Route(
        "GET",
        "/metrics",
        "ApiFunction",
        "listMetrics",
        "The metrics, their inputs and needs, and whether this service can score each",
        (Answer(200, "The metric registry.", MetricCatalogue),),
    ),
    Route(
        "GET",
        "/openapi.json",
        "ApiFunction",
        "getOpenApiSchema",
        "This schema",
        (Answer(200, "The OpenAPI 3.1 schema.", media=("application/json", {"type": "object"})),),
    ),
    Route(
        "GET",
        "/docs",
        "ApiFunction",
        "getSwaggerUi",
        "Swagger UI on this schema",
        (Answer(200, "An HTML page.", media=("text/html", {"type": "string"})),),
    ),
)

ROUTE: Mapping[str, Route] = {route.operation_id: route for route in ROUTES}


def routes_of(function: Function) -> tuple[Route, ...]:
    return tuple(route for route in ROUTES if route.function == function)
