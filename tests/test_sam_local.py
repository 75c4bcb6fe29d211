"""The development loop of README's "Running the functions in containers: `sam local
invoke`", step by step: the local stack started for containers (moto on Docker's bridge
gateway, no worker, the scripted judge relayed), `rag-eval local env-vars`, then `sam local
invoke` of the built API, worker and list functions on the README's events, and `rag-eval
local sqs-event` in between.

One build (`make sam-build-image`), one local stack and one judge for the module. Skipped
where Docker cannot run (tests/test_worker_image.py says when); an engine started here is
stopped at the end.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from rag_eval.client import ScoreJobsClient
from rag_eval.domain.layout import run_folder
from rag_eval.local.containers import docker_bridge_gateway
from rag_eval.local.environment import local_aws_client
from testkit.scripted_judge import ScriptedJudge
from tests.support.run_folder import RUN_FILES
from tests.test_worker_image import BUILD_DIR, Built, sam_build_image

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "events"
RAG_EVAL = Path(sys.executable).with_name("rag-eval")
SAM = ROOT / ".venv-sam" / "bin" / "sam"
REGION = "us-east-1"
# README: the submit event with one LLM metric more, scored through the judge.
WITH_LLM_METRIC = '.body |= (fromjson | .metrics += ["faithfulness"] | tojson)'
UNKNOWN_JOB = "0f3c9a2b7d4e4f1a8b6c5d2e"  # the job of events/worker-sqs-batch.json


@pytest.fixture(scope="module")
def built() -> Iterator[Built]:
    """GIVEN a Docker engine and `make sam-build-image`."""
    with sam_build_image() as done:
        yield done


@pytest.fixture(scope="module")
def judge() -> Iterator[ScriptedJudge]:
    """GIVEN the scripted judge, on loopback only (as `python -m testkit.scripted_judge`)."""
    with ScriptedJudge() as running:
        yield running


def clean_environment() -> dict[str, str]:
    """This process's environment without the developer's judge, AWS or local-stack settings."""
    return {
        name: value
        for name, value in os.environ.items()
        if not re.match(r"^(OPENAI_|RAGAS_|AWS_|RAG_EVAL_)", name)
    } | {"RAGAS_DO_NOT_TRACK": "true", "SAM_CLI_TELEMETRY": "0"}


@dataclass
class RunningStack:
    api: str
    moto_url: str
    banner: str


@pytest.fixture(scope="module")
def local_stack(
    built: Built, judge: ScriptedJudge, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningStack]:
    """GIVEN `rag-eval local start --moto-host <gateway> --no-worker` with the judge as its
    OpenAIBaseUrl, as the README starts it (any free ports)."""
    gateway = docker_bridge_gateway()
    assert gateway, "Docker answers but names no bridge gateway"
    state = tmp_path_factory.mktemp("sam-local-state")
    command = [
        str(RAG_EVAL),
        "local",
        "start",
        "--port",
        "0",
        "--moto-host",
        gateway,
        "--no-worker",
        "--fresh",
        "--state-dir",
        str(state),
        "--parameter",
        f"OpenAIBaseUrl={judge.base_url}",
    ]
    log = (state / "console.log").open("w", encoding="utf-8")
    process = subprocess.Popen(
        command, cwd=ROOT, env=clean_environment(), stdout=subprocess.PIPE, stderr=log, text=True
    )
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:  # the whole stdout, so that the pipe never fills
        assert process.stdout
        for line in process.stdout:
            lines.put(line)
        lines.put("")

    threading.Thread(target=read, daemon=True).start()
    try:
        banner = ""
        while "Ctrl-C stops it" not in banner:
            line = lines.get(timeout=120)
            if not line:
                log.flush()
                raise AssertionError(f"the stack stopped: {(state / 'console.log').read_text()}")
            banner += line
        api = re.search(r"API\s+(\S+)", banner)
        moto = re.search(r"AWS \(moto\)\s+(\S+)", banner)
        assert api and moto, banner
        yield RunningStack(api=api.group(1), moto_url=moto.group(1), banner=banner)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def rag_eval(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(RAG_EVAL), *args],
        cwd=ROOT,
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def env_file(local_stack: RunningStack, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """GIVEN `rag-eval local env-vars --endpoint-url <moto> > env.json`."""
    done = rag_eval("local", "env-vars", "--endpoint-url", local_stack.moto_url)
    assert done.returncode == 0, done.stderr
    path = tmp_path_factory.mktemp("sam-local") / "env.json"
    path.write_text(done.stdout, encoding="utf-8")
    return path


def sam_local_invoke(function: str, event: Path, env_file: Path) -> tuple[Any, str]:
    """`sam local invoke FUNCTION -t <build>/template.yaml -e EVENT --env-vars ENV_FILE
    --skip-pull-image --region us-east-1`: the function's answer, and SAM's stderr."""
    done = subprocess.run(
        [
            str(SAM),
            "local",
            "invoke",
            function,
            "-t",
            str(BUILD_DIR / "template.yaml"),
            "-e",
            str(event),
            "--env-vars",
            str(env_file),
            "--skip-pull-image",
            "--region",
            REGION,
        ],
        cwd=ROOT,
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def aws(local_stack: RunningStack, service: str) -> Any:
    return local_aws_client(service, local_stack.moto_url)


@dataclass
class Submitted:
    answer: dict[str, Any]
    job_id: str
    queued_messages: int
    status_after: str


@pytest.fixture(scope="module")
def submitted(local_stack: RunningStack, env_file: Path) -> Submitted:
    """WHEN `sam local invoke ApiFunction` runs on the README's submit event with an LLM
    metric more."""
    event = env_file.with_name("api-submit-llm.json")
    if shutil.which("jq"):
        done = subprocess.run(
            ["jq", WITH_LLM_METRIC, str(EVENTS / "api-submit.json")],
            capture_output=True,
            text=True,
            check=True,
        )
        event.write_text(done.stdout, encoding="utf-8")
    else:  # what the jq filter does
        submit = json.loads((EVENTS / "api-submit.json").read_text(encoding="utf-8"))
        body = json.loads(submit["body"])
        submit["body"] = json.dumps(body | {"metrics": [*body["metrics"], "faithfulness"]})
        event.write_text(json.dumps(submit), encoding="utf-8")
    answer, _ = sam_local_invoke("ApiFunction", event, env_file)
    job_id = json.loads(answer["body"])["job_id"]
    queue_url = json.loads(env_file.read_text(encoding="utf-8"))["ApiFunction"]["SCORE_QUEUE_URL"]
    attributes = aws(local_stack, "sqs").get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    status = ScoreJobsClient(local_stack.api).get_job(job_id).status
    return Submitted(answer, job_id, int(attributes["ApproximateNumberOfMessages"]), status)


@pytest.fixture(scope="module")
def worked(submitted: Submitted, local_stack: RunningStack, env_file: Path) -> Any:
    """WHEN `rag-eval local sqs-event > worker-event.json`, then `sam local invoke
    WorkerFunction` on it."""
    done = rag_eval("local", "sqs-event", "--endpoint-url", local_stack.moto_url)
    assert done.returncode == 0, done.stderr
    event = env_file.with_name("worker-event.json")
    event.write_text(done.stdout, encoding="utf-8")
    answer, _ = sam_local_invoke("WorkerFunction", event, env_file)
    return answer


def test_the_api_function_queues_the_job_in_the_local_stack(submitted: Submitted) -> None:
    # THEN 202 with a queued job, its item in moto's table and its message in moto's queue
    assert submitted.answer["statusCode"] == 202
    assert json.loads(submitted.answer["body"])["status"] == "queued"
    assert submitted.status_after == "queued"
    assert submitted.queued_messages == 1


def test_the_worker_completes_the_job_and_scores_the_llm_metric_through_the_judge(
    submitted: Submitted, worked: Any, local_stack: RunningStack, judge: ScriptedJudge
) -> None:
    # THEN no record failed, and the job is completed with every metric scored, the LLM
    # one by the judge, and its run folder in moto's S3
    assert worked == {"batchItemFailures": []}
    job = ScoreJobsClient(local_stack.api).get_job(submitted.job_id)
    assert job.status == "completed", job.error
    assert job.scores["faithfulness"] is not None, job.metric_failures
    assert all(score is not None for score in job.scores.values()), job.scores
    assert judge.stats().chat_calls > 0
    bucket = re.search(r"bucket\s+(\S+)", local_stack.banner)
    assert bucket and job.run_id
    prefix = run_folder(str(job.run_id))
    listed = aws(local_stack, "s3").list_objects_v2(Bucket=bucket.group(1), Prefix=prefix)
    assert {item["Key"][len(prefix) :] for item in listed.get("Contents", [])} == set(RUN_FILES)


def test_the_list_function_lists_the_completed_job(
    submitted: Submitted, worked: Any, env_file: Path
) -> None:
    answer, _ = sam_local_invoke("ListFunction", EVENTS / "list-jobs.json", env_file)

    assert answer["statusCode"] == 200
    jobs = {job["job_id"]: job["status"] for job in json.loads(answer["body"])["jobs"]}
    assert jobs[submitted.job_id] == "completed"


def test_the_worker_drops_a_message_for_an_unknown_job_without_output(
    local_stack: RunningStack, env_file: Path
) -> None:
    # GIVEN the README's worker event, whose job this stack never had
    bucket = re.search(r"bucket\s+(\S+)", local_stack.banner)
    assert bucket
    s3 = aws(local_stack, "s3")

    def run_files() -> int:
        return int(s3.list_objects_v2(Bucket=bucket.group(1), Prefix="score-async/")["KeyCount"])

    before = run_files()

    # WHEN the worker runs on it
    answer, _ = sam_local_invoke("WorkerFunction", EVENTS / "worker-sqs-batch.json", env_file)

    # THEN the record is not failed (nothing would ever make it succeed) and nothing is written
    assert answer == {"batchItemFailures": []}
    assert run_files() == before
    table = json.loads(env_file.read_text(encoding="utf-8"))["WorkerFunction"]["SCORE_JOBS_TABLE"]
    item = aws(local_stack, "dynamodb").get_item(
        TableName=table, Key={"job_id": {"S": UNKNOWN_JOB}}
    )
    assert "Item" not in item
