"""The local stack keeps its state in a folder: a stop, a kill and a restart lose nothing.

Like the original app's job index, the jobs, run folders and queued work of the local stack
survive a restart (rag_eval/local/state.py), and a job that was running when the stack died
finishes after it.
"""

from __future__ import annotations

import csv
import io
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rag_eval.client import ScoreJobsClient
from rag_eval.local.stack import LocalStack
from testkit.scripted_judge import ScriptedJudge

pytestmark = pytest.mark.slow

VENV_BIN = Path(sys.executable).parent
MODEL_FREE = ["exact_match", "chrf_score"]
STATEMENTS = "StatementGeneratorOutput"  # faithfulness asks it once per sample
SAMPLE = {
    "question": "When was the Eiffel Tower completed?",
    "contexts": ["The Eiffel Tower was completed in 1889."],
    "answer": "In 1889.",
    "ground_truth": "The Eiffel Tower was completed in 1889.",
}


@pytest.fixture
def no_judge(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if re.match(r"^(OPENAI_|RAGAS_)", name) and name != "RAGAS_DO_NOT_TRACK":
            monkeypatch.delenv(name)


def run_folder(stack: LocalStack, run_id: str) -> dict[str, bytes]:
    s3 = stack.client("s3")
    prefix = f"score-async/{run_id}/"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=stack.bucket, Prefix=prefix)["Contents"]]
    return {key: s3.get_object(Bucket=stack.bucket, Key=key)["Body"].read() for key in keys}


def test_a_stop_and_a_restart_on_the_same_ports_keep_jobs_and_run_folders(
    no_judge: None, tmp_path: Path
) -> None:
    # GIVEN a stack keeping its state in a folder, with a completed job and a queued one
    with LocalStack(port=0, state_dir=tmp_path) as stack:
        client = ScoreJobsClient(stack.endpoint)
        done = client.wait(client.submit(SAMPLE | {"metrics": MODEL_FREE}).job_id, timeout=60)
        ports = (stack.endpoint, stack.moto_url)
        before = {job.job_id: job for job in client.iter_jobs()}
        files = run_folder(stack, done.run_id)
        bucket, table = stack.bucket, stack.table
        assert not stack.restored

    # WHEN it is started again at once, on the same ports (no wait for TIME_WAIT)
    api_port, moto_port = (int(url.rsplit(":", 1)[1].split("/")[0]) for url in ports)
    with LocalStack(port=api_port, moto_port=moto_port, state_dir=tmp_path) as stack:
        client = ScoreJobsClient(stack.endpoint)

        # THEN it is the same stack: same resources, same jobs field for field, same files
        assert stack.restored
        assert (stack.endpoint, stack.moto_url) == ports
        assert (stack.bucket, stack.table) == (bucket, table)
        assert {job.job_id: job for job in client.iter_jobs()} == before
        assert run_folder(stack, done.run_id) == files
        assert client.artifacts(done.job_id).run_id == done.run_id
        # AND it goes on working: a new job is scored and listed beside the old one
        again = client.wait(client.submit(SAMPLE | {"metrics": MODEL_FREE}).job_id, timeout=60)
        assert again.status == "completed"
        assert len(list(client.iter_jobs())) == 2


def test_fresh_starts_empty(no_judge: None, tmp_path: Path) -> None:
    with LocalStack(port=0, state_dir=tmp_path) as stack:
        client = ScoreJobsClient(stack.endpoint)
        client.wait(client.submit(SAMPLE | {"metrics": MODEL_FREE}).job_id, timeout=60)

    # WHEN `rag-eval local start --fresh` starts on the same folder
    process, banner = start_cli(tmp_path, "--fresh")
    try:
        endpoint = re.search(r"RAG_EVAL_ENDPOINT=(\S+)", banner).group(1)

        # THEN the stack is new and empty
        assert f"state        kept in {tmp_path} (new)" in banner
        assert list(ScoreJobsClient(endpoint).iter_jobs()) == []
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0


