"""List function: the caller's jobs, newest first, paginated, optionally by status; the
caller's suites and a suite's runs."""

from functools import cache
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from rag_eval.adapters.aws.api_root import job_service, suite_service
from rag_eval.adapters.aws.observability import handler_logger
from rag_eval.adapters.http.errors import register_error_handlers
from rag_eval.adapters.http.responses import caller_of
from rag_eval.adapters.http.routing import Handled, serve
from rag_eval.app.jobs import JobService
from rag_eval.app.suites import SuiteService
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


@cache
def suites() -> SuiteService:
    return suite_service(Settings.from_env())


def _page() -> tuple[int, str | None]:
    """The query's `limit` and `cursor`."""
    query = app.current_event.query_string_parameters or {}
    raw_limit = query.get("limit", "20")
    # isdigit() alone takes "²" and 5,000-digit numbers, which int() then refuses.
    if not (raw_limit.isascii() and raw_limit.isdigit() and len(raw_limit) <= 6):
        raise RequestInvalid(
            [{"field": "limit", "message": f"not a number: {raw_limit!r}", "allowed": "1..100"}]
        )
    return int(raw_limit), query.get("cursor") or None


def list_jobs() -> Handled:
    limit, cursor = _page()
    status = (app.current_event.query_string_parameters or {}).get("status")
    return service().list(caller=caller_of(app), limit=limit, cursor=cursor, status=status)


def list_suites() -> Handled:
    limit, cursor = _page()
    return suites().list(caller=caller_of(app), limit=limit, cursor=cursor)


def get_suite() -> Handled:
    # A greedy path parameter ({name+}): the route's rule has no named group for it.
    name = app.current_event.path_parameters.get("name", "")
    limit, cursor = _page()
    return suites().get(name, caller=caller_of(app), limit=limit, cursor=cursor)


# The routes are the route table's (rag_eval/app/routes.py).
serve(
    app,
    "ListFunction",
    {"listScoreJobs": list_jobs, "listSuites": list_suites, "getSuite": get_suite},
)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
