"""People's labels on S3: the `LabelStore` port, one object per (sample, metric, labeler)
under `score-labels/<job_id>/` (`rag_eval.domain.layout`). A label given again is the same
key written again, so a repeat, or two copies of a request at once, leave one label; a page
is a listing of the prefix, in S3's key order (the same on every call)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from rag_eval.adapters.aws.clients import LazyClient
from rag_eval.domain.labels import HumanLabel
from rag_eval.domain.layout import label_folder, label_key, label_name

# Requests side by side: a request's 1,000 labels are 1,000 objects, and S3's latency, not
# its bandwidth, bounds them. botocore keeps 10 connections a client.
CONCURRENT_REQUESTS = 10


class S3LabelStore(LazyClient):
    service = "s3"

    def __init__(self, bucket: str, client: Any = None) -> None:
        super().__init__(client)
        self.bucket = bucket

    def put_labels(self, job_id: str, labels: list[HumanLabel]) -> None:
        def put(label: HumanLabel) -> None:
            self.client.put_object(
                Bucket=self.bucket,
                Key=label_key(job_id, label_name(label.sample_id, label.metric, label.labeler)),
                Body=label.model_dump_json().encode("utf-8"),
                ContentType="application/json",
            )

        self._each(put, labels)

    def labels(
        self, job_id: str, limit: int, after: str | None
    ) -> tuple[list[HumanLabel], str | None]:
        listing: dict[str, Any] = {
            "Bucket": self.bucket,
            "Prefix": label_folder(job_id),
            "MaxKeys": limit,
        }
        if after is not None:
            listing["StartAfter"] = label_key(job_id, after)
        page = self.client.list_objects_v2(**listing)
        keys = [item["Key"] for item in page.get("Contents", [])]

        def read(key: str) -> HumanLabel | None:
            try:
                body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
            except self.client.exceptions.NoSuchKey:  # expired since it was listed
                return None
            return HumanLabel.model_validate_json(body)

        labels = [label for label in self._each(read, keys) if label is not None]
        last = keys[-1].rsplit("/", 1)[-1].removesuffix(".json") if keys else None
        return labels, last if page.get("IsTruncated") else None

    def names(self, job_id: str) -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=label_folder(job_id)
        )
        return [
            item["Key"].rsplit("/", 1)[-1].removesuffix(".json")
            for page in pages
            for item in page.get("Contents", [])
        ]

    @staticmethod
    def _each[T, R](work: Callable[[T], R], items: list[T]) -> list[R]:
        if len(items) <= 1:
            return [work(item) for item in items]
        with ThreadPoolExecutor(max_workers=min(CONCURRENT_REQUESTS, len(items))) as pool:
            return list(pool.map(work, items))
