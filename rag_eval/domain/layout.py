"""Where things live in the bucket (docs/ARCHITECTURE.md, "S3 layout").

Each prefix holds one kind of object and has its own lifecycle rule in the template; only
`score-async/` holds what a user browses.
"""

from __future__ import annotations

import hashlib

RUN_PREFIX = "score-async"  # s3://<bucket>/score-async/<run_id>/...
REQUEST_PREFIX = "score-requests"  # large request bodies, parked for the worker
UPLOAD_PREFIX = "score-uploads"  # datasets as uploaded (POST /uploads)
WORK_PREFIX = "score-work"  # a job's plan, shards and shard results while it runs
CACHE_PREFIX = "score-cache"  # judge verdicts too large for their DynamoDB item


def run_folder(run_id: str) -> str:
    return f"{RUN_PREFIX}/{run_id}/"


def request_key(job_id: str) -> str:
    return f"{REQUEST_PREFIX}/{job_id}.json"


def owner_folder(owner: str) -> str:
    """A caller's folder name: fixed per caller, and no ARN or key id in a key."""
    return hashlib.sha256(owner.encode("utf-8")).hexdigest()[:16]


def upload_key(upload_id: str, owner: str) -> str:
    """Under its caller's folder: another caller's submission of the id finds no file."""
    return f"{UPLOAD_PREFIX}/{owner_folder(owner)}/{upload_id}"


def plan_key(job_id: str) -> str:
    return f"{WORK_PREFIX}/{job_id}/plan.json"


def shard_key(job_id: str, shard: int) -> str:
    return f"{WORK_PREFIX}/{job_id}/shard-{shard:05d}.json"


def shard_result_key(job_id: str, shard: int) -> str:
    return f"{WORK_PREFIX}/{job_id}/result-{shard:05d}.json"


def verdict_key(key: str) -> str:
    """A cached verdict's object (`v1:<sha256>` -> `score-cache/v1/<sha256>`)."""
    return f"{CACHE_PREFIX}/{key.replace(':', '/')}"
