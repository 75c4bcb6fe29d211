"""People's labels of a job's run: POST and GET /score-jobs/{job_id}/labels.

A label belongs to the job it labels, so it is its caller's as the job is: another
caller's job is "not found" (`JobService.get`). Labels are checked against the job's run
folder, the one record of which samples the run holds and which metrics it scored on what
scale: `metadata.json` (each metric's scale, a job's own metric's definition) and the ids of
`explanations.jsonl` (the sample ids as the job gave them, one JSON line each; scores.csv
marks an id that starts like a formula, so it is not read for them). A run folder never
changes once written, so a warm function keeps the few it read last.

Nothing of a label but counts and metric names is logged: notes are free text.

Light on purpose (API cold start): the domain's label models, the ports and the answers.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections import Counter, OrderedDict
from dataclasses import dataclass
from typing import Any

from rag_eval.app.answers import LabelPage, LabelsStored
from rag_eval.app.jobs import JobService
from rag_eval.app.ports import LabelStore, ObjectStore
from rag_eval.domain.errors import Conflict, RequestInvalid
from rag_eval.domain.job import JobStatus, iso, utc_now
from rag_eval.domain.labels import (
    LabelTarget,
    checked_labels,
    label_targets,
    parse_labels,
    sample_id_of,
)

logger = logging.getLogger(__name__)

MAX_LABELS_PAGE = 1_000  # S3 lists at most 1,000 keys a call
RUNS_REMEMBERED = 4  # a run of 100,000 samples keeps about 10 MB of ids
# A page's cursor is the name of its last label (rag_eval.domain.layout.label_name).
_CURSOR = re.compile(r"[0-9a-f]{64}")
# The run folder's files a label is checked against.
_METADATA, _SAMPLES = "metadata.json", "explanations.jsonl"


@dataclass(frozen=True)
class RunLabels:
    """What labels of one run must fit: its samples, and its metrics with their scales."""

    run_id: str
    samples: frozenset[str]
    targets: dict[str, LabelTarget]


class LabelService:
    def __init__(self, jobs: JobService, runs: ObjectStore, labels: LabelStore) -> None:
        self._jobs = jobs
        self._runs = runs
        self._labels = labels
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

    def _run(self, job: JobStatus) -> RunLabels:
        keys = job.artifact_keys
        if job.run_id is None or _METADATA not in keys or _SAMPLES not in keys:
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
        samples = frozenset(
            found
            for line in self._runs.lines(keys[_SAMPLES])
            if (found := sample_id_of(line)) is not None
        )
        known = RunLabels(job.run_id, samples, label_targets(metadata))
        with self._lock:
            self._remembered[job.run_id] = known
            while len(self._remembered) > RUNS_REMEMBERED:
                self._remembered.popitem(last=False)
        return known


def _page_size(raw: str | None) -> int:
    if raw is None:
        return MAX_LABELS_PAGE
    # isdigit() alone takes "²" and 5,000-digit numbers, which int() then refuses.
    if raw.isascii() and raw.isdigit() and len(raw) <= 6 and 1 <= int(raw) <= MAX_LABELS_PAGE:
        return int(raw)
    raise RequestInvalid(
        [
            {
                "field": "limit",
                "message": f"not a number of labels: {raw[:20]!r}",
                "allowed": f"1..{MAX_LABELS_PAGE}",
            }
        ]
    )
