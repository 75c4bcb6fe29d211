"""A job's own metrics: what a submission may define, and the errors that name the field."""

from __future__ import annotations

from typing import Any

import pytest

from rag_eval.domain.errors import RequestInvalid
from rag_eval.domain.request import ScoreRequest, parse_request
from rag_eval.metrics.custom import CustomMetric, render_contexts

CITES = {
    "name": "cites_its_contexts",
    "instructions": "Does every claim of {answer} cite one of these contexts?\n{contexts}",
    "kind": "discrete",
    "values": {"yes": 1, "partly": 0.5, "no": 0},
}
SAMPLE = {"question": "When?", "answer": "In 1889 [1].", "contexts": ["Built in 1889."]}


def body(*definitions: dict[str, Any], **extra: Any) -> dict[str, Any]:
    names = [d["name"] for d in definitions if isinstance(d.get("name"), str)]
    return {**SAMPLE, "metrics": names or ["faithfulness"], "custom_metrics": list(definitions)} | (
        extra
    )


def problems(payload: dict[str, Any]) -> list[dict[str, Any]]:
    with pytest.raises(RequestInvalid) as caught:
        parse_request(payload)
    return caught.value.problems


def only(payload: dict[str, Any]) -> tuple[str, str]:
    found = problems(payload)
    assert len(found) == 1, found
    return found[0]["field"], found[0]["message"]


def test_a_defined_metric_is_asked_by_name_beside_the_built_in_ones() -> None:
    request = parse_request(body(CITES) | {"metrics": ["faithfulness", "cites_its_contexts"]})
    assert isinstance(request, ScoreRequest)
    specs = request.metric_specs()
    assert [s.name for s in specs] == ["faithfulness", "cites_its_contexts"]
    cites = specs[1]
    assert cites.inputs == ("answer", "contexts") and cites.needs_judge
    assert (cites.scale.low, cites.scale.high, cites.scale.higher_is_better) == (0, 1, True)
    assert cites.key == f"cites_its_contexts@{cites.fingerprint}"


def test_each_kind_has_its_scale() -> None:
    numeric = CustomMetric.model_validate(
        {"name": "tone", "instructions": "{answer}", "kind": "numeric", "range": [0, 10]}
    )
    rubric = CustomMetric.model_validate(
        {
            "name": "depth",
            "instructions": "{answer}",
            "kind": "rubric",
            "rubric": {str(n): f"level {n}" for n in range(1, 6)},
        }
    )
    scored = CustomMetric.model_validate(CITES | {"values": {"good": 3, "bad": -1}})
    assert (numeric.scale.low, numeric.scale.high) == (0, 10)
    assert (rubric.scale.low, rubric.scale.high) == (1, 5)
    assert (scored.scale.low, scored.scale.high) == (-1, 3)


def test_an_edit_of_any_part_is_another_metric() -> None:
    one = CustomMetric.model_validate(CITES)
    assert CustomMetric.model_validate(dict(CITES)).fingerprint == one.fingerprint
    edits = [
        CITES | {"instructions": CITES["instructions"] + " Be strict."},
        CITES | {"values": {"yes": 1, "partly": 0.4, "no": 0}},
        CITES | {"description": "ours"},
    ]
    assert all(CustomMetric.model_validate(e).fingerprint != one.fingerprint for e in edits)


def test_contexts_are_shown_to_the_judge_numbered() -> None:
    assert render_contexts(["a", "b"]) == "[1] a\n\n[2] b"


