"""Every error the service names, in one place (docs/ARCHITECTURE.md, "Errors").

Each is a `ServiceError`; the HTTP face maps them to statuses by one table
(`rag_eval.adapters.http.errors`), the CLI to exit codes, never by matching message text.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError


class ServiceError(Exception):
    """An error the service expects and names; anything else is a fault of ours."""


class RequestInvalid(ServiceError):
    """A request that can't be scored; `problems` name the field, the rule, what is allowed."""

    def __init__(self, problems: list[dict[str, Any]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{p['field']}: {p['message']}" for p in problems))


class DatasetInvalid(RequestInvalid):
    """A file that can't be read as a dataset at all: no samples, clashing or missing
    columns. Problems name the field "dataset" (or "dataset.column_map...", as a request
    gives them); their messages read on from the file's name ("has no samples ...")."""


class MalformedJson(ServiceError):
    """A request body that is empty or not JSON."""


class PayloadTooLarge(ServiceError):
    """A request body over the API's size limit."""


class JobNotFound(ServiceError):
    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        super().__init__(f"no job with id {job_id!r}")


class SuiteNotFound(ServiceError):
    """No run of the caller's names this suite (another caller's suite is as unknown)."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"no suite named {name!r}")


class Conflict(ServiceError):
    """E.g. an Idempotency-Key reused with a different body, or artifacts of a running job."""


class QueueUnavailable(ServiceError):
    """The job could not be queued; it was taken back, so the client may simply retry."""


class JobExists(ServiceError):
    """A job with this id is already recorded (an idempotent replay, or a clash)."""


class JobTimeout(ServiceError):
    """Scoring would outlive the invocation; retrying would only time out again."""


class ShardBusy(ServiceError):
    """Another delivery of the same shard holds its lease; this copy is retried later."""


class UploadTooLarge(ServiceError):
    """A declared upload size over the limit (S3's policy would refuse the file anyway)."""


class MalformedMessage(ServiceError, ValueError):
    """A queue message that is not a job message; retried, then kept in the DLQ."""


class SettingsInvalid(ServiceError, ValueError):
    """An environment variable with a value its setting cannot take."""


def field_path(loc: tuple[Any, ...], prefix: str = "") -> str:
    """("samples", 0, "question") -> "samples[0].question"."""
    path = prefix
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "body"


# A validator of a whole object names the part it refuses first: "instructions: ...",
# "[1].name: ...", "custom_metrics[0].instructions: ...".
_NAMED_PART = re.compile(r"^(\[\d+\]\.)?([a-z_]+(?:\[\d+\])?(?:\.[a-z_]+)*): (.+)$", re.DOTALL)


def _sharpened(field: str, message: str) -> tuple[str, str]:
    """The field a validator's message names, and the rest of the message."""
    named = _NAMED_PART.match(message)
    if named is None or not (field == "body" or field.startswith("custom_metrics")):
        return field, message
    index, part, rest = named.groups()
    if field == "body":
        return part, rest
    return f"{field}{(index or '').rstrip('.')}.{part}", rest


def validation_problems(exc: ValidationError, prefix: str = "") -> list[dict[str, Any]]:
    problems = []
    for error in exc.errors(include_url=False):
        message = error["msg"].removeprefix("Value error, ")
        field, message = _sharpened(field_path(error["loc"], prefix), message)
        problem: dict[str, Any] = {"field": field, "message": message}
        if error["type"] == "extra_forbidden":
            problem["message"] = "unknown field"
        limit = (error.get("ctx") or {}).get("max_length")
        if limit is not None:
            problem["allowed"] = f"at most {limit}"
        problems.append(problem)
    return problems
