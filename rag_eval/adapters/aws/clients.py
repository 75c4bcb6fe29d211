"""boto3 clients, made on first use (never at import) and shared by the adapters.

They honour `AWS_ENDPOINT_URL`, so the same code runs against the local stack.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any


@cache
def aws_client(service: str) -> Any:
    import boto3
    from botocore.config import Config

    options: dict[str, Any] = {"retries": {"mode": "standard", "max_attempts": 5}}
    if service == "s3":
        options["signature_version"] = "s3v4"
        if os.environ.get("AWS_ENDPOINT_URL"):
            options["s3"] = {"addressing_style": "path"}  # local endpoints have no bucket DNS
    return boto3.client(service, config=Config(**options))


class LazyClient:
    """An adapter's boto3 client: the one a test hands in, else the shared one of
    `service`, made on first use."""

    service: str

    def __init__(self, client: Any = None) -> None:
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = aws_client(self.service)
        return self._client
