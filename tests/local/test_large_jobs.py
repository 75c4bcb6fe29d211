"""Jobs of any size on the local stack, over real HTTP: uploads through S3's presigned POST,
planning, shards scored by parallel workers, fan-in, cancel, and the CLI's automatic upload.
"""

from __future__ import annotations

import base64
import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rag_eval.client import ApiError, ScoreJobsClient
from rag_eval.client.upload import post_form
from rag_eval.local.stack import LocalStack
from testkit.scripted_judge import ScriptedJudge

pytestmark = pytest.mark.slow

VENV_BIN = Path(sys.executable).parent


def ragas_csv(path: Path, rows: int) -> Path:
    """A dataset in ragas' names, with a column we do not read (as ragas testsets have)."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["user_input", "retrieved_contexts", "response", "reference", "extra"])
        for i in range(1, rows + 1):
            answer = f"The answer is {i}."
            reference = answer if i % 4 else "Something else."
            writer.writerow([f"What is {i}?", f"['{answer}']", answer, reference, "x"])
    return path


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if re.match(r"^(OPENAI_|RAGAS_|RAG_EVAL_)", name) and name != "RAGAS_DO_NOT_TRACK":
            monkeypatch.delenv(name)


def test_an_uploaded_dataset_is_planned_sharded_and_scored_by_parallel_workers(
    clean_env: None, tmp_path: Path
) -> None:
    dataset = ragas_csv(tmp_path / "testset.csv", 230)
    with LocalStack(
        port=0,
        worker_concurrency=3,
        environment={"RAGAS_MODEL_FREE_SHARD_SIZE": "25"},
    ) as stack:
        client = ScoreJobsClient(stack.endpoint)
        seen: list[int] = []

        # WHEN the file is uploaded (S3's presigned POST) and submitted as a dataset
        upload_id = client.upload_file(dataset, on_progress=lambda sent, total: seen.append(sent))
        job = client.submit(
            {"dataset": {"upload_id": upload_id}, "metrics": ["exact_match", "chrf_score"]}
        )
        assert job.status == "queued" and job.sample_count == 0  # not read yet
        done = client.wait(job.job_id, timeout=120)

        # THEN it is scored in shards of 25, every sample once, into one run folder
        assert seen[-1] == dataset.stat().st_size
        assert done.status == "completed", done.error
        assert done.sample_count == 230
        assert (done.progress.shards_done, done.progress.shards_total) == (10, 10)
        assert done.scores["exact_match"] == pytest.approx(173 / 230, abs=1e-4)
        files = client.download_artifacts(job.job_id, tmp_path / "runs")
        scores = next(path for path in files if path.name == "scores.csv")
        assert len(scores.read_text(encoding="utf-8").splitlines()) == 231
        s3 = stack.client("s3")
        folders = {
            item["Key"].split("/")[1]
            for item in s3.list_objects_v2(Bucket=stack.bucket, Prefix="score-async/")["Contents"]
        }
        assert len(folders) == 1


def test_an_upload_over_the_size_limit_is_refused_by_the_api_and_by_s3(
    clean_env: None, tmp_path: Path
) -> None:
    dataset = ragas_csv(tmp_path / "big.csv", 100)
    with LocalStack(port=0, environment={"RAGAS_MAX_UPLOAD_BYTES": "2000"}) as stack:
        client = ScoreJobsClient(stack.endpoint)

        # A declared size over the limit: 413 from the API, naming the limit
        with pytest.raises(ApiError) as refused:
            client.create_upload("big.csv", dataset.stat().st_size)
        assert refused.value.status == 413 and "at most 2000" in str(refused.value)

        # A client that does not declare it: the POST policy caps the size (S3 enforces it;
        # moto does not), and a submission of a file over the limit is refused naming it
        upload = client.create_upload("big.csv")
        policy = json.loads(base64.b64decode(upload.fields["policy"]))
        assert ["content-length-range", 1, 2000] in policy["conditions"]
        status, _ = post_form(upload.url, upload.fields, dataset, timeout=10)
        assert status == 204  # moto took it
        with pytest.raises(ApiError) as over:
            client.submit({"dataset": {"upload_id": upload.upload_id}, "metrics": ["exact_match"]})
        assert over.value.status == 413 and "at most 2000" in str(over.value)


def test_a_cancelled_job_stops_calling_the_judge_and_keeps_a_partial_run_folder(
    clean_env: None, tmp_path: Path
) -> None:
    rows = [
        {"question": f"Why {i}?", "answer": f"Because {i}.", "contexts": [f"Because {i}."]}
        for i in range(40)
    ]
    with (
        ScriptedJudge(latency_s=0.05) as judge,
        LocalStack(
            port=0,
            environment={
                "OPENAI_BASE_URL": judge.base_url,
                "OPENAI_API_KEY": "test",
                "RAGAS_SHARD_SIZE": "4",
            },
        ) as stack,
    ):
        client = ScoreJobsClient(stack.endpoint)
        job = client.submit({"samples": rows, "metrics": ["faithfulness"]})

        # WHEN it is cancelled once some shards are in
        deadline = time.monotonic() + 60
        while client.get_job(job.job_id).progress.shards_done < 2:
            assert time.monotonic() < deadline, "no shard was counted"
            time.sleep(0.1)
        cancelled = client.cancel(job.job_id)
        assert cancelled.status == "cancelled"
        assert client.cancel(job.job_id).status == "cancelled"  # idempotent

        # THEN the calls stop once the shard in flight ends, and the scored part is kept
        while client.get_job(job.job_id).run_id is None:
            assert time.monotonic() < deadline, "the cancelled job's results were not written"
            time.sleep(0.2)
        calls = judge.stats().chat_calls
        time.sleep(1.0)
        assert judge.stats().chat_calls == calls
        done = client.get_job(job.job_id)
        assert done.status == "cancelled" and done.partial is True
        # AND its counts add up: samples scored before the cancel, and those it left
        unscored = done.metric_failures["faithfulness"].get("cancelled", 0)
        progress = done.progress
        assert 8 <= progress.samples_done == 40 - unscored < 40
        assert progress.samples_cancelled == unscored
        assert set(client.artifacts(job.job_id).files) >= {"scores.csv", "summary.md"}
        with pytest.raises(ApiError) as finished:
            done_job = client.submit({"samples": rows[:1], "metrics": ["faithfulness"]})
            client.wait(done_job.job_id, timeout=60)
            client.cancel(done_job.job_id)
        assert finished.value.status == 409


def test_submit_file_uploads_a_file_over_the_inline_limit_and_waits(
    clean_env: None, tmp_path: Path
) -> None:
    dataset = ragas_csv(tmp_path / "testset.csv", 1_001)
    with LocalStack(port=0, worker_concurrency=2) as stack:
        finished = subprocess.run(
            [
                str(VENV_BIN / "rag-eval"),
                "submit",
                "--file",
                str(dataset),
                "--metrics",
                "exact_match",
                "--wait",
                "--timeout",
                "180",
            ],
            env={**os.environ, **stack.client_environment()},
            capture_output=True,
            text=True,
            timeout=240,
        )

    assert finished.returncode == 0, finished.stderr
    assert "over the inline limit of 1,000 samples; uploading it" in finished.stderr
    assert re.search(r"completed", finished.stdout)


def test_a_worker_process_killed_mid_shard_is_replaced_and_the_job_completes(
    clean_env: None,
) -> None:
    rows = [
        {"question": f"Why {i}?", "answer": f"Because {i}.", "contexts": [f"Because {i}."]}
        for i in range(12)
    ]
    with (
        ScriptedJudge(latency_s=0.3) as judge,
        LocalStack(
            port=0,
            visibility_timeout=2,
            worker_isolation="process",
            environment={
                "OPENAI_BASE_URL": judge.base_url,
                "OPENAI_API_KEY": "test",
                "RAGAS_SHARD_SIZE": "4",
                "RAGAS_SHARD_LEASE_SECONDS": "3",
            },
        ) as stack,
    ):
        client = ScoreJobsClient(stack.endpoint)
        job = client.submit({"samples": rows, "metrics": ["faithfulness"]})

        # WHEN the worker's process is killed while it waits on the judge
        deadline = time.monotonic() + 120
        while judge.stats().chat_calls == 0:
            assert time.monotonic() < deadline, "the worker never called the judge"
            time.sleep(0.05)
        killed = stack.functions["WorkerFunction"].environment_pids()
        for pid in killed:
            os.kill(pid, signal.SIGKILL)

        # THEN a new environment takes the shard over and the job completes, every sample scored
        done = client.wait(job.job_id, timeout=180)
        assert done.status == "completed", done.error
        assert done.progress.samples_done == 12
        assert done.metric_failures == {}
        assert not set(killed) & set(stack.functions["WorkerFunction"].environment_pids())
