"""The handlers on the template's own resources in moto (in process, `mock_aws`)."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from rag_eval.local.deploy import deploy
from rag_eval.local.template import function_environment
from tests.support.lambdas import reset_cached_clients


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """GIVEN the template deployed into moto and the functions' environment set from it."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "OPENAI_BASE_URL", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        ids = deploy(boto3.client("cloudformation"))
        # The three functions share one Globals environment; the worker's is the widest.
        for name, value in function_environment("WorkerFunction", ids).items():
            monkeypatch.setenv(name, value)
        reset_cached_clients()
        yield ids
        reset_cached_clients()
