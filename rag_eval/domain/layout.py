"""Where things live in the bucket (docs/ARCHITECTURE.md, "S3 layout").

Each prefix holds one kind of object and has its own lifecycle rule in the template; only
`score-async/` holds what a user browses.
"""

from __future__ import annotations

RUN_PREFIX = "score-async"  # s3://<bucket>/score-async/<run_id>/...
REQUEST_PREFIX = "score-requests"  # large request bodies, parked for the worker
UPLOAD_PREFIX = "score-uploads"  # datasets as uploaded (POST /uploads)
WORK_PREFIX = "score-work"  # a job's plan, shards and shard results while it runs


def run_folder(run_id: str) -> str:
    return f"{RUN_PREFIX}/{run_id}/"


def request_key(job_id: str) -> str:
    return f"{REQUEST_PREFIX}/{job_id}.json"


def upload_key(upload_id: str) -> str:
    return f"{UPLOAD_PREFIX}/{upload_id}"


def plan_key(job_id: str) -> str:
    return f"{WORK_PREFIX}/{job_id}/plan.json"


def shard_key(job_id: str, shard: int) -> str:
    return f"{WORK_PREFIX}/{job_id}/shard-{shard:05d}.json"


def shard_result_key(job_id: str, shard: int) -> str:
    return f"{WORK_PREFIX}/{job_id}/result-{shard:05d}.json"
