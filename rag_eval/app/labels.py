"""People's labels of a job's run: POST and GET /score-jobs/{job_id}/labels, and what to
label next, GET /score-jobs/{job_id}/label-queue.

A label belongs to the job it labels, so it is its caller's as the job is: another
caller's job is "not found" (`JobService.get`). Labels are checked against the job's run
folder, the one record of which samples the run holds and which metrics it scored on what
scale: `metadata.json` (each metric's scale, a job's own metric's definition) and
`label-queue.json` (the sample ids as the job gave them, and the probabilities the queue
draws them with: rag_eval/domain/trust.py). A run folder never changes once written, so a
warm function keeps the few it read last. The queue reads a queued sample's texts as one
byte range of `label-samples.jsonl`, and which samples are labelled from the label names
alone (`rag_eval.domain.layout.labelled_on`): no label and no whole file is read for it.

Stored labels are sent on to the worker (`TrustMessage`), which sets them against the
judge: the job's `corrected` and judge-trust.json.

Nothing of a label but counts and metric names is logged: notes are free text.

Light on purpose (API cold start): the domain's label models, the ports and the answers.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections import Counter, OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from rag_eval.app.answers import LabelPage, LabelQueue, LabelsStored, QueuedSample
from rag_eval.app.jobs import JobService
from rag_eval.app.ports import JobQueue, LabelStore, ObjectStore
from rag_eval.domain.errors import Conflict, RequestInvalid
from rag_eval.domain.job import JobStatus, iso, utc_now
from rag_eval.domain.labels import LabelTarget, checked_labels, label_targets, parse_labels
from rag_eval.domain.layout import labelled_on, sample_digest
from rag_eval.domain.messages import TrustMessage
from rag_eval.domain.trust import (
    LABEL_QUEUE_FILE,
    LABEL_SAMPLES_FILE,
    JudgeView,
    LabelSample,
    QueueFile,
    next_to_label,
)

logger = logging.getLogger(__name__)

MAX_LABELS_PAGE = 1_000  # S3 lists at most 1,000 keys a call
MAX_QUEUE = 100  # samples a queue answer holds: each is a read of its line
DEFAULT_QUEUE = 10
RUNS_REMEMBERED = 4  # a run of 100,000 samples keeps about 30 MB of ids and probabilities
# A page's cursor is the name of its last label (rag_eval.domain.layout.label_name).
_CURSOR = re.compile(r"[0-9a-f]{64}")
# The run folder's files a label is checked against.
_METADATA = "metadata.json"
_READS = 10  # a queue's lines read side by side (S3's latency bounds them, not bandwidth)


@dataclass(frozen=True)
class RunLabels:
    """What labels of one run must fit: its samples, and its metrics with their scales;
    and the label queue's file."""

    run_id: str
    samples: frozenset[str]
    targets: dict[str, LabelTarget]
    queue: QueueFile


class _Labelled:
    """The samples labelled on a metric, asked by sample id (the names hold digests)."""

    def __init__(self, digests: frozenset[str]) -> None:
        self._digests = digests

    def __contains__(self, sample_id: object) -> bool:
        return isinstance(sample_id, str) and sample_digest(sample_id) in self._digests


