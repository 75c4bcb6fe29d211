"""The API keeps to its OpenAPI schema: schemathesis fuzzes the local stack from the schema it
serves, and Swagger UI's "Try it out" works against it in a real browser (Chromium)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag_eval.local.stack import LocalStack
from testkit.scripted_judge import ScriptedJudge
from tests.support.browser import chromium

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
# What schemathesis checks, and why three of its checks are left out:
# - ignored_auth: the local stack authenticates nobody (API Gateway does, on AWS);
# - unsupported_method: for a method a resource lacks, API Gateway answers 403 (no route),
#   not 405, and the local front answers as API Gateway does;
# - positive_data_acceptance: a cursor or an upload id is valid only when this API issued
#   it; any other string fits the schema and is a 422 that names the field.
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "missing_required_header",
    "use_after_free",
    "ensure_resource_availability",
)
MAX_EXAMPLES = 25  # per operation and phase: about a thousand requests in all
SEED = 20261203  # the same requests on every run; change it to explore others


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    """GIVEN the local stack with a scripted judge, so that LLM metrics are accepted too."""
    with ScriptedJudge() as judge, pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if re.match(r"^(OPENAI_|RAGAS_)", name) and name != "RAGAS_DO_NOT_TRACK":
                patch.delenv(name)
        settings = {"OPENAI_BASE_URL": judge.base_url, "OPENAI_API_KEY": "test"}
        with LocalStack(port=0, visibility_timeout=60, environment=settings) as running:
            yield running


def test_schemathesis_finds_no_server_error_and_no_answer_off_the_schema(
    stack: LocalStack, tmp_path: Path
) -> None:
    # WHEN schemathesis runs every phase (examples, coverage, fuzzing, stateful) on the schema
    result = subprocess.run(
        [
            str(VENV_BIN / "schemathesis"),
            "run",
            f"{stack.endpoint}/openapi.json",
            "--checks",
            ",".join(CHECKS),
            "--max-examples",
            str(MAX_EXAMPLES),
            "--seed",
            str(SEED),
            "--workers",
            "1",
            "--report",
            "junit",
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=tmp_path,
        env=os.environ | {"NO_COLOR": "1"},
    )

    # THEN every answer is in the schema, and none is a 5xx
    summary = re.search(r"(\d+) generated, (.*)", result.stdout)
    assert result.returncode == 0, result.stdout[-6000:]
    assert summary and int(summary.group(1)) > 500, result.stdout[-2000:]
    print(f"schemathesis: {summary.group(0).strip()}")  # the figure, with pytest -s


def test_swagger_try_it_out_submits_a_job_and_reads_it(stack: LocalStack) -> None:
    with chromium() as browser:
        page = browser.new_page()
        # GIVEN Swagger UI, as served by the API
        page.goto(f"{stack.endpoint}/docs")

        # WHEN a person opens "Submit a scoring job", tries it out and executes its example
        submitted = _try_it_out(page, "submitScoreJob")

        # THEN the API answered 202 with the queued job, shown on the page
        assert submitted["status"] == "202", submitted["body"][:500]
        job_id = re.search(r'"job_id": "([0-9a-f]{24})"', submitted["body"]).group(1)
        assert '"status": "queued"' in submitted["body"]

        # AND reading that job through Swagger answers it too
        operation = page.locator("#operations-default-getScoreJob")
        read = _try_it_out(page, "getScoreJob", fill={"job_id": job_id})
        assert read["status"] == "200", read["body"][:500]
        assert job_id in read["body"]
        assert operation.locator(".opblock-summary-path").inner_text() == "/score-jobs/{job_id}"


def _try_it_out(page, operation_id: str, fill: dict[str, str] | None = None) -> dict[str, str]:
    """Open an operation, press "Try it out", fill its parameters, "Execute": the answer."""
    operation = page.locator(f"#operations-default-{operation_id}")
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    for name, value in (fill or {}).items():
        operation.locator(f'tr[data-param-name="{name}"] input').fill(value)
    operation.get_by_role("button", name="Execute").click()
    live = operation.locator(".live-responses-table .response")
    live.first.wait_for(timeout=15_000)
    return {
        "status": live.locator(".response-col_status").first.inner_text().strip(),
        "body": live.locator(".response-col_description pre").first.inner_text(),
    }