@pytest.mark.parametrize(
    ("definition", "field", "said"),
    [
        (
            CITES | {"instructions": "Is {answer} polite to {user}?"},
            "custom_metrics[0].instructions",
            "unknown placeholder {user}; allowed: {question}, {answer}, {contexts}, {ground_truth}",
        ),
        (
            CITES | {"instructions": "Rate {answer!r}"},
            "custom_metrics[0].instructions",
            "unknown placeholder {answer!r}",
        ),
        (
            CITES | {"instructions": "Rate the answer {"},
            "custom_metrics[0].instructions",
            "write {{ and }} for a literal brace",
        ),
        (
            CITES | {"instructions": "Rate the answer."},
            "custom_metrics[0].instructions",
            "name at least one input",
        ),
        (CITES | {"values": {}}, "custom_metrics[0].values", "at least two allowed answers"),
        (CITES | {"values": {"yes": 1}}, "custom_metrics[0].values", "at least two"),
        (
            CITES | {"name": "faithfulness"},
            "custom_metrics[0].name",
            "'faithfulness' is reserved",
        ),
        (CITES | {"name": "weighted_score"}, "custom_metrics[0].name", "is reserved"),
        (CITES | {"name": "x" * 64}, "custom_metrics[0].name", "at most 63 characters"),
        (CITES | {"name": "Cites It"}, "custom_metrics[0].name", "should match pattern"),
        (
            CITES | {"instructions": "{answer}" + "x" * 5_000},
            "custom_metrics[0].instructions",
            "at most 5000 characters",
        ),
        (
            CITES | {"kind": "numeric"},
            "custom_metrics[0].values",
            "not for a numeric metric, which takes 'range'",
        ),
        (
            {**CITES, "kind": "numeric", "values": None, "range": [10, 0]},
            "custom_metrics[0].range",
            "the low end must be below the high",
        ),
        (
            {**CITES, "kind": "rubric", "values": None, "rubric": {"1": "bad", "5": "good"}},
            "custom_metrics[0].rubric",
            "missing: 2, 3, 4",
        ),
        (CITES | {"kind": "ranking"}, "custom_metrics[0].kind", "'discrete', 'numeric'"),
        (CITES | {"scale": [0, 1]}, "custom_metrics[0].scale", "unknown field"),
    ],
)
def test_a_bad_definition_is_a_422_naming_its_field(
    definition: dict[str, Any], field: str, said: str
) -> None:
    found = problems(body(definition))
    assert [p["field"] for p in found] == [field], found
    assert said in found[0]["message"]


def test_a_name_defined_twice_names_the_second() -> None:
    assert only(body(CITES, CITES)) == (
        "custom_metrics[1].name",
        "'cites_its_contexts' is defined twice; names must differ",
    )


def test_more_than_ten_is_refused_with_the_limit() -> None:
    many = [CITES | {"name": f"m{i}"} for i in range(11)]
    field, message = only(body(*many))
    assert field == "custom_metrics" and "at most 10" in message


def test_an_input_no_sample_carries_names_the_placeholder() -> None:
    asks_reference = CITES | {"instructions": "Does {answer} agree with {ground_truth}?"}
    assert only(body(asks_reference)) == (
        "custom_metrics[0].instructions",
        "uses {ground_truth}, which no sample carries; add it to the samples or leave it "
        "out of the instructions",
    )


def test_an_input_some_samples_carry_is_scored_where_present() -> None:
    asks_reference = CITES | {"instructions": "Does {answer} agree with {ground_truth}?"}
    request = parse_request(
        {
            "samples": [SAMPLE, {**SAMPLE, "ground_truth": "1889"}],
            "metrics": ["cites_its_contexts"],
            "custom_metrics": [asks_reference],
        }
    )
    assert isinstance(request, ScoreRequest) and request.skipped_metrics() == {}


def test_a_definition_not_asked_for_is_refused() -> None:
    field, message = only(body(CITES) | {"metrics": ["faithfulness"]})
    assert field == "metrics"
    assert message.startswith("cites_its_contexts defined in custom_metrics but not requested")


def test_an_unknown_metric_suggests_the_defined_ones() -> None:
    field, message = only(body(CITES) | {"metrics": ["cites_its_context", "cites_its_contexts"]})
    assert field == "metrics"
    assert message == "unknown metric(s): cites_its_context (did you mean cites_its_contexts?)"


def test_a_dataset_job_takes_definitions_too() -> None:
    job = parse_request(
        {
            "dataset": {"upload_id": "0" * 24},
            "metrics": ["c"],
            "custom_metrics": [CITES | {"name": "c"}],
        }
    )
    assert [s.name for s in job.metric_specs()] == ["c"]
