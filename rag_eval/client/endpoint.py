"""Where the API is: the endpoint a client is given, checked before anything is sent, and
what to say when something else answers there or nothing does."""

from __future__ import annotations

import ipaddress
import os
from urllib.parse import urlsplit

from rag_eval.client.sigv4 import RequestNotSent
from rag_eval.client.upload import s3_error
from rag_eval.domain.errors import RequestInvalid

DEFAULT_ENDPOINT = "http://127.0.0.1:3000/v1"


def is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def checked_endpoint(endpoint: str | None) -> str:
    """The API's base URL, given or from RAG_EVAL_ENDPOINT; RequestInvalid when it is no
    http(s) URL, before anything is signed or sent."""
    field = "--endpoint" if endpoint else "RAG_EVAL_ENDPOINT"
    url = (endpoint or os.environ.get("RAG_EVAL_ENDPOINT") or DEFAULT_ENDPOINT).strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RequestInvalid(
            [
                {
                    "field": field,
                    "message": f"{url!r} is not the API's URL: give its scheme, host and "
                    "stage, e.g. http://127.0.0.1:3000/v1 for the local stack, or the deployed "
                    "stack's ApiUrl output (https://<api-id>.execute-api.<region>."
                    "amazonaws.com/v1)",
                }
            ]
        )
    return url.rstrip("/")


def not_the_api(url: str, status: int, body: bytes, aws: bool) -> RequestNotSent:
    """An answer that is not the API's (XML, HTML): say what answered and where to go."""
    code = s3_error(body).get("Code") if body.lstrip().startswith(b"<?xml") else None
    said = f"HTTP {status}" + (f", {code}" if code else "")
    message = f"{url} did not answer as the rag-eval API ({said})"
    port = urlsplit(url).port
    if aws or code:
        message += ": it looks like an AWS service, such as the local stack's AWS emulator (moto)"
    if is_loopback(url) and port:
        message += (
            f". The local stack's API is on its own port, by default the one before moto's: "
            f"--endpoint http://127.0.0.1:{port - 1}/v1 (`rag-eval local start` prints it)"
        )
    else:
        message += ". Check --endpoint / RAG_EVAL_ENDPOINT: the deployed stack's ApiUrl output"
    return RequestNotSent(message)


def reach_hint(endpoint: str) -> str:
    if is_loopback(endpoint):
        return (
            "Is the local stack running? Start it with `rag-eval local start` (it serves "
            "http://127.0.0.1:3000/v1), or point --endpoint / RAG_EVAL_ENDPOINT at the API"
        )
    return "Check --endpoint / RAG_EVAL_ENDPOINT: the deployed stack's ApiUrl output"
