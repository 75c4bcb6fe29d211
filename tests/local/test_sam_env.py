"""`rag-eval local env-vars` and `rag-eval local sqs-event`: what `sam local invoke` needs
from a running local stack, without Docker.

The stack's moto listens on 127.0.0.2 and the tests name it the containers' host, so that
"a container's address of this machine" and "loopback" differ as the bridge gateway and
127.0.0.1 do (tests/test_sam_local.py runs the same with Docker's bridge and `sam`).
"""

from __future__ import annotations

import json
import os
import re
import socket
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from rag_eval.cli.exits import EXIT_OK, EXIT_TIMEOUT, EXIT_UNAVAILABLE
from rag_eval.cli.main import main
from rag_eval.client import ScoreJobsClient
from rag_eval.local.containers import JudgeRelay, relay_judge, sam_env_vars
from rag_eval.local.stack import LocalStack
from rag_eval.local.template import function_environment
from testkit.scripted_judge import ScriptedJudge

pytestmark = pytest.mark.slow

CONTAINER_HOST = "127.0.0.2"  # plays the bridge gateway: an address moto listens on
FUNCTIONS = ["ApiFunction", "ListFunction", "WorkerFunction"]
MODEL_FREE = ["chrf_score", "exact_match"]


def _binds(host: str) -> bool:
    try:
        socket.create_server((host, 0)).close()
    except OSError:
        return False
    return True


@dataclass
class SamStack:
    stack: LocalStack
    judge: ScriptedJudge


@pytest.fixture(scope="module")
def sam_stack() -> Iterator[SamStack]:
    """GIVEN the local stack started for `sam local invoke` (moto on another address of this
    machine, no worker) with the scripted judge on loopback as its OpenAIBaseUrl."""
    if not _binds(CONTAINER_HOST):
        pytest.skip(f"{CONTAINER_HOST} is no address of this machine (loopback is 127.0.0.1 only)")
    with ScriptedJudge() as judge, pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if re.match(r"^(OPENAI_|RAGAS_|RAG_EVAL_)", name) and name != "RAGAS_DO_NOT_TRACK":
                patch.delenv(name)
        assert judge.base_url
        stack = LocalStack(
            port=0,
            moto_host=CONTAINER_HOST,
            workers=False,
            parameters={"OpenAIBaseUrl": judge.base_url},
        )
        with stack:
            yield SamStack(stack, judge)


def env_vars(capsys: pytest.CaptureFixture[str], *options: str) -> tuple[int, dict, str]:
    code = main(["local", "env-vars", *options])
    out, err = capsys.readouterr()
    return code, json.loads(out) if code == EXIT_OK else {}, err


def test_env_vars_are_each_functions_declared_variables_with_the_stacks_names(
    sam_stack: SamStack, capsys: pytest.CaptureFixture[str]
) -> None:
    stack, judge = sam_stack.stack, sam_stack.judge
    assert judge.port and judge.base_url
    # GIVEN the judge relayed where containers reach this machine, on its port
    relay = JudgeRelay(CONTAINER_HOST, judge.port)
    try:
        # WHEN the env-vars file is written from the running stack
        code, written, err = env_vars(
            capsys, "--endpoint-url", stack.moto_url, "--container-host", CONTAINER_HOST
        )
    finally:
        relay.close()

    # THEN each function of the template has exactly the variables the template declares
    # (SAM sets no other), with moto's names for the resources
    assert code == EXIT_OK, err
    assert sorted(written) == FUNCTIONS
    for function, variables in written.items():
        declared = function_environment(function, stack.physical_ids)
        assert set(variables) == set(declared), function
        assert variables["SCORE_JOBS_TABLE"] == stack.table
        assert variables["SCORE_QUEUE_URL"] == stack.queue_url
        assert variables["ARTIFACTS_BUCKET"] == stack.bucket
        # AND moto and the judge at the address containers reach them at
        assert variables["AWS_ENDPOINT_URL"] == stack.moto_url
        assert variables["OPENAI_BASE_URL"] == judge.base_url.replace("127.0.0.1", CONTAINER_HOST)
    assert f"judge {written['WorkerFunction']['OPENAI_BASE_URL']}" in err


