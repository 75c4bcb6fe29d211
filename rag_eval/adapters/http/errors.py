"""Domain errors -> HTTP statuses, by one table (docs/ARCHITECTURE.md, "Errors").

Every error answer is `{"error": {"code", "message", "details"}}`; a `ServiceError` finds
its status here by type, never by matching its message.
"""

from __future__ import annotations

import logging

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError

from rag_eval.adapters.http.responses import error_response
from rag_eval.domain.errors import (
    Conflict,
    JobNotFound,
    MalformedJson,
    PayloadTooLarge,
    QueueUnavailable,
    RequestInvalid,
    ServiceError,
    SuiteNotFound,
    UploadTooLarge,
)

logger = logging.getLogger(__name__)

# error type -> (status, code). A type missing here is a fault of ours: 500.
HTTP_ERRORS: dict[type[ServiceError], tuple[int, str]] = {
    MalformedJson: (400, "malformed_json"),
    JobNotFound: (404, "job_not_found"),
    SuiteNotFound: (404, "suite_not_found"),
    Conflict: (409, "conflict"),
    PayloadTooLarge: (413, "payload_too_large"),
    UploadTooLarge: (413, "upload_too_large"),
    RequestInvalid: (422, "invalid_request"),
    QueueUnavailable: (503, "dependency_unavailable"),
}


def register_error_handlers(app: APIGatewayRestResolver) -> None:
    def service_error(exc: ServiceError) -> Response[str]:
        known = next((HTTP_ERRORS[t] for t in type(exc).__mro__ if t in HTTP_ERRORS), None)
        if known is None:
            return unexpected(exc)
        status, code = known
        if isinstance(exc, RequestInvalid):
            return error_response(status, code, "the request is not valid", exc.problems)
        return error_response(status, code, str(exc))

    def no_route(exc: NotFoundError) -> Response[str]:
        return error_response(404, "not_found", "no such route")

    def unexpected(exc: Exception) -> Response[str]:
        logger.error("unhandled error", exc_info=exc)
        return error_response(500, "internal_error", "an internal error occurred; it was logged")

    # Registered by call, not as decorators: Powertools' `exception_handler` returns an
    # unannotated decorator, which would leave the handlers untyped.
    app.exception_handler(ServiceError)(service_error)
    app.exception_handler(NotFoundError)(no_route)
    app.exception_handler(Exception)(unexpected)
