"""The shape of the API's route table (`rag_eval.app.routes`): a route, its parameters,
body and answers. Apart from the table so that the table has room for its routes.

Light (the API's cold start): data only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel

Function = Literal["ApiFunction", "ListFunction"]  # template.yaml's logical ids
_NONE: Mapping[str, Any] = MappingProxyType({})


class Parameter(NamedTuple):
    name: str
    where: Literal["path", "query", "header"]
    schema: Mapping[str, Any]
    description: str | None = None
    required: bool | None = None  # None: not said (OpenAPI's default: not required)


class Header(NamedTuple):
    schema: Mapping[str, Any]
    description: str | None = None


class Answer(NamedTuple):
    """One status a route answers with: a model's JSON, or other `media` (the docs)."""

    status: int
    description: str
    model: type[BaseModel] | None = None
    media: tuple[str, Mapping[str, Any]] | None = None  # (content type, its schema)
    headers: Mapping[str, Header] = _NONE


class Body(NamedTuple):
    """A request body: one model, or one of several (named `name` in the schema)."""

    models: tuple[type[BaseModel], ...]
    required: bool
    name: str | None = None
    description: str | None = None
    examples: Mapping[str, Any] = _NONE


class Route(NamedTuple):
    method: Literal["GET", "POST"]
    path: str  # as API Gateway and OpenAPI write it: /score-jobs/{job_id}
    function: Function
    operation_id: str
    summary: str
    answers: tuple[Answer, ...]
    # Error statuses the function answers (`Error`); API Gateway's own 403 and 429 are
    # every route's.
    errors: tuple[int, ...] = ()
    parameters: tuple[Parameter, ...] = ()
    body: Body | None = None
    description: str | None = None
    # Only an authenticated caller reaches it: SigV4 (AuthMode=IAM) or an API key.
    auth: bool = True

    @property
    def rule(self) -> str:
        """The path as Powertools' resolver writes it: /score-jobs/<job_id>. A greedy
        parameter (/suites/{name+}, slashes and all) is a bare `.+`: Powertools' named
        parameters stop at a slash; its handler reads it from the event's pathParameters."""
        return re.sub(r"\{(\w+)\}", r"<\1>", re.sub(r"\{\w+\+\}", ".+", self.path))

    def status_of(self, answer: BaseModel) -> int:
        """The status this route answers `answer` with: the one its model has here."""
        for declared in self.answers:
            if declared.model is type(answer):
                return declared.status
        raise TypeError(f"{self.operation_id} answers no {type(answer).__name__}")

    def model_of(self, status: int) -> type[BaseModel] | None:
        """The model of the answer with `status` (None: not JSON, or not a declared status)."""
        return next((a.model for a in self.answers if a.status == status), None)
