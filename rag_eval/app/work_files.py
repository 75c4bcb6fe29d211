"""A job's work files in the store while it runs: its plan, its shards' samples and each
shard's results (the `score-work/<job_id>/` prefix, expired by a lifecycle rule)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from pydantic import BaseModel

from rag_eval.app.ports import ObjectStore
from rag_eval.domain.layout import plan_key, shard_key, shard_result_key
from rag_eval.domain.request import ScoreOptions
from rag_eval.domain.results import ShardResult
from rag_eval.domain.sample import Sample

READERS = 16  # shard files read side by side at fan-in: S3 latency, not bandwidth, bounds it


class Plan(BaseModel):
    """What every shard of a job needs besides its samples (stored as plan.json)."""

    job_id: str
    options: ScoreOptions
    skipped: dict[str, str]  # metrics no sample of the whole job can feed, with the reason
    shards_total: int
    sample_count: int
    snapshot: str  # request.json of the run folder: the request as submitted


@dataclass(frozen=True)
class ScoredShard:
    """The fan-in's one input: the shard scored last, in memory (with its samples when the
    worker has them: a one-shard job's); every other shard is read from the store."""

    index: int
    result: ShardResult
    samples: list[Sample] | None = None


class WorkFiles:
    def __init__(self, store: ObjectStore) -> None:
        self._store = store
        self._plans: dict[str, Plan] = {}  # a plan never changes: warm invocations reuse it

    def put_plan(self, plan: Plan) -> None:
        self._store.put(plan_key(plan.job_id), plan.model_dump_json().encode(), "application/json")

    def remember(self, plan: Plan) -> None:
        """A plan this worker made (or read): its shards need not read it again."""
        self._plans[plan.job_id] = plan

    def plan(self, job_id: str) -> Plan:
        if job_id not in self._plans:
            self._plans[job_id] = Plan.model_validate_json(self._store.get(plan_key(job_id)))
        return self._plans[job_id]

    def put_shard(self, job_id: str, index: int, samples: list[Sample]) -> None:
        body = json.dumps([s.model_dump(exclude_none=True) for s in samples], ensure_ascii=False)
        self._store.put(shard_key(job_id, index), body.encode("utf-8"), "application/json")

    def shard(self, job_id: str, index: int) -> list[Sample]:
        rows = json.loads(self._store.get(shard_key(job_id, index)))
        return [Sample.model_validate(row) for row in rows]

    def put_result(self, job_id: str, index: int, result: ShardResult) -> None:
        body = result.model_dump_json().encode("utf-8")
        self._store.put(shard_result_key(job_id, index), body, "application/json")

    def result(self, job_id: str, index: int) -> ShardResult | None:
        body = self._store.find(shard_result_key(job_id, index))
        return None if body is None else ShardResult.model_validate_json(body)

    def gather(self, plan: Plan, last: ScoredShard) -> tuple[list[Sample], ShardResult]:
        """Every shard's samples, and their results in shard order with their tokens, cache
        and concurrency summed."""

        def read(index: int) -> tuple[list[Sample], ShardResult]:
            samples, result = (last.samples, last.result) if index == last.index else (None, None)
            if samples is None:
                samples = self.shard(plan.job_id, index)
            if result is None:
                result = self.result(plan.job_id, index)
                if result is None:
                    raise RuntimeError(f"shard {index} was counted but has no stored result")
            return samples, result

        with ThreadPoolExecutor(max_workers=READERS) as readers:
            shards = list(readers.map(read, range(plan.shards_total)))
        whole = ShardResult(results=[r for _, shard in shards for r in shard.results])
        for _, shard in shards:
            whole.usage.merge(shard.usage)
            whole.cache.merge(shard.cache)
            whole.concurrency.merge(shard.concurrency)
        return [sample for shard_samples, _ in shards for sample in shard_samples], whole
