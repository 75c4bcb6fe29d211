"""The environment the handlers find locally, and how to find a running local stack."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from rag_eval.local.front import SERVER_NAME, STAGE
from rag_eval.local.template import (
    DEFAULT_REGION,
    STACK_NAME,
    event_bus_names,
    function_environment,
)

# moto accepts any credentials; these keep boto3 from looking for real ones.
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
# Settings a user gives the local stack from their own shell (the judge), over the template's.
PASSED_THROUGH = re.compile(r"^(OPENAI_BASE_URL|OPENAI_API_KEY|RAGAS_[A-Z_]+)$")


class LocalStackNotFound(Exception):
    """No local stack answers at the given moto URL."""


def stack_physical_ids(cloudformation_client: Any, stack_name: str = STACK_NAME) -> dict[str, str]:
    """{logical id: physical id} of a stack already deployed (by a running local stack)."""
    from botocore.exceptions import BotoCoreError, ClientError

    endpoint = cloudformation_client.meta.endpoint_url
    try:
        resources = cloudformation_client.describe_stack_resources(StackName=stack_name)
    except (BotoCoreError, ClientError) as exc:
        raise LocalStackNotFound(
            f"no stack {stack_name} at {endpoint} ({exc}); start one with `rag-eval local start`"
        ) from None
    return event_bus_names(stack_name) | {
        resource["LogicalResourceId"]: resource["PhysicalResourceId"]
        for resource in resources["StackResources"]
        if "LogicalResourceId" in resource and resource.get("PhysicalResourceId")
    }


def running_stack_at(host: str, port: int) -> str | None:
    """Where the local stack holding host:port serves ("API <url>", or moto's URL with the
    API's beside it), or None when something else holds the port."""
    url = f"http://{host}:{port}"
    if _serves_api(host, port):
        return f"API {url}/{STAGE}"
    from botocore.config import Config

    # Whatever holds the port may not answer at all: ask once, briefly.
    quick = Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=2)
    try:
        stack_physical_ids(local_aws_client("cloudformation", url, quick))
    except LocalStackNotFound:
        return None
    # `local start` puts the API on the port below moto's unless told otherwise.
    beside = f"API http://{host}:{port - 1}/{STAGE}, " if _serves_api(host, port - 1) else ""
    return f"{beside}AWS (moto) {url}"


def _serves_api(host: str, port: int) -> bool:
    import http.client

    connection = http.client.HTTPConnection(host, port, timeout=2)
    try:
        # Read to the end and say goodbye: a reset would be logged by the server as an error.
        connection.request("GET", "/", headers={"Connection": "close"})
        response = connection.getresponse()
        response.read()
        server = response.getheader("Server") or ""
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()
    return server.startswith(SERVER_NAME)


def local_aws_client(service: str, endpoint_url: str, config: Any = None) -> Any:
    """A boto3 client of a local stack's AWS (moto), with its credentials and region."""
    import boto3

    return boto3.client(
        service,
        endpoint_url=endpoint_url,
        region_name=DEFAULT_REGION,
        aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        config=config,
    )


def handler_environment(
    moto_url: str,
    physical_ids: Mapping[str, str],
    functions: list[str],
    parameters: Mapping[str, str] | None = None,
    overrides: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """What the handlers find in os.environ locally: the functions' template environment
    (they share the names), the user's judge settings over it, moto as every AWS endpoint."""
    environment: dict[str, str] = {}
    for logical_id in functions:
        for name, value in function_environment(logical_id, physical_ids, parameters).items():
            if environment.get(name, value) != value:
                raise ValueError(f"functions disagree on {name}; one process cannot run both")
            environment[name] = value
    environment.update(
        {name: value for name, value in os.environ.items() if PASSED_THROUGH.match(name)}
    )
    environment.update(
        {
            "AWS_ENDPOINT_URL": moto_url,
            "AWS_DEFAULT_REGION": DEFAULT_REGION,
            "AWS_REGION": DEFAULT_REGION,
            "POWERTOOLS_TRACE_DISABLED": "true",
            # Webhooks to a receiver on this machine; on AWS a webhook never reaches loopback.
            "WEBHOOK_ALLOW_LOOPBACK": "true",
            **LOCAL_CREDENTIALS,
        }
    )
    environment.update(overrides or {})
    return environment


def fresh_aws_clients() -> None:
    """The adapters cache their boto3 clients; they take the endpoint when made."""
    from rag_eval.adapters.aws.clients import aws_client

    aws_client.cache_clear()


def warm_aws_clients() -> None:
    # boto3's default session is not safe to build clients from several threads at once;
    # on Lambda one invocation runs at a time, here the front and the poller run together.
    from rag_eval.adapters.aws.clients import aws_client

    for service in ("dynamodb", "sqs", "s3", "events", "ssm"):
        aws_client(service)
