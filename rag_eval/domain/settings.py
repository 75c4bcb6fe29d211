"""One settings object, read once from the environment (same names locally and on AWS).

Each setting is a typed field whose alias is its environment variable, and its default is
written here only. A pydantic model rather than pydantic-settings' `BaseSettings`: the
latter adds about 100 ms to the API's cold start (measured with `python -X importtime`)
for features (dotenv files, secrets directories, CLI parsing) the service does not use.
The variables are listed in docs/ARCHITECTURE.md, "Settings".
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, Json, ValidationError

from rag_eval.domain.errors import SettingsInvalid
from rag_eval.domain.pricing import ModelPrice

_KINDS = {
    "int_parsing": "an integer",
    "float_parsing": "a number",
    "int_from_float": "an integer",
    "json_invalid": "JSON",
}


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, validate_by_name=True, validate_by_alias=True)

    judge_model: str = Field("gpt-4o-mini", alias="RAGAS_JUDGE_MODEL")
    embedding_model: str = Field("text-embedding-3-small", alias="RAGAS_EMBEDDING_MODEL")
    openai_base_url: str = Field("", alias="OPENAI_BASE_URL")
    openai_api_key: str = Field("", alias="OPENAI_API_KEY", repr=False)
    # Name of an SSM SecureString holding the API key (AWS); resolved by the worker.
    openai_api_key_parameter: str = Field("", alias="OPENAI_API_KEY_PARAMETER")
    # Lambda sets AWS_REGION; boto3's own default chain reads AWS_DEFAULT_REGION too.
    aws_region: str = Field("", alias="AWS_REGION")
    metric_timeout_seconds: float = Field(60.0, alias="RAGAS_METRIC_TIMEOUT_SECONDS", gt=0)
    max_concurrency: int = Field(8, alias="RAGAS_MAX_CONCURRENCY", ge=1)
    max_retries: int = Field(3, alias="RAGAS_MAX_RETRIES", ge=0)
    # On a 429 the judge's requests in flight are halved and it is asked again after its
    # Retry-After (rag_eval/judges/gate.py); off, a 429 is retried max_retries times, then
    # the metric fails with rate_limited.
    adaptive_concurrency: bool = Field(True, alias="RAGAS_ADAPTIVE_CONCURRENCY")
    # The shared judge-verdict cache (a DynamoDB table with TTL; empty: no cache), how long
    # an entry lives, and the folder of `rag-eval score`'s own cache.
    cache_table: str = Field("", alias="RAGAS_CACHE_TABLE")
    cache_ttl_days: int = Field(30, alias="RAGAS_CACHE_TTL_DAYS", ge=1)
    cache_dir: str = Field("runs/verdict-cache", alias="RAG_EVAL_CACHE_DIR", min_length=1)
    # What a dry run assumes: shards scored at once (the template's WorkerConcurrency), and
    # how long the judge takes to answer one request.
    worker_concurrency: int = Field(10, alias="RAGAS_WORKER_CONCURRENCY", ge=1)
    judge_seconds_per_call: float = Field(1.5, alias="RAGAS_JUDGE_SECONDS_PER_CALL", gt=0)
    # A budget for every job that sets none (0: no limit).
    default_max_cost_usd: float = Field(0.0, alias="RAGAS_DEFAULT_MAX_COST_USD", ge=0)
    default_max_judge_calls: int = Field(0, alias="RAGAS_DEFAULT_MAX_JUDGE_CALLS", ge=0)
    jobs_table: str = Field("", alias="SCORE_JOBS_TABLE")
    queue_url: str = Field("", alias="SCORE_QUEUE_URL")
    # Where a planned job's shards wait (the score queue takes submissions: a small job is
    # never queued behind a large one's shards).
    shard_queue_url: str = Field("", alias="SCORE_SHARD_QUEUE_URL")
    # Where messages that failed every delivery land; the worker consumes it too, and closes
    # the work of a record from it instead of trying it again.
    dlq_url: str = Field("", alias="SCORE_DLQ_URL")
    # The EventBridge bus every job state change goes to (empty: none is published), where
    # each caller's webhook secret is kept in SSM, whether a webhook may call loopback over
    # http (the local stack only), and a failed delivery's first retry delay (then doubled).
    event_bus_name: str = Field("", alias="EVENT_BUS_NAME")
    webhook_secret_prefix: str = Field(
        "/ragas-serverless/webhook-secrets", alias="WEBHOOK_SECRET_PREFIX", pattern=r"^/[\w.\-/]+$"
    )
    webhook_allow_loopback: bool = Field(False, alias="WEBHOOK_ALLOW_LOOPBACK")
    webhook_retry_base_seconds: int = Field(5, alias="WEBHOOK_RETRY_BASE_SECONDS", ge=0, le=900)
    # Samples per shard, i.e. per worker invocation (BENCHMARKS.md, "Shard size").
    shard_size: int = Field(50, alias="RAGAS_SHARD_SIZE", ge=1, le=1000)
    # A job of model-free metrics only scores a sample in milliseconds: its shards are
    # larger, or each shard's fixed cost (queue, leases, files) would dominate.
    model_free_shard_size: int = Field(500, alias="RAGAS_MODEL_FREE_SHARD_SIZE", ge=1, le=10_000)
    # Rows a dataset job may hold; and an upload's size, enforced by S3 (the POST policy).
    max_dataset_rows: int = Field(100_000, alias="RAGAS_MAX_DATASET_ROWS", ge=1)
    max_upload_bytes: int = Field(1024**3, alias="RAGAS_MAX_UPLOAD_BYTES", ge=1)
    # The longest a shard is held by one delivery before another may take it over; it is
    # also bounded by the invocation's own time left.
    shard_lease_seconds: int = Field(900, alias="RAGAS_SHARD_LEASE_SECONDS", ge=1)
    # Below this coverage a job is flagged low_coverage: its means rest on too few pairs.
    min_coverage: float = Field(0.8, alias="RAGAS_MIN_COVERAGE", ge=0, le=1)
    # Prices beside the built-in ones, dollars per million tokens (rag_eval/domain/pricing.py):
    # {"model": {"input": 0.5, "output": 1.5}, ...}.
    model_prices: Json[dict[str, ModelPrice]] = Field(
        default_factory=dict, alias="RAGAS_MODEL_PRICES"
    )
    artifacts_bucket: str = Field("", alias="ARTIFACTS_BUCKET")
    job_ttl_days: int = Field(90, alias="JOB_TTL_DAYS", ge=1)
    # The queue's redrive maxReceiveCount: the worker marks a job failed on this delivery.
    max_receive_count: int = Field(3, alias="MAX_RECEIVE_COUNT", ge=1)
    # The local stack only: the score queue's visibility timeout (None: the template's).
    local_visibility_timeout: int | None = Field(None, alias="RAG_EVAL_VISIBILITY_TIMEOUT", ge=0)
    # The local stack only: a JSON Lines file every published job event is appended to.
    local_events_file: str = Field("", alias="RAG_EVAL_EVENTS_FILE")
    # The local stack only: the folder its AWS state is kept in across restarts.
    local_state_dir: str = Field("runs/local-stack", alias="RAG_EVAL_STATE_DIR", min_length=1)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """The settings of `env` (default: os.environ); an empty variable means "not set".

        Raises SettingsInvalid, one line naming the variable, for a value that does not fit.
        """
        env = os.environ if env is None else env
        # Every field has its variable's name as alias: a field without one is not read.
        names = {field.alias for field in cls.model_fields.values() if field.alias}
        given = {name: env[name].strip() for name in names if env.get(name, "").strip()}
        try:
            return cls.model_validate(given)
        except ValidationError as exc:
            error = exc.errors(include_url=False)[0]
            name = str(error["loc"][0])
            what = _KINDS.get(error["type"], error["msg"].removeprefix("Input should be "))
            raise SettingsInvalid(
                f"setting {name} must be {what}, got {given.get(name)!r}"
            ) from None

    @property
    def openai_configured(self) -> bool:
        """An OpenAI-compatible judge is reachable: a key, a custom endpoint, or both."""
        return bool(self.openai_api_key or self.openai_base_url or self.openai_api_key_parameter)
