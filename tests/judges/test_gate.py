"""The gate every judge request passes: budget bound, adaptive concurrency, Retry-After."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from rag_eval.adapters.local_files import LocalObjectStore
from rag_eval.app.pipeline import ScoringPipeline
from rag_eval.domain.budget import BudgetLimits, MemoryBudget
from rag_eval.domain.job import JobStatus, new_job
from rag_eval.domain.pricing import ModelPrice
from rag_eval.domain.request import parse_request
from rag_eval.domain.settings import Settings
from rag_eval.domain.states import JobState
from rag_eval.judges.gate import AdaptiveLimit, BudgetExhausted, JudgeGate
from rag_eval.judges.openai_compatible import MAX_BACKOFF_SECONDS, _retry_delay
from testkit.scripted_judge import ScriptedJudge

SAMPLES = [
    json.loads(line)
    for line in (Path(__file__).parents[2] / "rag_eval/sample_data/samples.jsonl")
    .read_text(encoding="utf-8")
    .splitlines()
]


def run_job(judge: ScriptedJudge, root: Path, settings: dict[str, Any], **body: Any) -> JobStatus:
    configured = Settings(
        openai_base_url=judge.base_url, openai_api_key="test", max_retries=0, **settings
    )
    request = parse_request({"samples": SAMPLES, **body})
    pipeline = ScoringPipeline(configured, LocalObjectStore(root))
    judge.reset_stats()
    return asyncio.run(pipeline.arun(new_job(request, configured), request))


# --- the budget -----------------------------------------------------------------------------


def test_dollars_overshoot_the_budget_by_at_most_the_calls_in_flight() -> None:
    # GIVEN a $5 budget, calls of $1 each, and 3 calls in flight at most
    budget = MemoryBudget(BudgetLimits(max_cost_usd=5.0))
    gate = JudgeGate(budget=budget, prices={"judge": ModelPrice(input=1e6)})
    in_flight = asyncio.Semaphore(3)
    started = []

    async def call(index: int) -> None:
        async with in_flight:
            try:
                gate.admit()
            except BudgetExhausted:
                return
            started.append(index)
            await asyncio.sleep(0.01)
            gate.answered(f"k{index}", b"{}", "judge", 1, 0)  # $1

    async def many() -> None:
        await asyncio.gather(*(call(i) for i in range(50)))

    # WHEN 50 calls want to start
    asyncio.run(many())

    # THEN calls started while less than $5 was spent: 5, plus at most the 2 others in flight
    assert 5 <= len(started) <= 5 + 2
    assert budget.used() == (len(started), float(len(started)))
    assert gate.exhausted


def test_judge_calls_never_pass_their_limit(judge: ScriptedJudge, tmp_path: Path) -> None:
    # GIVEN a budget of 10 judge calls for the bundled samples (about 50 calls unbudgeted)
    job = run_job(judge, tmp_path, {"max_concurrency": 4}, max_judge_calls=10)

    # THEN the judge was asked at most 10 times, and the job says the budget ran out: before
    # any metric of any sample could finish, so the job failed, saying why
    assert judge.total_calls <= 10
    assert job.status is JobState.FAILED and job.error is not None
    assert job.error.startswith("NothingScored: no sample scored any metric (context_recall: ")
    assert "faithfulness: budget_exhausted on 6 sample(s)" in job.error
    assert job.budget is not None and job.budget.exhausted
    assert job.budget.max_judge_calls == 10 and job.budget.judge_calls <= 10
    refused = [
        (result, metric)
        for result in job_results(tmp_path, job)
        for metric, reason in result.items()
        if reason == "budget_exhausted"
    ]
    assert refused  # the pairs not scored by then say why
    assert sum(job.metric_failures.get(m, {}).get("budget_exhausted", 0) for m in job.scores) > 0


def job_results(root: Path, job: JobStatus) -> list[dict[str, str]]:
    """Each sample's error column of scores.csv, as metric -> reason."""
    import csv

    rows = csv.DictReader((root / job.artifact_keys["scores.csv"]).open(encoding="utf-8"))
    return [dict(part.split(": ", 1) for part in row["error"].split("; ") if part) for row in rows]


