"""The judge canary, as the worker runs it: when the job scoring a run's anchor fans in,
its scores are compared with the anchor of the suite's previous run
(rag_eval/scoring/canary.py), and the finding goes on both this anchor job (its own
write) and the run it anchors (`record_canary`), where GET /score-jobs/{id} and the
suite's trend show it. A run finishing after its anchor does not erase it."""

from __future__ import annotations

import logging
from typing import Protocol

from rag_eval.app.comparing import read_run
from rag_eval.app.ports import JobReader, ObjectStore, SuiteReader
from rag_eval.domain.canary import Canary
from rag_eval.domain.job import JobStatus
from rag_eval.domain.states import JobState

logger = logging.getLogger(__name__)

# How many of the suite's earlier runs are looked through for one whose anchor was scored.
LOOK_BACK = 10


class CanarySuites(SuiteReader, Protocol):
    def record_canary(self, job_id: str, canary: Canary) -> None:
        """Set the run's `canary` (whatever its state)."""


class JudgeCanary:
    def __init__(self, jobs: JobReader, suites: CanarySuites, store: ObjectStore) -> None:
        self._jobs = jobs
        self._suites = suites
        self._store = store

    def check(self, anchor: JobStatus) -> Canary | None:
        """What `anchor` (an anchor job about to be written) says of the judge; None for a
        job that anchors nothing, or whose run is gone."""
        from rag_eval.scoring.canary import canary_of, first_anchor

        if anchor.anchor_of is None or anchor.status is not JobState.COMPLETED:
            return None
        found = self._jobs.get(anchor.anchor_of)
        if found is None or found[0].suite is None:
            return None
        run = found[0]
        baseline = self._previous_anchor(run)
        canary = (
            canary_of(
                anchor.job_id,
                baseline.job_id,
                read_run(self._store, baseline),
                read_run(self._store, anchor),
            )
            if baseline is not None
            else first_anchor(anchor.job_id)
        )
        self._suites.record_canary(run.job_id, canary)
        logger.info(
            "judge canary",
            extra={"run": run.job_id, "judge_changed": canary.judge_changed},
        )
        return canary

    def _previous_anchor(self, run: JobStatus) -> JobStatus | None:
        assert run.suite is not None
        for earlier in self._suites.completed_runs(run.owner, run.suite, run.created_at, LOOK_BACK):
            found = self._jobs.get(earlier.anchor_job_id) if earlier.anchor_job_id else None
            if found and found[0].status is JobState.COMPLETED and found[0].run_id:
                return found[0]
        return None
