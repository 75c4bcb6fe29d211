"""The shared judge-verdict cache on DynamoDB (`VerdictStore`).

One item per verdict: its key, the answer zlib-compressed, and `expires_at` for the
table's TTL. DynamoDB takes at most 400 KB an item: a larger answer goes to S3 under
`score-cache/` (expired by a lifecycle rule) and the item points to it.
"""

from __future__ import annotations

import time
import zlib
from typing import Any

from rag_eval.adapters.aws.clients import LazyClient
from rag_eval.app.ports import ObjectStore
from rag_eval.domain.layout import verdict_key

MAX_INLINE_BYTES = 350_000  # under the item limit, with room for the key and attributes
_BATCH_GET = 100  # DynamoDB's BatchGetItem maximum
_BATCH_ATTEMPTS = 5  # unprocessed keys are asked for again, with backoff, this often


class DynamoVerdictStore(LazyClient):
    service = "dynamodb"

    def __init__(
        self, table: str, overflow: ObjectStore, ttl_days: int = 30, client: Any = None
    ) -> None:
        super().__init__(client)
        self._table = table
        self._overflow = overflow
        self._ttl_seconds = ttl_days * 86_400

    def get(self, key: str) -> bytes | None:
        item = self.client.get_item(TableName=self._table, Key={"key": {"S": key}}).get("Item")
        if item is None or int(item["expires_at"]["N"]) < time.time():  # TTL deletes lazily
            return None
        if "s3" in item:
            packed = self._overflow.find(item["s3"]["S"])
            return None if packed is None else zlib.decompress(packed)
        return zlib.decompress(item["value"]["B"])

    def put(self, key: str, value: bytes) -> None:
        packed = zlib.compress(value)
        item: dict[str, Any] = {
            "key": {"S": key},
            "expires_at": {"N": str(int(time.time()) + self._ttl_seconds)},
        }
        if len(packed) > MAX_INLINE_BYTES:
            location = verdict_key(key)
            self._overflow.put(location, packed, "application/octet-stream")
            item["s3"] = {"S": location}
        else:
            item["value"] = {"B": packed}
        self.client.put_item(TableName=self._table, Item=item)

    def present(self, keys: list[str]) -> set[str]:
        found: set[str] = set()
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), _BATCH_GET):
            request = {
                self._table: {
                    "Keys": [{"key": {"S": key}} for key in unique[start : start + _BATCH_GET]],
                    "ProjectionExpression": "#k, expires_at",
                    "ExpressionAttributeNames": {"#k": "key"},
                }
            }
            for attempt in range(_BATCH_ATTEMPTS):
                response = self.client.batch_get_item(RequestItems=request)
                now = time.time()
                found.update(
                    item["key"]["S"]
                    for item in response.get("Responses", {}).get(self._table, [])
                    if int(item["expires_at"]["N"]) >= now
                )
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
                time.sleep(0.05 * 2**attempt)
        return found
