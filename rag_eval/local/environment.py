"""The environment the handlers find locally, and how to find a running local stack."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from rag_eval.local.template import DEFAULT_REGION, STACK_NAME, function_environment

# moto accepts any credentials; these keep boto3 from looking for real ones.
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
# Settings a user gives the local stack from their own shell (the judge), over the template's.
_PASSED_THROUGH = re.compile(r"^(OPENAI_BASE_URL|OPENAI_API_KEY|RAGAS_[A-Z_]+)$")


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
    return {
        resource["LogicalResourceId"]: resource["PhysicalResourceId"]
        for resource in resources["StackResources"]
        if "LogicalResourceId" in resource
    }


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
        {name: value for name, value in os.environ.items() if _PASSED_THROUGH.match(name)}
    )
    environment.update(
        {
            "AWS_ENDPOINT_URL": moto_url,
            "AWS_DEFAULT_REGION": DEFAULT_REGION,
            "AWS_REGION": DEFAULT_REGION,
            "POWERTOOLS_TRACE_DISABLED": "true",
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

    for service in ("dynamodb", "sqs", "s3"):
        aws_client(service)
