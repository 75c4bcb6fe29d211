"""`rag-eval label`: a CSV or JSON Lines file of people's labels, checked by line, sent to
the API in batches and summed up in one line; `--list` reads them back. Against a
scripted API on loopback, and the file reading alone."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rag_eval.cli.labels import BATCH_BYTES, batches, read_labels
from rag_eval.cli.main import main
from rag_eval.domain.errors import RequestInvalid
from rag_eval.domain.labels import MAX_LABELS_PER_REQUEST
from tests.client.test_client import ScriptedApi, Seen

LABELS = "/v1/score-jobs/j1/labels"
RUN_ID = "20261129T160000Z-j1"


def stored(seen: Seen) -> tuple[int, dict[str, Any]]:
    """The API's answer to a batch: every label stored, counted per metric."""
    labels = seen.body["labels"]
    by_metric = dict(sorted(Counter(label["metric"] for label in labels).items()))
    return 200, {"job_id": "j1", "run_id": RUN_ID, "stored": len(labels), "by_metric": by_metric}


@pytest.fixture
def api() -> Iterator[ScriptedApi]:
    with ScriptedApi() as running:
        running.script[("POST", LABELS)] = stored
        yield running


def posted(api: ScriptedApi) -> list[list[dict[str, Any]]]:
    return [seen.body["labels"] for seen in api.seen if seen.method == "POST"]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_a_csv_file_is_posted_and_summed_up_in_one_line(
    api: ScriptedApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a CSV of labels: a note with a comma and a line break, a row naming its labeler
    labels = write(
        tmp_path / "labels.csv",
        "sample_id,metric,value,labeler,note\n"
        "eiffel,faithfulness,0.5,,half the claims\n"
        'lambda,faithfulness,1,bob,"right, and\nsourced"\n'
        "lambda,uses_the_contexts,yes,,\n",
    )

    # WHEN it is sent with a labeler for the rows that name none
    code = main(
        ["label", "j1", "--file", str(labels), "--labeler", "carol", "--endpoint", api.endpoint]
    )

    # THEN one request carries the rows as written (the service reads "0.5" as a number for
    # a numeric metric, "yes" as a category), and one line sums it up
    assert code == 0
    assert posted(api) == [
        [
            {
                "sample_id": "eiffel",
                "metric": "faithfulness",
                "value": "0.5",
                "labeler": "carol",
                "note": "half the claims",
            },
            {
                "sample_id": "lambda",
                "metric": "faithfulness",
                "value": "1",
                "labeler": "bob",
                "note": "right, and\nsourced",
            },
            {
                "sample_id": "lambda",
                "metric": "uses_the_contexts",
                "value": "yes",
                "labeler": "carol",
            },
        ]
    ]
    assert capsys.readouterr().out == (
        "stored 3 label(s) of job j1: faithfulness 2, uses_the_contexts 1\n"
    )


def test_a_jsonl_file_is_posted_with_its_numbers_and_json_sums_it_up(
    api: ScriptedApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    labels = write(
        tmp_path / "labels.jsonl",
        '{"sample_id": "eiffel", "metric": "faithfulness", "value": 0.5}\n'
        "\n"
        '{"sample_id": "eiffel", "metric": "rubrics_score_without_reference", "value": 4,'
        ' "labeler": "alice", "note": "clear"}\n',
    )

    code = main(["label", "j1", "--file", str(labels), "--json", "--endpoint", api.endpoint])

    assert code == 0
    [batch] = posted(api)
    assert [label["value"] for label in batch] == [0.5, 4]
    assert batch[1]["labeler"] == "alice" and "labeler" not in batch[0]
    assert json.loads(capsys.readouterr().out) == {
        "job_id": "j1",
        "run_id": RUN_ID,
        "stored": 2,
        "by_metric": {"faithfulness": 1, "rubrics_score_without_reference": 1},
    }


def test_a_large_file_goes_in_batches_the_api_takes(
    api: ScriptedApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [f"s{i},faithfulness,1" for i in range(2 * MAX_LABELS_PER_REQUEST + 500)]
    labels = write(tmp_path / "labels.csv", "sample_id,metric,value\n" + "\n".join(rows) + "\n")

    assert main(["label", "j1", "--file", str(labels), "--endpoint", api.endpoint]) == 0

    assert [len(batch) for batch in posted(api)] == [1000, 1000, 500]
    assert capsys.readouterr().out == "stored 2500 label(s) of job j1: faithfulness 2500\n"


def test_the_services_refusal_is_named_by_the_files_lines(
    api: ScriptedApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    details = [
        {"field": "labels[1].sample_id", "message": "no sample of this job's run has it"},
        {"field": "labels[2].sample_id", "message": "no sample of this job's run has it"},
        {
            "field": "labels[0].value",
            "message": "7 is outside the metric's scale",
            "allowed": "a number in 1..5 (the metric's scale)",
        },
    ]
    error = {"code": "invalid_request", "message": "the request is not valid", "details": details}
    api.script[("POST", LABELS)] = [(422, {"error": error})]
    labels = write(
        tmp_path / "labels.csv",
        "sample_id,metric,value\neiffel,rubrics_score_with_reference,7\nx,faithfulness,1\n"
        "y,faithfulness,1\n",
    )

    assert main(["label", "j1", "--file", str(labels), "--endpoint", api.endpoint]) == 2

    assert capsys.readouterr().err.splitlines() == [
        "error: labels.csv lines 3, 4: sample_id: no sample of this job's run has it",
        "error: labels.csv line 2: value: 7 is outside the metric's scale "
        "(allowed: a number in 1..5 (the metric's scale))",
    ]


def test_a_job_without_a_run_is_said_so(
    api: ScriptedApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    message = "job j1 is running and has no run yet: labels are given to the samples of its run"
    api.script[("POST", LABELS)] = [(409, {"error": {"code": "conflict", "message": message}})]
    labels = write(tmp_path / "labels.csv", "sample_id,metric,value\neiffel,faithfulness,1\n")

    assert main(["label", "j1", "--file", str(labels), "--endpoint", api.endpoint]) == 2

    assert capsys.readouterr().err == f"error: conflict: {message}\n"


def test_the_list_shows_every_page_sorted_with_a_count_per_metric(
    api: ScriptedApi, capsys: pytest.CaptureFixture[str]
) -> None:
    def label(sample_id: str, metric: str, value: float, **more: Any) -> dict[str, Any]:
        return {
            "sample_id": sample_id,
            "metric": metric,
            "value": value,
            "category": None,
            "labeler": "",
            "note": "",
            "labeled_at": "2026-12-01T10:00:00.000Z",
        } | more

    pages = {
        None: ([label("lambda", "faithfulness", 1, labeler="bob")], "c" * 64),
        "c" * 64: (
            [
                label("eiffel", "uses_the_contexts", 1, category="yes", note="line one\nline two"),
                label("eiffel", "faithfulness", 0.5),
            ],
            None,
        ),
    }

    def page(seen: Seen) -> tuple[int, dict[str, Any]]:
        labels, following = pages[(seen.query.get("cursor") or [None])[0]]
        return 200, {"job_id": "j1", "labels": labels, "next_cursor": following}

    api.script[("GET", LABELS)] = page

    assert main(["label", "j1", "--list", "--endpoint", api.endpoint]) == 0
    table = capsys.readouterr().out
    assert main(["label", "j1", "--list", "--json", "--endpoint", api.endpoint]) == 0
    listed = json.loads(capsys.readouterr().out)

    assert table.splitlines() == [
        "sample_id  metric             value    labeler  note",
        "eiffel     faithfulness       0.5      -",
        "eiffel     uses_the_contexts  1 (yes)  -        line one line two",
        "lambda     faithfulness       1        bob",
        "3 label(s): faithfulness 2, uses_the_contexts 1",
    ]
    assert [x["sample_id"] for x in listed["labels"]] == ["eiffel", "eiffel", "lambda"]


# --- the file alone (no API) ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text", "said"),
    [
        (
            "labels.jsonl",
            '{"sample_id": "a", "metric": "m", "value": true}\n',
            "labels.jsonl line 1: value",
        ),
        ("labels.jsonl", '{"sample_id": "a", "metric": "m"}\n["a"]\n', "labels.jsonl line 2"),
        ("labels.csv", "sample_id,metric\na,m\n", "--file"),
        ("labels.csv", "sample_id,metric,value,score\na,m,1,2\n", "--file"),
        ("labels.csv", "sample_id,metric,value\na,m,1,extra\n", "labels.csv line 2"),
        (
            "labels.csv",
            "sample_id,metric,value,labeler\na,m,1,al  ice\n",
            "labels.csv line 2: labeler",
        ),
        ("labels.csv", "sample_id,metric,value\na,m,1\nb,m,1\na,m,0\n", "labels.csv line 4: row"),
        ("labels.csv", "sample_id,metric,value\n", "--file"),
        ("labels.txt", "a,m,1\n", "--file"),
    ],
    ids=[
        "json true",
        "not an object",
        "no value column",
        "unknown column",
        "more cells",
        "labeler",
        "twice",
        "empty",
        "suffix",
    ],
)
def test_a_files_problem_is_named_by_its_line_before_anything_is_sent(
    tmp_path: Path, name: str, text: str, said: str
) -> None:
    with pytest.raises(RequestInvalid) as raised:
        read_labels(write(tmp_path / name, text))

    assert raised.value.problems[0]["field"] == said


def test_the_same_mistake_on_many_lines_is_one_problem(tmp_path: Path) -> None:
    rows = "".join(f"s{i},m,\n" for i in range(5))  # no value
    with pytest.raises(RequestInvalid) as raised:
        read_labels(write(tmp_path / "labels.csv", "sample_id,metric,value,note\n" + rows))

    [problem] = raised.value.problems
    assert problem["field"] == "labels.csv 5 rows (line 2 .. line 6): value"


def test_batches_keep_under_the_apis_body_limit() -> None:
    note = "n" * 1000
    labels = [
        (i, {"sample_id": f"s{i}", "metric": "m", "value": 1, "note": note}) for i in range(5000)
    ]

    sizes = [len(batch) for batch in batches(labels)]

    assert sum(sizes) == 5000 and max(sizes) <= MAX_LABELS_PER_REQUEST
    for batch in batches(labels):
        body = json.dumps({"labels": [label for _, label in batch]}).encode()
        assert len(body) <= BATCH_BYTES + 1024
