"""The HTTP face shared by the API and list functions: the error shape of DESIGN.md.

Every error is `{"error": {"code", "message", "details"}}` with its status; typed
domain errors map to statuses here, in one place, never by matching message text.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError

from rag_eval.errors import Conflict, JobNotFound, RequestInvalid
from rag_eval.service import QueueUnavailable

logger = logging.getLogger(__name__)


class PayloadTooLarge(Exception):
    pass


class MalformedJson(Exception):
    pass


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(body, ensure_ascii=False),
        headers=headers,
    )


def error_response(status: int, code: str, message: str, details: Any = None) -> Response:
    error = {"code": code, "message": message, "details": details or []}
    return json_response(status, {"error": error})


def base_path(app: APIGatewayRestResolver) -> str:
    """`/v1` when the request came through the stage's URL, so links resolve from the client."""
    context = app.current_event.request_context
    prefix = f"/{context.stage}" if context.stage else ""
    return prefix if prefix and (context.path or "").startswith(prefix + "/") else ""


def caller_of(app: APIGatewayRestResolver) -> str:
    """Who is calling (IAM user/role ARN or API key id): scopes Idempotency-Key."""
    identity = app.current_event.request_context.identity
    return identity.user_arn or identity.api_key_id or identity.source_ip or "anonymous"


def parse_json_body(app: APIGatewayRestResolver, max_bytes: int) -> Any:
    raw = app.current_event.body or ""
    size = len(raw.encode("utf-8")) if isinstance(raw, str) else len(raw)
    if size > max_bytes:
        raise PayloadTooLarge(f"request body is {size} bytes; at most {max_bytes} are allowed")
    if not raw.strip():
        raise MalformedJson("request body is empty; send a JSON object")
    try:
        return json.loads(app.current_event.decoded_body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise MalformedJson(f"request body is not valid JSON: {exc}") from exc


def register_error_handlers(app: APIGatewayRestResolver) -> None:
    @app.exception_handler(RequestInvalid)
    def _invalid(exc: RequestInvalid) -> Response:
        return error_response(422, "invalid_request", "the request is not valid", exc.problems)

    @app.exception_handler(MalformedJson)
    def _malformed(exc: MalformedJson) -> Response:
        return error_response(400, "malformed_json", str(exc))

    @app.exception_handler(PayloadTooLarge)
    def _too_large(exc: PayloadTooLarge) -> Response:
        return error_response(413, "payload_too_large", str(exc))

    @app.exception_handler(JobNotFound)
    def _not_found(exc: JobNotFound) -> Response:
        return error_response(404, "job_not_found", str(exc))

    @app.exception_handler(NotFoundError)
    def _no_route(exc: NotFoundError) -> Response:
        return error_response(404, "not_found", "no such route")

    @app.exception_handler(Conflict)
    def _conflict(exc: Conflict) -> Response:
        return error_response(409, "conflict", str(exc))

    @app.exception_handler(QueueUnavailable)
    def _unavailable(exc: QueueUnavailable) -> Response:
        return error_response(503, "dependency_unavailable", str(exc))

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response:
        logger.exception("unhandled error")
        return error_response(500, "internal_error", "an internal error occurred; it was logged")


API_TITLE = "ragas-serverless"


def openapi_json(app: APIGatewayRestResolver) -> str:
    """The OpenAPI 3 schema of the app's routes (imports Powertools' OpenAPI models now)."""
    from aws_lambda_powertools.event_handler.openapi.models import Server

    return app.get_openapi_json_schema(
        title=API_TITLE,
        version="1",
        description=(
            "RAG answer scoring with ragas metrics. GET /score-jobs (newest first; query "
            "parameters limit 1..100, cursor, status) is served by the list function."
        ),
        servers=[Server(url=base_path(app) or "/")],
    )


def swagger_page(app: APIGatewayRestResolver) -> str:
    """Swagger UI on the schema, with the assets Powertools ships (no CDN needed)."""
    from pathlib import Path

    from aws_lambda_powertools.event_handler.openapi.swagger_ui import html

    assets = Path(html.__file__).parent
    return html.generate_swagger_html(
        openapi_json(app).replace("</", "<\\/"),
        (assets / "swagger-ui-bundle.min.js").read_text(encoding="utf-8"),
        (assets / "swagger-ui.min.css").read_text(encoding="utf-8"),
        swagger_base_url="",
        oauth2_config=None,
    )
