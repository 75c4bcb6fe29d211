"""Planning on a folder store: how a job's samples are cut into shards."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag_eval.adapters.local_files import LocalObjectStore
from rag_eval.app.planning import Planner
from rag_eval.app.work_files import WorkFiles
from rag_eval.domain.job import new_job
from rag_eval.domain.request import ScoreRequest
from rag_eval.domain.sample import Sample
from rag_eval.domain.settings import Settings


@pytest.mark.parametrize(
    ("metrics", "sizes"),
    [
        (["exact_match", "chrf_score"], [500, 500, 200]),  # model-free: large shards
        (["faithfulness", "exact_match"], [50] * 24),  # a judge: RAGAS_SHARD_SIZE each
    ],
)
def test_shards_are_sized_by_what_the_metrics_cost(
    tmp_path: Path, metrics: list[str], sizes: list[int]
) -> None:
    # GIVEN 1,200 samples (as a dataset would give them)
    samples = [Sample(question=f"q{i}", answer="a", contexts=["c"]) for i in range(1200)]
    request = ScoreRequest.model_construct(
        samples=samples, metrics=metrics, weights={}, judge_model=None, embedding_model=None
    )
    store = LocalObjectStore(tmp_path)
    job = new_job(request, Settings(), owner="someone")

    # WHEN they are planned
    planned = Planner(Settings(), store).plan(job, request)

    # THEN the shards hold every sample once, in order, with ids fixed by position
    files = WorkFiles(store)
    shards = [files.shard(job.job_id, index) for index in range(planned.plan.shards_total)]
    assert [len(shard) for shard in shards] == sizes
    ids = [sample.sample_id for shard in shards for sample in shard]
    assert ids == [f"sample-{i:04d}" for i in range(1, 1201)]
