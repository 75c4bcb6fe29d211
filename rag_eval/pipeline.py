"""One scoring job end to end, the seed's `_run`: score, write the run folder, advise.

Raises on a fault of our own (the worker lets SQS retry it); judge failures are
already per-metric reason codes inside the ScoreRun and never reach here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from rag_eval.advisor import advise
from rag_eval.artifacts import RunRecord, write_run
from rag_eval.jobs import iso, judge_configured, make_run_id, resolved_models, utc_now
from rag_eval.judges import JudgeModels, build_judge
from rag_eval.models import JobStatus, ScoreRequest
from rag_eval.scoring import ProgressCallback, Scorer
from rag_eval.settings import Settings
from rag_eval.storage import ObjectStore

logger = logging.getLogger(__name__)


class ScoringPipeline:
    def __init__(
        self,
        settings: Settings,
        store: ObjectStore,
        judge_factory: Callable[..., JudgeModels] = build_judge,
    ) -> None:
        self._settings = settings
        self._store = store
        self._judge_factory = judge_factory
        self._scorer = Scorer(settings, judge_factory)

    async def arun(
        self,
        job: JobStatus,
        request: ScoreRequest,
        on_progress: ProgressCallback | None = None,
    ) -> JobStatus:
        started = utc_now()
        clock = time.monotonic()
        run_id = make_run_id(job.job_id, job.created_at)
        judge_model, embedding_model = resolved_models(request, self._settings)
        run = await self._scorer.ascore(
            request,
            judge_model=judge_model,
            embedding_model=embedding_model,
            on_progress=on_progress,
        )
        advice = await self._advise(run, request, judge_model)
        latency_ms = int((time.monotonic() - clock) * 1000)
        finished = iso(utc_now())
        record = RunRecord(
            run_id=run_id,
            job_id=job.job_id,
            created_at=job.created_at,
            started_at=iso(started),
            finished_at=finished,
            latency_ms=latency_ms,
            judge_model=judge_model if request.needs_judge() else "",
            embedding_model=embedding_model if request.needs_embeddings() else "",
        )
        keys = write_run(self._store, record, request, run, advice)
        logger.info("run folder written", extra={"job_id": job.job_id, "run_id": run_id})
        progress = job.progress.model_copy(
            update={
                "samples_done": len(run.results),
                "metric_calls_done": job.progress.metric_calls_total,
            }
        )
        return job.model_copy(
            update={
                "status": "completed",
                "finished_at": finished,
                "updated_at": finished,
                "run_id": run_id,
                "scores": run.means,
                "weighted_score": run.weighted_score,
                "coverage": run.coverage,
                "latency_ms": latency_ms,
                "skipped_metrics": list(run.skipped),
                "skip_reasons": run.skipped,
                "metric_failures": run.failures,
                "token_usage": run.usage,
                "artifact_keys": keys,
                "progress": progress,
                "error": None,
            }
        )

    async def _advise(self, run: Any, request: ScoreRequest, judge_model: str) -> str:
        """Rule-based advice always; a narrative too when a judge is reachable."""
        if not judge_configured(request, self._settings):
            return await advise(run, request)
        try:
            judge = self._judge_factory(
                judge_model, "", self._settings, need_llm=True, need_embeddings=False
            )
        except Exception:  # the advice must never fail the job
            logger.warning("advice narrative skipped: judge unavailable", exc_info=True)
            return await advise(run, request)
        try:
            return await advise(run, request, judge.llm)
        finally:
            await judge.aclose()
            run.usage.merge(judge.usage)  # the narrative's tokens count too
