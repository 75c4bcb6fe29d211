"""The OpenAPI schema: valid OpenAPI 3.1, every route of the template with every answer it
gives, and the copy in docs/ current. That the API keeps to it is fuzzed against the local
stack (tests/local/test_openapi_fuzz.py)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from openapi_spec_validator import validate

from rag_eval.adapters.http.openapi import openapi_json, openapi_schema
from rag_eval.local.template import api_routes

ROOT = Path(__file__).resolve().parents[2]
ERROR_STATUSES = {"400", "403", "404", "409", "413", "422", "429", "503"}


def test_the_schema_is_valid_openapi_3_1() -> None:
    schema = json.loads(openapi_json("/v1"))

    validate(schema)  # raises on the first problem

    assert schema["openapi"] == "3.1.0"
    assert schema["servers"] == [{"url": "/v1"}]


def test_every_route_of_the_template_is_described_and_nothing_else() -> None:
    described = {
        (method.upper(), path)
        for path, operations in openapi_schema()["paths"].items()
        for method in operations
    }

    assert described == {(route.method, route.path) for route in api_routes()}


def test_each_route_lists_its_real_answers_in_the_error_shape() -> None:
    paths = openapi_schema()["paths"]
    responses = {
        (method.upper(), path): set(operation["responses"])
        for path, operations in paths.items()
        for method, operation in operations.items()
    }

    assert responses[("POST", "/score-jobs")] == {
        "200",  # a dry run's estimate
        "202",
        "400",
        "403",
        "409",
        "413",
        "422",
        "429",
        "503",
    }
    assert responses[("GET", "/score-jobs")] == {"200", "403", "422", "429"}
    assert responses[("GET", "/score-jobs/{job_id}")] == {"200", "403", "404", "429"}
    assert responses[("POST", "/score-jobs/{job_id}/cancel")] == {"202", "403", "404", "409", "429"}
    assert responses[("GET", "/score-jobs/{job_id}/artifacts")] == {
        "200",
        "403",
        "404",
        "409",
        "429",
    }
    assert responses[("POST", "/uploads")] == {"201", "400", "403", "413", "422", "429"}
    components = openapi_schema()["components"]
    for path, operations in paths.items():
        for operation in operations.values():
            for status, answer in operation["responses"].items():
                if status in ERROR_STATUSES:
                    name = answer["$ref"].rsplit("/", 1)[-1]
                    content = components["responses"][name]["content"]
                    assert content["application/json"]["schema"] == {
                        "$ref": "#/components/schemas/Error"
                    }, (path, status)
    assert "HTTPValidationError" not in components["schemas"]


def _validator(name: str) -> jsonschema.Draft202012Validator:
    """A JSON Schema validator of one component, its references resolved in the schema."""
    schema = openapi_schema()
    return jsonschema.Draft202012Validator(
        {"$ref": f"#/components/schemas/{name}", "components": schema["components"]}
    )


@pytest.mark.parametrize(
    ("body", "valid"),
    [
        ({"question": "q?", "answer": "a", "metrics": ["exact_match"]}, True),
        ({"samples": [{"question": "q?", "contexts": "one\n\ntwo"}]}, True),
        ({"dataset": {"upload_id": "0" * 24}, "on_invalid": "skip"}, True),
        ({"question": "q?", "samples": [{"question": "q?"}]}, False),
        ({"question": "q?", "metrics": ["No such metric"]}, False),
        ({"question": "q?", "colour": "blue"}, False),
        ({"dataset": {"upload_id": "0" * 24}, "on_invalid": "maybe"}, False),
    ],
)
def test_the_submission_body_is_one_of_its_three_forms(body: dict, valid: bool) -> None:
    validator = _validator("Submission")

    assert validator.is_valid(body) is valid, list(validator.iter_errors(body))


def test_the_copy_in_docs_is_current() -> None:
    """docs/openapi.json is `python -m rag_eval.adapters.http.openapi`: regenerate it so."""
    written = json.loads((ROOT / "docs" / "openapi.json").read_text(encoding="utf-8"))

    assert written == openapi_schema()
