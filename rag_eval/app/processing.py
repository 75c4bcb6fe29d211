"""The worker's use cases behind one door: each queue message goes to the one its type
names, safely under at-least-once delivery and concurrent copies.

- `JobMessage` -> `PlanJob` (rag_eval/app/plan_job.py): plan, shard, or score a small job;
- `ShardMessage` -> `ScoreShard` (score_shard.py): score and count a shard; the last one
  counted fans in (`FanIn`, fan_in.py) and writes the run folder;
- `CompareMessage` -> `CompareRuns` (comparing.py): compare two written runs;
- `TrustMessage` -> `JudgeTrust` (trust.py): labels arrived: correct the judge's figures;
- `WebhookMessage` -> `DeliverWebhooks` (webhooks.py): a job's event to its webhook.

Every status write is conditional: a late or duplicate message never redoes a job nor
moves a status back. A fault of ours raises (SQS retries the record); on the last delivery
a shard is stored unscored (`worker_error`), a planning or fan-in fails the job. A message
from the dead-letter queue (every delivery died: a timeout, out of memory) is closed the
same way without trying its work again; a comparison or labels message is dropped there.
ragas loads on first use.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, assert_never

from rag_eval.app.canary import CanarySuites, JudgeCanary
from rag_eval.app.comparing import CompareRuns
from rag_eval.app.delivery import Delivery, parse_message
from rag_eval.app.fan_in import FanIn
from rag_eval.app.job_record import JobRecord, Outcome
from rag_eval.app.plan_job import PlanJob
from rag_eval.app.ports import (
    JobMetrics,
    JobQueue,
    LabelStore,
    NoMetrics,
    ObjectStore,
    WorkerRepository,
)
from rag_eval.app.score_shard import ScoreShard
from rag_eval.app.trust import JudgeTrust
from rag_eval.app.webhooks import DeliverWebhooks
from rag_eval.app.work_files import WorkFiles
from rag_eval.domain.log_context import job_context
from rag_eval.domain.messages import (
    CompareMessage,
    JobMessage,
    QueueMessage,
    ShardMessage,
    TrustMessage,
    WebhookMessage,
)
from rag_eval.domain.settings import Settings
from rag_eval.domain.verdicts import VerdictStore
from rag_eval.judges.preflight import judge_unreachable

if TYPE_CHECKING:  # the pipeline loads ragas: imported on first use only
    from rag_eval.app.pipeline import ScoringPipeline

logger = logging.getLogger(__name__)

CLOSING_DIED = (
    "WorkerDied: a message failed every delivery, and closing its work from the "
    "dead-letter queue died twice too; what was scored is in no run folder"
)


def _default_pipeline(
    settings: Settings, store: ObjectStore, verdicts: VerdictStore | None
) -> ScoringPipeline:
    from rag_eval.app.pipeline import ScoringPipeline

    return ScoringPipeline(settings, store, verdicts)


class JobProcessor:
    def __init__(
        self,
        settings: Settings,
        repository: WorkerRepository,
        store: ObjectStore,
        shard_queue: JobQueue,
        pipeline_factory: Callable[
            [Settings, ObjectStore, VerdictStore | None], ScoringPipeline
        ] = _default_pipeline,
        preflight: Callable[[Settings, list[str]], str | None] = judge_unreachable,
        progress_interval_seconds: float = 2.0,
        clock: Callable[[], float] = time.time,
        metrics: JobMetrics | None = None,
        verdicts: VerdictStore | None = None,
        labels: LabelStore | None = None,
        suites: CanarySuites | None = None,
        webhooks: DeliverWebhooks | None = None,
    ) -> None:
        self._settings = settings
        self._pipeline: ScoringPipeline | None = None

        def pipeline() -> ScoringPipeline:  # one per worker, made when first needed
            if self._pipeline is None:
                self._pipeline = pipeline_factory(settings, store, verdicts)
            return self._pipeline

        counted = metrics or NoMetrics()
        files = WorkFiles(store)
        canary = JudgeCanary(repository, suites, store) if suites is not None else None
        fan_in = FanIn(settings, repository, files, pipeline, counted, suites, canary)
        score = ScoreShard(
            settings, repository, files, pipeline, fan_in, counted, clock, progress_interval_seconds
        )
        self._plan = PlanJob(
            settings,
            repository,
            store,
            files,
            shard_queue,
            score,
            fan_in,
            counted,
            preflight,
            clock,
        )
        self._score = score
        self._record = JobRecord(repository, counted)
        self._compare = CompareRuns(repository, store)
        self._trust = JudgeTrust(repository, store, labels)
        self._webhooks = webhooks

    def process(
        self,
        message: QueueMessage | str,
        receive_count: int = 1,
        seconds_left: float | None = None,
        dead_letter: bool = False,
    ) -> Outcome:
        """Handle one message (or a record's body, parsed here); returns what happened.

        `seconds_left`: the invocation's remaining time. Scoring that would outlive it is
        stopped while the worker still can: a Lambda timeout would kill the process and
        leave nothing stored, and a retry would time out again.
        `dead_letter`: the record came from the dead-letter queue.
        """
        if isinstance(message, str):
            message = parse_message(message)
        last = dead_letter or receive_count >= self._settings.max_receive_count
        delivery = Delivery(receive_count, seconds_left, last, dead=dead_letter)
        with job_context(message.job_id):
            # Two deliveries from the dead-letter queue died too (a fan-in that kills the
            # process): end the job, rather than try again for the queue's 14 days.
            closing_died = dead_letter and receive_count > self._settings.max_receive_count + 2
            if closing_died and isinstance(message, JobMessage | ShardMessage):
                self._record.fail(message.job_id, CLOSING_DIED)
                return Outcome.FAILED
            match message:
                case JobMessage():
                    return self._plan.handle(message, delivery)
                case ShardMessage():
                    return self._score.handle(message, delivery)
                case CompareMessage() | TrustMessage() | WebhookMessage() if dead_letter:
                    # Nothing of a job waits on it: the job's status does not depend on it.
                    logger.warning(
                        "dead-lettered message dropped: nothing to close",
                        extra={"type": type(message).__name__},
                    )
                    return Outcome.DROPPED
                case CompareMessage():
                    return self._compare.handle(message)
                case TrustMessage():
                    return self._trust.handle(message)
                case WebhookMessage() if self._webhooks is not None:
                    return self._webhooks.handle(message)
                case WebhookMessage():
                    logger.warning("webhook message dropped: this worker delivers none")
                    return Outcome.DROPPED
                case _:
                    assert_never(message)
