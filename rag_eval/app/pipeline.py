"""Scoring a job's shards and writing its run folder once they are all in (one job's
scoring, split for parallel workers): score, advise, write the run folder.

Raises on a fault of our own (the worker lets SQS retry it); judge failures are
already per-metric reason codes inside the results and never reach here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from rag_eval.advice.diagnosis import diagnose
from rag_eval.advice.findings import Diagnosis
from rag_eval.advice.narrative import advise
from rag_eval.app.planning import Planner
from rag_eval.app.ports import ObjectStore
from rag_eval.app.work_files import Plan
from rag_eval.domain.budget import Budget, JudgeBudget, MemoryBudget, budget_limits
from rag_eval.domain.job import (
    JobCache,
    JobStatus,
    iso,
    judges_named,
    make_run_id,
    parse_iso,
    resolved_models,
    utc_now,
)
from rag_eval.domain.layout import run_folder
from rag_eval.domain.pricing import job_cost
from rag_eval.domain.request import ScoreOptions, ScoreRequest
from rag_eval.domain.results import ScoreRun, ShardResult
from rag_eval.domain.sample import Sample
from rag_eval.domain.settings import Settings
from rag_eval.domain.states import JobState
from rag_eval.domain.verdicts import VerdictStore
from rag_eval.judges.factory import JudgeModels, build_judge
from rag_eval.judges.gate import JudgeGate
from rag_eval.judges.provider import judge_configured
from rag_eval.report.html import render_report
from rag_eval.scoring.intervals import run_intervals
from rag_eval.scoring.jury import jury_agreements
from rag_eval.scoring.label_files import LABEL_FILES, label_files
from rag_eval.scoring.run_folder import RUN_FILES, RunRecord, run_files
from rag_eval.scoring.scorer import ProgressCallback, Scorer
from rag_eval.scoring.segments import run_segments

logger = logging.getLogger(__name__)
# Every file of a run folder: the ones a reader opens, then the ones people label from.
_CONTENT_TYPES = RUN_FILES | LABEL_FILES


class ScoringPipeline:
    """Scores shards and writes a job's run folder from all of them (its fan-in)."""

    def __init__(
        self,
        settings: Settings,
        store: ObjectStore,
        verdicts: VerdictStore | None = None,
        judge_factory: Callable[..., JudgeModels] = build_judge,
    ) -> None:
        """`verdicts`: the shared judge-verdict cache (None: no cache)."""
        self._settings = settings
        self._store = store
        self._verdicts = verdicts
        self._judge_factory = judge_factory
        self._scorer = Scorer(settings, judge_factory)

    def gate(self, options: ScoreOptions, budget: JudgeBudget | None) -> JudgeGate:
        """A scoring's gate: the cache as the request asks, the job's budget."""
        return JudgeGate(
            store=self._verdicts,
            mode=options.cache,
            budget=budget,
            prices=self._settings.model_prices,
            concurrency=self._settings.max_concurrency,
            adaptive=self._settings.adaptive_concurrency,
        )

    async def score_shard(
        self,
        options: ScoreOptions,
        samples: list[Sample],
        skipped: dict[str, str],
        on_progress: ProgressCallback | None = None,
        budget: JudgeBudget | None = None,
    ) -> ShardResult:
        """One shard's samples, scored with the job's options (and its skipped metrics)."""
        shard = ScoreRequest.model_construct(samples=samples, **dict(options))
        run = await self._scorer.ascore(
            shard, skipped=skipped, on_progress=on_progress, gate=self.gate(options, budget)
        )
        return ShardResult(
            results=run.results,
            usage=run.usage,
            metric_ms=run.metric_ms,
            cache=run.cache,
            concurrency=run.concurrency,
        )

    async def fan_in(
        self,
        job: JobStatus,
        plan: Plan,
        samples: list[Sample],
        scored: ShardResult,
        budget: JudgeBudget | None = None,
    ) -> JobStatus:
        """The run folder from every shard's results, and the job's final fields.

        The same run id on every attempt: a fan-in retried after a crash rewrites the
        same folder, never a second one.
        """
        clock = time.monotonic()
        run_id = make_run_id(job.job_id, job.created_at)
        options = plan.options
        request = ScoreRequest.model_construct(samples=samples, **dict(options))
        results = scored.results
        run = ScoreRun(
            metrics=list(options.metrics),
            results=results,
            skipped=plan.skipped,
            weights=dict(options.weights),
            usage=scored.usage.model_copy(deep=True),
            cache=scored.cache.model_copy(deep=True),
            concurrency=scored.concurrency,
            scales={spec.name: spec.scale for spec in options.metric_specs()},
            jurors=list(options.judges or []) if options.needs_judge() else [],
        )
        judge_model, embedding_model = resolved_models(options, self._settings)
        diagnosis = diagnose(run, request)  # for the advice and the report alike
        advice = await self._advise(
            run, request, diagnosis, judge_model, self.gate(options, budget)
        )
        spent = _budget_state(job.budget, budget, run)
        finished = iso(utc_now())
        started = job.started_at or job.created_at
        latency_ms = int((parse_iso(finished) - parse_iso(started)).total_seconds() * 1000)
        record = RunRecord(
            run_id=run_id,
            job_id=job.job_id,
            created_at=job.created_at,
            started_at=started,
            finished_at=finished,
            latency_ms=latency_ms,
            judge_model=judges_named(options, self._settings) if options.needs_judge() else "",
            embedding_model=embedding_model if options.needs_embeddings() else "",
            partial=job.status is JobState.CANCELLED,
            min_coverage=self._settings.min_coverage,
            cost=job_cost(run.usage, self._settings.model_prices, run.cache.saved),
            cache=JobCache(mode=options.cache, **run.cache.model_dump()),
            budget=spent,
            concurrency=run.concurrency,
            intervals=run_intervals(run),
            jury=jury_agreements(run),
            segments=run_segments(samples, run),
        )
        report = render_report(record, request, run, diagnosis)
        bodies = run_files(record, request, run, advice, report, plan.snapshot)
        keys = self._write_run(run_id, bodies | label_files(run_id, request, run))
        logger.info(
            "run folder written",
            extra={
                "run_id": run_id,
                "files": len(keys),
                "samples": len(results),
                "fan_in_ms": int((time.monotonic() - clock) * 1000),
            },
        )
        cancelled = job.status is JobState.CANCELLED
        error = None if cancelled else run.nothing_scored
        status = (
            JobState.CANCELLED if cancelled else JobState.FAILED if error else JobState.COMPLETED
        )
        progress = job.progress.model_copy(
            update={
                "samples_done": len(results) - run.samples_cancelled,
                "samples_cancelled": run.samples_cancelled,
                "shards_done": plan.shards_total,
                "metric_calls_done": job.progress.metric_calls_total - run.pairs_cancelled,
                "running_scores": run.means,
                "eta_seconds": None,
            }
        )
        return job.model_copy(
            update={
                "status": status,
                "partial": cancelled,
                "finished_at": job.finished_at if cancelled and job.finished_at else finished,
                "updated_at": finished,
                "run_id": run_id,
                "scores": run.means,
                "weighted_score": run.weighted_score,
                "intervals": record.intervals,
                "jury": record.jury,
                "segments": record.segments,
                "coverage": run.coverage,
                "low_coverage": run.coverage is not None
                and run.coverage < self._settings.min_coverage,
                "latency_ms": latency_ms,
                "skipped_metrics": list(run.skipped),
                "skip_reasons": run.skipped,
                "metric_failures": run.failures,
                "token_usage": run.usage,
                "cost": record.cost,
                "cache": record.cache,
                "budget": spent,
                "artifact_keys": keys,
                "progress": progress,
                "error": error,
            }
        )

    async def arun(
        self,
        job: JobStatus,
        request: ScoreRequest,
        on_progress: ProgressCallback | None = None,
    ) -> JobStatus:
        """A whole request in this process as one shard (`rag-eval score`)."""
        job = job.model_copy(update={"started_at": job.started_at or iso(utc_now())})
        planned = Planner(self._settings.model_copy(update={"shard_size": 10**9}), self._store)
        found = planned.plan(job, request)
        samples = found.first_shard or []
        limits = budget_limits(found.plan.options, self._settings)
        budget = MemoryBudget(limits) if limits.any else None
        shard = await self.score_shard(
            found.plan.options, samples, found.plan.skipped, on_progress, budget
        )
        return await self.fan_in(found.job, found.plan, samples, shard, budget)

    def _write_run(self, run_id: str, bodies: dict[str, bytes]) -> dict[str, str]:
        """Upload the run folder; returns file name -> key."""
        keys = {name: run_folder(run_id) + name for name in bodies}
        # Independent uploads: side by side they cost one round trip, not five.
        with ThreadPoolExecutor(max_workers=len(bodies)) as uploads:
            for upload in [
                uploads.submit(self._store.put, keys[name], body, _CONTENT_TYPES[name])
                for name, body in bodies.items()
            ]:
                upload.result()  # re-raise the first failure: a partial folder fails the job
        return keys

    async def _advise(
        self,
        run: ScoreRun,
        request: ScoreRequest,
        diagnosis: Diagnosis,
        judge_model: str,
        gate: JudgeGate,
    ) -> str:
        """Rule-based advice always; a narrative too when a judge is reachable (through the
        job's gate: it is cached, and counts against the budget)."""
        if not judge_configured(request, self._settings):
            return await advise(run, request, diagnosis=diagnosis)
        try:
            judge = self._judge_factory(
                judge_model, "", self._settings, need_llm=True, need_embeddings=False, gate=gate
            )
        except Exception:  # the advice must never fail the job
            logger.warning("advice narrative skipped: judge unavailable", exc_info=True)
            return await advise(run, request, diagnosis=diagnosis)
        try:
            return await advise(run, request, judge.llm, diagnosis=diagnosis)
        finally:
            await judge.aclose()
            run.usage.merge(gate.usage)  # the narrative's tokens count too
            run.cache.merge(gate.cache)


def _budget_state(
    limits: Budget | None, budget: JudgeBudget | None, run: ScoreRun
) -> Budget | None:
    """The job's budget at its end: what it spent, and exhausted when a pair was refused."""
    if limits is None or budget is None:
        return None
    calls, usd = budget.used()
    refused = any("budget_exhausted" in r.reasons.values() for r in run.results)
    return limits.model_copy(
        update={"judge_calls": calls, "cost_usd": round(usd, 6), "exhausted": refused}
    )
