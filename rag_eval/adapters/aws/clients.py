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
