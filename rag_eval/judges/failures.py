"""A failed metric call, named by its root cause: the reason codes of a `SampleResult`."""

from __future__ import annotations

import json
from collections.abc import Iterator

from rag_eval.domain.results import ReasonCode


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception and what it wraps (instructor hides the provider error inside)."""
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        stack.extend([current.__cause__, current.__context__])
        for attempt in getattr(current, "failed_attempts", None) or ():
            stack.append(getattr(attempt, "exception", None))


_THROTTLING_CODES = {"ThrottlingException", "TooManyRequestsException", "ServiceQuotaExceeded"}


def failure_reason(exc: BaseException) -> ReasonCode:
    """Name a failed metric call by its root cause, most specific first."""
    causes = list(_causes(exc))
    names = {type(e).__name__ for e in causes}
    if "BudgetExhausted" in names:  # refused by us, before the judge was asked
        return ReasonCode.BUDGET_EXHAUSTED
    if isinstance(exc, TimeoutError) or names & {
        "APITimeoutError",
        "ReadTimeout",
        "ReadTimeoutError",
        "ConnectTimeoutError",
    }:
        return ReasonCode.TIMEOUT
    if "RateLimitError" in names:
        return ReasonCode.RATE_LIMITED
    for e in causes:
        code = getattr(e, "response", None)
        if isinstance(code, dict):  # botocore ClientError
            error_code = code.get("Error", {}).get("Code", "")
            return (
                ReasonCode.RATE_LIMITED
                if error_code in _THROTTLING_CODES
                else ReasonCode.JUDGE_ERROR
            )
    if names & {
        "APIConnectionError",
        "APIStatusError",
        "InternalServerError",
        "BadRequestError",
        "AuthenticationError",
        "PermissionDeniedError",
        "NotFoundError",
        "EndpointConnectionError",
    }:
        return ReasonCode.JUDGE_ERROR
    if names & {
        "ValidationError",
        "JSONDecodeError",
        "InstructorRetryException",
        "ResponseParsingError",
        "IncompleteOutputException",
        "InvalidJudgeOutput",
    } or any(isinstance(e, json.JSONDecodeError) for e in causes):
        return ReasonCode.INVALID_JUDGE_OUTPUT
    return ReasonCode.METRIC_ERROR
