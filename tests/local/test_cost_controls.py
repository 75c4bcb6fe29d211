"""Cost controls on the local stack, over real HTTP, with two workers scoring shards side by
side: the verdict cache shared by workers and jobs, a judge-call budget that holds across
parallel shards, and the CLI's dry run."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag_eval.client import ScoreJobsClient
from rag_eval.local.stack import LocalStack
from testkit.scripted_judge import ScriptedJudge
from tests.support.stacks import judged_stack

pytestmark = pytest.mark.slow

VENV_BIN = Path(sys.executable).parent
SAMPLES_FILE = Path(__file__).parents[2] / "rag_eval" / "sample_data" / "samples.jsonl"
SAMPLES = [json.loads(line) for line in SAMPLES_FILE.read_text(encoding="utf-8").splitlines()]
METRICS = ["faithfulness", "answer_relevancy", "context_precision", "context_recall"]


@pytest.fixture(scope="module")
def judge() -> Iterator[ScriptedJudge]:
    with ScriptedJudge(latency_s=0.02) as running:
        yield running


@pytest.fixture(scope="module")
def stack(judge: ScriptedJudge) -> Iterator[LocalStack]:
    """GIVEN the local stack, two workers, shards of 3 samples, the scripted judge."""
    settings = {"RAGAS_METRIC_TIMEOUT_SECONDS": "20", "RAGAS_SHARD_SIZE": "3"}
    with judged_stack(judge, settings, worker_concurrency=2, visibility_timeout=60) as running:
        yield running


def test_the_cache_serves_a_second_job_whose_shards_other_workers_score(
    stack: LocalStack, judge: ScriptedJudge
) -> None:
    client = ScoreJobsClient(stack.endpoint)
    samples = [s | {"sample_id": f"cache-{s['sample_id']}"} for s in SAMPLES]

    # GIVEN a job of two shards, scored by the two workers side by side
    judge.reset_stats()
    first = client.wait(client.submit({"samples": samples, "metrics": METRICS}).job_id, 120)
    asked = judge.total_calls

    # WHEN a second job scores the same samples (its shards again spread over the workers)
    judge.reset_stats()
    second = client.wait(client.submit({"samples": samples, "metrics": METRICS}).job_id, 120)

    # THEN the judge is asked nothing: every request was answered from the shared cache
    assert first.status == second.status == "completed"
    assert first.progress.shards_total == second.progress.shards_total == 2
    assert asked > 0 and judge.total_calls == 0
    assert second.scores == first.scores
    assert second.cache.hits == first.cache.misses and second.cache.misses == 0


def test_a_judge_call_budget_holds_while_shards_score_in_parallel(
    stack: LocalStack, judge: ScriptedJudge
) -> None:
    client = ScoreJobsClient(stack.endpoint)
    samples = [s | {"sample_id": f"budget-{s['sample_id']}"} for s in SAMPLES]

    # GIVEN a budget of 12 judge calls (the job wants about 50), and nothing cached
    judge.reset_stats()
    body = {"samples": samples, "metrics": METRICS, "max_judge_calls": 12, "cache": "off"}
    done = client.wait(client.submit(body).job_id, 120)

    # THEN the two workers together never passed it; the job ended with what it scored
    assert done.status == "completed"
    assert judge.total_calls <= 12
    assert done.budget.exhausted is True and done.budget.judge_calls <= 12
    refused = sum(f.get("budget_exhausted", 0) for f in done.metric_failures.values())
    assert refused > 0


def test_submit_dry_run_prints_an_estimate_and_creates_no_job(
    stack: LocalStack, judge: ScriptedJudge, tmp_path: Path
) -> None:
    client = ScoreJobsClient(stack.endpoint)
    before = len(client.list_jobs(limit=100).jobs)
    samples = tmp_path / "samples.jsonl"
    samples.write_text(SAMPLES_FILE.read_text(encoding="utf-8"), encoding="utf-8")
    judge.reset_stats()

    finished = subprocess.run(
        # --upload: the file goes to S3 and the estimate reads it as planning would
        [str(VENV_BIN / "rag-eval"), "submit", "--file", str(samples), "--upload", "--dry-run"],
        env={**os.environ, **stack.client_environment()},
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert finished.returncode == 0, finished.stderr
    assert "dry run: 6 samples x 4 metrics; nothing was created" in finished.stdout
    assert re.search(r"judge calls: [\d,]+ to make", finished.stdout)
    assert "cost: $" in finished.stdout and "duration: about" in finished.stdout
    assert len(client.list_jobs(limit=100).jobs) == before
    assert judge.total_calls == 0
