"""No input of any shape gets a 5xx: arbitrary JSON bodies, path parameters and query strings
thrown at the API and list handlers (Hypothesis), on the template's resources in moto.

Every answer is a 2xx or a 4xx in the service's error shape.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.support.lambdas import api_event, invoke

# Run each property a bounded number of times: fast enough for every `make test`.
EXAMPLES = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=15), children, max_size=5)
    ),
    max_leaves=25,
)
# Bodies near the real shape too, so that validation goes deep, not only the first check.
sample_fields = st.sampled_from(
    ["question", "answer", "contexts", "ground_truth", "sample_id", "user_input", "x"]
)
request_fields = st.sampled_from(
    [
        *("samples", "metrics", "weights", "judge_model", "embedding_model"),
        *("question", "answer", "dataset", "on_invalid"),
    ]
)
dataset_fields = st.sampled_from(["upload_id", "format", "column_map", "x"])
near_bodies = st.dictionaries(
    request_fields,
    json_values
    | st.lists(st.dictionaries(sample_fields, json_values, max_size=5), max_size=3)
    | st.dictionaries(dataset_fields, json_values | st.just("a" * 24), max_size=4),
    max_size=5,
)
upload_bodies = st.dictionaries(
    st.sampled_from(["filename", "size_bytes", "other"]),
    json_values | st.integers(min_value=-(2**70), max_value=2**70),
    max_size=3,
)
# Raw texts that are not JSON at all, or JSON that Python cannot read in full.
raw_bodies = st.text(max_size=200) | st.sampled_from(
    [
        "9" * 5000,
        "[" * 5000,
        '{"question": ' + "[" * 3000,
        "\ud800",
        '{"question": "\\ud800"}',
        '{"a": 1e999}',
    ]
)


def assert_not_5xx(response: dict[str, Any]) -> None:
    assert response["statusCode"] < 500, response
    if response["statusCode"] >= 400:
        error = json.loads(response["body"])["error"]
        assert {"code", "message", "details"} <= set(error), response


@EXAMPLES
@given(body=json_values | near_bodies)
def test_any_json_body_is_answered_without_a_5xx(stack, body: Any) -> None:
    assert_not_5xx(invoke("api", api_event("api-submit.json", body=body)))


@EXAMPLES
@given(body=json_values | upload_bodies, raw=st.none() | raw_bodies)
def test_any_upload_request_is_answered_without_a_5xx(stack, body: Any, raw: str | None) -> None:
    event = api_event("api-create-upload.json", body=body)
    if raw is not None:
        event = api_event("api-create-upload.json", raw_body=raw)
    assert_not_5xx(invoke("api", event))


@EXAMPLES
@given(raw=raw_bodies)
# The classes that gave a 500 before: a number too long for Python to read, nesting deeper
# than its recursion limit, a lone surrogate as text or as a JSON escape.
@example(raw="9" * 5000)
@example(raw="[" * 5000)
@example(raw="\ud800")
@example(raw='{"question": "\\ud800"}')
def test_any_raw_body_is_answered_without_a_5xx(stack, raw: str) -> None:
    assert_not_5xx(invoke("api", api_event("api-submit.json", raw_body=raw)))


@EXAMPLES
@given(job_id=st.text(min_size=1, max_size=3000))
@example(job_id="x" * 3000)  # longer than a DynamoDB key may be
def test_any_job_id_is_answered_without_a_5xx(stack, job_id: str) -> None:
    assert_not_5xx(invoke("api", api_event("api-get-job.json", job_id=job_id)))
    assert_not_5xx(invoke("api", api_event("api-get-artifacts.json", job_id=job_id)))
    assert_not_5xx(invoke("api", api_event("api-cancel.json", job_id=job_id)))


cursors = st.text(max_size=200) | st.builds(
    lambda key: base64.urlsafe_b64encode(json.dumps(key).encode()).decode(),
    json_values | st.dictionaries(st.sampled_from(["job_id", "listing", "status"]), json_values),
)


@EXAMPLES
@given(
    query=st.dictionaries(
        st.sampled_from(["limit", "cursor", "status", "other"]),
        st.text(max_size=40) | st.sampled_from(["²", "9" * 5000, "-1", "0", "101", "1e3"]),
        max_size=4,
    ),
    cursor=st.none() | cursors,
)
# Numbers int() refuses although isdigit() takes them, and cursors that decode but are not ours.
@example(query={"limit": "²"}, cursor=None)
@example(query={"limit": "9" * 5000}, cursor=None)
@example(query={}, cursor=base64.urlsafe_b64encode(b'{"job_id": 1}').decode())
@example(query={}, cursor=base64.urlsafe_b64encode(b'{"job_id": {"N": "1"}}').decode())
@example(
    query={"status": "failed"},
    cursor=base64.urlsafe_b64encode(
        b'{"job_id": {"S": "a"}, "listing": {"S": "job"}, "created_at": {"S": "x"}}'
    ).decode(),
)
def test_any_query_string_is_answered_without_a_5xx(stack, query: dict, cursor: Any) -> None:
    if cursor is not None:
        query = query | {"cursor": cursor}
    assert_not_5xx(invoke("list", api_event("list-jobs.json", query=query)))
