"""The worker's container image as `sam build` makes it from functions/worker/Dockerfile
(`make sam-build-image`: a Docker engine, the Lambda base image, then the SAM CLI's build of
all three functions), run with Docker: it imports the scoring stack from its task root, and
the runtime interface emulator in it answers an invocation that scores a job of every metric
against the template deployed in moto and the scripted judge. (`sam local invoke` of the
three functions against the local stack: tests/test_sam_local.py.)

Skipped where Docker cannot run: no engine answers and this user cannot start one (not root,
or neither dockerd nor apt-get). An engine this module started is stopped at its end.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.support.run_folder import RUN_FILES

ROOT = Path(__file__).resolve().parents[1]
BUILD_DIR = ROOT / ".aws-sam" / "build-image"
BASE_IMAGE = "public.ecr.aws/lambda/python:3.12"
IMAGE_LIMIT_BYTES = 10 * 1024**3
REGION = "us-east-1"
API_KEY_PARAMETER = "/ragas-serverless/openai-api-key"
INVOCATIONS = "/2015-03-31/functions/function/invocations"

# The two samples: English (every metric can score it) and Chinese (judge and embeddings
# must cope with CJK text; ROUGE and BLEU are 0 there by ragas' whitespace tokenisation).
# Every metric reads what it needs, a rubric of the sample's own included.
RUBRIC = {f"score{n}_description": f"the answer gets {n} of 5 facts right" for n in range(1, 6)}
SAMPLES = [
    {
        "sample_id": "en-eiffel",
        "question": "When was the Eiffel Tower completed?",
        "contexts": [
            "The Eiffel Tower is a wrought-iron lattice tower in Paris. It was completed in "
            "1889 as the entrance arch to the World's Fair.",
            "Gustave Eiffel's company designed and built the tower.",
        ],
        "answer": "The Eiffel Tower was completed in 1889.",
        "ground_truth": "The Eiffel Tower was completed in 1889.",
        "rubrics": RUBRIC,
    },
    {
        "sample_id": "zh-great-wall",
        "question": "长城有多长？",
        "contexts": [
            "长城是中国古代的军事防御工程，全长约两万一千多公里。",
            "长城始建于春秋战国时期。",
        ],
        "answer": "长城全长约两万一千多公里。",
        "ground_truth": "长城全长约两万一千公里。",
        "rubrics": RUBRIC,
    },
]

# An agent's conversation with a search tool, carrying every conversation metric's inputs.
CONVERSATION = {
    "sample_id": "en-agent-refund",
    "user_input": [
        {"type": "human", "content": "How long do I have to return a jacket?"},
        {
            "type": "ai",
            "content": "",
            "tool_calls": [{"name": "search", "args": {"query": "return policy"}}],
        },
        {"type": "tool", "content": "Items can be returned within 30 days of delivery."},
        {"type": "ai", "content": "You can return the jacket within 30 days of delivery."},
    ],
    "reference": "The customer learns they can return it within 30 days of delivery.",
    "reference_tool_calls": [{"name": "search", "args": {"query": "return policy"}}],
    "reference_topics": ["returns", "orders"],
    "rubrics": RUBRIC,
}


def docker_answers() -> bool:
    try:
        return subprocess.run(["docker", "info"], capture_output=True, check=False).returncode == 0
    except FileNotFoundError:
        return False


def make(*goals: str, timeout: float = 3600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", *goals],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def docker(*args: str, timeout: float = 600) -> str:
    done = subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"docker {' '.join(args[:3])} ...: {done.stderr[-2000:]}"
    return done.stdout.strip()


@dataclass
class Built:
    image: str
    output: str


@contextlib.contextmanager
def sam_build_image() -> Iterator[Built]:
    """A Docker engine (started here if none answers, and then stopped at the end) and
    `make sam-build-image`; pytest.skip where Docker cannot run."""
    answered = docker_answers()
    if not answered:
        if os.geteuid() != 0:
            pytest.skip("no Docker engine answers, and starting one needs root")
        if not (shutil.which("dockerd") or shutil.which("apt-get")):
            pytest.skip("no Docker engine answers, and neither dockerd nor apt-get is here")
        started = make("docker-engine", timeout=900)
        if started.returncode != 0:
            pytest.skip(f"no Docker engine: {(started.stderr or started.stdout).strip()[-300:]}")
    try:
        done = make("sam-build-image")
        assert done.returncode == 0, f"make sam-build-image failed:\n{done.stdout[-3000:]}"
        template = (BUILD_DIR / "template.yaml").read_text(encoding="utf-8")
        found = re.search(r"^\s+ImageUri: (workerfunction:\S+)$", template, re.MULTILINE)
        assert found, "the built template names no worker image"
        yield Built(image=found.group(1), output=done.stdout)
    finally:
        if not answered:
            make("docker-engine-stop", timeout=120)


@pytest.fixture(scope="module")
def built() -> Iterator[Built]:
    """GIVEN a Docker engine (started here if none answers) and `make sam-build-image`."""
    with sam_build_image() as done:
        yield done


def test_sam_builds_all_three_functions_and_the_image_fits_lambdas_limit(built: Built) -> None:
    # THEN the zip functions and the layer are built beside the image
    for folder in ("ApiFunction", "ListFunction", "CommonLayer"):
        assert (BUILD_DIR / folder).is_dir(), folder
    # AND the image, on the Lambda base image, is within the 10 GB limit, as reported
    details = json.loads(docker("image", "inspect", built.image))[0]
    base = json.loads(docker("image", "inspect", BASE_IMAGE))[0]
    assert details["Size"] < IMAGE_LIMIT_BYTES
    assert set(base["RootFS"]["Layers"]) <= set(details["RootFS"]["Layers"])
    assert details["Config"]["Entrypoint"] == ["/lambda-entrypoint.sh"]
    assert details["Config"]["Cmd"] == ["app.lambda_handler"]
    assert "of Lambda's 10 GB image limit" in built.output
    assert "largest distributions:" in built.output


def test_the_image_imports_the_scoring_stack_from_its_task_root(built: Built) -> None:
    # WHEN the image's python imports the handler and the libraries scoring needs
    code = (
        "import json, sys, ragas, rag_eval, app, boto3, pandas, openai;"
        "print(json.dumps({m.__name__: m.__file__ for m in (ragas, rag_eval, app, boto3, "
        "pandas, openai)} | {'version': list(sys.version_info[:2])}))"
    )
    out = docker(
        "run",
        "--rm",
        "--network",
        "none",
        "--env",
        "RAGAS_DO_NOT_TRACK=true",
        "--entrypoint",
        "python",
        built.image,
        "-c",
        code,
    )
    found = json.loads(out.splitlines()[-1])

    # THEN Python is 3.12 and each comes from the task root (the pinned boto3 before the
    # runtime's copy in /var/runtime)
    assert found.pop("version") == [3, 12]
    assert all(path.startswith("/var/task/") for path in found.values()), found


def free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def invoke(host: str, event: dict[str, Any], timeout: float) -> Any:
    """POST the event to the emulator once it listens (the container takes a moment)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection((host, 8080), timeout=1).close()
            break
        except OSError as error:
            if time.monotonic() > deadline:
                raise AssertionError(f"the emulator never listened on {host}:8080") from error
            time.sleep(0.2)
    request = urllib.request.Request(
        f"http://{host}:8080{INVOCATIONS}",
        data=json.dumps(event).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as answer:
        return json.loads(answer.read())


CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


@dataclass
class BridgeMoto:
    gateway: str  # this host's address on Docker's default bridge, which containers reach
    endpoint: str


@pytest.fixture(scope="module")
def moto_server(built: Built) -> Iterator[BridgeMoto]:
    """A moto server on the bridge's gateway, where containers reach it."""
    from moto.server import ThreadedMotoServer

    gateway = docker(
        "network", "inspect", "bridge", "--format", "{{(index .IPAM.Config 0).Gateway}}"
    )
    port = free_port(gateway)
    moto = ThreadedMotoServer(ip_address=gateway, port=port, verbose=False)
    moto.start()
    try:
        yield BridgeMoto(gateway=gateway, endpoint=f"http://{gateway}:{port}")
    finally:
        moto.stop()


@pytest.fixture
def bridge_moto(moto_server: BridgeMoto, monkeypatch: pytest.MonkeyPatch) -> Iterator[BridgeMoto]:
    """That moto server, emptied, and this process's AWS clients pointed at it."""
    from rag_eval.adapters.aws.clients import aws_client

    endpoint = moto_server.endpoint
    reset = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
    urllib.request.urlopen(reset, timeout=30).close()
    for name, value in {**CREDENTIALS, "AWS_ENDPOINT_URL": endpoint}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    aws_client.cache_clear()  # clients made for another endpoint by another test
    yield moto_server
    aws_client.cache_clear()
    # moto's backends are this process's: leave none of this test's resources to another
    urllib.request.urlopen(reset, timeout=30).close()


def test_the_emulator_in_the_image_runs_the_worker_on_jobs_of_every_metric(
    built: Built, bridge_moto: BridgeMoto
) -> None:
    from rag_eval.adapters.aws.api_root import job_service
    from rag_eval.adapters.aws.dynamodb import DynamoJobRepository
    from rag_eval.domain.layout import run_folder
    from rag_eval.domain.settings import Settings
    from rag_eval.local.containers import JudgeRelay
    from rag_eval.local.deploy import deploy
    from rag_eval.local.poller import sqs_record
    from rag_eval.local.template import function_environment, load_template
    from rag_eval.metrics import REGISTRY
    from testkit.scripted_judge import ScriptedJudge

    # GIVEN the template deployed in moto and a scripted judge, both where containers reach
    # them (the bridge's gateway), and a job of every metric submitted through the API's service
    gateway, endpoint = bridge_moto.gateway, bridge_moto.endpoint
    container = f"worker-image-test-{uuid.uuid4().hex[:8]}"
    judge = ScriptedJudge()
    judge.start()
    relay = JudgeRelay(gateway, int(judge.port or 0))
    try:
        assert judge.base_url
        judge_url = judge.base_url.replace(f"127.0.0.1:{judge.port}", f"{gateway}:{relay.port}")
        boto3.client("ssm").put_parameter(Name=API_KEY_PARAMETER, Value="test", Type="SecureString")
        parameters = {"OpenAIBaseUrl": judge_url, "OpenAIApiKeyParameter": API_KEY_PARAMETER}
        ids = deploy(boto3.client("cloudformation"), parameters=parameters)
        settings = Settings.from_env(function_environment("ApiFunction", ids, parameters))
        # A job holds one kind of sample: the single-turn metrics score SAMPLES, the
        # conversation metrics an agent's conversation.
        turns = {name: spec.turns for name, spec in REGISTRY.items()}
        bodies = [
            {"samples": SAMPLES, "metrics": [m for m, kind in turns.items() if kind == "single"]},
            {"samples": [CONVERSATION], "metrics": [m for m, k in turns.items() if k == "multi"]},
        ]
        service = job_service(settings)
        jobs = [service.submit(body, caller="worker-image-test").job for body in bodies]
        sqs = boto3.client("sqs")
        messages: list[dict] = []
        while len(messages) < len(jobs):
            messages += sqs.receive_message(
                QueueUrl=ids["ScoreQueue"],
                MaxNumberOfMessages=10,
                WaitTimeSeconds=2,
                AttributeNames=["All"],
            ).get("Messages", [])
        queue_arn = sqs.get_queue_attributes(
            QueueUrl=ids["ScoreQueue"], AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]

        # WHEN the image runs as `docker run` runs it (the emulator before the runtime) with
        # the function's environment, and the job's SQS message is invoked
        properties = load_template()["Resources"]["WorkerFunction"]["Properties"]
        environment = {
            **function_environment("WorkerFunction", ids, parameters),
            **CREDENTIALS,
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_LAMBDA_FUNCTION_NAME": ids["WorkerFunction"],
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(properties["MemorySize"]),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(properties["Timeout"]),
            "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon here
        }
        env_args = [arg for name, value in environment.items() for arg in ("-e", f"{name}={value}")]
        docker("run", "--detach", "--name", container, *env_args, built.image)
        address = docker("inspect", "--format", "{{.NetworkSettings.IPAddress}}", container)
        answer = invoke(
            address,
            {"Records": [sqs_record(message, queue_arn) for message in messages]},
            timeout=float(properties["Timeout"]),
        )
        logs = subprocess.run(
            ["docker", "logs", container], capture_output=True, text=True, check=False
        )

        # THEN the handler reports no failed record, and each job is completed with a score
        # for every metric and its run folder in S3
        assert answer == {"batchItemFailures": []}, logs.stdout[-3000:] + logs.stderr[-3000:]
        for job, body in zip(jobs, bodies, strict=True):
            found = DynamoJobRepository(settings.jobs_table).get(job.job_id)
            assert found, "the job is gone"
            stored = found[0]
            assert stored.status == "completed", stored.error
            assert all(stored.scores.get(m) is not None for m in body["metrics"]), stored.scores
            prefix = run_folder(str(stored.run_id))
            listed = boto3.client("s3").list_objects_v2(
                Bucket=settings.artifacts_bucket, Prefix=prefix
            )
            files = {item["Key"][len(prefix) :] for item in listed.get("Contents", [])}
            assert files == set(RUN_FILES)
        assert judge.stats().chat_calls > 0
    finally:
        subprocess.run(["docker", "rm", "--force", container], capture_output=True, check=False)
        relay.close()
        judge.stop()
