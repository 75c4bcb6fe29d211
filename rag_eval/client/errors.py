"""What the client raises: the API's error answers, and a wait that ran out of time."""

from __future__ import annotations

import json
from typing import Any

from rag_eval.domain.job import JobStatus


class ApiError(Exception):
    """An error answer of the API, from its `{"error": {"code", "message", "details"}}` body."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: list[dict[str, Any]] | None = None,
        url: str = "",
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []
        self.url = url
        super().__init__(f"{status} {code}: {message}")

    @classmethod
    def from_response(cls, status: int, body: bytes, url: str = "") -> ApiError:
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        error = parsed.get("error") if isinstance(parsed, dict) else None
        if isinstance(error, dict):
            details = error.get("details")
            return cls(
                status,
                str(error.get("code", f"http_{status}")),
                str(error.get("message", "")),
                details if isinstance(details, list) else [],
                url,
            )
        # Not in the service's error shape: a proxy or load balancer in front of the API.
        message = parsed.get("message") if isinstance(parsed, dict) else None
        text = message or body.decode("utf-8", "replace").strip() or f"HTTP {status}"
        return cls(status, f"http_{status}", str(text)[:500], url=url)

    @property
    def client_error(self) -> bool:
        return 400 <= self.status < 500

    def lines(self) -> list[str]:
        """One line per problem: `field: message (allowed: ...)`, else `code: message`."""
        if self.details:
            return describe_problems(self.details)
        line = f"{self.code}: {self.message}"
        if self.status == 403 and self.message == "Missing Authentication Token":
            # API Gateway's answer for a path it has no route for (or an unsigned request).
            line += (
                f" ({self.url}): no route there. The endpoint must be the API's base URL with "
                "its stage, e.g. http://127.0.0.1:3000/v1 locally or the stack's ApiUrl "
                "output (--endpoint or RAG_EVAL_ENDPOINT)"
            )
        return [line]


def describe_problems(problems: list[dict[str, Any]]) -> list[str]:
    """One line per problem; the same problem on many samples is one line that counts them
    (`300 samples (samples[0] .. samples[299]): user_input: unknown field ...`)."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for problem in problems:
        field = str(problem.get("field", "body"))
        where, sep, rest = field.partition("].")
        key = (
            (rest, str(problem.get("message", "")), repr(problem.get("allowed")))
            if sep and where.startswith("samples[")
            else (field, repr(problem), "")
        )
        groups.setdefault(key, []).append(problem)
    lines = []
    for group in groups.values():
        first = group[0]
        if len(group) == 1:
            lines.append(describe_problem(first))
        else:
            fields = [str(p.get("field", "body")) for p in group]
            samples = [f.partition("].")[0] + "]" for f in fields]
            span = f"{samples[0]} .. {samples[-1]}" if len(samples) > 2 else ", ".join(samples)
            lines.append(
                f"{len(fields)} samples ({span}): "
                + describe_problem(first | {"field": fields[0].partition("].")[2]})
            )
    return lines


def describe_problem(problem: dict[str, Any]) -> str:
    allowed = problem.get("allowed")
    if allowed and not isinstance(allowed, str):
        allowed = ", ".join(str(item) for item in allowed)
    suffix = f" (allowed: {allowed})" if allowed else ""
    return f"{problem.get('field', 'body')}: {problem.get('message', '')}{suffix}"


class WaitTimeout(Exception):
    """The job was not finished in time; `job` is how it was last seen (None: no job was
    waited for, but the answer `status` names)."""

    def __init__(
        self, job: JobStatus | None, timeout: float, *, job_id: str = "", status: str = ""
    ) -> None:
        self.job = job
        if job is not None:
            job_id, status = job.job_id, job.status
        super().__init__(f"job {job_id} still {status} after {timeout:g} s")
