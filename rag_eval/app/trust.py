"""The worker's part of people's labels: when labels arrive (`TrustMessage`), set every
label of the job against the judge (rag_eval/scoring/trust_report.py) and say so where a
team reads its run: the job's `corrected`, judge-trust.json, and the "How far to trust the
judge" section of summary.md, report.html and metadata.json.

Each copy reads every label there is, so a duplicate, or one of several messages sent for
a burst of labels, writes the same figures again. The job's item goes first, on the
condition that no figures from later labels are there (`record_trust`); the files follow.
Two copies at once over different labels may leave the files one step behind the item:
the next labels write both again.
"""

from __future__ import annotations

import json
import logging

from rag_eval.app.job_record import Outcome
from rag_eval.app.ports import LabelStore, ObjectStore, TrustRepository
from rag_eval.domain.job import iso, utc_now
from rag_eval.domain.labels import HumanLabel, label_targets
from rag_eval.domain.layout import run_folder
from rag_eval.domain.messages import TrustMessage
from rag_eval.domain.trust import (
    LABEL_QUEUE_FILE,
    LABEL_SAMPLES_FILE,
    TRUST_FILE,
    LabelSample,
    QueueFile,
    TrustReport,
)

logger = logging.getLogger(__name__)

_PAGE = 1_000


class JudgeTrust:
    """The use case: a `TrustMessage` -> the job's corrected figures, wherever it shows them."""

    def __init__(
        self, repository: TrustRepository, store: ObjectStore, labels: LabelStore | None
    ) -> None:
        self._repository = repository
        self._store = store
        self._labels = labels

    def handle(self, message: TrustMessage) -> Outcome:
        from rag_eval.scoring.trust_report import trust_report

        if self._labels is None:
            raise RuntimeError("the worker has no label store: it cannot read people's labels")
        found = self._repository.get(message.job_id)
        if found is None:
            logger.warning("labels of an unknown job: dropped")
            return Outcome.UNKNOWN_JOB
        job = found[0]
        keys = job.artifact_keys
        labels = self._all_labels(job.job_id)
        if job.run_id is None or LABEL_QUEUE_FILE not in keys or not labels:
            return Outcome.DUPLICATE  # nothing (yet) to set against the judge
        queue = QueueFile.model_validate_json(self._store.get(keys[LABEL_QUEUE_FILE]))
        metadata = json.loads(self._store.get(keys["metadata.json"]))

        def line(index: int) -> LabelSample:
            start, length = queue.line(index)
            body = self._store.get_range(keys[LABEL_SAMPLES_FILE], start, length)
            return LabelSample.model_validate_json(body)

        report = trust_report(
            job.job_id, queue, label_targets(metadata), labels, line, iso(utc_now())
        )
        trust_key = run_folder(job.run_id) + TRUST_FILE
        if not self._repository.record_trust(job, report.metrics, trust_key, report.labels_as_of):
            return Outcome.DUPLICATE  # figures from later labels are there already
        self._write(report, trust_key, keys, metadata)
        logger.info(
            "labels set against the judge",
            extra={"labels": len(labels), "metrics": ",".join(report.metrics)},
        )
        return Outcome.CORRECTED

    def _all_labels(self, job_id: str) -> list[HumanLabel]:
        assert self._labels is not None
        labels: list[HumanLabel] = []
        cursor: str | None = None
        while True:
            page, cursor = self._labels.labels(job_id, _PAGE, cursor)
            labels.extend(page)
            if cursor is None:
                return labels

    def _write(
        self, report: TrustReport, trust_key: str, keys: dict[str, str], metadata: dict[str, object]
    ) -> None:
        from rag_eval.report.trust import trust_html
        from rag_eval.scoring.trust_summary import splice, trust_markdown

        put = self._store.put
        put(trust_key, report.model_dump_json(indent=2).encode("utf-8"), "application/json")
        metadata["corrected"] = {
            name: trust.model_dump(mode="json") for name, trust in report.metrics.items()
        }
        body = json.dumps(metadata, ensure_ascii=False, indent=2).encode("utf-8")
        put(keys["metadata.json"], body, "application/json")
        summary = self._store.get(keys["summary.md"]).decode("utf-8")
        section = trust_markdown(report, report.job_id)
        put(keys["summary.md"], splice(summary, section).encode(), "text/markdown; charset=utf-8")
        page = self._store.get(keys["report.html"]).decode("utf-8")
        section = trust_html(report, report.job_id)
        put(keys["report.html"], splice(page, section).encode(), "text/html; charset=utf-8")
