"""Planning: a job's samples, read and validated once, cut into shards for the workers.

A dataset is streamed from the bucket row by row (it may be larger than a worker's memory);
inline samples come with the message. Every row is validated before any judge call: with
`on_invalid: "fail"` an invalid row fails the job, with `"skip"` it is left out and
reported. Shards are written to the work prefix; a job of one shard keeps its samples in
memory and is scored in the same invocation (no second hop for a small job).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from rag_eval.app.ports import ObjectStore
from rag_eval.app.sample_kinds import first_row, of_kind, other_kind
from rag_eval.app.work_files import Plan, WorkFiles
from rag_eval.domain.dataset import (
    DatasetReader,
    DatasetRow,
    RowError,
    detect_format,
)
from rag_eval.domain.errors import DatasetInvalid
from rag_eval.domain.job import JobStatus, Progress, RowProblem, resolved_models
from rag_eval.domain.layout import upload_key
from rag_eval.domain.request import DatasetJob, ScoreRequest
from rag_eval.domain.request_summary import request_summary
from rag_eval.domain.sample import Sample
from rag_eval.domain.segments import SegmentValues
from rag_eval.domain.settings import Settings
from rag_eval.domain.turns import turns_of
from rag_eval.metrics.spec import MetricSpec

MAX_ROW_PROBLEMS = 20  # kept on the job: enough to fix a file, small for the job item


@dataclass
class Planned:
    plan: Plan
    job: JobStatus  # the job with what planning found (counts, summary, invalid rows)
    invalid_rows: int = 0
    first_shard: list[Sample] | None = None  # the samples of a one-shard job
    failed: bool = False  # invalid rows with on_invalid "fail": nothing is to be scored

    @property
    def failure(self) -> str | None:
        """The job's error when its invalid rows fail it."""
        if not self.failed:
            return None
        first = self.job.invalid_rows[0]
        return (
            f"DatasetInvalid: {self.invalid_rows} invalid row(s); first: line {first.line}, "
            f"{first.field}: {first.message}. Fix the file, or submit with "
            '"on_invalid": "skip" to score the valid rows'
        )


@dataclass
class _Inputs:
    """What planning learns from the samples as they stream past."""

    count: int = 0
    first: Sample | None = None
    present: set[str] = field(default_factory=set)
    feedable: set[str] = field(default_factory=set)  # metrics some sample can feed
    missing: dict[str, set[str]] = field(default_factory=dict)


