"""Shared fixtures: an offline scripted judge, and the environment that points at it."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from testkit.scripted_judge import ScriptedJudge

# ragas reads this once, at import: set it before any test module imports ragas.
os.environ["RAGAS_DO_NOT_TRACK"] = "true"

JUDGE_ENV_NAMES = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_API_KEY_PARAMETER",
    "RAGAS_JUDGE_MODEL",
    "RAGAS_EMBEDDING_MODEL",
    "RAGAS_MAX_CONCURRENCY",
    "RAGAS_MAX_RETRIES",
    "RAGAS_METRIC_TIMEOUT_SECONDS",
    "RAGAS_ADAPTIVE_CONCURRENCY",
    "RAGAS_CACHE_TABLE",
    "RAGAS_DEFAULT_MAX_COST_USD",
    "RAGAS_DEFAULT_MAX_JUDGE_CALLS",
)


@pytest.fixture(autouse=True)
def own_verdict_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """`rag-eval score`'s verdict cache in a folder of the test's own, never the checkout's."""
    monkeypatch.setenv("RAG_EVAL_CACHE_DIR", str(tmp_path_factory.mktemp("verdicts")))


@pytest.fixture
def judge() -> Iterator[ScriptedJudge]:
    """A scripted OpenAI-compatible judge on loopback, answering without delay."""
    with ScriptedJudge(latency_s=0.0) as running:
        yield running


@pytest.fixture
def no_judge_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """An environment with no judge configured (as on a laptop without OpenAI settings)."""
    for name in JUDGE_ENV_NAMES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def judge_env(
    judge: ScriptedJudge, no_judge_env: None, monkeypatch: pytest.MonkeyPatch
) -> ScriptedJudge:
    """The environment pointing at the scripted judge, with quick retries and timeouts."""
    monkeypatch.setenv("OPENAI_BASE_URL", judge.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "test")
    monkeypatch.setenv("RAGAS_MAX_RETRIES", "1")
    monkeypatch.setenv("RAGAS_METRIC_TIMEOUT_SECONDS", "5")
    return judge
