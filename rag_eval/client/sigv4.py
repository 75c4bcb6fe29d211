"""SigV4 signatures (service execute-api) for calls to a deployed API, from the usual AWS
credential chain. botocore is imported only when a request is signed."""

from __future__ import annotations

import os
import re
from urllib.parse import urlsplit

_EXECUTE_API_HOST = re.compile(r"^[a-z0-9]+\.execute-api\.([a-z0-9-]+)\.amazonaws\.com")


class RequestNotSent(Exception):
    """The request got no answer: the endpoint is unreachable, or it could not be signed."""


def sigv4_headers(
    method: str, url: str, data: bytes | None, headers: dict[str, str]
) -> dict[str, str]:
    """The SigV4 headers (service execute-api) for a request, from the usual credentials."""
    import botocore.session
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    session = botocore.session.get_session()
    credentials = session.get_credentials()
    if credentials is None:
        raise RequestNotSent(
            "no AWS credentials to sign the request with (the endpoint is not local): "
            "configure them as for the AWS CLI, or use --api-key"
        )
    host_region = _EXECUTE_API_HOST.match(urlsplit(url).hostname or "")
    region = (
        host_region.group(1)
        if host_region
        else (os.environ.get("AWS_REGION") or session.get_config_variable("region"))
    )
    if not region:
        raise RequestNotSent("cannot tell the API's AWS region: set AWS_REGION")
    request = AWSRequest(method=method, url=url, data=data or b"", headers=dict(headers))
    SigV4Auth(credentials, "execute-api", region).add_auth(request)
    return {name: value for name, value in request.headers.items() if name not in headers}
