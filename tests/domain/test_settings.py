"""Settings come from the environment, with the names docs/ARCHITECTURE.md and the template use."""

import pytest

from rag_eval.domain.errors import SettingsInvalid
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


def test_every_default_is_written_once_and_a_bad_value_is_refused_by_name() -> None:
    # GIVEN each setting's variable with a value of the wrong kind
    numeric = {
        field.alias: field.annotation
        for field in Settings.model_fields.values()
        if field.annotation in (int, float, int | None)
    }
    assert "RAG_EVAL_VISIBILITY_TIMEOUT" in numeric
    for name in numeric:
        # WHEN it is read THEN the one-line error names the variable and the value
        with pytest.raises(SettingsInvalid, match=f"^setting {name} must be .*, got 'abc'$"):
            Settings.from_env({name: "abc"})


def test_out_of_range_values_are_refused_too() -> None:
    with pytest.raises(SettingsInvalid, match="RAGAS_MAX_CONCURRENCY must be greater than"):
        Settings.from_env({"RAGAS_MAX_CONCURRENCY": "0"})
