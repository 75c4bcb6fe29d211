"""The OpenAPI 3.1 schema of the whole API, and Swagger UI on it, built when asked.

Its paths are the route table's (`rag_eval.app.routes`), each operation with the statuses
and models declared there; its components are the JSON schemas of those models: the
request models of `rag_eval.domain`, the answers of `rag_eval.app.answers`. So it cannot
drift from what the functions serve: the local stack's tests fuzz the API from it and check
every answer against it (tests/local/test_openapi_fuzz.py).

Built on the two documentation routes only, and cached: none of it is on the cold start.
`python -m rag_eval.adapters.http.openapi` prints it (docs/openapi.json is that output).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from rag_eval.app.answers import Error
from rag_eval.app.routes import ROUTES, Answer, Body, Parameter, Route

API_TITLE = "ragas-serverless"
SCHEMA_REF = "#/components/schemas/{model}"

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


def _ref(name: str) -> dict[str, str]:
    return {"$ref": SCHEMA_REF.format(model=name)}


def _json(schema: Mapping[str, Any], examples: Mapping[str, Any] | None = None) -> dict[str, Any]:
    media: dict[str, Any] = {"schema": dict(schema)}
    if examples:
        media["examples"] = {name: {"value": value} for name, value in examples.items()}
    return {"application/json": media}


def _parameter(parameter: Parameter) -> dict[str, Any]:
    described: dict[str, Any] = {"name": parameter.name, "in": parameter.where}
    if parameter.required is not None:
        described["required"] = parameter.required
    if parameter.description:
        described["description"] = parameter.description
    return described | {"schema": dict(parameter.schema)}


def _body_schema(body: Body) -> dict[str, Any]:
    return _ref(body.name or body.models[0].__name__)


def _answer(answer: Answer) -> dict[str, Any]:
    if answer.model is not None:
        content = _json(_ref(answer.model.__name__))
    else:
        assert answer.media is not None, "an answer is a model or other media"
        media_type, schema = answer.media
        content = {media_type: {"schema": dict(schema)}}
    described: dict[str, Any] = {"description": answer.description, "content": content}
    if answer.headers:
        described["headers"] = {
            name: ({"description": header.description} if header.description else {})
            | {"schema": dict(header.schema)}
            for name, header in answer.headers.items()
        }
    return described


def _operation(route: Route) -> dict[str, Any]:
    operation: dict[str, Any] = {"summary": route.summary, "operationId": route.operation_id}
    if route.description:
        operation["description"] = route.description
    if route.parameters:
        operation["parameters"] = [_parameter(p) for p in route.parameters]
    if route.body:
        operation["requestBody"] = {
            "required": route.body.required,
            "content": _json(_body_schema(route.body), route.body.examples),
        }
    responses = {str(answer.status): _answer(answer) for answer in route.answers}
    for status in sorted({*route.errors, *_GATEWAY}):
        responses[str(status)] = {"$ref": f"#/components/responses/{_ERRORS[status][0]}"}
    return operation | {"responses": responses}


def _paths() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for route in ROUTES:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    return paths


def _models() -> tuple[list[type[BaseModel]], list[type[BaseModel]], dict[str, Any]]:
    """The request models, the answer models (the error's last), and the bodies that are
    one of several models: every schema component, in the route table's order."""
    requests: list[type[BaseModel]] = []
    answers: list[type[BaseModel]] = []
    one_of: dict[str, Any] = {}
    for route in ROUTES:
        if route.body:
            requests += [model for model in route.body.models if model not in requests]
            if route.body.name:
                one_of[route.body.name] = {
                    "description": route.body.description,
                    "oneOf": [_ref(model.__name__) for model in route.body.models],
                }
        answers += [a.model for a in route.answers if a.model and a.model not in answers]
    return requests, [*answers, Error], one_of


@cache
def openapi_schema() -> dict[str, Any]:
    """The schema, with no `servers` (the base URL depends on how the API is reached)."""
    requests, answers, one_of = _models()
    _, definitions = models_json_schema(
        [(model, "validation") for model in requests]
        + [(model, "serialization") for model in answers],
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
            "schemas": dict(sorted((definitions["$defs"] | one_of).items())),
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
