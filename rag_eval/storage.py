"""Object storage: the key layout of the bucket and the `ObjectStore` port.

Light (the API uses it): no AWS here; `rag_eval.aws.S3ObjectStore` is the bucket,
`LocalObjectStore` a folder that stands in for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

RUN_PREFIX = "score-async"  # s3://<bucket>/score-async/<run_id>/...
REQUEST_PREFIX = "score-requests"  # large request bodies, parked for the worker


def run_folder(run_id: str) -> str:
    return f"{RUN_PREFIX}/{run_id}/"


def request_key(job_id: str) -> str:
    return f"{REQUEST_PREFIX}/{job_id}.json"


class ObjectStore(Protocol):
    def put(self, key: str, body: bytes, content_type: str) -> None: ...

    def get(self, key: str) -> bytes: ...

    def presign(self, key: str, expires_in: int) -> str: ...


class LocalObjectStore:
    """A folder standing in for the bucket: key `a/b.csv` -> `<root>/a/b.csv`."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def put(self, key: str, body: bytes, content_type: str) -> None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)

    def get(self, key: str) -> bytes:
        return (self.root / key).read_bytes()

    def presign(self, key: str, expires_in: int) -> str:
        return (self.root / key).resolve().as_uri()
