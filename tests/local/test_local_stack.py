"""The local stack end to end, over real HTTP on loopback: what `rag-eval local start` serves.

moto in server mode holds the template's resources, the real handlers answer the API, the
poller plays the worker's SQS event source, and a scripted judge stands in for the LLM.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag_eval.adapters.aws.dynamodb import DynamoJobRepository
from rag_eval.client import ApiError, ScoreJobsClient
from rag_eval.domain.job import JobStatus, new_job
from rag_eval.domain.request import ScoreRequest, parse_request
from rag_eval.domain.settings import Settings
from rag_eval.local.stack import LocalStack
from testkit.scripted_judge import ScriptedJudge
from tests.support.run_folder import RUN_FILES
from tests.support.stacks import judged_stack

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
EVENTS = REPO / "events"
VENV_BIN = Path(sys.executable).parent
SAMPLES = [
    json.loads(line)
    for line in (REPO / "rag_eval" / "sample_data" / "samples.jsonl")
    .read_text("utf-8")
    .splitlines()
    if line.strip()
]
LLM_AND_MODEL_FREE = ["faithfulness", "context_recall", "chrf_score", "exact_match"]


def without_judge_settings(environment: dict[str, str]) -> dict[str, str]:
    """A copy of an environment with no judge nor local-stack settings of the developer's."""
    return {
        name: value
        for name, value in environment.items()
        if not re.match(r"^(OPENAI_|RAGAS_|AWS_|RAG_EVAL_)", name)
    } | {"RAGAS_DO_NOT_TRACK": "true"}


@pytest.fixture
def clean_judge_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if re.match(r"^(OPENAI_|RAGAS_)", name) and name != "RAGAS_DO_NOT_TRACK":
            monkeypatch.delenv(name)


def http(method: str, url: str, body: bytes | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, method=method)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


# --- redelivery and the dead-letter queue ------------------------------------------------------


def recorded_job(stack: LocalStack) -> tuple[ScoreRequest, JobStatus, DynamoJobRepository]:
    """A queued job of the local developer's, recorded in the stack's table (no message)."""
    request = parse_request(
        {"question": "q", "answer": "a", "ground_truth": "a"} | {"metrics": ["exact_match"]}
    )
    job = new_job(request, Settings(), owner="arn:aws:iam::123456789012:user/local-developer")
    jobs = DynamoJobRepository(stack.table, stack.client("dynamodb"))
    jobs.create(job, "fingerprint", int(time.time()) + 3600)
    return request, job, jobs


def test_a_job_failing_every_delivery_is_retried_then_dead_lettered_and_marked_failed(
    clean_judge_env: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="rag_eval.local.poller")
    with LocalStack(port=0, visibility_timeout=1) as stack:
        # GIVEN a recorded job whose queue message points at a parked request that is gone
        # (as when a redrive comes after the 14-day expiry of score-requests/)
        _, job, jobs = recorded_job(stack)
        sqs = stack.client("sqs")

        # WHEN the message is queued
        sqs.send_message(
            QueueUrl=stack.queue_url,
            MessageBody=json.dumps(
                {"job_id": job.job_id, "request_key": f"score-requests/{job.job_id}.json"}
            ),
        )

        # THEN after the queue's maxReceiveCount (3) deliveries it lands in ScoreDLQ, whose
        # poller hands it to the worker (its 4th receive); the job had ended: let go
        def batches(queue: str) -> list[str]:
            return [
                r.getMessage()
                for r in caplog.records
                if f"batch of 1 record(s) from {queue} " in r.getMessage()
            ]

        deadline = time.monotonic() + 30
        while not batches("ScoreDLQ") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert batches("ScoreDLQ"), "the message never reached the dead-letter queue's poller"
        tried = batches("ScoreQueue")
        assert [re.search(r"receive count (\d+)", b).group(1) for b in tried] == ["1", "2", "3"]
        assert all("1 failure(s)" in b for b in tried)
        (dead,) = batches("ScoreDLQ")
        assert "receive count 4" in dead and "0 failure(s)" in dead

        # AND the job is failed with the error, not left queued; both queues are empty
        failed, _ = jobs.get(job.job_id)
        assert failed.status == "failed"
        assert failed.error.startswith("NoSuchKey")
        assert failed.finished_at
        assert sqs.receive_message(QueueUrl=stack.queue_url).get("Messages") is None
        assert sqs.receive_message(QueueUrl=stack.dlq_url).get("Messages") is None


