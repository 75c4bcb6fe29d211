"""The judge's API key from SSM Parameter Store (never from the template)."""

from __future__ import annotations

from rag_eval.adapters.aws.clients import aws_client
from rag_eval.domain.settings import Settings


def resolve_secrets(settings: Settings) -> Settings:
    """Fetch the judge's API key from SSM Parameter Store when the template names one."""
    if settings.openai_api_key or not settings.openai_api_key_parameter:
        return settings
    response = aws_client("ssm").get_parameter(
        Name=settings.openai_api_key_parameter, WithDecryption=True
    )
    return settings.model_copy(update={"openai_api_key": response["Parameter"]["Value"]})
