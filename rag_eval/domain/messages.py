"""The queue messages, written once: a tagged union the API and the worker both use.

`kind` tells them apart. The score queue carries `JobMessage` (plan and score a job) and
`CompareMessage` (compare two written runs) and `TrustMessage` (labels arrived: correct the
judge's figures) and `WebhookMessage` (deliver a job's event to its webhook); the shard
queue carries `ShardMessage`. The
worker parses a record's body with `QUEUE_MESSAGE` (through Powertools' batch processor)
and hands the model to the use case its type names (`rag_eval.app.processing`).

A message sent before `kind` existed is still told apart by the key it carries, so none in
flight during an update is lost.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    JsonValue,
    StrictInt,
    Tag,
    TypeAdapter,
    model_validator,
)


class _Message(BaseModel):
    # Built on first use, off the API's cold start (it sends, it never parses, most kinds).
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    job_id: str = Field(min_length=1, max_length=64)

    def body(self) -> str:
        """The message as the queue carries it."""
        return self.model_dump_json(exclude_none=True)


class JobMessage(_Message):
    """Plan (and score) a job. Its request travels inline, or, when larger than a queue
    message may be, in the bucket under `request_key`. The request is kept as JSON here:
    it was validated at submission, and one that no longer validates fails its job rather
    than being retried (`rag_eval.app.plan_job`)."""

    kind: Literal["job"] = "job"
    request: dict[str, JsonValue] | None = None
    request_key: str | None = None

    @model_validator(mode="after")
    def _one_request(self) -> JobMessage:
        if (self.request is None) == (self.request_key is None):
            raise ValueError("a job message carries exactly one of request and request_key")
        return self


class ShardMessage(_Message):
    """Score one shard of a planned job."""

    kind: Literal["shard"] = "shard"
    shard: StrictInt = Field(ge=0)


class CompareMessage(_Message):
    """Compare the job's run with the run of `baseline` (a job id)."""

    kind: Literal["compare"] = "compare"
    baseline: str = Field(
        min_length=1, max_length=64, validation_alias=AliasChoices("baseline", "compare")
    )


class TrustMessage(_Message):
    """Labels arrived on the job: set them against the judge again (judge-trust.json, the
    job's `corrected`). Each copy reads every label there is, so any one of several sent
    for a burst of labels brings the figures up to date."""

    kind: Literal["trust"] = "trust"


class WebhookMessage(_Message):
    """POST one event of the job to its webhook (`rag_eval.app.webhooks`); sent again,
    delayed, with `attempt` + 1 after a failure the receiver may recover from."""

    kind: Literal["webhook"] = "webhook"
    event: str = Field(min_length=2, max_length=64_000)  # the JobEvent's JSON, as POSTed
    attempt: StrictInt = Field(0, ge=0)


def _kind(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        return getattr(value, "kind", None)
    if not isinstance(value, dict):
        return None
    if "kind" in value:
        return value["kind"] if isinstance(value["kind"], str) else None
    # Sent before `kind` existed: the key it carries names it.
    for kind, key in (("shard", "shard"), ("compare", "compare")):
        if key in value:
            return kind
    return "job"


QueueMessage = Annotated[
    Annotated[JobMessage, Tag("job")]
    | Annotated[ShardMessage, Tag("shard")]
    | Annotated[CompareMessage, Tag("compare")]
    | Annotated[TrustMessage, Tag("trust")]
    | Annotated[WebhookMessage, Tag("webhook")],
    Discriminator(
        _kind,
        custom_error_type="unknown_message",
        custom_error_message="a queue message's kind is one of job, shard, compare, trust, webhook",
    ),
]
QUEUE_MESSAGE: TypeAdapter[QueueMessage] = TypeAdapter(
    QueueMessage, config=ConfigDict(defer_build=True)
)