def test_a_message_in_the_dlq_whose_deliveries_all_died_fails_its_job(
    clean_judge_env: None,
) -> None:
    with LocalStack(port=0, visibility_timeout=1) as stack:
        # GIVEN a queued job whose message every delivery died on, so nothing was recorded
        # (put in ScoreDLQ by hand: the local stack cannot kill its worker outright)
        request, job, jobs = recorded_job(stack)
        sqs = stack.client("sqs")
        sqs.send_message(
            QueueUrl=stack.dlq_url,
            MessageBody=json.dumps({"job_id": job.job_id, "request": request.model_dump()}),
        )

        # THEN the DLQ's poller hands it to the worker, which fails the job without planning
        deadline = time.monotonic() + 30
        while jobs.get(job.job_id)[0].status == "queued" and time.monotonic() < deadline:
            time.sleep(0.2)
        failed, _ = jobs.get(job.job_id)
        assert failed.status == "failed"
        assert failed.error.startswith("WorkerDied: planning failed every delivery")
        assert sqs.receive_message(QueueUrl=stack.dlq_url).get("Messages") is None


# --- the API over HTTP ---------------------------------------------------------------------


@pytest.fixture(scope="class")
def judge() -> Iterator[ScriptedJudge]:
    with ScriptedJudge() as running:
        yield running


@pytest.fixture(scope="class")
def stack(judge: ScriptedJudge) -> Iterator[LocalStack]:
    """GIVEN the local stack with the scripted judge as its OpenAI-compatible endpoint."""
    settings = {"RAGAS_METRIC_TIMEOUT_SECONDS": "10"}
    with judged_stack(judge, settings, visibility_timeout=60) as running:
        yield running


@pytest.fixture(scope="class")
def client(stack: LocalStack) -> ScoreJobsClient:
    return ScoreJobsClient(stack.endpoint)


@pytest.fixture(scope="class")
def one_sample_job(client: ScoreJobsClient) -> JobStatus:
    """GIVEN one sample submitted with LLM and model-free metrics, scored to the end."""
    submitted = client.submit(SAMPLES[0] | {"metrics": LLM_AND_MODEL_FREE})
    assert submitted.status == "queued"
    return client.wait(submitted.job_id, timeout=90, poll_interval=0.2)


@pytest.fixture(scope="class")
def batch_job(client: ScoreJobsClient) -> JobStatus:
    """GIVEN the bundled English and Chinese samples submitted as one job, scored."""
    submitted = client.submit({"samples": SAMPLES, "metrics": LLM_AND_MODEL_FREE})
    return client.wait(submitted.job_id, timeout=90, poll_interval=0.2)


