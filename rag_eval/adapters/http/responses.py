"""Reading API Gateway requests and shaping JSON responses (API and list functions)."""

from __future__ import annotations

import json
import re
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types

from rag_eval.domain.errors import MalformedJson, PayloadTooLarge


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response[str]:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(body, ensure_ascii=False),
        headers=headers,
    )


def error_response(status: int, code: str, message: str, details: Any = None) -> Response[str]:
    """The service's error shape: `{"error": {"code", "message", "details"}}`."""
    error = {"code": code, "message": message, "details": details or []}
    return json_response(status, {"error": error})


def base_path(app: APIGatewayRestResolver) -> str:
    """`/v1` when the request came through the stage's URL, so links resolve from the client."""
    context = app.current_event.request_context
    prefix = f"/{context.stage}" if context.stage else ""
    return prefix if prefix and (context.path or "").startswith(prefix + "/") else ""


_ASSUMED_ROLE = re.compile(r"^(arn:[^:]+:sts::\d+:assumed-role/[^/]+)/.+$")


def caller_of(app: APIGatewayRestResolver) -> str:
    """Who is calling, as API Gateway authenticated them: the IAM principal (a role, not
    one of its sessions: each CI run assumes it anew) or `apikey:<id>` in API-key mode.
    It owns the jobs it submits and scopes its Idempotency-Keys."""
    identity = app.current_event.request_context.identity
    if identity.user_arn:
        return _ASSUMED_ROLE.sub(r"\1", identity.user_arn)
    if identity.api_key_id:
        return f"apikey:{identity.api_key_id}"
    return "anonymous"  # no authorizer: only a route deployed without auth gets here


def parse_json_body(app: APIGatewayRestResolver, max_bytes: int, optional: bool = False) -> Any:
    """The body's JSON; `optional`: an empty body stands for `{}` (a JSON `null` does not)."""
    raw = app.current_event.body or ""
    try:
        size = len(raw.encode("utf-8")) if isinstance(raw, str) else len(raw)
    except UnicodeEncodeError:
        raise MalformedJson("request body is not UTF-8 text") from None
    if size > max_bytes:
        raise PayloadTooLarge(f"request body is {size} bytes; at most {max_bytes} are allowed")
    if not raw.strip():
        if optional:
            return {}
        raise MalformedJson("request body is empty; send a JSON object")
    try:
        body = json.loads(app.current_event.decoded_body or "")  # not empty: checked above
        # JSON may escape a lone surrogate (\ud800), which no UTF-8 store or queue takes.
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except RecursionError:
        raise MalformedJson("request body is nested too deeply; send a flat JSON object") from None
    except UnicodeEncodeError:
        raise MalformedJson("request body holds text that is not valid Unicode") from None
    except ValueError as exc:  # not JSON, not UTF-8, or a number too long to read
        raise MalformedJson(f"request body is not valid JSON: {exc}") from None
    return body