class Planner:
    def __init__(self, settings: Settings, store: ObjectStore) -> None:
        self._settings = settings
        self._store = store
        self._files = WorkFiles(store)

    def plan(self, job: JobStatus, request: ScoreRequest | DatasetJob) -> Planned:
        first, rows = first_row(request_rows(self._store, request, job.owner))
        if first is not None:  # one kind of sample a job, and metrics of that kind
            request = of_kind(request, turns_of(first.sample))
        options = request.options()
        specs = options.metric_specs()
        inputs = _Inputs(missing={spec.name: set() for spec in specs})
        problems: list[RowProblem] = []
        invalid = 0
        fail_on_invalid = isinstance(request, DatasetJob) and request.on_invalid == "fail"
        judged = options.needs_judge() or options.needs_embeddings()
        size = self._settings.shard_size if judged else self._settings.model_free_shard_size
        shard: list[Sample] = []
        first_shard: list[Sample] | None = None
        shards = 0
        seen: dict[str, int] = {}
        segment_values = SegmentValues()  # a key's values over the job are bounded

        for item in rows:
            if isinstance(item, DatasetRow) and first is not None:
                item = other_kind(item, first) or item
            if isinstance(item, RowError):
                invalid += 1
                if len(problems) < MAX_ROW_PROBLEMS:
                    problems.append(
                        RowProblem(line=item.line, field=item.field, message=item.message)
                    )
                continue
            sample = item.sample
            if sample.sample_id in seen:
                invalid += 1
                if len(problems) < MAX_ROW_PROBLEMS:
                    problems.append(
                        RowProblem(
                            line=item.line,
                            field="sample_id",
                            message=f"repeats the sample_id of line {seen[sample.sample_id]}",
                        )
                    )
                continue
            if said := segment_values.add(sample.metadata):
                invalid += 1
                if len(problems) < MAX_ROW_PROBLEMS:
                    problems.append(RowProblem(line=item.line, field="metadata", message=said))
                continue
            if inputs.count >= self._settings.max_dataset_rows:
                raise DatasetInvalid(
                    [
                        {
                            "field": "dataset",
                            "message": f"more than {self._settings.max_dataset_rows} rows: split "
                            "the file into several jobs (the limit is RAGAS_MAX_DATASET_ROWS)",
                        }
                    ]
                )
            inputs.count += 1
            # Ids are fixed here, once: every shard, the fan-in and scores.csv agree on them.
            sample_id = sample.sample_id or f"sample-{inputs.count:04d}"
            if sample.sample_id:
                seen[sample.sample_id] = item.line
            sample = sample.model_copy(update={"sample_id": sample_id})
            self._learn(inputs, sample, specs)
            if invalid and fail_on_invalid:
                continue  # still reading, to report every invalid row; nothing to score
            shard.append(sample)
            if len(shard) == size:
                first_shard = self._flush(job.job_id, shards, shard, first_shard)
                shards += 1
                shard = []
        if shard:
            first_shard = self._flush(job.job_id, shards, shard, first_shard)
            shards += 1
        if inputs.count == 0 and not invalid:
            raise DatasetInvalid([{"field": "dataset", "message": "the dataset has no samples"}])

        skipped = {
            name: f"missing input: {', '.join(sorted(missing))}"
            for name, missing in inputs.missing.items()
            if name not in inputs.feedable
        }
        plan = Plan(
            job_id=job.job_id,
            options=options,
            skipped=skipped,
            shards_total=shards,
            sample_count=inputs.count,
            snapshot=request.model_dump_json(indent=2, exclude_none=True),
        )
        if shards > 1:
            self._files.put_plan(plan)
        judge_model, embedding_model = resolved_models(request, self._settings)
        scored = len(specs) - len(skipped)
        planned_job = job.model_copy(
            update={
                "sample_count": inputs.count,
                "request_summary": request_summary(
                    options,
                    judge_model,
                    embedding_model,
                    inputs.first,
                    inputs.present,
                    inputs.count,
                ),
                "skipped_metrics": list(skipped),
                "skip_reasons": skipped,
                "scores": dict.fromkeys(options.metrics),
                "invalid_rows": problems,
                "progress": Progress(
                    samples_total=inputs.count,
                    samples_skipped=invalid,
                    metric_calls_total=inputs.count * scored,
                    shards_total=shards,
                ),
            }
        )
        return Planned(
            plan=plan,
            job=planned_job,
            invalid_rows=invalid,
            first_shard=first_shard if shards == 1 else None,
            failed=bool(invalid and (fail_on_invalid or inputs.count == 0)),
        )

    @staticmethod
    def _learn(inputs: _Inputs, sample: Sample, specs: list[MetricSpec]) -> None:
        if inputs.first is None:
            inputs.first = sample
        inputs.present.update(name for name in ("contexts", "ground_truth") if sample.has(name))
        for spec in specs:
            missing = sample.missing_inputs(spec.inputs)
            if missing:
                inputs.missing[spec.name].update(missing)
            else:
                inputs.feedable.add(spec.name)

    def _flush(
        self, job_id: str, index: int, samples: list[Sample], first: list[Sample] | None
    ) -> list[Sample] | None:
        """Write a full shard; the first is held back until a second exists (a job of one
        shard writes none)."""
        if index == 0:
            return samples
        if index == 1 and first is not None:
            self._write_shard(job_id, 0, first)
        self._write_shard(job_id, index, samples)
        return first

    def _write_shard(self, job_id: str, index: int, samples: list[Sample]) -> None:
        self._files.put_shard(job_id, index, samples)


def request_rows(
    store: ObjectStore, request: ScoreRequest | DatasetJob, owner: str
) -> Iterator[DatasetRow | RowError]:
    """The request's samples as rows: inline ones, or the owner's uploaded file, streamed."""
    if isinstance(request, ScoreRequest):
        for index, sample in enumerate(request.samples, start=1):
            yield DatasetRow(line=index, sample=sample)
        return
    key = upload_key(request.dataset.upload_id, owner)
    if store.size(key) is None:
        raise DatasetInvalid(
            [
                {
                    "field": "dataset.upload_id",
                    "message": f"no uploaded file for {request.dataset.upload_id}: the upload "
                    "was not finished, or it expired; upload the file again",
                }
            ]
        )
    lines = store.lines(key)
    head, lines = _peek(lines)
    fmt = request.dataset.format or detect_format(None, head)
    yield from DatasetReader(lines, fmt, request.dataset.column_map)


def _peek(lines: Iterable[bytes]) -> tuple[bytes, Iterator[bytes]]:
    """The first non-blank line, and every line still to read."""
    iterator = iter(lines)
    held: list[bytes] = []
    for line in iterator:
        held.append(line)
        if line.strip():
            break
    return (held[-1] if held else b""), itertools.chain(held, iterator)