def test_a_dollar_budget_stops_a_job_and_is_reported(judge: ScriptedJudge, tmp_path: Path) -> None:
    # GIVEN a price for the scripted judge's models and a budget smaller than the run costs
    prices = json.dumps(
        {"gpt-4o-mini": {"input": 1.0, "output": 1.0}, "text-embedding-3-small": {"input": 1.0}}
    )
    unbudgeted = run_job(judge, tmp_path / "a", {"model_prices": prices})
    limit = unbudgeted.cost.total_usd / 4

    # WHEN the job runs with it
    job = run_job(judge, tmp_path / "b", {"model_prices": prices}, max_cost_usd=limit)

    # THEN it spent about its budget, far less than the whole run, and says it ran out
    assert job.budget.exhausted and job.budget.max_cost_usd == limit
    assert limit <= job.cost.total_usd < unbudgeted.cost.total_usd
    assert job.budget.cost_usd == pytest.approx(job.cost.total_usd, rel=1e-6)
    summary = (tmp_path / "b" / job.artifact_keys["summary.md"]).read_text(encoding="utf-8")
    assert "**Budget exhausted**" in summary


# --- adaptive concurrency -------------------------------------------------------------------


def test_the_limit_halves_once_per_round_of_429s_and_recovers() -> None:
    async def scenario() -> list[int]:
        limit = AdaptiveLimit(8)
        rounds = [await limit.acquire() for _ in range(8)]
        seen = []
        for sent_in in rounds[:4]:  # four 429s of requests sent in the same round
            await limit.release(sent_in, throttled=True)
        seen.append(limit.limit)  # one cut, not four
        for sent_in in rounds[4:]:
            await limit.release(sent_in, throttled=False)
        for _ in range(20):  # answers without a 429 add slots back, up to the cap
            await limit.release(await limit.acquire(), throttled=False)
        seen.append(limit.limit)
        report = limit.report()
        seen += [report.lowest, report.configured]
        return seen

    assert asyncio.run(scenario()) == [4, 8, 4, 8]


def test_retry_after_is_honoured_in_seconds_milliseconds_and_dates() -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=3), usegmt=True)

    assert _retry_delay(httpx.Headers({"retry-after": "1.5"}), 0) == 1.5
    assert _retry_delay(httpx.Headers({"retry-after-ms": "250"}), 0) == 0.25
    assert 1.0 < _retry_delay(httpx.Headers({"retry-after": later}), 0) <= 3.0
    assert _retry_delay(httpx.Headers({"retry-after": "3600"}), 0) == MAX_BACKOFF_SECONDS
    # no header, or one that is no time: exponential backoff with jitter
    assert 0.25 <= _retry_delay(httpx.Headers({"retry-after": "soon"}), 0) <= 0.75
    assert 1.0 <= _retry_delay(httpx.Headers(), 2) <= 3.0


@pytest.mark.integration  # a server of its own on loopback
def test_a_rate_limiting_judge_slows_the_job_down_instead_of_failing_metrics(
    tmp_path: Path,
) -> None:
    # GIVEN a judge that refuses (429) more than 2 requests at once, and 6 configured
    with ScriptedJudge(latency_s=0.05, max_concurrency=2) as judge:
        settings = {"max_concurrency": 6}
        # WHEN the bundled samples are scored with adaptive concurrency (the default)
        adaptive = run_job(judge, tmp_path / "a", settings)
        refused = judge.stats().concurrency_rejections
        # AND without it, and no retries left to the client
        fixed = run_job(judge, tmp_path / "b", {**settings, "adaptive_concurrency": False})

    # THEN with it every metric scored, after 429s that brought the requests in flight down
    assert refused > 0 and adaptive.metric_failures == {}
    assert adaptive.token_usage.rate_limited == refused
    metadata = json.loads((tmp_path / "a" / adaptive.artifact_keys["metadata.json"]).read_text())
    concurrency = metadata["judge"]["concurrency"]
    assert concurrency["configured"] == 6 and concurrency["lowest"] <= 3
    assert concurrency["effective"] < 6
    assert metadata["judge"]["rate_limited"] == refused
    # AND without it metrics failed as rate limited
    assert any("rate_limited" in reasons for reasons in fixed.metric_failures.values())
