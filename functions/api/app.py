"""API function: submit a scoring job, read it, presign its artifacts, describe the API."""

from functools import cache
from typing import Annotated

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.logging import correlation_paths

from rag_eval.aws import job_service
from rag_eval.http import caller_of, json_response, parse_json_body, register_error_handlers
from rag_eval.metrics import REGISTRY
from rag_eval.service import MAX_REQUEST_BYTES, JobService
from rag_eval.settings import Settings

logger = Logger()
tracer = Tracer()
app = APIGatewayRestResolver(enable_validation=True)
app.enable_swagger(path="/docs", title="ragas-serverless", version="1")
register_error_handlers(app)
JobId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


@cache
def service() -> JobService:
    return job_service(Settings.from_env())


@app.post("/score-jobs")
def submit():
    submission = service().submit(
        parse_json_body(app, MAX_REQUEST_BYTES),
        idempotency_key=app.current_event.headers.get("Idempotency-Key")
        or app.current_event.headers.get("idempotency-key"),
        caller=caller_of(app),
    )
    job = submission.job
    body = job.model_dump(mode="json") | {
        "links": {
            "self": f"/score-jobs/{job.job_id}",
            "artifacts": f"/score-jobs/{job.job_id}/artifacts",
        }
    }
    headers = {"Location": f"/score-jobs/{job.job_id}"}
    if not submission.created:
        headers["Idempotent-Replayed"] = "true"
    return json_response(202, body, headers)


@app.get("/score-jobs/<job_id>")
def get_job(job_id: JobId):
    return json_response(200, service().get(job_id).model_dump(mode="json"))


@app.get("/score-jobs/<job_id>/artifacts")
def get_artifacts(job_id: JobId):
    return json_response(200, service().artifact_links(job_id))


@app.get("/metrics")
def list_metrics():
    return json_response(200, {"metrics": [spec.describe() for spec in REGISTRY.values()]})


@app.get("/openapi.json")
def openapi():
    return Response(200, "application/json", app.get_openapi_json_schema(title="ragas-serverless"))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: object) -> dict:
    return app.resolve(event, context)
