"""One settings object, read once from the environment (same names locally and on AWS)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass


def _number[T: (int, float)](env: Mapping[str, str], name: str, default: T, kind: type[T]) -> T:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return kind(raw)
    except ValueError as exc:
        what = "an integer" if kind is int else "a number"
        raise ValueError(f"setting {name} must be {what}, got {raw!r}") from exc


@dataclass(frozen=True)
class Settings:
    judge_model: str = "gpt-4o-mini"
    embedding_model: str = "text-embedding-3-small"
    openai_base_url: str = ""
    openai_api_key: str = ""
    # Name of an SSM SecureString holding the API key (AWS); resolved by the worker.
    openai_api_key_parameter: str = ""
    aws_region: str = ""
    metric_timeout_seconds: float = 60.0
    max_concurrency: int = 8
    max_retries: int = 3
    jobs_table: str = ""
    queue_url: str = ""
    artifacts_bucket: str = ""
    job_ttl_days: int = 90
    # The queue's redrive maxReceiveCount: the worker marks a job failed on this delivery.
    max_receive_count: int = 3

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        return cls(
            judge_model=env.get("RAGAS_JUDGE_MODEL") or cls.judge_model,
            embedding_model=env.get("RAGAS_EMBEDDING_MODEL") or cls.embedding_model,
            openai_base_url=env.get("OPENAI_BASE_URL", ""),
            openai_api_key=env.get("OPENAI_API_KEY", ""),
            openai_api_key_parameter=env.get("OPENAI_API_KEY_PARAMETER", ""),
            aws_region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION", ""),
            metric_timeout_seconds=_number(env, "RAGAS_METRIC_TIMEOUT_SECONDS", 60.0, float),
            max_concurrency=_number(env, "RAGAS_MAX_CONCURRENCY", 8, int),
            max_retries=_number(env, "RAGAS_MAX_RETRIES", 3, int),
            jobs_table=env.get("SCORE_JOBS_TABLE", ""),
            queue_url=env.get("SCORE_QUEUE_URL", ""),
            artifacts_bucket=env.get("ARTIFACTS_BUCKET", ""),
            job_ttl_days=_number(env, "JOB_TTL_DAYS", 90, int),
            max_receive_count=_number(env, "MAX_RECEIVE_COUNT", 3, int),
        )

    @property
    def openai_configured(self) -> bool:
        """An OpenAI-compatible judge is reachable: a key, a custom endpoint, or both."""
        return bool(self.openai_api_key or self.openai_base_url or self.openai_api_key_parameter)