class LabelService:
    def __init__(
        self, jobs: JobService, runs: ObjectStore, labels: LabelStore, queue: JobQueue
    ) -> None:
        self._jobs = jobs
        self._runs = runs
        self._labels = labels
        self._queue = queue
        self._remembered: OrderedDict[str, RunLabels] = OrderedDict()
        self._lock = threading.Lock()

    def post(self, job_id: str, body: Any, *, caller: str) -> LabelsStored:
        """Store the labels of `body` on the caller's job, each replacing the label of its
        (sample, metric, labeler); all of them or, with a 422 naming each problem, none."""
        batch = parse_labels(body)  # its shape first: that says nothing of the job
        job = self._jobs.get(job_id, caller=caller)
        run = self._run(job)
        labels = checked_labels(batch, run.samples, run.targets, iso(utc_now()))
        self._labels.put_labels(job.job_id, labels)
        # Stored, then announced: a lost message leaves the figures behind until the next
        # labels, and a failed send fails the request, whose repeat stores the same labels.
        self._queue.send(TrustMessage(job_id=job.job_id).body())
        by_metric = dict(sorted(Counter(label.metric for label in labels).items()))
        logger.info(
            "labels stored",
            extra={"job_id": job.job_id, "labels": len(labels), "metrics": ",".join(by_metric)},
        )
        return LabelsStored(
            job_id=job.job_id, run_id=run.run_id, stored=len(labels), by_metric=by_metric
        )

    def list(
        self,
        job_id: str,
        *,
        caller: str,
        limit: str | None = None,
        cursor: str | None = None,
    ) -> LabelPage:
        """A page of the caller's job's labels (`limit`, `cursor` as the query gives them).
        A job without a run has none yet: an empty page."""
        size = _page_size(limit)
        if cursor is not None and not _CURSOR.fullmatch(cursor):
            raise RequestInvalid(
                [
                    {
                        "field": "cursor",
                        "message": "not a cursor of this job's labels",
                        "allowed": "`next_cursor` of the page before",
                    }
                ]
            )
        job = self._jobs.get(job_id, caller=caller)
        labels, next_cursor = self._labels.labels(job.job_id, size, cursor)
        return LabelPage(job_id=job.job_id, labels=labels, next_cursor=next_cursor)

    def queue(
        self, job_id: str, *, caller: str, metric: str | None, n: str | None = None
    ) -> LabelQueue:
        """The next `n` samples nobody has labelled on `metric`, in the order the metric's
        draws picked them, each with its texts, the judge's view and its probability."""
        size = _count(n, "n", DEFAULT_QUEUE, MAX_QUEUE)
        job = self._jobs.get(job_id, caller=caller)
        run = self._run(job)
        if metric not in run.queue.metrics:
            raise RequestInvalid(
                [
                    {
                        "field": "metric",
                        "message": "required: the metric to label"
                        if metric is None
                        else f"{metric[:100]!r} is not a metric of this job",
                        "allowed": sorted(run.queue.metrics),
                    }
                ]
            )
        digests = labelled_on(self._labels.names(job.job_id), metric)
        picks, answered = next_to_label(run.queue, metric, _Labelled(digests), size)
        key = job.artifact_keys[LABEL_SAMPLES_FILE]

        def read(index: int) -> LabelSample:
            start, length = run.queue.line(index)
            return LabelSample.model_validate_json(self._runs.get_range(key, start, length))

        with ThreadPoolExecutor(max_workers=max(1, min(_READS, len(picks)))) as pool:
            lines = list(pool.map(read, [pick.index for pick in picks]))
        probabilities = run.queue.metrics[metric].probabilities
        target = run.targets[metric]
        categories = dict(target.categories) if target.categories is not None else None
        return LabelQueue(
            job_id=job.job_id,
            run_id=run.run_id,
            metric=metric,
            low=target.scale.low,
            high=target.scale.high,
            higher_is_better=target.scale.higher_is_better,
            categories=categories,
            leaning=run.queue.metrics[metric].leaning,
            scored=sum(q > 0 for q in probabilities),
            labelled=len(digests),
            answered=answered,
            samples=[
                QueuedSample(
                    sample_id=line.sample_id,
                    probability=probabilities[pick.index],
                    draws=pick.positions,
                    question=line.question,
                    answer=line.answer,
                    contexts=line.contexts,
                    ground_truth=line.ground_truth,
                    conversation=line.conversation,
                    judge=line.metrics.get(metric) or JudgeView(score=None),
                )
                for pick, line in zip(picks, lines, strict=True)
            ],
        )

    def _run(self, job: JobStatus) -> RunLabels:
        keys = job.artifact_keys
        if job.run_id is None or _METADATA not in keys or LABEL_QUEUE_FILE not in keys:
            raise Conflict(
                f"job {job.job_id} is {job.status} and has no run yet: labels are given to "
                "the samples of its run folder, written when the job completes (a cancelled "
                "job's, when its scored samples are written)"
            )
        with self._lock:
            known = self._remembered.get(job.run_id)
            if known is not None:
                self._remembered.move_to_end(job.run_id)
                return known
        metadata = json.loads(self._runs.get(keys[_METADATA]))
        queue = QueueFile.model_validate_json(self._runs.get(keys[LABEL_QUEUE_FILE]))
        known = RunLabels(job.run_id, frozenset(queue.sample_ids), label_targets(metadata), queue)
        with self._lock:
            self._remembered[job.run_id] = known
            while len(self._remembered) > RUNS_REMEMBERED:
                self._remembered.popitem(last=False)
        return known


def _page_size(raw: str | None) -> int:
    return _count(raw, "limit", MAX_LABELS_PAGE, MAX_LABELS_PAGE)


def _count(raw: str | None, field: str, default: int, most: int) -> int:
    """A count from the query: `default` when absent, else 1..`most`; a 422 otherwise."""
    if raw is None:
        return default
    # isdigit() alone takes "²" and 5,000-digit numbers, which int() then refuses.
    if raw.isascii() and raw.isdigit() and len(raw) <= 6 and 1 <= int(raw) <= most:
        return int(raw)
    raise RequestInvalid(
        [{"field": field, "message": f"not a count: {raw[:20]!r}", "allowed": f"1..{most}"}]
    )
