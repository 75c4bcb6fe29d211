"""A sample's metadata: bounded labels, errors that say the limit, read from datasets,
and never sent to the judge (nor part of the verdict cache's keys)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rag_eval.adapters.local_files import LocalObjectStore
from rag_eval.app.planning import Planner
from rag_eval.domain.dataset import DatasetReader, DatasetRow, RowError
from rag_eval.domain.errors import RequestInvalid
from rag_eval.domain.job import new_job
from rag_eval.domain.layout import upload_key
from rag_eval.domain.request import DatasetJob, parse_request
from rag_eval.domain.sample import Sample
from rag_eval.domain.settings import Settings
from rag_eval.domain.verdicts import pair_key
from rag_eval.metrics import REGISTRY

SAMPLE = {"question": "q", "answer": "a", "contexts": ["c"], "ground_truth": "g"}


def problems(body: dict[str, Any]) -> list[dict[str, Any]]:
    with pytest.raises(RequestInvalid) as caught:
        parse_request(body)
    return caught.value.problems


@pytest.mark.parametrize(
    ("metadata", "said"),
    [
        ({f"k{i}": "v" for i in range(11)}, "11 keys; at most 10 keys a sample"),
        ({"a b": "v"}, "a key is 1 to 40 characters of letters, digits, _ . -"),
        ({"k" * 41: "v"}, "a key is 1 to 40 characters"),
        ({"topic": "x" * 101}, "topic: the value has 101 characters; a value is 1 to 100"),
        ({"topic": "  "}, "topic: the value has 0 characters; a value is 1 to 100"),
        ({"tier": 3}, 'tier: metadata values are strings: write "3" for 3'),
        ({"vip": True}, 'vip: metadata values are strings: write "true" for true'),
        ({"tags": ["a", "b"]}, "tags: metadata values are strings, not objects or lists"),
        ({"topic\n": "v"}, "a key is 1 to 40 characters"),
        (["billing"], "must be an object of labels"),
    ],
    ids=[
        *("keys", "key-chars", "key-length", "value-length", "empty", "number", "bool"),
        *("nested", "key-newline", "list"),
    ],
)
def test_metadata_over_a_limit_is_refused_with_the_limit(metadata: Any, said: str) -> None:
    # GIVEN a sample whose metadata breaks one limit
    body = {"samples": [SAMPLE, {**SAMPLE, "metadata": metadata}]}

    # WHEN it is submitted
    [problem] = problems(body)

    # THEN the error names the sample's field and says the limit
    assert problem["field"] == "samples[1].metadata"
    assert said in problem["message"]


def test_metadata_within_the_limits_is_kept_trimmed() -> None:
    # GIVEN a single sample (inline) with labels at their limits
    labels = {f"k.{i}_-": "v" * 100 for i in range(9)} | {"k" * 40: " fr "}

    # WHEN it is parsed
    request = parse_request({**SAMPLE, "metadata": labels})

    # THEN they are its metadata, values trimmed
    assert request.samples[0].metadata == labels | {"k" * 40: "fr"}  # type: ignore[union-attr]


def test_a_key_takes_at_most_50_values_over_a_job() -> None:
    # GIVEN 51 samples, each with its own customer
    body = {"samples": [{**SAMPLE, "metadata": {"customer": f"c{i}"}} for i in range(51)]}

    # WHEN they are submitted
    [problem] = problems(body)

    # THEN the 51st is refused, the limit said; 50 pass
    assert problem["field"] == "samples[50].metadata"
    assert "at most 50 distinct values over a job" in problem["message"]
    body["samples"] = body["samples"][:50]
    assert len(parse_request(body).samples) == 50  # type: ignore[union-attr]


def test_a_job_takes_at_most_10_keys_and_60_segments() -> None:
    # GIVEN samples bringing 11 keys in all, then others bringing 61 key=value pairs
    keys = [{**SAMPLE, "metadata": {f"k{i}": "v"}} for i in range(11)]
    pairs = [{**SAMPLE, "metadata": {f"k{i % 3}": f"v{i}"}} for i in range(61)]

    # WHEN each set is submitted
    [too_many_keys] = problems({"samples": keys})
    [too_many_pairs] = problems({"samples": pairs})

    # THEN each is refused at the sample that goes over, the limit said
    assert too_many_keys["field"] == "samples[10].metadata"
    assert "at most 10 distinct metadata keys" in too_many_keys["message"]
    assert too_many_pairs["field"] == "samples[60].metadata"
    assert "at most 60 distinct metadata key=value pairs" in too_many_pairs["message"]


def test_a_csv_gives_metadata_by_metadata_columns_and_jsonl_by_an_object() -> None:
    # GIVEN a CSV with metadata.<key> columns (one cell empty) and JSON Lines with objects
    csv_lines = [b"question,metadata.topic,metadata.lang\n", b"q1,billing,en\n", b"q2,,fr\n"]
    jsonl_lines = [b'{"question": "q1", "metadata": {"topic": "billing"}}\n']

    # WHEN they are read
    from_csv = list(DatasetReader(csv_lines, "csv"))
    from_jsonl = list(DatasetReader(jsonl_lines, "jsonl"))

    # THEN each row's labels are its sample's metadata; an empty cell gives none
    assert from_csv == [
        DatasetRow(2, Sample(question="q1", metadata={"topic": "billing", "lang": "en"})),
        DatasetRow(3, Sample(question="q2", metadata={"lang": "fr"})),
    ]
    assert from_jsonl == [DatasetRow(1, Sample(question="q1", metadata={"topic": "billing"}))]


def test_a_dataset_row_over_a_limit_is_an_invalid_row(tmp_path: Path) -> None:
    # GIVEN an uploaded CSV whose 52nd row brings a 51st customer, and one number label
    rows = ["question,metadata.customer"] + [f"q{i},c{i}" for i in range(51)]
    store = LocalObjectStore(tmp_path)
    upload_id = "0" * 24
    store.put(upload_key(upload_id, "someone"), "\n".join(rows).encode(), "text/csv")
    request = DatasetJob.model_validate({"dataset": {"upload_id": upload_id}, "on_invalid": "skip"})

    # WHEN the job is planned
    job = new_job(request, Settings(), owner="someone")
    planned = Planner(Settings(), store).plan(job, request)

    # THEN the row is left out and reported, the limit said; the other 50 are scored
    assert planned.plan.sample_count == 50
    [problem] = planned.job.invalid_rows
    assert (problem.line, problem.field) == (52, "metadata")
    assert "at most 50 distinct values over a job" in problem.message


def test_a_number_in_a_jsonl_row_is_an_invalid_row() -> None:
    lines = [b'{"question": "q", "metadata": {"tier": 3}}\n']
    [error] = list(DatasetReader(lines, "jsonl"))
    assert isinstance(error, RowError)
    assert (error.field, error.message) == (
        "metadata",
        'tier: metadata values are strings: write "3" for 3',
    )


def test_metadata_is_not_sent_to_the_judge_nor_part_of_the_cache_keys() -> None:
    # GIVEN one sample with and without metadata
    bare = Sample.model_validate({**SAMPLE, "rubrics": None})
    labelled = bare.model_copy(update={"metadata": {"topic": "billing"}})

    for spec in REGISTRY.values():
        # WHEN each metric's ragas arguments and pair keys are taken
        with_labels = spec.arguments(labelled.model_dump())
        without = spec.arguments(bare.model_dump())

        # THEN the metadata is in neither: the cache hits as before
        assert "metadata" not in with_labels and with_labels == without
        models = ("judge", "embedder")
        assert pair_key(spec.key, models, with_labels) == pair_key(spec.key, models, without)
