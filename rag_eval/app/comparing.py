"""The worker's part of a comparison asked through the API: read both run folders, compare
them (rag_eval/scoring/compare.py), write the result beside the candidate's run:
`compare-<baseline_run_id>.md`, `.html`, and last `.json`, whose presence the API reads
as "ready". Writing it again (a duplicate message) writes the same files."""

from __future__ import annotations

import logging

from rag_eval.app.ports import ObjectStore, WorkerRepository
from rag_eval.domain.comparison import RunScores
from rag_eval.domain.job import JobStatus
from rag_eval.domain.layout import run_folder

logger = logging.getLogger(__name__)


def write_comparison(
    repository: WorkerRepository, store: ObjectStore, job_id: str, baseline_id: str
) -> str:
    from rag_eval.report.comparison import comparison_html, comparison_markdown
    from rag_eval.scoring.compare import compare_runs, run_scores

    found = [repository.get(i) for i in (job_id, baseline_id)]
    runs = [(f[0], f[0].run_id) for f in found if f is not None and f[0].run_id is not None]
    if len(runs) != 2 or runs[0][0].owner != runs[1][0].owner:
        # The API checked both are the caller's and written; gone since (expired): drop it.
        logger.warning("comparison dropped: a run is gone", extra={"baseline": baseline_id})
        return "unknown_job"
    (candidate, candidate_run), (baseline, baseline_run) = runs

    def scores(job: JobStatus) -> RunScores:
        keys = job.artifact_keys
        explanations = keys.get("explanations.jsonl")
        return run_scores(
            store.get(keys["metadata.json"]),
            store.get(keys["scores.csv"]),
            store.find(explanations) if explanations else None,
        )

    comparison = compare_runs(scores(baseline), scores(candidate))
    prefix = f"{run_folder(candidate_run)}compare-{baseline_run}"
    store.put(
        f"{prefix}.md", comparison_markdown(comparison).encode(), "text/markdown; charset=utf-8"
    )
    store.put(f"{prefix}.html", comparison_html(comparison).encode(), "text/html; charset=utf-8")
    store.put(f"{prefix}.json", comparison.model_dump_json().encode(), "application/json")
    logger.info("comparison written", extra={"baseline": baseline_id})
    return "compared"
