"""Settings come from the environment, with the names DESIGN.md and the template use."""

import pytest

from rag_eval.domain.settings import Settings


def test_defaults_without_environment() -> None:
    settings = Settings.from_env({})

    assert settings.judge_model == "gpt-4o-mini"
    assert settings.metric_timeout_seconds == 60.0
    assert settings.max_receive_count == 3
    assert not settings.openai_configured


def test_environment_names_map_to_settings() -> None:
    settings = Settings.from_env(
        {
            "OPENAI_BASE_URL": "http://127.0.0.1:11434/v1",
            "RAGAS_JUDGE_MODEL": "llama3.1",
            "RAGAS_EMBEDDING_MODEL": "nomic-embed-text",
            "RAGAS_METRIC_TIMEOUT_SECONDS": "12.5",
            "RAGAS_MAX_CONCURRENCY": "4",
            "SCORE_JOBS_TABLE": "jobs",
            "SCORE_QUEUE_URL": "https://sqs/queue",
            "ARTIFACTS_BUCKET": "bucket",
            "MAX_RECEIVE_COUNT": "5",
        }
    )

    assert settings.openai_configured
    assert (settings.judge_model, settings.embedding_model) == ("llama3.1", "nomic-embed-text")
    assert settings.metric_timeout_seconds == 12.5 and settings.max_concurrency == 4
    assert (settings.jobs_table, settings.queue_url, settings.artifacts_bucket) == (
        "jobs",
        "https://sqs/queue",
        "bucket",
    )
    assert settings.max_receive_count == 5


def test_an_api_key_parameter_counts_as_a_configured_judge() -> None:
    assert Settings.from_env({"OPENAI_API_KEY_PARAMETER": "/app/openai-key"}).openai_configured


@pytest.mark.parametrize(
    ("name", "value", "what"),
    [
        ("RAGAS_MAX_CONCURRENCY", "eight", "an integer"),
        ("RAGAS_METRIC_TIMEOUT_SECONDS", "1m", "a number"),
    ],
)
def test_a_malformed_number_names_the_setting(name: str, value: str, what: str) -> None:
    with pytest.raises(ValueError, match=f"{name} must be {what}, got '{value}'"):
        Settings.from_env({name: value})
