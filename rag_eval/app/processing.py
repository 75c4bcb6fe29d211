"""The worker's job: one queue message -> a scored job, safely under at-least-once delivery.

Every status write is conditional, so a duplicate or late message never redoes a
finished job nor moves a status backwards. A fault of our own raises: SQS retries the
record, and on its last receive the job is marked failed (never left `running`)
before the message goes to the dead-letter queue.

Light at import: the scoring pipeline (ragas, pandas) is imported on the first record.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from rag_eval.app.ports import ObjectStore, WorkerRepository
from rag_eval.domain.errors import JobTimeout, MalformedMessage
from rag_eval.domain.job import JobStatus, Progress, iso, utc_now
from rag_eval.domain.log_context import job_context
from rag_eval.domain.request import ScoreRequest
from rag_eval.domain.settings import Settings
from rag_eval.domain.states import FINAL_STATES, JobState

logger = logging.getLogger(__name__)


# Time kept back from the invocation's limit to record a timed-out job as failed.
FINISH_MARGIN_SECONDS = 15.0


def _default_pipeline(settings: Settings, store: ObjectStore) -> Any:
    from rag_eval.app.pipeline import ScoringPipeline

    return ScoringPipeline(settings, store)


class JobProcessor:
    def __init__(
        self,
        settings: Settings,
        repository: WorkerRepository,
        store: ObjectStore,
        pipeline_factory: Callable[[Settings, ObjectStore], Any] = _default_pipeline,
        progress_interval_seconds: float = 2.0,
    ) -> None:
        self._settings = settings
        self._repository = repository
        self._store = store
        self._pipeline_factory = pipeline_factory
        self._pipeline: Any = None
        self._progress_interval = progress_interval_seconds

    def process(self, body: str, receive_count: int = 1, seconds_left: float | None = None) -> str:
        """Handle one message; returns what happened (for logs and tests).

        `seconds_left`: the invocation's remaining time. A job that would outlive it is
        stopped and marked failed while the worker still can: a Lambda timeout would
        kill the process and leave the job `running`, and a retry would time out again.
        """
        job_id, payload = self._parse(body)
        with job_context(job_id):
            return self._process(job_id, payload, receive_count, seconds_left)

    def _process(
        self,
        job_id: str,
        payload: dict[str, Any],
        receive_count: int,
        seconds_left: float | None,
    ) -> str:
        found = self._repository.get(job_id)
        if found is None:
            # Jobs are recorded before they are queued, so this job never existed or
            # has expired: nothing to do, and retrying would not change that.
            logger.warning("message for unknown job dropped")
            return "unknown_job"
        job = found[0]
        if job.status in FINAL_STATES:
            logger.info("duplicate delivery ignored", extra={"status": job.status.value})
            return "duplicate"
        try:
            try:
                request = self._request(payload)
            except ValidationError as exc:
                # Validated at submission; failing now means a changed contract, which no
                # retry fixes.
                self._repository.mark_failed(
                    job_id, f"RequestInvalid: {exc}"[:1000], iso(utc_now())
                )
                logger.error("job failed: its request no longer validates")
                return JobState.FAILED
            running = self._repository.start(job_id, iso(utc_now()))
            if running is None:
                return "duplicate"  # finished by another delivery meanwhile
            logger.info(
                "job started",
                extra={"receive_count": receive_count, "samples": len(request.samples)},
            )
            final = asyncio.run(self._score(running, request, seconds_left))
        except JobTimeout as exc:
            self._repository.mark_failed(job_id, f"JobTimeout: {exc}", iso(utc_now()))
            logger.error("job stopped at the worker's time limit")
            return JobState.FAILED
        except Exception as exc:
            if receive_count >= self._settings.max_receive_count:
                self._repository.mark_failed(
                    job_id, f"{type(exc).__name__}: {exc}"[:1000], iso(utc_now())
                )
                logger.exception("job failed on its last delivery")
            else:
                logger.exception(
                    "job attempt failed; the queue will retry it",
                    extra={"receive_count": receive_count},
                )
            raise
        self._repository.complete(final)
        logger.info(
            "job completed",
            extra={
                "run_id": final.run_id,
                "latency_ms": final.latency_ms,
                "weighted_score": final.weighted_score,
            },
        )
        return JobState.COMPLETED

    async def _score(
        self, job: JobStatus, request: ScoreRequest, seconds_left: float | None
    ) -> JobStatus:
        run = self._pipeline_for().arun(job, request, self._progress(job.job_id))
        if seconds_left is None:
            return await run
        budget = max(1.0, seconds_left - FINISH_MARGIN_SECONDS)
        try:
            return await asyncio.wait_for(run, timeout=budget)
        except TimeoutError:
            raise JobTimeout(
                f"scoring {len(request.samples)} sample(s) took longer than the worker's "
                f"{budget:.0f} s; submit fewer samples per job or raise "
                "RAGAS_MAX_CONCURRENCY (and the judge's quota)"
            ) from None

    def _pipeline_for(self) -> Any:
        if self._pipeline is None:
            self._pipeline = self._pipeline_factory(self._settings, self._store)
        return self._pipeline

    @staticmethod
    def _parse(body: str) -> tuple[str, dict[str, Any]]:
        try:
            message = json.loads(body)
        except (TypeError, json.JSONDecodeError) as exc:
            raise MalformedMessage(f"message body is not JSON: {exc}") from exc
        if not isinstance(message, dict) or not isinstance(message.get("job_id"), str):
            raise MalformedMessage("message has no job_id")
        if "request" not in message and "request_key" not in message:
            raise MalformedMessage("message has neither request nor request_key")
        return message["job_id"], message

    def _request(self, payload: dict[str, Any]) -> ScoreRequest:
        if "request" in payload:
            return ScoreRequest.model_validate(payload["request"])
        return ScoreRequest.model_validate_json(self._store.get(payload["request_key"]))

    def _progress(self, job_id: str) -> Callable[[Progress], None]:
        last = {"at": 0.0}

        def report(progress: Progress) -> None:
            now = time.monotonic()
            if now - last["at"] < self._progress_interval:
                return
            last["at"] = now
            self._repository.save_progress(job_id, progress, iso(utc_now()))

        return report
