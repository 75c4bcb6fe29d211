"""The local API Gateway: the template's routes over HTTP, served by the real handlers.

Each request becomes an API Gateway REST proxy event (stage `v1`, path parameters resolved
from the template's path, a caller identity) for the function of its route; the handler's
proxy response becomes the HTTP response. A request for a route the template does not
declare gets what API Gateway answers through the template's gateway responses: 403 with
`{"error": {"code": "MISSING_AUTHENTICATION_TOKEN", ...}}`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, unquote, urlsplit

from rag_eval.local.template import ApiRoute

logger = logging.getLogger(__name__)

STAGE = "v1"
API_ID = "local"
SERVER_NAME = "rag-eval-local"  # the Server header: how `local start` knows a running stack
# Who the local API says is calling (the IAM identity API Gateway would put in the event).
# A request with an x-api-key header is that key's caller instead, as in API_KEY mode: two
# keys are two callers, each seeing only its own jobs.
LOCAL_CALLER_ARN = "arn:aws:iam::123456789012:user/local-developer"
_MISSING_ROUTE = {
    "error": {
        "code": "MISSING_AUTHENTICATION_TOKEN",
        "message": "Missing Authentication Token",
        "details": [],
    }
}


class _Route(NamedTuple):
    route: ApiRoute
    pattern: re.Pattern[str]


def _compile(route: ApiRoute) -> _Route:
    parts = []
    for segment in route.path.strip("/").split("/"):
        # {name}: one segment; {name+} (greedy, the last segment): the rest of the path.
        name = re.fullmatch(r"\{(\w+)(\+?)\}", segment)
        value = ".+" if name and name.group(2) else "[^/]+"
        parts.append(f"(?P<{name.group(1)}>{value})" if name else re.escape(segment))
    return _Route(route, re.compile("^/" + "/".join(parts) + "$"))


class ApiFront:
    """An HTTP server on loopback standing in for the REST API's stage `v1`."""

    def __init__(
        self,
        routes: list[ApiRoute],
        functions: Mapping[str, Any],
        *,
        host: str = "127.0.0.1",
        port: int = 3000,
    ) -> None:
        # Literal segments win over {parameters}, as in API Gateway.
        self._routes = sorted(
            (_compile(route) for route in routes), key=lambda r: r.route.path.count("{")
        )
        self._functions = functions
        self._server = ThreadingHTTPServer((host, port), _Handler)
        self._server.daemon_threads = True
        self._server.front = self  # type: ignore[attr-defined]
        bound_host, bound_port = self._server.socket.getsockname()[:2]  # (str, int) on IPv4/6
        self.endpoint = f"http://{bound_host}:{bound_port}/{STAGE}"
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="local-api-front",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def match(self, method: str, path: str) -> tuple[ApiRoute, dict[str, str]] | None:
        for compiled in self._routes:
            if compiled.route.method != method:
                continue
            found = compiled.pattern.match(path)
            if found:
                return compiled.route, {k: unquote(v) for k, v in found.groupdict().items()}
        return None

    def handle(self, request: _Request) -> tuple[int, list[tuple[str, str]], bytes]:
        """One HTTP request -> (status, headers, body)."""
        stage_prefix = f"/{STAGE}"
        resource_path = request.path[len(stage_prefix) :] or "/"
        matched = None
        if request.path == stage_prefix or request.path.startswith(stage_prefix + "/"):
            matched = self.match(request.method, resource_path)
        if matched is None:
            return _json(403, _MISSING_ROUTE, request.request_id)
        route, path_parameters = matched
        event = proxy_event(request, route, resource_path, path_parameters)
        try:
            response = self._functions[route.function].invoke(event)
        except Exception:
            # What API Gateway answers when the integration fails (the function raised).
            logger.exception("%s raised on %s %s", route.function, request.method, request.path)
            return _json(502, {"message": "Internal server error"}, request.request_id)
        return _from_proxy_response(response, request.request_id)


class _Request(NamedTuple):
    method: str
    path: str  # URL path, percent-encoded as sent
    query: str
    headers: list[tuple[str, str]]
    body: bytes
    source_ip: str
    request_id: str


