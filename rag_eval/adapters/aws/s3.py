"""The artifacts bucket on S3: the `ObjectStore` port."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rag_eval.adapters.aws.clients import LazyClient


class S3ObjectStore(LazyClient):
    service = "s3"

    def __init__(self, bucket: str, client: Any = None) -> None:
        super().__init__(client)
        self.bucket = bucket

    def put(self, key: str, body: bytes, content_type: str) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)

    def get(self, key: str) -> bytes:
        body: bytes = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return body

    def presign(self, key: str, expires_in: int) -> str:
        url: str = self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires_in
        )
        return url

    def find(self, key: str) -> bytes | None:
        try:
            return self.get(key)
        except self.client.exceptions.NoSuchKey:
            return None

    def lines(self, key: str) -> Iterator[bytes]:
        body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
        try:
            yield from body.iter_lines(chunk_size=1024 * 1024, keepends=True)
        finally:
            body.close()

    def get_range(self, key: str, start: int, length: int) -> bytes:
        if length <= 0:
            return b""
        span = f"bytes={start}-{start + length - 1}"
        body: bytes = self.client.get_object(Bucket=self.bucket, Key=key, Range=span)["Body"].read()
        return body

    def size(self, key: str) -> int | None:
        try:
            return int(self.client.head_object(Bucket=self.bucket, Key=key)["ContentLength"])
        except self.client.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

    def presign_post(self, key: str, max_bytes: int, expires_in: int) -> dict[str, Any]:
        # S3 itself refuses a larger file: the policy's content-length-range is signed.
        post = self.client.generate_presigned_post(
            Bucket=self.bucket,
            Key=key,
            Conditions=[["content-length-range", 1, max_bytes]],
            ExpiresIn=expires_in,
        )
        return {"url": post["url"], "fields": post["fields"]}
