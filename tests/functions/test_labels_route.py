"""POST and GET /score-jobs/{job_id}/labels through the real handlers on the template's
resources in moto: people's labels of a run the worker wrote, stored under `score-labels/`,
one per (sample, metric, labeler), only on the caller's own written job."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from testkit.scripted_judge import ScriptedJudge
from tests.functions.test_cost_controls import CUSTOM_METRICS, SAMPLES, drain, run
from tests.functions.test_no_5xx import assert_not_5xx, json_values
from tests.support.lambdas import api_event, body_of, invoke, submit

OWNER = "arn:aws:iam::123456789012:user/local-developer"
OTHER = "arn:aws:iam::123456789012:user/someone-else"
METRICS = ["exact_match", "chrf_score"]


def post(job_id: str, body: Any, caller: str = OWNER) -> dict[str, Any]:
    event = api_event("api-post-labels.json", job_id=job_id, body=body, caller=caller)
    return invoke("api", event)


def listed(job_id: str, caller: str = OWNER, **query: str) -> dict[str, Any]:
    event = api_event("api-get-labels.json", job_id=job_id, query=query, caller=caller)
    return invoke("api", event)


def label_keys(stack: dict[str, str]) -> list[str]:
    listing = boto3.client("s3").list_objects_v2(
        Bucket=stack["ArtifactsBucket"], Prefix="score-labels/"
    )
    return sorted(item["Key"] for item in listing.get("Contents", []))


@pytest.fixture
def scored(stack: dict[str, str]) -> str:
    """GIVEN a job of the caller's whose run the worker wrote."""
    done = run(stack, {"samples": SAMPLES, "metrics": METRICS})
    assert done["status"] == "completed"
    return str(done["job_id"])


def test_labels_are_stored_a_repeat_replaces_one_and_they_are_read_back(
    stack: dict[str, str], scored: str
) -> None:
    # WHEN two labels are posted, then one of them again with another value
    first = post(
        scored,
        {
            "labels": [
                {"sample_id": "eiffel", "metric": "exact_match", "value": 1, "labeler": "alice"},
                {"sample_id": "lambda", "metric": "chrf_score", "value": 0.25, "note": "vague"},
            ]
        },
    )
    again = post(
        scored, [{"sample_id": "eiffel", "metric": "exact_match", "value": 0, "labeler": "alice"}]
    )

    # THEN both are stored, the repeat in place of the first: two objects in the bucket
    assert first["statusCode"] == 200, body_of(first)
    stored = body_of(first)
    assert stored["job_id"] == scored and stored["run_id"].endswith(scored)
    assert (stored["stored"], stored["by_metric"]) == (2, {"chrf_score": 1, "exact_match": 1})
    assert body_of(again)["stored"] == 1
    keys = label_keys(stack)
    assert len(keys) == 2 and all(k.startswith(f"score-labels/{scored}/") for k in keys)
    # AND read back, the repeat's value is the label's
    page = listed(scored)
    assert page["statusCode"] == 200
    labels = {(x["sample_id"], x["metric"]): x for x in body_of(page)["labels"]}
    assert labels[("eiffel", "exact_match")]["value"] == 0
    assert labels[("eiffel", "exact_match")]["labeler"] == "alice"
    assert labels[("lambda", "chrf_score")] | {"labeled_at": "-"} == {
        "sample_id": "lambda",
        "metric": "chrf_score",
        "value": 0.25,
        "category": None,
        "labeler": "",
        "note": "vague",
        "labeled_at": "-",
    }
    assert body_of(page)["next_cursor"] is None


def test_a_page_at_a_time(stack: dict[str, str], scored: str) -> None:
    body = [
        {"sample_id": sample["sample_id"], "metric": metric, "value": 1}
        for sample in SAMPLES
        for metric in METRICS
    ]
    assert post(scored, body)["statusCode"] == 200

    first = body_of(listed(scored, limit="3"))
    rest = body_of(listed(scored, limit="3", cursor=first["next_cursor"]))

    assert len(first["labels"]) == 3 and len(rest["labels"]) == 1
    assert rest["next_cursor"] is None
    seen = {(x["sample_id"], x["metric"]) for x in first["labels"] + rest["labels"]}
    assert len(seen) == 4


