"""What the fan-in adds to a run for its suite: which samples it scored (a digest of their
inputs), its custom metrics' definitions, and for a completed suite run the drift test of
each metric over the suite's comparable completed runs (rag_eval/scoring/drift.py).

Runs are comparable while the judge and the metric's definition stay the same: the
series stops at the most recent change of either, and at a run without the metric.
"""

from __future__ import annotations

import hashlib
import json
import logging

from rag_eval.app.ports import SuiteReader
from rag_eval.domain.job import JobStatus
from rag_eval.domain.request import ScoreOptions
from rag_eval.domain.sample import Sample
from rag_eval.domain.states import JobState
from rag_eval.domain.suites import Drift

logger = logging.getLogger(__name__)

# Runs in a drift test at most, the newest included: about a quarter of weekly runs.
DRIFT_WINDOW = 12


def dataset_digest(samples: list[Sample]) -> str:
    """A digest of the samples' inputs (question, contexts, answer, ground truth), the same
    whatever their order: two runs with the same digest scored the same set."""
    each = sorted(
        hashlib.sha256(
            json.dumps([s.question, s.contexts, s.answer, s.ground_truth]).encode()
        ).hexdigest()
        for s in samples
    )
    return hashlib.sha256("\n".join(each).encode()).hexdigest()


def metric_definitions(options: ScoreOptions) -> dict[str, str]:
    """Custom metric -> a digest of its definition (a built-in's is the code's)."""
    return {
        metric.name: hashlib.sha256(metric.model_dump_json().encode()).hexdigest()[:16]
        for metric in options.custom_metrics
    }


def with_suite_fields(
    job: JobStatus, options: ScoreOptions, samples: list[Sample], suites: SuiteReader | None
) -> JobStatus:
    """The finished job with its dataset digest, definitions and (a completed suite run's)
    drift. The drift test never fails the job: when the earlier runs can't be read, the
    run has no drift."""
    job = job.model_copy(
        update={
            "dataset_digest": dataset_digest(samples),
            "definitions": metric_definitions(options),
        }
    )
    if suites is None or job.suite is None or job.status is not JobState.COMPLETED:
        return job
    try:
        earlier = suites.completed_runs(job.owner, job.suite, job.created_at, DRIFT_WINDOW - 1)
    except Exception:
        logger.warning("drift test skipped: the suite's runs could not be read", exc_info=True)
        return job
    return job.model_copy(update={"drift": suite_drift(job, earlier)})


def suite_drift(job: JobStatus, earlier: list[JobStatus]) -> dict[str, Drift]:
    """Each metric's drift test over `job` and the `earlier` completed runs (newest first)."""
    from rag_eval.scoring.drift import drift  # scipy: loaded by the fan-in only

    return {
        metric: drift(metric, _series(metric, job, earlier))
        for metric, mean in job.scores.items()
        if mean is not None
    }


def _series(metric: str, job: JobStatus, earlier: list[JobStatus]) -> list[float]:
    """The metric's run means comparable with `job`'s, oldest first, `job`'s last."""
    judge = job.request_summary.get("judge_model")
    definition = job.definitions.get(metric)
    means: list[float] = []
    for run in [job, *earlier]:
        if (
            run.request_summary.get("judge_model") != judge
            or run.definitions.get(metric) != definition
            or metric not in run.scores
        ):
            break
        mean = run.scores[metric]
        if mean is not None:  # nothing scored on it in that run: no point of the series
            means.append(mean)
    return means[::-1]