def test_a_job_running_when_the_stack_is_killed_finishes_after_the_restart(
    tmp_path: Path,
) -> None:
    rows = [
        SAMPLE | {"sample_id": f"s{i:02d}", "question": f"When was tower {i} completed?"}
        for i in range(12)
    ]
    with ScriptedJudge(latency_s=0.2) as judge:
        judge_env = {
            "OPENAI_BASE_URL": judge.base_url,
            "OPENAI_API_KEY": "test",
            "RAGAS_SHARD_SIZE": "4",
        }
        # GIVEN `rag-eval local start` on a state folder, scoring a job of three shards
        process, banner = start_cli(tmp_path, env=judge_env)
        try:
            endpoint = re.search(r"RAG_EVAL_ENDPOINT=(\S+)", banner).group(1)
            client = ScoreJobsClient(endpoint)
            body = {"samples": rows, "metrics": ["faithfulness", "exact_match"]}
            job_id = client.submit(body).job_id
            deadline = time.monotonic() + 120
            while client.get_job(job_id).progress.shards_done < 1:
                assert time.monotonic() < deadline, "no shard was ever counted"
                time.sleep(0.05)
            judge.latency_s = 20  # the other shards now wait on the judge
            # The stack saves its state in another process, about once a second after a
            # change, and tells no one: the count is on disk two saves later at the latest.
            time.sleep(2)
            running = client.get_job(job_id)
            assert running.status == "running" and running.progress.shards_done < 3
        except BaseException:
            os.killpg(process.pid, signal.SIGKILL)  # a failure here leaves no stack running
            raise

        # WHEN the whole stack is killed outright, worker processes too
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        samples_asked = judge.stats().calls_by_title.get(STATEMENTS, 0)
        judge.latency_s = 0.05

        # AND started again at once on the same ports
        ports = ("--port", port_of(endpoint), "--moto-port", port_of(moto_url_of(banner)))
        process, banner = start_cli(tmp_path, *ports, env=judge_env)
        try:
            assert re.search(rf"state        restored from {tmp_path}: 1 job\(s\)", banner)

            # THEN the job goes on and completes, each sample once in its run folder
            done = ScoreJobsClient(endpoint).wait(job_id, timeout=180, poll_interval=0.2)
            assert done.status == "completed", done.error
            assert done.progress.samples_done == 12
            assert done.metric_failures == {}
            scores = scores_csv(moto_url_of(banner), banner, done.run_id)
            assert sorted(row["sample_id"] for row in scores) == [r["sample_id"] for r in rows]
            # AND only the shards not counted before the kill were scored again
            asked_again = judge.stats().calls_by_title.get(STATEMENTS, 0) - samples_asked
            assert 4 * (3 - running.progress.shards_done) == asked_again
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=60) == 0


def start_cli(state_dir: Path, *options: str, env: dict[str, str] | None = None):
    """`rag-eval local start` in a process group of its own, and its banner."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if not re.match(r"^(OPENAI_|RAGAS_|AWS_|RAG_EVAL_)", name)
    } | {"RAGAS_DO_NOT_TRACK": "true", **(env or {})}
    ports = [] if "--port" in options else ["--port", "0", "--moto-port", "0"]
    log = state_dir.parent / f"{state_dir.name}-{time.monotonic_ns()}.log"  # shown if it fails
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [
                str(VENV_BIN / "rag-eval"),
                *("local", "start", "--state-dir", str(state_dir), "--visibility-timeout", "30"),
                *ports,
                *options,
            ],
            env=environment,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            start_new_session=True,
        )
    banner = []
    for line in process.stdout:
        banner.append(line)
        if line.startswith("Ctrl-C"):
            return process, "".join(banner)
    process.kill()
    raise AssertionError("the local stack did not come up:\n" + "".join(banner) + log.read_text())


def port_of(url: str) -> str:
    return url.rsplit(":", 1)[1].split("/")[0]


def moto_url_of(banner: str) -> str:
    return re.search(r"AWS_ENDPOINT_URL=(\S+)", banner).group(1)


def scores_csv(moto_url: str, banner: str, run_id: str) -> list[dict[str, str]]:
    import boto3

    bucket = re.search(r"^  bucket\s+(\S+)", banner, re.M).group(1)
    s3 = boto3.client(
        "s3",
        endpoint_url=moto_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    body = s3.get_object(Bucket=bucket, Key=f"score-async/{run_id}/scores.csv")["Body"].read()
    return list(csv.DictReader(io.StringIO(body.decode("utf-8"))))
