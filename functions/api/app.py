"""API function: uploads, submit a scoring job, read it, cancel it, presign its artifacts,
compare runs, take people's labels of a run and say what to label next, describe the API."""

from functools import cache
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from rag_eval.adapters.aws.api_root import job_service, label_service, webhook_secrets
from rag_eval.adapters.aws.metrics import handler_metrics
from rag_eval.adapters.aws.observability import handler_logger
from rag_eval.adapters.http.errors import register_error_handlers
from rag_eval.adapters.http.responses import base_path, caller_of, parse_json_body
from rag_eval.adapters.http.routing import Handled, serve
from rag_eval.app.announce import webhook_secret
from rag_eval.app.answers import ComparisonPending, JobLinks, SubmittedJob
from rag_eval.app.jobs import MAX_REQUEST_BYTES, JobService, Submission
from rag_eval.app.labels import LabelService
from rag_eval.app.routes import ROUTE
from rag_eval.domain.settings import Settings

MAX_UPLOAD_BODY = 4096  # {"filename", "size_bytes"}

logger = handler_logger()
metrics = handler_metrics()
# No Powertools Tracer here: aws_xray_sdk costs ~240 ms of every cold start. The
# template's active tracing still records each invocation; the worker traces in depth.
# No enable_validation / enable_swagger: they import Powertools' OpenAPI models (~250 ms)
# on every cold start; our own schema (rag_eval/adapters/http/openapi.py) is built when asked.
# The routes are the route table's (rag_eval/app/routes.py), registered by `serve` below.
app = APIGatewayRestResolver()
register_error_handlers(app)


@cache
def service() -> JobService:
    return job_service(Settings.from_env(), metrics)


# One per job service (which says whose a job is): the runs it has read stay warm with it,
# and a service made anew, on other settings, gets its own.
@cache
def labels_of(jobs: JobService) -> LabelService:
    return label_service(Settings.from_env(), jobs)


def submit() -> Handled:
    submission = service().submit(
        parse_json_body(app, MAX_REQUEST_BYTES),
        idempotency_key=app.current_event.headers.get("Idempotency-Key")
        or app.current_event.headers.get("idempotency-key"),
        caller=caller_of(app),
    )
    if not isinstance(submission, Submission):  # a dry run's estimate: nothing was created
        return submission
    job = submission.job
    self_link = base_path(app) + ROUTE["getScoreJob"].path.format(job_id=job.job_id)
    artifacts = base_path(app) + ROUTE["getScoreJobArtifacts"].path.format(job_id=job.job_id)
    headers = {"Location": self_link}
    if not submission.created:
        headers["Idempotent-Replayed"] = "true"
    return SubmittedJob.of(job, JobLinks(self=self_link, artifacts=artifacts)), headers


def create_upload() -> Handled:
    body = parse_json_body(app, MAX_UPLOAD_BODY, optional=True)
    return service().create_upload(body, caller=caller_of(app))


def cancel_job(job_id: str) -> Handled:
    return service().cancel(job_id, caller=caller_of(app))


def get_job(job_id: str) -> Handled:
    return service().get(job_id, caller=caller_of(app))


def get_artifacts(job_id: str) -> Handled:
    return service().artifact_links(job_id, caller=caller_of(app))


def compare(job_id: str) -> Handled:
    answer = service().comparison(
        job_id,
        baseline=app.current_event.get_query_string_value("baseline"),
        caller=caller_of(app),
    )
    if isinstance(answer, ComparisonPending):  # the worker computes it: ask again
        return answer, {"Retry-After": "2"}
    return answer


def post_labels(job_id: str) -> Handled:
    body = parse_json_body(app, MAX_REQUEST_BYTES)
    return labels_of(service()).post(job_id, body, caller=caller_of(app))


def get_labels(job_id: str) -> Handled:
    query = app.current_event.get_query_string_value
    return labels_of(service()).list(
        job_id, caller=caller_of(app), limit=query("limit"), cursor=query("cursor") or None
    )


def label_queue(job_id: str) -> Handled:
    query = app.current_event.get_query_string_value
    return labels_of(service()).queue(
        job_id, caller=caller_of(app), metric=query("metric"), n=query("n")
    )


def get_webhook_secret() -> Handled:
    # Read anew on each call (rare): no copy of a secret outlives the request.
    return webhook_secret(webhook_secrets(Settings.from_env()), caller_of(app))


def list_metrics() -> Handled:
    return service().metrics()


# The schema's models are built on these two routes only: off the cold start.
def openapi() -> Handled:
    from rag_eval.adapters.http.openapi import openapi_json

    return Response(200, "application/json", openapi_json(base_path(app)))


def docs() -> Handled:
    from rag_eval.adapters.http.openapi import swagger_page

    return Response(200, "text/html; charset=utf-8", swagger_page(base_path(app)))


serve(
    app,
    "ApiFunction",
    {
        "submitScoreJob": submit,
        "createUpload": create_upload,
        "cancelScoreJob": cancel_job,
        "getScoreJob": get_job,
        "getScoreJobArtifacts": get_artifacts,
        "compareScoreJobs": compare,
        "postScoreJobLabels": post_labels,
        "listScoreJobLabels": get_labels,
        "getLabelQueue": label_queue,
        "listMetrics": list_metrics,
        "getWebhookSecret": get_webhook_secret,
        "getOpenApiSchema": openapi,
        "getSwaggerUi": docs,
    },
)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
