"""The README's picture of trend.html: ten weekly runs of a suite, the judge replaced at
the fourth and faithfulness slowly declining, rendered and opened in headless Chromium,
the top of the page saved as a PNG.

    .venv/bin/python scripts/trend_screenshot.py docs/trend.png

The runs' scores are synthetic (seeded); the rest is the service's own: each run's drift
test as its fan-in computes it, and the page of runs GET /suites/{name} answers.
"""

from __future__ import annotations

import random
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from page_shot import page_shot  # noqa: E402  (beside this script)

from rag_eval.app.suite_drift import suite_drift  # noqa: E402
from rag_eval.app.suites import SuiteService  # noqa: E402
from rag_eval.domain.job import JobStatus  # noqa: E402
from rag_eval.domain.results import Interval  # noqa: E402
from rag_eval.domain.states import JobState  # noqa: E402
from rag_eval.domain.suites import SuiteRuns, SuiteSummary  # noqa: E402
from rag_eval.report.trend import trend_html  # noqa: E402

SUITE, OWNER = "support-bot/weekly", "team-a"
METRICS = {"faithfulness": 0.86, "answer_relevancy": 0.81, "context_recall": 0.74}
JUDGE_CHANGE = 3  # the fourth week: the judge model is replaced, and scores a little higher


class _Runs:
    """The suite's jobs, newest first, as the job index gives them (`SuiteRepository`)."""

    def __init__(self, jobs: list[JobStatus]) -> None:
        self.jobs = jobs

    def completed_runs(self, owner: str, suite: str, before: str, count: int) -> list[JobStatus]:
        return [j for j in self.jobs if j.created_at < before][:count]

    def suites(self, owner: str, limit: int, cursor: str | None) -> tuple[list[SuiteSummary], None]:
        newest = self.jobs[0]
        summary = SuiteSummary(
            name=SUITE,
            runs=len(self.jobs),
            last_run_at=newest.created_at,
            last_job_id=newest.job_id,
        )
        return [summary], None

    def runs(
        self, owner: str, suite: str, limit: int, cursor: str | None
    ) -> tuple[list[JobStatus], JobStatus | None, None]:
        return self.jobs[:limit], None, None


def _job(week: int, rng: random.Random) -> JobStatus:
    """A week's completed run: faithfulness loses about 0.01 a week; every metric moves by
    noise, and up by the new judge."""
    scores, intervals = {}, {}
    for metric, level in METRICS.items():
        mean = level + rng.gauss(0, 0.006) + (0.02 if week >= JUDGE_CHANGE else 0.0)
        if metric == "faithfulness":
            mean -= 0.01 * week
        half = 0.025 + rng.random() * 0.01
        scores[metric] = round(mean, 4)
        intervals[metric] = Interval(mean=mean, low=mean - half, high=mean + half, n=200)
    created = datetime(2026, 9, 28, 6, tzinfo=UTC) + timedelta(weeks=week)
    return JobStatus(
        job_id=f"{rng.getrandbits(48):012x}",
        status=JobState.COMPLETED,
        created_at=created.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        owner=OWNER,
        run_id=f"{created:%Y%m%dT%H%M%SZ}-week{week}",
        scores=scores,
        intervals=intervals,
        weighted_score=round(sum(scores.values()) / len(scores), 4),
        sample_count=200,
        request_summary={
            "judge_model": "gpt-4o-mini" if week < JUDGE_CHANGE else "gpt-4.1-mini",
            "metrics": list(METRICS),
        },
        dataset_digest="3f9a" * 16,
        suite=SUITE,
    )


def weekly_suite(weeks: int = 10, seed: int = 7) -> SuiteRuns:
    """The suite's runs as GET /suites/{name} answers them, each run's drift computed as its
    fan-in does (over the comparable runs before it)."""
    rng = random.Random(seed)
    jobs: list[JobStatus] = []  # newest first
    for week in range(weeks):
        job = _job(week, rng)
        jobs.insert(0, job.model_copy(update={"drift": suite_drift(job, jobs)}))
    return SuiteService(_Runs(jobs)).get(SUITE, caller=OWNER, limit=weeks)


def main(target: Path) -> None:
    page_html = trend_html(weekly_suite())
    with tempfile.TemporaryDirectory() as folder:
        page_file = Path(folder) / "trend.html"
        page_file.write_text(page_html, encoding="utf-8")
        page_shot(page_file, target)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/trend.png"))