def proxy_event(
    request: _Request, route: ApiRoute, resource_path: str, path_parameters: dict[str, str]
) -> dict[str, Any]:
    """The API Gateway REST proxy event (payload 1.0) for a request."""
    headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    for name, value in request.headers:
        headers[name] = value
        multi_headers.setdefault(name, []).append(value)
    query: dict[str, str] = {}
    multi_query: dict[str, list[str]] = {}
    for name, value in parse_qsl(request.query, keep_blank_values=True):
        query[name] = value  # API Gateway keeps the last value
        multi_query.setdefault(name, []).append(value)
    try:
        body: str | None = request.body.decode("utf-8") if request.body else None
        is_base64 = False
    except UnicodeDecodeError:
        body, is_base64 = base64.b64encode(request.body).decode("ascii"), True
    lower = {name.lower(): value for name, value in headers.items()}
    api_key = lower.get("x-api-key")
    now = datetime.now(UTC)
    host = lower.get("host", "127.0.0.1")
    return {
        "resource": route.path,
        "path": unquote(resource_path),
        "httpMethod": request.method,
        "headers": headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": path_parameters or None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": hashlib.sha1(route.path.encode()).hexdigest()[:6],
            "resourcePath": route.path,
            "httpMethod": request.method,
            "extendedRequestId": request.request_id,
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "path": request.path,
            "accountId": "123456789012",
            "protocol": "HTTP/1.1",
            "stage": STAGE,
            "domainPrefix": host.split(".")[0],
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "requestId": request.request_id,
            "identity": {
                "cognitoIdentityPoolId": None,
                "accountId": "123456789012",
                "cognitoIdentityId": None,
                "caller": "AIDALOCALDEVELOPER",
                "sourceIp": request.source_ip,
                "principalOrgId": None,
                "accessKey": "AKIALOCALDEVELOPER",
                "cognitoAuthenticationType": None,
                "cognitoAuthenticationProvider": None,
                "userArn": None if api_key else LOCAL_CALLER_ARN,
                "userAgent": lower.get("user-agent"),
                "user": "AIDALOCALDEVELOPER",
                "apiKey": api_key,
                "apiKeyId": hashlib.sha256(api_key.encode()).hexdigest()[:10] if api_key else None,
            },
            "domainName": host,
            "apiId": API_ID,
        },
        "body": body,
        "isBase64Encoded": is_base64,
    }


def _from_proxy_response(
    response: Any, request_id: str
) -> tuple[int, list[tuple[str, str]], bytes]:
    if not isinstance(response, dict) or "statusCode" not in response:
        logger.error("malformed Lambda proxy response: %r", response)
        return _json(502, {"message": "Internal server error"}, request_id)
    headers: list[tuple[str, str]] = []
    multi = response.get("multiValueHeaders") or {}
    for name, value in (response.get("headers") or {}).items():
        if name not in multi:
            headers.append((name, str(value)))
    for name, values in multi.items():
        headers.extend((name, str(value)) for value in values)
    raw = response.get("body") or ""
    body = base64.b64decode(raw) if response.get("isBase64Encoded") else raw.encode("utf-8")
    headers.append(("x-amzn-RequestId", request_id))
    return int(response["statusCode"]), headers, body


def _json(status: int, body: Any, request_id: str) -> tuple[int, list[tuple[str, str]], bytes]:
    headers = [("Content-Type", "application/json"), ("x-amzn-RequestId", request_id)]
    return status, headers, json.dumps(body).encode("utf-8")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = SERVER_NAME

    def _serve(self) -> None:
        started = time.monotonic()
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        request = _Request(
            method=self.command,
            path=url.path,
            query=url.query,
            headers=list(self.headers.items()),
            body=self.rfile.read(length) if length else b"",
            source_ip=self.client_address[0],
            request_id=str(uuid.uuid4()),
        )
        status, headers, body = self.server.front.handle(request)  # type: ignore[attr-defined]
        try:
            self.send_response(status)
            for name, value in headers:
                if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client left before the whole answer
        logger.info(
            "%s %s %d %.0f ms",
            self.command,
            self.path,
            status,
            (time.monotonic() - started) * 1000,
        )

    def __getattr__(self, name: str) -> Any:
        # Every method is API Gateway's to answer (403 where no route has it), not a 501
        # of http.server's: BaseHTTPRequestHandler looks up do_<METHOD> for whatever is sent.
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def log_message(self, format: str, *args: Any) -> None:
        """The request is logged once, with its duration, by _serve."""