def test_a_judge_url_given_is_taken_over_the_stacks(sam_stack: SamStack) -> None:
    written = sam_env_vars(
        sam_stack.stack.moto_url,
        container_host=CONTAINER_HOST,
        judge_url="https://judge.example/v1",
        shell={"OPENAI_BASE_URL": "http://127.0.0.1:1/v1", "RAGAS_METRIC_TIMEOUT_SECONDS": "5"},
    )

    worker = written["WorkerFunction"]
    assert worker["OPENAI_BASE_URL"] == "https://judge.example/v1"
    # the shell's settings pass through, as to `rag-eval invoke`; undeclared ones do not
    assert worker["RAGAS_METRIC_TIMEOUT_SECONDS"] == "5"
    assert "OPENAI_API_KEY" not in worker


def test_env_vars_without_a_running_stack_say_how_to_start_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as idle:  # a port nothing answers on
        port = idle.getsockname()[1]
    code, _, err = env_vars(capsys, "--endpoint-url", f"http://127.0.0.1:{port}")

    assert code == EXIT_UNAVAILABLE
    assert f"no stack ragas-serverless at http://127.0.0.1:{port}" in err
    assert "start one with `rag-eval local start`" in err


def test_a_moto_containers_cannot_reach_is_refused_with_the_option_that_fixes_it(
    sam_stack: SamStack, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = env_vars(
        capsys, "--endpoint-url", sam_stack.stack.moto_url, "--container-host", "127.0.0.3"
    )

    assert code == EXIT_UNAVAILABLE
    assert "does not listen on 127.0.0.3, where containers reach this machine" in err
    assert "--moto-host 127.0.0.3" in err


def test_a_judge_on_loopback_that_nothing_relays_is_refused(
    sam_stack: SamStack, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = env_vars(
        capsys, "--endpoint-url", sam_stack.stack.moto_url, "--container-host", CONTAINER_HOST
    )

    assert code == EXIT_UNAVAILABLE
    assert "is not reachable from containers: it listens on loopback only" in err


def test_the_relay_forwards_to_the_judge_and_is_not_made_for_a_loopback_host(
    sam_stack: SamStack,
) -> None:
    judge = sam_stack.judge
    assert judge.port and judge.base_url
    assert relay_judge(judge.base_url, "127.0.0.1") is None  # loopback reaches it already
    assert relay_judge("https://judge.example/v1", "172.17.0.1") is None  # not on loopback

    relay = JudgeRelay(CONTAINER_HOST, judge.port)
    try:
        url = judge.base_url.replace("127.0.0.1", CONTAINER_HOST) + "/models"
        with urllib.request.urlopen(url, timeout=10) as answer:
            assert answer.status == 200
    finally:
        relay.close()


def test_sqs_event_takes_the_next_job_message_off_the_queue_as_the_workers_event(
    sam_stack: SamStack, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = sam_stack.stack
    # GIVEN a job submitted through the API of a stack with no worker
    body = {"question": "q", "answer": "a", "ground_truth": "a", "metrics": MODEL_FREE}
    job = ScoreJobsClient(stack.endpoint).submit(body)
    sqs = stack.client("sqs")
    queue_arn = sqs.get_queue_attributes(QueueUrl=stack.queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    capsys.readouterr()  # the API handler's log line

    # WHEN the next message of the score queue is asked for as an event
    code = main(["local", "sqs-event", "--endpoint-url", stack.moto_url, "--wait", "1"])
    event = json.loads(capsys.readouterr().out)

    # THEN it is the job's message as Lambda's event source hands it to the worker
    assert code == EXIT_OK
    [record] = event["Records"]
    assert json.loads(record["body"])["job_id"] == job.job_id
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == queue_arn
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    # AND it is off the queue: the next ask waits, then says the queue is empty
    code = main(["local", "sqs-event", "--endpoint-url", stack.moto_url, "--wait", "1"])
    assert code == EXIT_TIMEOUT
    assert "no message in the jobs queue (ScoreQueue) within 1 s" in capsys.readouterr().err


def test_the_stack_without_workers_leaves_a_submitted_job_queued(sam_stack: SamStack) -> None:
    stack = sam_stack.stack
    job = ScoreJobsClient(stack.endpoint).submit(
        {"question": "q", "answer": "a", "ground_truth": "a", "metrics": MODEL_FREE}
    )

    sqs = stack.client("sqs")
    [message] = sqs.receive_message(QueueUrl=stack.queue_url, WaitTimeSeconds=2)["Messages"]
    sqs.delete_message(QueueUrl=stack.queue_url, ReceiptHandle=message["ReceiptHandle"])
    assert json.loads(message["Body"])["job_id"] == job.job_id
    assert ScoreJobsClient(stack.endpoint).get_job(job.job_id).status == "queued"
