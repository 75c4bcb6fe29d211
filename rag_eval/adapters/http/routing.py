"""A function's routes, registered from the route table (`rag_eval.app.routes`).

Each handler is named by its route's operationId; it returns the use case's answer (a
model, with headers or not), which is written as `model_dump(mode="json")` with the status
the table gives its model on that route. A route of the function without a handler, or a
handler without a route, stops the function at import.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import wraps
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from pydantic import BaseModel

from rag_eval.adapters.http.responses import json_response
from rag_eval.app.routes import Function, Route, routes_of

# What a handler returns: the answer, the answer and its headers, or a response as it is.
Handled = BaseModel | tuple[BaseModel, dict[str, str]] | Response[str]


def serve(
    app: APIGatewayRestResolver,
    function: Function,
    handlers: Mapping[str, Callable[..., Handled]],
) -> None:
    """Register `handlers` (operationId -> handler) for the routes of `function`."""
    routes = routes_of(function)
    declared = {route.operation_id for route in routes}
    if declared != set(handlers):
        raise LookupError(
            f"{function}: routes without a handler {sorted(declared - set(handlers))}, "
            f"handlers without a route {sorted(set(handlers) - declared)}"
        )
    for route in routes:
        app.route(route.rule, route.method)(_answering(route, handlers[route.operation_id]))


def _answering(route: Route, handler: Callable[..., Handled]) -> Callable[..., Response[str]]:
    @wraps(handler)
    def answer(**parameters: Any) -> Response[str]:
        handled = handler(**parameters)
        if isinstance(handled, Response):
            return handled
        body, headers = handled if isinstance(handled, tuple) else (handled, None)
        return json_response(route.status_of(body), body.model_dump(mode="json"), headers)

    return answer
