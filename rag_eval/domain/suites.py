"""What ties a job to others: the `suite` it is a run of (runs over time, their trend) and
the webhook it `notify`s when its state changes. Fields of every job's options.

Light: the API imports it.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

MAX_SUITE_CHARS = 100
MAX_URL_CHARS = 2_000

# `support-bot/weekly`: words of letters, digits, `.`, `_`, `-`, joined by single `/`.
SUITE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$"
SuiteName = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_SUITE_CHARS, pattern=SUITE_PATTERN)
]


class Notify(BaseModel):
    """A webhook for the job's state changes. Where it may point (https, a public address)
    is checked when the job is submitted and again on every delivery."""

    model_config = ConfigDict(extra="forbid")

    url: Annotated[
        str, StringConstraints(min_length=8, max_length=MAX_URL_CHARS, pattern=r"^https?://\S+$")
    ] = Field(description="https URL that receives the job's events, signed (HMAC-SHA256)")


class RunContext(BaseModel):
    """The options that place a job among others; part of `ScoreOptions`."""

    model_config = ConfigDict(extra="forbid")

    suite: SuiteName | None = Field(
        default=None,
        description="a name that groups runs over time (e.g. support-bot/weekly): "
        "GET /suites/{name} gives their trend",
    )
    notify: Notify | None = None
