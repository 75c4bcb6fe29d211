"""The route table (rag_eval/app/routes.py) is what the functions route, what the OpenAPI
schema describes and what an answer's status is; template.yaml's routes are held to it in
tests/test_template.py."""

from __future__ import annotations

import pytest
from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from rag_eval.adapters.http.openapi import openapi_schema
from rag_eval.adapters.http.routing import serve
from rag_eval.app.answers import (
    ComparisonPending,
    ComparisonReady,
    Estimate,
    JobLinks,
    SubmittedJob,
)
from rag_eval.app.routes import ROUTE, ROUTES, routes_of
from rag_eval.domain.job import JobStatus
from rag_eval.domain.states import JobState
from tests.support.lambdas import load_function


@pytest.mark.parametrize(("name", "function"), [("api", "ApiFunction"), ("list", "ListFunction")])
def test_each_function_routes_exactly_its_routes_of_the_table(name: str, function: str) -> None:
    app = load_function(name).app

    # Powertools keeps the routes it resolves in these two lists.
    registered = {(r.method, r.path) for r in app._static_routes + app._dynamic_routes}

    assert registered == {(route.method, route.rule) for route in routes_of(function)}


def test_a_function_missing_a_handler_of_its_routes_does_not_start() -> None:
    handlers = {route.operation_id: lambda: None for route in routes_of("ListFunction")}

    with pytest.raises(LookupError, match="getScoreJob"):
        serve(APIGatewayRestResolver(), "ApiFunction", handlers)
    with pytest.raises(LookupError, match="listMetrics"):
        serve(APIGatewayRestResolver(), "ListFunction", handlers | {"listMetrics": lambda: None})


def test_an_answers_status_is_the_one_its_model_has_on_the_route() -> None:
    job = JobStatus(job_id="0" * 24, status=JobState.QUEUED, created_at="2026-12-05T00:00:00Z")
    submitted = SubmittedJob.of(job, JobLinks(self="/score-jobs/x", artifacts="/x/artifacts"))
    pending = ComparisonPending(status="pending", job_id="a", baseline="b")

    assert ROUTE["submitScoreJob"].status_of(submitted) == 202
    assert ROUTE["cancelScoreJob"].status_of(job) == 202
    assert ROUTE["getScoreJob"].status_of(job) == 200
    assert ROUTE["compareScoreJobs"].status_of(pending) == 202
    assert ROUTE["compareScoreJobs"].model_of(200) is ComparisonReady
    assert ROUTE["submitScoreJob"].model_of(200) is Estimate
    with pytest.raises(TypeError):  # a subclass is not its base: the model is exact
        ROUTE["getScoreJob"].status_of(submitted)


def test_the_openapi_paths_are_the_tables() -> None:
    paths = openapi_schema()["paths"]
    described = {
        (method.upper(), path): operation
        for path, operations in paths.items()
        for method, operation in operations.items()
    }

    assert list(described) == [(route.method, route.path) for route in ROUTES]
    for route in ROUTES:
        operation = described[(route.method, route.path)]
        assert operation["operationId"] == route.operation_id
        assert operation["summary"] == route.summary
        answers = {str(answer.status): answer for answer in route.answers}
        assert set(operation["responses"]) == {*answers, *map(str, route.errors), "403", "429"}
        for status, answer in answers.items():
            if answer.model is not None:
                schema = operation["responses"][status]["content"]["application/json"]["schema"]
                assert schema == {"$ref": f"#/components/schemas/{answer.model.__name__}"}
        assert [p["name"] for p in operation.get("parameters", [])] == [
            p.name for p in route.parameters
        ]
