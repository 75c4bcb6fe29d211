"""Where things live in the bucket (docs/ARCHITECTURE.md, "S3 layout")."""

from __future__ import annotations

RUN_PREFIX = "score-async"  # s3://<bucket>/score-async/<run_id>/...
REQUEST_PREFIX = "score-requests"  # large request bodies, parked for the worker


def run_folder(run_id: str) -> str:
    return f"{RUN_PREFIX}/{run_id}/"


def request_key(job_id: str) -> str:
    return f"{REQUEST_PREFIX}/{job_id}.json"
