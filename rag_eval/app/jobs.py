"""The job service behind the API and list functions: uploads, submit, look up, cancel, list.

Every call is its caller's: a job (or an upload) is seen only by who submitted it, and
another caller's is "not found", not "forbidden" (that would tell it exists).

Light on purpose (API cold start): pydantic, the ports (`rag_eval.app.ports`) and the
answers' models (`rag_eval.app.answers`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic import ValidationError

from rag_eval.app.anchors import anchor_job, anchor_job_id, anchor_request
from rag_eval.app.answers import (
    UPLOAD_EXPIRES_IN,
    ArtifactFile,
    ArtifactLinks,
    ComparisonPending,
    ComparisonReady,
    CustomMetricRules,
    Estimate,
    JobPage,
    MetricCatalogue,
    MetricInfo,
    UploadTicket,
)
from rag_eval.app.ports import JobMetrics, JobQueue, JobRepository, NoMetrics, UploadStore
from rag_eval.domain.errors import (
    Conflict,
    JobExists,
    JobNotFound,
    QueueUnavailable,
    RequestInvalid,
    UploadTooLarge,
    validation_problems,
)
from rag_eval.domain.job import JobStatus, iso, new_job, new_job_id, utc_now
from rag_eval.domain.layout import request_key, run_folder, upload_key
from rag_eval.domain.messages import CompareMessage, JobMessage
from rag_eval.domain.request import DatasetJob, ScoreRequest, parse_request
from rag_eval.domain.settings import Settings
from rag_eval.domain.states import JobState
from rag_eval.domain.upload import UploadRequest
from rag_eval.domain.verdicts import VerdictStore
from rag_eval.judges.provider import judge_problems, unavailable
from rag_eval.metrics import REGISTRY
from rag_eval.metrics.custom import (
    KINDS,
    MAX_CUSTOM_METRICS,
    MAX_INSTRUCTIONS_CHARS,
    MAX_NAME_CHARS,
    PLACEHOLDERS,
)

logger = logging.getLogger(__name__)

# SQS takes 256 KiB per message; larger requests travel through S3 with a pointer.
MAX_INLINE_MESSAGE_BYTES = 200 * 1024
# Lambda's synchronous payload limit is 6 MB; keep headroom for the event envelope.
MAX_REQUEST_BYTES = 5 * 1024 * 1024
MAX_LIST_LIMIT = 100
MAX_IDEMPOTENCY_KEY_CHARS = 200
# A pending comparison is asked of the worker once per this many seconds at most: polling
# sends nothing more, and a lost message is asked again in the next window.
COMPARE_ASKED_AGAIN_SECONDS = 60
# Job ids are 24 hex digits (new_job_id, idempotent_job_id).
JOB_ID = re.compile(r"[0-9a-f]{24}")


@dataclass(frozen=True)
class Submission:
    job: JobStatus
    created: bool  # False when an Idempotency-Key replay returned the existing job


def request_hash(request: ScoreRequest | DatasetJob) -> str:
    canonical = json.dumps(request.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def idempotent_job_id(caller: str, key: str) -> str:
    """Same caller + same Idempotency-Key -> same job id; different callers never collide."""
    return hashlib.sha256(f"{caller}\0{key}".encode()).hexdigest()[:24]


class JobService:
    def __init__(
        self,
        settings: Settings,
        repository: JobRepository,
        queue: JobQueue,
        store: UploadStore,
        metrics: JobMetrics | None = None,
        verdicts: VerdictStore | None = None,
    ) -> None:
        self._settings = settings
        self._repository = repository
        self._queue = queue
        self._store = store
        self._metrics = metrics or NoMetrics()
        self._verdicts = verdicts

    def submit(
        self, body: Any, *, caller: str, idempotency_key: str | None = None
    ) -> Submission | Estimate:
        """A new job (or, for an Idempotency-Key replay, the job it made); with
        `"dry_run": true`, an estimate of the job, and nothing created."""
        if (
            idempotency_key is not None
            and not 0 < len(idempotency_key) <= MAX_IDEMPOTENCY_KEY_CHARS
        ):
            raise RequestInvalid(
                [
                    {
                        "field": "Idempotency-Key",
                        "message": f"a header of {len(idempotency_key)} characters",
                        "allowed": f"1..{MAX_IDEMPOTENCY_KEY_CHARS} characters",
                    }
                ]
            )
        request = parse_request(body)
        problems = judge_problems(request, self._settings)
        if problems:
            raise RequestInvalid(problems)
        anchor = anchor_request(request)
        for field, dataset in (("dataset", request), ("anchor", anchor)):
            if isinstance(dataset, DatasetJob):
                self._check_upload(dataset, caller, field)
        if request.dry_run:  # a file planning could not read is a 422 now (DatasetInvalid)
            # Imported here: dataset reading and the estimate stay off the cold start.
            from rag_eval.app.estimate import estimate

            return estimate(request, self._settings, self._store, self._verdicts, caller)
        fingerprint = request_hash(request)
        job_id = idempotent_job_id(caller, idempotency_key) if idempotency_key else new_job_id()
        job = new_job(request, self._settings, job_id=job_id, owner=caller)
        if anchor is not None:  # first: if it cannot be queued (503), no run was stored
            job.anchor_job_id = anchor_job_id(job.job_id)
            self._record(anchor_job(job, anchor, self._settings), anchor, request_hash(anchor))
        submission = self._record(job, request, fingerprint)
        if not submission.created:
            return submission
        self._metrics.job_submitted(job.sample_count)
        logger.info(
            "job queued",
            extra={
                "job_id": job.job_id,
                "samples": job.sample_count,
                "dataset": isinstance(request, DatasetJob),
                "metrics": ",".join(request.metrics),
            },
        )
        return Submission(job, created=True)

    def _record(
        self, job: JobStatus, request: ScoreRequest | DatasetJob, fingerprint: str
    ) -> Submission:
        """Store and queue a new job; for a replay of its submission, the job stored."""
        expires_at = int((utc_now() + timedelta(days=self._settings.job_ttl_days)).timestamp())
        try:
            self._repository.create(job, fingerprint, expires_at)
        except JobExists:
            existing, existing_hash = self._repository.get(job.job_id) or (None, "")
            if existing is None or existing_hash != fingerprint:
                raise Conflict(
                    "this Idempotency-Key was already used with a different request body"
                ) from None
            if existing.status is JobState.QUEUED and existing.queued_at is None:
                # The first attempt died between recording and queueing; the worker ignores
                # duplicates, so sending again is safe. Once sent, a replay sends nothing.
                self._enqueue(existing, request)
            return Submission(existing, created=False)
        self._enqueue(job, request)
        return Submission(job, created=True)

    def _check_upload(self, request: DatasetJob, caller: str, field: str = "dataset") -> None:
        """The file must be in the bucket before a job can read it, within the size limit:
        S3 enforces the POST policy's, this holds it too where the policy is not (moto)."""
        size = self._store.size(upload_key(request.dataset.upload_id, caller))
        if size is not None and size > self._settings.max_upload_bytes:
            raise UploadTooLarge(
                f"the uploaded file has {size} bytes; at most {self._settings.max_upload_bytes} "
                "are allowed: split the dataset into several jobs"
            )
        if size is None:
            raise RequestInvalid(
                [
                    {
                        "field": f"{field}.upload_id",
                        "message": "no file was uploaded for this upload_id: POST the file to "
                        "the url and fields that POST /uploads answered, then submit again "
                        f"(an upload is usable for {UPLOAD_EXPIRES_IN // 60} minutes)",
                    }
                ]
            )

    def create_upload(self, body: Any, *, caller: str) -> UploadTicket:
        """A presigned POST for one dataset file; S3 refuses a file over the size limit."""
        limit = self._settings.max_upload_bytes
        try:
            size = UploadRequest.model_validate(body).size_bytes
        except ValidationError as exc:
            problems = validation_problems(exc)
            for problem in problems:
                if problem["message"] == "unknown field":
                    problem["allowed"] = list(UploadRequest.model_fields)
            raise RequestInvalid(problems) from None
        if size is not None and size > limit:
            raise UploadTooLarge(
                f"the file has {size} bytes; an upload may have at most {limit} "
                f"({limit / 1024**3:.2f} GiB): split the dataset into several jobs"
            )
        upload_id = new_job_id()
        post = self._store.presign_post(upload_key(upload_id, caller), limit, UPLOAD_EXPIRES_IN)
        logger.info("upload created", extra={"upload_id": upload_id, "size_bytes": size})
        return UploadTicket.model_validate(
            {
                "upload_id": upload_id,
                "url": post["url"],
                "fields": post["fields"],
                "expires_in": UPLOAD_EXPIRES_IN,
                "max_bytes": limit,
            }
        )

    def cancel(self, job_id: str, *, caller: str) -> JobStatus:
        """queued|running -> cancelled, idempotently; the scored samples are kept."""
        job = self.get(job_id, caller=caller)
        if job.status is JobState.CANCELLED:
            return job
        if job.status in (JobState.QUEUED, JobState.RUNNING):
            if self._repository.cancel(job_id, iso(utc_now())):
                self._metrics.job_ended(JobState.CANCELLED, None)
                logger.info("job cancelled", extra={"job_id": job_id, "was": job.status.value})
            job = self.get(job_id, caller=caller)  # cancelled now, by us or another cancel
            if job.status is JobState.CANCELLED:
                return job
        raise Conflict(
            f"job {job_id} is {job.status}; only a queued or running job can be cancelled"
        )

    def _enqueue(self, job: JobStatus, request: ScoreRequest | DatasetJob) -> None:
        # A dataset job that named no metrics gets its kind's defaults once the worker has
        # read the file (rag_eval/app/sample_kinds.py): the message keeps them unnamed.
        unnamed = isinstance(request, DatasetJob) and "metrics" not in request.model_fields_set
        dumped = request.model_dump(mode="json", exclude={"metrics"} if unnamed else None)
        message = JobMessage(job_id=job.job_id, request=dumped)
        body = message.body()
        try:
            if len(body.encode("utf-8")) > MAX_INLINE_MESSAGE_BYTES:
                key = request_key(job.job_id)
                self._store.put(
                    key, json.dumps(message.request).encode("utf-8"), "application/json"
                )
                body = JobMessage(job_id=job.job_id, request_key=key).body()
            self._queue.send(body)
        except Exception as exc:
            logger.exception("could not queue job", extra={"job_id": job.job_id})
            # A 503 means "not accepted": leave no queued job behind that nothing will run.
            self._repository.discard(job.job_id)
            raise QueueUnavailable("the scoring queue is unavailable; try again") from exc
        try:
            self._repository.mark_queued(job.job_id, iso(utc_now()))
        except Exception:  # the message is on its way: a replay would merely send it again
            logger.warning("could not record that the job was queued", exc_info=True)

    def metrics(self) -> MetricCatalogue:
        """The registry, each metric with whether this service can score it (its judge)."""
        entries = []
        for spec in REGISTRY.values():
            reason = unavailable(spec, self._settings)
            entries.append(
                MetricInfo(**spec.describe(), available=reason is None, unavailable=reason)
            )
        return MetricCatalogue(
            metrics=entries,
            define_your_own=CustomMetricRules(
                kinds=list(KINDS),
                placeholders=list(PLACEHOLDERS),
                max_per_job=MAX_CUSTOM_METRICS,
                max_name_chars=MAX_NAME_CHARS,
                max_instructions_chars=MAX_INSTRUCTIONS_CHARS,
            ),
        )

    def get(self, job_id: str, *, caller: str) -> JobStatus:
        if not JOB_ID.fullmatch(job_id):  # not one of ours: no need to ask the table
            raise JobNotFound(job_id[:100])
        found = self._repository.get(job_id)
        if found is None or found[0].owner != caller:
            raise JobNotFound(job_id)
        return found[0]

    def artifact_links(self, job_id: str, *, caller: str, expires_in: int = 900) -> ArtifactLinks:
        job = self.get(job_id, caller=caller)
        if not job.artifact_keys:
            raise Conflict(
                f"job {job_id} is {job.status}; artifacts exist once it is completed "
                "(or, for a cancelled job, once its scored samples are written)"
            )
        return ArtifactLinks(
            job_id=job_id,
            run_id=job.run_id,
            bucket=self._settings.artifacts_bucket,
            expires_in=expires_in,
            files={
                name: ArtifactFile(key=key, url=self._store.presign(key, expires_in))
                for name, key in job.artifact_keys.items()
            },
        )

    def comparison(
        self, job_id: str, *, baseline: str | None, caller: str
    ) -> ComparisonReady | ComparisonPending:
        """The comparison of the caller's run `job_id` against their run `baseline`: ready
        once the worker wrote it into the candidate's run folder; else pending, after asking
        the worker for it (scipy is the worker's, not this function's)."""
        if not baseline:
            raise RequestInvalid(
                [
                    {
                        "field": "baseline",
                        "message": "required: the job id of the run to compare with",
                    }
                ]
            )
        candidate = self.get(job_id, caller=caller)
        base = self.get(baseline, caller=caller)
        candidate_run, base_run = _written_run(candidate), _written_run(base)
        prefix = f"{run_folder(candidate_run)}compare-{base_run}"
        found = self._store.find(f"{prefix}.json")
        ready = json.loads(found) if found is not None else None
        # Labels given since it was written: its verdicts may rest on other means now.
        labelled = {
            role: job.corrected_as_of
            for role, job in (("baseline", base), ("candidate", candidate))
            if job.corrected_as_of
        }
        if ready is None or ready.get("corrected_as_of", {}) != labelled:
            pending = ComparisonPending(
                status="pending", job_id=candidate.job_id, baseline=base.job_id
            )
            # Asked once; asked again only in a later window, should that message be lost.
            window = int(time.time() // COMPARE_ASKED_AGAIN_SECONDS)
            if not self._repository.request_comparison(candidate.job_id, f"{base.job_id}@{window}"):
                return pending
            try:
                self._queue.send(
                    CompareMessage(job_id=candidate.job_id, baseline=base.job_id).body()
                )
            except Exception as exc:
                raise QueueUnavailable("the scoring queue is unavailable; try again") from exc
            return pending
        files = {ext: self._store.presign(f"{prefix}.{ext}", 900) for ext in ("md", "html")}
        return ComparisonReady.model_validate({"status": "ready", **ready, "files": files})

    def list(
        self,
        *,
        caller: str,
        limit: int = 20,
        cursor: str | None = None,
        status: str | None = None,
    ) -> JobPage:
        """The caller's jobs, newest first."""
        problems: list[dict[str, Any]] = []
        if not 1 <= limit <= MAX_LIST_LIMIT:
            problems.append(
                {"field": "limit", "message": "out of range", "allowed": f"1..{MAX_LIST_LIMIT}"}
            )
        if status is not None and status not in set(JobState):
            problems.append(
                {
                    "field": "status",
                    "message": f"unknown status {status!r}",
                    "allowed": [state.value for state in JobState],
                }
            )
        if problems:
            raise RequestInvalid(problems)
        jobs, next_cursor = self._repository.list(caller, limit, cursor, status)
        return JobPage(jobs=jobs, next_cursor=next_cursor)


def _written_run(job: JobStatus) -> str:
    """The run id of a job whose run is written: a comparison needs both (Conflict else)."""
    if job.run_id is None:
        raise Conflict(f"job {job.job_id} is {job.status}; a comparison needs both runs written")
    return job.run_id
