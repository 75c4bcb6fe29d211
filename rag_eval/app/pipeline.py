"""One scoring job end to end, the seed's `_run`: score, write the run folder, advise.

Raises on a fault of our own (the worker lets SQS retry it); judge failures are
already per-metric reason codes inside the ScoreRun and never reach here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from rag_eval.advice.narrative import advise
from rag_eval.app.ports import ObjectStore
from rag_eval.domain.job import JobStatus, iso, make_run_id, resolved_models, utc_now
from rag_eval.domain.layout import run_folder
from rag_eval.domain.request import ScoreRequest
from rag_eval.domain.results import ScoreRun
from rag_eval.domain.settings import Settings
from rag_eval.domain.states import JobState
from rag_eval.judges.factory import JudgeModels, build_judge
from rag_eval.judges.provider import judge_configured
from rag_eval.scoring.run_folder import RUN_FILES, RunRecord, run_files
from rag_eval.scoring.scorer import ProgressCallback, Scorer

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
        keys = self._write_run(run_id, run_files(record, request, run, advice))
        logger.info("run folder written", extra={"run_id": run_id, "files": len(keys)})
        progress = job.progress.model_copy(
            update={
                "samples_done": len(run.results),
                "metric_calls_done": job.progress.metric_calls_total,
            }
        )
        return job.model_copy(
            update={
                "status": JobState.COMPLETED,
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

    def _write_run(self, run_id: str, bodies: dict[str, bytes]) -> dict[str, str]:
        """Upload the run folder; returns file name -> key."""
        keys = {name: run_folder(run_id) + name for name in bodies}
        # Independent uploads: side by side they cost one round trip, not five.
        with ThreadPoolExecutor(max_workers=len(bodies)) as uploads:
            for upload in [
                uploads.submit(self._store.put, keys[name], body, RUN_FILES[name])
                for name, body in bodies.items()
            ]:
                upload.result()  # re-raise the first failure: a partial folder fails the job
        return keys

    async def _advise(self, run: ScoreRun, request: ScoreRequest, judge_model: str) -> str:
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
