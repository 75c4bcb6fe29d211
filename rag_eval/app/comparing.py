"""The worker's part of a comparison asked through the API: read both run folders, compare
them (rag_eval/scoring/compare.py), write the result beside the candidate's run:
`compare-<baseline_run_id>.md`, `.html`, and last `.json`, whose presence the API reads
as "ready". Writing it again (a duplicate message) writes the same files. A run that
people labelled brings its judge-trust.json: a metric both runs have corrected means of is
judged on those."""

from __future__ import annotations

import logging

from pydantic import ValidationError

from rag_eval.app.job_record import Outcome
from rag_eval.app.ports import JobReader, ObjectStore
from rag_eval.domain.comparison import RunScores
from rag_eval.domain.job import JobStatus
from rag_eval.domain.layout import run_folder
from rag_eval.domain.messages import CompareMessage
from rag_eval.domain.trust import TRUST_FILE, TrustReport

logger = logging.getLogger(__name__)


class CompareRuns:
    """The use case: a `CompareMessage` -> the comparison's files in the candidate's run."""

    def __init__(self, repository: JobReader, store: ObjectStore) -> None:
        self._repository = repository
        self._store = store

    def handle(self, message: CompareMessage) -> Outcome:
        from rag_eval.report.comparison import comparison_html, comparison_markdown
        from rag_eval.scoring.compare import compare_runs

        found = [self._repository.get(i) for i in (message.job_id, message.baseline)]
        runs = [(f[0], f[0].run_id) for f in found if f is not None and f[0].run_id is not None]
        if len(runs) != 2 or runs[0][0].owner != runs[1][0].owner:
            # The API checked both are the caller's and written; gone since (expired): drop it.
            logger.warning(
                "comparison dropped: a run is gone", extra={"baseline": message.baseline}
            )
            return Outcome.UNKNOWN_JOB
        (candidate, candidate_run), (baseline, baseline_run) = runs
        comparison = compare_runs(
            self._scores(baseline),
            self._scores(candidate),
            self._trust(baseline),
            self._trust(candidate),
        )
        prefix = f"{run_folder(candidate_run)}compare-{baseline_run}"
        put = self._store.put
        put(
            f"{prefix}.md", comparison_markdown(comparison).encode(), "text/markdown; charset=utf-8"
        )
        put(f"{prefix}.html", comparison_html(comparison).encode(), "text/html; charset=utf-8")
        put(f"{prefix}.json", comparison.model_dump_json().encode(), "application/json")
        logger.info("comparison written", extra={"baseline": message.baseline})
        return Outcome.COMPARED

    def _scores(self, job: JobStatus) -> RunScores:
        return read_run(self._store, job)

    def _trust(self, job: JobStatus) -> TrustReport | None:
        """The run's judge-trust.json (its means corrected by people's labels), or None
        before anyone labelled it. The job's item names the file once it is written
        (`run_folder(run_id) + TRUST_FILE`): read only then, since without s3:ListBucket
        on the run folders S3 answers a missing key with AccessDenied, which `find` does
        not take for absence."""
        key = job.artifact_keys.get(TRUST_FILE)
        body = self._store.find(key) if key else None
        if body is None:
            return None
        try:
            return TrustReport.model_validate_json(body)
        except ValidationError:
            # A file this service did not write: compared on the judge's scores, as said.
            logger.warning("judge-trust.json unreadable: compared without it", exc_info=True)
            return None


def read_run(store: ObjectStore, job: JobStatus) -> RunScores:
    """A written run's scores, as its folder holds them."""
    from rag_eval.scoring.compare import run_scores

    keys = job.artifact_keys
    explanations = keys.get("explanations.jsonl")
    return run_scores(
        store.get(keys["metadata.json"]),
        store.get(keys["scores.csv"]),
        store.find(explanations) if explanations else None,
    )
