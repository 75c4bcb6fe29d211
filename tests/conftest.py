"""Shared fixtures: an offline scripted judge, and the environment that points at it."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

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


# Test levels (`make unit | integration | e2e`), each test at the level of what it needs:
# unit: this process alone (no moto, no server, no subprocess); integration: moto, the
# template, a server on loopback (the scripted judge, a scripted API); e2e: the local stack,
# subprocesses, a browser, SAM (the tests marked slow). Unit is what is left; a unit test
# that binds a socket or starts a process fails under `-m unit`, so a level cannot be wrong.
SERVER_FIXTURES = frozenset({"judge", "judge_env", "stack", "aws", "world", "api", "moto_port"})
INTEGRATION_MODULES = frozenset(
    {
        "tests/app/test_processing.py",
        "tests/cli/test_review.py",
        "tests/client/test_upload.py",
        "tests/judges/test_bedrock.py",
        "tests/scoring/test_ragas_metrics.py",
        "tests/test_template.py",
    }
)
E2E_MODULES = frozenset(
    {
        "tests/local/test_review_page.py",
        "tests/report/test_report_page.py",
        "tests/test_architecture.py",
        "tests/test_sam_local.py",
        "tests/test_setup.py",
        "tests/test_worker_image.py",
        "tests/testkit/test_scripted_judge.py",
    }
)
ROOT = Path(__file__).resolve().parent.parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        module = item.path.relative_to(ROOT).as_posix()
        if item.get_closest_marker("integration") or item.get_closest_marker("e2e"):
            continue  # given by the test itself
        if item.get_closest_marker("slow") or module in E2E_MODULES:
            item.add_marker(pytest.mark.e2e)
        elif SERVER_FIXTURES & set(getattr(item, "fixturenames", ())) or (
            module in INTEGRATION_MODULES or module.startswith("tests/functions/")
        ):
            item.add_marker(pytest.mark.integration)
        else:
            item.add_marker(pytest.mark.unit)


@pytest.fixture(autouse=True)
def unit_means_this_process_alone(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under `-m unit`, a test that binds a socket or starts a process fails, naming it."""
    if request.config.getoption("markexpr") != "unit":
        return

    def refused(*_: object, **__: object) -> None:
        raise AssertionError(
            f"{request.node.nodeid} is no unit test: it opens a socket or starts a process "
            "(give it its level in tests/conftest.py)"
        )

    monkeypatch.setattr(socket.socket, "bind", refused)
    monkeypatch.setattr(socket.socket, "connect", refused)
    monkeypatch.setattr(subprocess.Popen, "__init__", refused)


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