def test_a_category_of_the_jobs_own_discrete_metric_is_stored_with_its_number(
    stack: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with ScriptedJudge() as judge:
        monkeypatch.setenv("OPENAI_BASE_URL", judge.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "test")
        discrete = CUSTOM_METRICS[0]  # uses_the_contexts: yes 1, no 0
        done = run(
            stack,
            {"samples": SAMPLES, "metrics": [discrete["name"]], "custom_metrics": [discrete]},
        )
    assert done["status"] == "completed", done

    answer = post(
        done["job_id"], [{"sample_id": "eiffel", "metric": discrete["name"], "value": "no"}]
    )
    number = post(done["job_id"], [{"sample_id": "eiffel", "metric": discrete["name"], "value": 0}])

    assert answer["statusCode"] == 200, body_of(answer)
    [stored] = body_of(listed(done["job_id"]))["labels"]
    assert (stored["category"], stored["value"]) == ("no", 0)
    assert number["statusCode"] == 422
    [problem] = body_of(number)["error"]["details"]
    assert problem["field"] == "labels[0].value" and problem["allowed"] == ["yes", "no"]


def test_only_the_callers_own_written_job_takes_labels(stack: dict[str, str], scored: str) -> None:
    good = [{"sample_id": "eiffel", "metric": "exact_match", "value": 1}]
    queued = body_of(submit({"samples": SAMPLES, "metrics": METRICS}))["job_id"]
    drain(stack["ScoreQueue"])

    unknown = post("0" * 24, good)
    foreign = post(scored, good, caller=OTHER)
    foreign_list = listed(scored, caller=OTHER)
    unfinished = post(queued, good)

    assert foreign["statusCode"] == foreign_list["statusCode"] == unknown["statusCode"] == 404
    assert body_of(foreign)["error"]["code"] == body_of(unknown)["error"]["code"]
    assert unfinished["statusCode"] == 409
    assert "has no run yet" in body_of(unfinished)["error"]["message"]
    assert body_of(listed(queued))["labels"] == []
    assert label_keys(stack) == []


@pytest.mark.parametrize(
    ("label", "field"),
    [
        ({"sample_id": "nobody", "metric": "exact_match", "value": 1}, "labels[0].sample_id"),
        ({"sample_id": "eiffel", "metric": "faithfulness", "value": 1}, "labels[0].metric"),
        ({"sample_id": "eiffel", "metric": "exact_match", "value": 2}, "labels[0].value"),
        (
            {"sample_id": "eiffel", "metric": "exact_match", "value": 1, "note": "n" * 1001},
            "labels[0].note",
        ),
    ],
    ids=["sample", "metric", "value", "note"],
)
def test_a_refused_label_is_a_422_naming_its_field(
    stack: dict[str, str], scored: str, label: dict[str, Any], field: str
) -> None:
    answer = post(scored, [label])

    assert answer["statusCode"] == 422
    assert [p["field"] for p in body_of(answer)["error"]["details"]] == [field]
    assert label_keys(stack) == []


def test_a_body_that_is_not_json_is_a_400(stack: dict[str, str], scored: str) -> None:
    event = api_event("api-post-labels.json", job_id=scored, raw_body="labels: many")

    assert invoke("api", event)["statusCode"] == 400


near_labels = st.lists(
    st.dictionaries(
        st.sampled_from(["sample_id", "metric", "value", "labeler", "note", "x"]),
        json_values | st.sampled_from(["eiffel", "lambda", "exact_match", "chrf_score", 1, 0.5]),
        max_size=6,
    ),
    max_size=4,
)
EXAMPLES = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@EXAMPLES
@given(
    body=json_values | near_labels | st.builds(lambda labels: {"labels": labels}, near_labels),
    query=st.dictionaries(
        st.sampled_from(["limit", "cursor", "other"]),
        st.text(max_size=70) | st.sampled_from(["²", "9" * 5000, "0", "1001", "a" * 64]),
        max_size=3,
    ),
)
def test_no_body_or_query_gets_a_5xx(stack: dict[str, str], scored: str, body, query) -> None:
    assert_not_5xx(post(scored, body))
    assert_not_5xx(listed(scored, **query))
