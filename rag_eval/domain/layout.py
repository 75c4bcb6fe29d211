"""Where things live in the bucket (docs/ARCHITECTURE.md, "S3 layout").

Each prefix holds one kind of object and has its own lifecycle rule in the template; only
`score-async/` holds what a user browses.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

RUN_PREFIX = "score-async"  # s3://<bucket>/score-async/<run_id>/...
REQUEST_PREFIX = "score-requests"  # large request bodies, parked for the worker
UPLOAD_PREFIX = "score-uploads"  # datasets as uploaded (POST /uploads)
WORK_PREFIX = "score-work"  # a job's plan, shards and shard results while it runs
CACHE_PREFIX = "score-cache"  # judge verdicts too large for their DynamoDB item
LABEL_PREFIX = "score-labels"  # people's labels of a job's run (POST /score-jobs/{id}/labels)


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


def label_folder(job_id: str) -> str:
    return f"{LABEL_PREFIX}/{job_id}/"


def _digest(text: str, width: int) -> str:
    return hashlib.sha256(json.dumps(text).encode("ascii")).hexdigest()[:width]


# A label's name is three digests side by side, of its metric, sample and labeler: 64 hex
# digits. One name per (sample, metric, labeler), so a repeat writes the same object again
# and posting a label twice (or two copies at once) leaves one; and a listing of the
# folder alone tells which samples are labelled on a metric (`labelled_on`), with no
# object read. Each text is digested on its own, at a fixed width: no choice of texts
# makes two triples one name (but by a digest's collision: 2^-64 for metrics or labelers
# of one job, 2^-128 for samples).
_METRIC, _SAMPLE, _LABELER = 16, 32, 16


def label_name(sample_id: str, metric: str, labeler: str) -> str:
    return _digest(metric, _METRIC) + _digest(sample_id, _SAMPLE) + _digest(labeler, _LABELER)


def labelled_on(names: Iterable[str], metric: str) -> frozenset[str]:
    """The sample digests (`sample_digest`) labelled on `metric`, among the labels' names."""
    prefix = _digest(metric, _METRIC)
    return frozenset(name[_METRIC : _METRIC + _SAMPLE] for name in names if name.startswith(prefix))


def sample_digest(sample_id: str) -> str:
    return _digest(sample_id, _SAMPLE)


def label_key(job_id: str, name: str) -> str:
    """A label's object (`name`: its `label_name`, which is also a page's cursor)."""
    return f"{label_folder(job_id)}{name}.json"
