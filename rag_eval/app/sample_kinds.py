"""One kind of sample a dataset job, and metrics of that kind (rag_eval/domain/turns.py).

An uploaded file is read by the worker, not the API: its kind is known once its first valid
row is read. Rows of the other kind are row errors naming their line; metrics of the other
kind fail the job before any judge call, saying what they need.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from rag_eval.domain.dataset import DatasetRow, RowError
from rag_eval.domain.errors import DatasetInvalid
from rag_eval.domain.request import DatasetJob, ScoreRequest
from rag_eval.domain.turns import CONVERSATION_METRICS, metric_kind_problems, turns_of
from rag_eval.metrics.spec import Turns


def first_row(
    rows: Iterable[DatasetRow | RowError],
) -> tuple[DatasetRow | None, Iterator[DatasetRow | RowError]]:
    """The first valid row (None when there is none), and every row still to be read."""
    iterator = iter(rows)
    held: list[DatasetRow | RowError] = []
    for item in iterator:
        held.append(item)
        if isinstance(item, DatasetRow):
            return item, _chained(held, iterator)
    return None, iter(held)


def of_kind(request: ScoreRequest | DatasetJob, kind: Turns) -> ScoreRequest | DatasetJob:
    """The request with metrics of its samples' kind: a conversation dataset whose job
    named no metrics (the API queues it without them) gets CONVERSATION_METRICS, as an
    inline conversation job naming none does. Raises DatasetInvalid for a metric of the
    other kind."""
    if kind == "multi" and "metrics" not in request.model_fields_set:
        request = request.model_copy(update={"metrics": list(CONVERSATION_METRICS)})
    problems = metric_kind_problems(request.metric_specs(), kind)
    if problems:
        raise DatasetInvalid(problems)
    return request


def other_kind(row: DatasetRow, first: DatasetRow) -> RowError | None:
    """A row of another kind than the job's first row, as that row's error."""
    kind, expected = turns_of(row.sample), turns_of(first.sample)
    if kind == expected:
        return None
    return RowError(
        row.line,
        "user_input" if kind == "multi" else "question",
        f"is {_ONE[kind]}, but line {first.line} is {_ONE[expected]}: a job holds one kind "
        "of sample; put each kind in a file of its own",
    )


_ONE = {
    "multi": "a conversation (user_input a list of messages)",
    "single": "a single-turn sample (user_input or question a text)",
}


def _chained(
    held: list[DatasetRow | RowError], rest: Iterator[DatasetRow | RowError]
) -> Iterator[DatasetRow | RowError]:
    yield from held
    yield from rest
