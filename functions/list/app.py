"""List function: the caller's jobs, newest first, paginated, optionally by status."""

from functools import cache
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from rag_eval.adapters.aws.api_root import job_service
from rag_eval.adapters.aws.observability import handler_logger
from rag_eval.adapters.http.errors import register_error_handlers
from rag_eval.adapters.http.responses import caller_of
from rag_eval.adapters.http.routing import Handled, serve
from rag_eval.app.jobs import JobService
from rag_eval.domain.errors import RequestInvalid
from rag_eval.domain.settings import Settings

logger = handler_logger()
# No Powertools Tracer here: aws_xray_sdk costs ~240 ms of every cold start. The
# template's active tracing still records each invocation; the worker traces in depth.
app = APIGatewayRestResolver()
register_error_handlers(app)


@cache
def service() -> JobService:
    return job_service(Settings.from_env())


def list_jobs() -> Handled:
    query = app.current_event.query_string_parameters or {}
    raw_limit = query.get("limit", "20")
    # isdigit() alone takes "²" and 5,000-digit numbers, which int() then refuses.
    if not (raw_limit.isascii() and raw_limit.isdigit() and len(raw_limit) <= 6):
        raise RequestInvalid(
            [{"field": "limit", "message": f"not a number: {raw_limit!r}", "allowed": "1..100"}]
        )
    return service().list(
        caller=caller_of(app),
        limit=int(raw_limit),
        cursor=query.get("cursor") or None,
        status=query.get("status"),
    )


# The route is the route table's (rag_eval/app/routes.py).
serve(app, "ListFunction", {"listScoreJobs": list_jobs})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