class TestLocalApi:
    def test_one_sample_is_scored_by_the_worker_with_the_judge(
        self, one_sample_job: JobStatus
    ) -> None:
        assert one_sample_job.status == "completed", one_sample_job.error
        assert set(one_sample_job.scores) == set(LLM_AND_MODEL_FREE)
        assert all(value is not None for value in one_sample_job.scores.values())
        assert one_sample_job.token_usage.requests > 0  # the judge was really asked
        assert one_sample_job.progress.samples_done == 1

    def test_a_batch_is_scored_sample_by_sample(
        self, client: ScoreJobsClient, batch_job: JobStatus
    ) -> None:
        assert batch_job.status == "completed", batch_job.error
        assert batch_job.sample_count == len(SAMPLES)
        progress = batch_job.progress
        assert progress.samples_done == progress.samples_total == len(SAMPLES)
        assert progress.metric_calls_done == progress.metric_calls_total

        links = client.artifacts(batch_job.job_id)
        rows = list(
            csv.DictReader(io.StringIO(client.fetch(links.files["scores.csv"].url).decode("utf-8")))
        )
        assert [row["sample_id"] for row in rows] == [s["sample_id"] for s in SAMPLES]

    def test_open_downloads_the_report_and_hands_it_to_the_browser(
        self, stack: LocalStack, one_sample_job: JobStatus, tmp_path: Path
    ) -> None:
        # GIVEN a "browser" that notes what it was asked to open
        opened = tmp_path / "opened"
        browser = tmp_path / "browser"
        browser.write_text(f'#!/bin/sh\necho "$1" > {opened}\n')
        browser.chmod(0o755)
        environment = {**os.environ, **stack.client_environment(), "BROWSER": f"{browser} %s"}

        # WHEN the job's report is opened
        done = subprocess.run(
            [str(VENV_BIN / "rag-eval"), "open", one_sample_job.job_id, "--out", str(tmp_path)],
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
        )

        # THEN report.html is downloaded into the run folder and given to the browser
        assert done.returncode == 0, done.stderr
        report = tmp_path / "score-async" / one_sample_job.run_id / "report.html"
        assert f"report: {report}" in done.stdout
        assert report.read_text(encoding="utf-8").startswith("<!doctype html>")
        assert opened.read_text().strip() == report.resolve().as_uri()

    def test_every_artifact_is_served_by_moto_through_its_presigned_url(
        self, stack: LocalStack, one_sample_job: JobStatus
    ) -> None:
        # WHEN the run's artifact links are asked for
        status, links = http(
            "GET", f"{stack.endpoint}/score-jobs/{one_sample_job.job_id}/artifacts"
        )

        # THEN each is a path-style URL of the moto endpoint that answers over plain HTTP
        assert status == 200
        assert links["run_id"] == one_sample_job.run_id
        assert {key.rsplit("/", 1)[1] for key in one_sample_job.artifact_keys.values()} == RUN_FILES
        for file in links["files"].values():
            assert file["url"].startswith(f"{stack.moto_url}/{stack.bucket}/score-async/")
            with urllib.request.urlopen(file["url"], timeout=10) as response:
                content = response.read()
            assert content, file["key"]
            if file["key"].endswith("metadata.json"):
                assert json.loads(content)["job_id"] == one_sample_job.job_id

    def test_the_aws_cli_lists_the_run_folder(
        self, stack: LocalStack, one_sample_job: JobStatus
    ) -> None:
        # WHEN the bucket is listed with the command `rag-eval local start` prints
        environment = without_judge_settings(dict(os.environ)) | {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        listing = subprocess.run(
            [
                str(VENV_BIN / "aws"),
                "--endpoint-url",
                stack.moto_url,
                "s3",
                "ls",
                f"s3://{stack.bucket}/score-async/",
                "--recursive",
            ],
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout

        # THEN every file of the run folder is there
        for name in RUN_FILES:
            assert f"score-async/{one_sample_job.run_id}/{name}" in listing

    def test_the_list_pages_newest_first_and_filters_by_status(
        self, client: ScoreJobsClient
    ) -> None:
        # GIVEN two jobs submitted one after the other (whatever other tests submitted before)
        older, newer = (
            client.wait(
                client.submit(SAMPLES[0] | {"metrics": ["chrf_score"]}).job_id,
                timeout=90,
                poll_interval=0.2,
            )
            for _ in range(2)
        )

        # WHEN the list is read one job per page
        first = client.list_jobs(limit=1)
        second = client.list_jobs(limit=1, cursor=first.next_cursor)

        # THEN the pages follow each other, newest first
        assert [job.job_id for job in first.jobs + second.jobs] == [
            newer.job_id,
            older.job_id,
        ]
        everything = [job.job_id for job in client.iter_jobs(limit=1)]
        assert everything[:2] == [newer.job_id, older.job_id]
        assert len(everything) == len(set(everything))

        # AND the status filter keeps only that status
        completed = client.list_jobs(status="completed").jobs
        assert {job.status for job in completed} == {"completed"}
        assert {older.job_id, newer.job_id} <= {j.job_id for j in completed}
        assert client.list_jobs(status="failed").jobs == []

    def test_an_unknown_job_is_a_404_json_error(self, stack: LocalStack) -> None:
        status, body = http("GET", f"{stack.endpoint}/score-jobs/no-such-job")
        assert status == 404
        assert body["error"]["code"] == "job_not_found"

    def test_a_bad_body_is_a_422_naming_the_field(self, stack: LocalStack) -> None:
        bad = json.dumps({"question": "q", "answer": "a", "metrics": ["nope"]}).encode()
        status, body = http("POST", f"{stack.endpoint}/score-jobs", bad)
        assert status == 422
        assert [d["field"] for d in body["error"]["details"]] == ["metrics"]
        assert "chrf_score" in body["error"]["details"][0]["allowed"]

        status, body = http("POST", f"{stack.endpoint}/score-jobs", b'{"question": ')
        assert status == 400
        assert body["error"]["code"] == "malformed_json"

    def test_a_bad_list_query_is_a_422_through_the_client(self, client: ScoreJobsClient) -> None:
        with pytest.raises(ApiError) as raised:
            client.list_jobs(limit=1000)
        assert raised.value.status == 422
        assert raised.value.lines() == ["limit: out of range (allowed: 1..100)"]

    def test_a_route_the_template_does_not_declare_gets_api_gateways_403(
        self, stack: LocalStack
    ) -> None:
        status, body = http("DELETE", f"{stack.endpoint}/score-jobs")
        assert status == 403
        assert body["error"]["code"] == "MISSING_AUTHENTICATION_TOKEN"
        status, _ = http("GET", stack.endpoint.removesuffix("/v1") + "/score-jobs")
        assert status == 403

    def test_an_idempotency_key_replays_the_same_job(self, client: ScoreJobsClient) -> None:
        body = SAMPLES[1] | {"metrics": ["chrf_score"]}
        first = client.submit(body, idempotency_key="nightly-2026-11-29")
        again = client.submit(body, idempotency_key="nightly-2026-11-29")
        assert again.job_id == first.job_id
        with pytest.raises(ApiError) as raised:
            client.submit(SAMPLES[2] | {"metrics": ["chrf_score"]}, "nightly-2026-11-29")
        assert raised.value.status == 409
        client.wait(first.job_id, timeout=60, poll_interval=0.2)

    def test_the_swagger_ui_and_schema_are_served(self, stack: LocalStack) -> None:
        with urllib.request.urlopen(f"{stack.endpoint}/docs", timeout=10) as response:
            assert response.headers["Content-Type"].startswith("text/html")
            assert b"swagger" in response.read().lower()
        status, schema = http("GET", f"{stack.endpoint}/openapi.json")
        assert status == 200
        assert "/score-jobs/{job_id}" in schema["paths"]

    def test_invoke_runs_one_handler_on_an_event_against_the_running_stack(
        self, stack: LocalStack, one_sample_job: JobStatus
    ) -> None:
        # WHEN the list function is invoked with the sample event, as `sam local invoke -e`
        result = subprocess.run(
            [
                str(VENV_BIN / "rag-eval"),
                "invoke",
                "list",
                "-e",
                str(EVENTS / "list-jobs.json"),
                "--endpoint-url",
                stack.moto_url,
            ],
            env=without_judge_settings(dict(os.environ)),
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )

        # THEN stdout is the function's proxy response, listing the stack's jobs
        response = json.loads(result.stdout)
        assert response["statusCode"] == 200
        listed = [job["job_id"] for job in json.loads(response["body"])["jobs"]]
        assert one_sample_job.job_id in listed


# --- the commands ------------------------------------------------------------------------------


def test_local_start_serves_until_sigterm_and_prints_what_a_client_needs(tmp_path: Path) -> None:
    # GIVEN `rag-eval local start` on free ports
    process = subprocess.Popen(
        [
            str(VENV_BIN / "rag-eval"),
            *("local", "start", "--port", "0", "--visibility-timeout", "30"),
            *("--state-dir", str(tmp_path)),
        ],
        env=without_judge_settings(dict(os.environ)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        banner = []
        for line in process.stdout:
            banner.append(line)
            if line.startswith("Ctrl-C"):
                break
        text = "".join(banner)
        endpoint = re.search(r"RAG_EVAL_ENDPOINT=(\S+)", text).group(1)
        moto_url = re.search(r"AWS_ENDPOINT_URL=(\S+)", text).group(1)
        assert re.search(
            rf"aws --endpoint-url {moto_url} s3 ls s3://\S+/score-async/ --recursive", text
        )
        # AND the commands it suggests call rag-eval (and aws) the way it was called itself,
        # not a bare name that may not be on the PATH
        called = os.path.relpath(VENV_BIN / "rag-eval")
        if shutil.which("rag-eval") != str(VENV_BIN / "rag-eval"):
            assert f"  {called} submit --file " in text
            assert f"  {os.path.join(os.path.dirname(called), 'aws')} --endpoint-url" in text

        # WHEN a client calls the printed endpoint
        status, body = http("GET", f"{endpoint}/metrics")
        assert status == 200
        assert "chrf_score" in {metric["name"] for metric in body["metrics"]}

        # THEN SIGTERM stops it cleanly
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        log = process.stderr.read()
        assert log.startswith("starting the local stack: ")  # said at once, before the wait
        assert "visibility timeout set to 30 s" in log
        assert re.search(r"GET /v1/metrics 200 \d+ ms", log)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_the_demo_runs_end_to_end_without_a_judge(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(VENV_BIN / "rag-eval"), "demo", "--out", str(tmp_path)],
        env=without_judge_settings(dict(os.environ)),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"job \w+: completed", result.stdout)
    assert re.search(r"chrf_score\s+0\.\d{4}", result.stdout)
    assert "zh-great-wall" in result.stdout
    assert re.search(r"score-async/\S+/scores\.csv", result.stdout)
    assert "OPENAI_BASE_URL" in result.stdout  # how to add a judge
    # AND the console is the demo's story alone: the handlers' JSON logs and EMF metrics are
    # in the file it names
    log = tmp_path / "demo-handlers.jsonl"
    assert f"the handlers' JSON logs and EMF metrics: {log} (--verbose: here too)" in result.stdout
    console = (result.stdout + result.stderr).splitlines()
    assert [line for line in console if line.startswith("{")] == []
    logged = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert any("SamplesScored" in document for document in logged)
    assert "job completed" in {document.get("message") for document in logged}
    # AND the run folder outlives the stack, at the paths the demo printed
    [folder] = (tmp_path / "score-async").iterdir()
    for name in ("summary.md", "optimization_advice.md"):
        assert f"  {folder / name}\n" in result.stdout
        assert (folder / name).read_text(encoding="utf-8").startswith("# ")
    assert sorted(p.name for p in folder.iterdir()) == sorted(RUN_FILES)


def test_two_callers_over_http_see_only_their_own_jobs(clean_judge_env: None) -> None:
    with LocalStack(port=0) as stack:
        alice = ScoreJobsClient(stack.endpoint, api_key="alice-key")
        bob = ScoreJobsClient(stack.endpoint, api_key="bob-key")
        job = alice.submit(
            {"question": "q", "answer": "a", "ground_truth": "a", "metrics": ["exact_match"]}
        )
        done = alice.wait(job.job_id, timeout=60)

        assert done.status == "completed"
        assert [j.job_id for j in alice.list_jobs().jobs] == [job.job_id]
        assert bob.list_jobs().jobs == []
        for call in (bob.get_job, bob.artifacts, bob.cancel):
            with pytest.raises(ApiError) as hidden:
                call(job.job_id)
            assert hidden.value.status == 404
        # Without a key, the local developer is a third caller
        assert ScoreJobsClient(stack.endpoint).list_jobs().jobs == []
