"""Typed errors shared by the CLI and the handlers, and the JSON error shape of DESIGN.md."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError


class RequestInvalid(Exception):
    """A request that can't be scored; `problems` name the field, the rule, what is allowed."""

    def __init__(self, problems: list[dict[str, Any]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{p['field']}: {p['message']}" for p in problems))

    @classmethod
    def from_validation(cls, exc: ValidationError, prefix: str = "") -> RequestInvalid:
        return cls(validation_problems(exc, prefix))


class JobNotFound(Exception):
    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        super().__init__(f"no job with id {job_id!r}")


class Conflict(Exception):
    """E.g. an Idempotency-Key reused with a different body."""


def field_path(loc: tuple[Any, ...], prefix: str = "") -> str:
    """("samples", 0, "question") -> "samples[0].question"."""
    path = prefix
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "body"


def validation_problems(exc: ValidationError, prefix: str = "") -> list[dict[str, Any]]:
    problems = []
    for error in exc.errors(include_url=False):
        message = error["msg"].removeprefix("Value error, ")
        problem: dict[str, Any] = {"field": field_path(error["loc"], prefix), "message": message}
        if error["type"] == "extra_forbidden":
            problem["message"] = "unknown field"
        limit = (error.get("ctx") or {}).get("max_length")
        if limit is not None:
            problem["allowed"] = f"at most {limit}"
        problems.append(problem)
    return problems
