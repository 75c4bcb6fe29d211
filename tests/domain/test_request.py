"""The scoring request as a client writes it: forms, limits, errors that name the field."""

from __future__ import annotations

from typing import Any

import pytest

from rag_eval.domain.contexts import MAX_CONTEXTS
from rag_eval.domain.errors import RequestInvalid
from rag_eval.domain.job import new_job
from rag_eval.domain.request import MAX_SAMPLES, parse_request
from rag_eval.domain.results import SampleResult, coverage, weighted_score
from rag_eval.domain.sample import MAX_QUESTION_CHARS, MAX_TEXT_CHARS
from rag_eval.domain.settings import Settings
from rag_eval.judges.provider import judge_problems
from rag_eval.metrics import MODEL_FREE_METRICS, REGISTRY

SAMPLE = {
    "question": "When was the Eiffel Tower completed?",
    "answer": "The Eiffel Tower was completed in 1889.",
    "contexts": ["The Eiffel Tower was completed in 1889 for the World's Fair."],
    "ground_truth": "It was completed in 1889.",
}


def problems_of(body: dict[str, Any]) -> list[dict[str, Any]]:
    with pytest.raises(RequestInvalid) as caught:
        parse_request(body)
    return caught.value.problems


def only_problem(body: dict[str, Any]) -> dict[str, Any]:
    problems = problems_of(body)
    assert len(problems) == 1, problems
    return problems[0]


# --- the two forms ----------------------------------------------------------------------


def test_single_sample_body_becomes_one_sample_with_the_default_metrics() -> None:
    # GIVEN a single-sample body
    # WHEN it is parsed
    request = parse_request(SAMPLE)

    # THEN it is one sample with the four default metrics
    assert len(request.samples) == 1
    assert request.samples[0].question == SAMPLE["question"]
    assert request.samples[0].contexts == SAMPLE["contexts"]
    assert request.metrics == [
        "faithfulness",
        "answer_relevancy",
        "context_precision",
        "context_recall",
    ]


def test_samples_body_keeps_every_sample_in_order() -> None:
    # GIVEN a batch of two samples with ids, and chosen metrics
    body = {
        "samples": [{**SAMPLE, "sample_id": "a"}, {**SAMPLE, "sample_id": "b"}],
        "metrics": ["bleu_score", "exact_match", "bleu_score"],
    }

    # WHEN it is parsed
    request = parse_request(body)

    # THEN both samples are kept in order and repeated metric names count once
    assert [s.sample_id for s in request.samples] == ["a", "b"]
    assert request.metrics == ["bleu_score", "exact_match"]


@pytest.mark.parametrize(
    ("contexts", "expected"),
    [
        (["first passage", "  ", "second passage"], ["first passage", "second passage"]),
        ('["first passage", "second passage"]', ["first passage", "second passage"]),
        (
            "first passage\nstill the first\n\n  second passage  \n\n\n",
            ["first passage\nstill the first", "second passage"],
        ),
        ("one passage only", ["one passage only"]),
    ],
    ids=["list", "json-list-string", "blank-line-paragraphs", "plain-string"],
)
def test_contexts_are_accepted_as_list_json_string_or_paragraphs(
    contexts: Any, expected: list[str]
) -> None:
    # GIVEN contexts written in one of the accepted forms
    # WHEN the request is parsed
    request = parse_request({**SAMPLE, "contexts": contexts})

    # THEN the sample holds the non-blank passages as a list
    assert request.samples[0].contexts == expected


def test_inline_sample_and_samples_together_are_refused() -> None:
    # GIVEN a body with both an inline sample and a samples list
    # WHEN it is parsed THEN the client is told to pick one
    problem = only_problem({**SAMPLE, "samples": [SAMPLE]})
    assert "not both" in problem["message"]


def test_body_without_any_sample_asks_for_a_question() -> None:
    # GIVEN a body with only metrics
    # WHEN it is parsed THEN the question is reported missing, with the sample fields
    problem = only_problem({"metrics": ["bleu_score"]})
    assert problem["field"] == "question"
    assert "question" in problem["allowed"] and "contexts" in problem["allowed"]


# --- limits -----------------------------------------------------------------------------


@pytest.mark.parametrize("question", ["", "   "])
def test_empty_question_is_refused_naming_the_field(question: str) -> None:
    # GIVEN a single sample with an empty question
    # WHEN it is parsed THEN the problem names `question` as the client wrote it
    problem = only_problem({**SAMPLE, "question": question})
    assert problem["field"] == "question"
    assert "at least 1 character" in problem["message"]


def test_too_long_question_says_the_limit() -> None:
    # GIVEN a question over the limit
    problem = only_problem({**SAMPLE, "question": "q" * (MAX_QUESTION_CHARS + 1)})

    # THEN the problem names the field and what is allowed
    assert problem["field"] == "question"
    assert problem["allowed"] == f"at most {MAX_QUESTION_CHARS}"


def test_oversized_context_in_a_batch_names_sample_and_limit() -> None:
    # GIVEN a batch whose second sample has one oversized context
    body = {"samples": [SAMPLE, {**SAMPLE, "contexts": ["x" * (MAX_TEXT_CHARS + 1)]}]}

    # WHEN it is parsed
    problem = only_problem(body)

    # THEN the problem points at that sample's contexts and says the per-context limit
    assert problem["field"] == "samples[1].contexts"
    assert f"at most {MAX_TEXT_CHARS}" in problem["message"]


def test_too_many_contexts_says_the_limit() -> None:
    # GIVEN one more context than allowed
    problem = only_problem({**SAMPLE, "contexts": ["passage"] * (MAX_CONTEXTS + 1)})

    # THEN the field is `contexts` (single-sample form: no samples[0]) and the limit is named
    assert problem["field"] == "contexts"
    assert problem["allowed"] == f"at most {MAX_CONTEXTS}"


def test_too_many_samples_says_the_limit() -> None:
    # GIVEN one more sample than allowed
    problem = only_problem({"samples": [SAMPLE] * (MAX_SAMPLES + 1)})

    # THEN the field is `samples` and the limit is named
    assert problem["field"] == "samples"
    assert problem["allowed"] == f"at most {MAX_SAMPLES}"


def test_contexts_of_the_wrong_type_name_the_sample() -> None:
    # GIVEN a batch whose second sample has a number for contexts
    problem = only_problem({"samples": [SAMPLE, {**SAMPLE, "contexts": 5}]})

    # THEN the problem points at that sample's contexts
    assert problem["field"] == "samples[1].contexts"


# --- metrics, weights, unknown fields, ids ----------------------------------------------


def test_unknown_metric_lists_the_allowed_names() -> None:
    # GIVEN a request for a metric we do not offer
    problem = only_problem({**SAMPLE, "metrics": ["faithfulness", "faithfullness"]})

    # THEN the problem names `metrics`, the unknown name and every allowed name
    assert problem["field"] == "metrics"
    assert "faithfullness" in problem["message"]
    assert problem["allowed"] == list(REGISTRY)


def test_unknown_metric_is_the_only_problem_even_with_weights_for_it() -> None:
    # GIVEN an unknown metric that is also given a weight
    body = {**SAMPLE, "metrics": ["bogus"], "weights": {"bogus": 2}}

    # WHEN it is parsed THEN only the unknown metric is reported, not a confusing
    # "not among the requested metrics; allowed: <nothing>" on top of it
    problem = only_problem(body)
    assert problem["field"] == "metrics"


def test_negative_weight_is_refused_saying_what_is_allowed() -> None:
    # GIVEN a negative weight
    problem = only_problem({**SAMPLE, "metrics": ["bleu_score"], "weights": {"bleu_score": -1}})

    # THEN the problem names `weights`, the metric and the rule
    assert problem["field"] == "weights"
    assert "bleu_score" in problem["message"]
    assert ">= 0" in problem["message"]


def test_weight_for_a_metric_not_requested_lists_the_requested_ones() -> None:
    # GIVEN a weight for a metric that is not requested
    body = {**SAMPLE, "metrics": ["bleu_score", "exact_match"], "weights": {"rouge_score": 1}}

    # WHEN it is parsed
    problem = only_problem(body)

    # THEN the problem names `weights`, the stray metric and the requested ones
    assert problem["field"] == "weights"
    assert "rouge_score" in problem["message"]
    assert "bleu_score, exact_match" in problem["message"]


def test_weights_for_the_default_metrics_are_accepted() -> None:
    # GIVEN weights for a default metric, without naming metrics
    request = parse_request({**SAMPLE, "weights": {"faithfulness": 2}})

    # THEN they apply to the default set
    assert request.weights == {"faithfulness": 2}


def test_all_zero_weights_are_refused() -> None:
    problem = only_problem({**SAMPLE, "metrics": ["bleu_score"], "weights": {"bleu_score": 0}})
    assert problem["field"] == "weights"
    assert "greater than 0" in problem["message"]


def test_typo_in_a_single_sample_body_is_an_unknown_field_with_the_allowed_list() -> None:
    # GIVEN the common typo `ground_truths`
    problem = only_problem({**SAMPLE, "ground_truths": "It was completed in 1889."})

    # THEN it is an unknown field, with the likely name, and the allowed names
    assert problem["field"] == "ground_truths"
    assert problem["message"] == "unknown field (did you mean ground_truth?)"
    assert "ground_truth" in problem["allowed"]
    assert "metrics" in problem["allowed"]


def test_typo_inside_samples_names_the_sample_and_lists_sample_fields() -> None:
    # GIVEN the typo in the second sample of a batch
    body = {"samples": [SAMPLE, {**SAMPLE, "ground_truths": "1889"}]}

    # WHEN it is parsed
    problem = only_problem(body)

    # THEN the problem points at that sample and lists only sample fields
    assert problem["field"] == "samples[1].ground_truths"
    assert problem["message"] == "unknown field (did you mean ground_truth?)"
    assert problem["allowed"] == [
        *("sample_id", "question", "answer", "contexts", "ground_truth", "rubrics"),
        *("user_input", "reference_tool_calls", "reference_topics", "metadata"),
    ]


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        # ragas' and Hugging Face's names for our fields
        (
            {"samples": [{"user_input": "q", "response": "a"}]},
            "samples[0].user_input",
            "a conversation's messages (a list, ragas' MultiTurnSample); for one question "
            "write question (did you mean question?)",
        ),
        (
            {**SAMPLE, "retrieved_contexts": ["c"]},
            "retrieved_contexts",
            "unknown field (did you mean contexts?)",
        ),
        ({**SAMPLE, "metric": ["chrf_score"]}, "metric", "unknown field (did you mean metrics?)"),
        (
            {**SAMPLE, "metrics": ["chrf", "faithfulnes"]},
            "metrics",
            "unknown metric(s): chrf, faithfulnes "
            "(did you mean chrf_score for chrf, faithfulness for faithfulnes?)",
        ),
        (
            {"user_input": "q"},
            "question",
            "required: give one sample inline, or a 'samples' list "
            "(user_input is not a field here: did you mean question?)",
        ),
    ],
)
def test_a_likely_name_is_suggested(body: dict, field: str, message: str) -> None:
    with pytest.raises(RequestInvalid) as caught:
        parse_request(body)
    assert {"field": field, "message": message} in [
        {"field": p["field"], "message": p["message"]} for p in caught.value.problems
    ]


def test_too_many_samples_says_what_to_do() -> None:
    problem = only_problem({"samples": [SAMPLE] * 1001})
    assert problem["field"] == "samples"
    assert problem["message"].startswith(
        "1001 samples; at most 1000 are allowed inline: upload them as a dataset (POST /uploads"
    )


def test_a_dataset_job_names_an_upload_and_takes_no_inline_samples() -> None:
    job = parse_request(
        {
            "dataset": {"upload_id": "a" * 24, "column_map": {"query": "question"}},
            "on_invalid": "skip",
        }
    )
    assert (job.dataset.upload_id, job.on_invalid) == ("a" * 24, "skip")
    for body, field in [
        ({"dataset": {"upload_id": "nope"}}, "dataset.upload_id"),
        ({"dataset": {"upload_id": "a" * 24}, "samples": [SAMPLE]}, "samples"),
        (
            {"dataset": {"upload_id": "a" * 24, "column_map": {"q": "query"}}},
            "dataset.column_map.q",
        ),
        ({"dataset": {"upload_id": "a" * 24}, "on_invalid": "ignore"}, "on_invalid"),
        ({"dataset": {"upload_id": "a" * 24, "fromat": "csv"}}, "dataset.fromat"),
    ]:
        with pytest.raises(RequestInvalid) as refused:
            parse_request(body)
        assert refused.value.problems[0]["field"] == field, body


def test_duplicate_sample_ids_are_refused_naming_them() -> None:
    # GIVEN two samples sharing an id
    body = {
        "samples": [
            {**SAMPLE, "sample_id": "eiffel"},
            {**SAMPLE, "sample_id": "other"},
            {**SAMPLE, "sample_id": "eiffel"},
        ]
    }

    # WHEN it is parsed THEN the repeated id is named
    problem = only_problem(body)
    assert problem["field"] == "samples"
    assert "eiffel" in problem["message"] and "other" not in problem["message"]


def test_several_problems_are_reported_at_once() -> None:
    # GIVEN a batch with an empty question and an unknown metric
    body = {"samples": [{**SAMPLE, "question": ""}], "metrics": ["bogus"]}

    # WHEN it is parsed THEN both are reported, each under its own field
    fields = {p["field"] for p in problems_of(body)}
    assert fields == {"samples[0].question", "metrics"}


# --- effective and skipped metrics ------------------------------------------------------


def test_metrics_no_sample_can_feed_are_skipped_with_the_reason() -> None:
    # GIVEN samples without a ground truth and the default metrics
    body = {"samples": [{k: v for k, v in SAMPLE.items() if k != "ground_truth"}] * 2}
    request = parse_request(body)

    # WHEN the effective metrics are worked out
    # THEN the reference-based ones are skipped, saying what is missing
    assert request.effective_metrics() == ["faithfulness", "answer_relevancy"]
    assert request.skipped_metrics() == {
        "context_precision": "missing input: ground_truth",
        "context_recall": "missing input: ground_truth",
    }


def test_a_metric_one_sample_can_feed_is_not_skipped() -> None:
    # GIVEN one sample with a ground truth and one without
    no_truth = {k: v for k, v in SAMPLE.items() if k != "ground_truth"}
    request = parse_request({"samples": [no_truth, SAMPLE], "metrics": ["context_recall"]})

    # THEN context recall is effective (it scores the sample that has one)
    assert request.effective_metrics() == ["context_recall"]
    assert request.skipped_metrics() == {}


# --- judge availability -----------------------------------------------------------------


def test_llm_metrics_without_a_judge_are_refused_naming_them() -> None:
    # GIVEN no OpenAI settings and the default (judge-backed) metrics
    request = parse_request(SAMPLE)

    # WHEN the judge is checked
    problems = judge_problems(request, Settings())

    # THEN the metrics that need a judge or embeddings are named, with a way out
    assert problems
    assert all(p["field"] == "metrics" for p in problems)
    text = " ".join(p["message"] for p in problems)
    for name in ("faithfulness", "answer_relevancy", "context_precision", "context_recall"):
        assert name in text
    assert "OPENAI_BASE_URL" in text and "bedrock:" in text


def test_the_allowed_metrics_are_ones_this_service_can_really_score() -> None:
    # GIVEN no OpenAI settings, and a judge metric beside a judge-and-embeddings one
    request = parse_request({**SAMPLE, "metrics": ["faithfulness", "answer_relevancy"]})

    # WHEN the judge is checked
    [problem] = judge_problems(request, Settings())

    # THEN one problem names both with their reasons, and `allowed` holds neither
    assert "faithfulness needs a judge model" in problem["message"]
    assert "answer_relevancy needs a judge model and an embedding model" in problem["message"]
    assert problem["allowed"] == list(MODEL_FREE_METRICS)


def test_with_a_bedrock_judge_only_the_embedding_metrics_are_out() -> None:
    body = {**SAMPLE, "judge_model": "bedrock:anthropic.claude-3-haiku-20240307-v1:0"}
    [problem] = judge_problems(parse_request(body), Settings())
    assert "answer_relevancy needs an embedding model" in problem["message"]
    assert "answer_relevancy" not in problem["allowed"]
    assert "semantic_similarity" not in problem["allowed"]
    assert {"faithfulness", "context_recall", "factual_correctness"} <= set(problem["allowed"])


def test_model_free_metrics_need_no_judge() -> None:
    request = parse_request({**SAMPLE, "metrics": list(MODEL_FREE_METRICS)})
    assert judge_problems(request, Settings()) == []


def test_an_openai_endpoint_satisfies_the_judge_check() -> None:
    request = parse_request(SAMPLE)
    settings = Settings(openai_base_url="http://127.0.0.1:9/v1")
    assert judge_problems(request, settings) == []


def test_bedrock_judge_passes_without_openai_settings() -> None:
    # GIVEN LLM-only metrics and a Bedrock judge model, no OpenAI settings
    body = {
        **SAMPLE,
        "metrics": ["faithfulness", "context_recall"],
        "judge_model": "bedrock:anthropic.claude-3-haiku-20240307-v1:0",
    }

    # WHEN the judge is checked THEN nothing is missing
    assert judge_problems(parse_request(body), Settings()) == []


def test_bedrock_judge_with_openai_embeddings_names_the_embedding_metric() -> None:
    # GIVEN a Bedrock judge but the default (OpenAI) embedding model, no OpenAI settings
    body = {
        **SAMPLE,
        "metrics": ["faithfulness", "answer_relevancy"],
        "judge_model": "bedrock:anthropic.claude-3-haiku-20240307-v1:0",
    }

    # WHEN the judge is checked
    problems = judge_problems(parse_request(body), Settings())

    # THEN only the embedding need is refused, naming answer_relevancy
    assert len(problems) == 1
    assert "answer_relevancy" in problems[0]["message"]
    assert "faithfulness" not in problems[0]["message"]


# --- a jury ------------------------------------------------------------------------------

BEDROCK_HAIKU = "bedrock:anthropic.claude-3-haiku-20240307-v1:0"
BEDROCK_NOVA = "bedrock:amazon.nova-lite-v1:0"


@pytest.mark.parametrize(
    ("judges", "words"),
    [
        (["gpt-4o-mini"], "at least 2"),
        ([f"model-{n}" for n in range(6)], "at most 5"),
        (["gpt-4o-mini", BEDROCK_HAIKU, "gpt-4o-mini"], "gpt-4o-mini named twice"),
    ],
)
def test_a_jury_of_other_than_two_to_five_distinct_models_is_refused_naming_judges(
    judges: list[str], words: str
) -> None:
    # GIVEN a jury of one, of six, or naming a model twice
    # WHEN it is submitted
    problem = only_problem({**SAMPLE, "judges": judges})

    # THEN the 422 names judges, and says what is wrong with it
    assert problem["field"] == "judges"
    assert words in problem["message"] + str(problem.get("allowed", ""))


def test_a_jury_beside_a_judge_model_is_refused_naming_judges() -> None:
    # GIVEN both a jury and one judge
    # WHEN it is submitted
    problem = only_problem({**SAMPLE, "judges": ["gpt-4o", BEDROCK_HAIKU], "judge_model": "x"})

    # THEN judges is named, with both ways to judge offered
    assert problem["field"] == "judges"
    assert "not both" in problem["message"] and "judge_model" in problem["message"]


def test_a_juror_no_one_can_reach_here_is_refused_naming_it() -> None:
    # GIVEN no OpenAI settings, and a jury of two Bedrock models and an OpenAI one
    body = {
        **SAMPLE,
        "metrics": ["faithfulness"],
        "judges": [BEDROCK_HAIKU, "gpt-4o", BEDROCK_NOVA],
    }

    # WHEN the judges are checked
    [problem] = judge_problems(parse_request(body), Settings())

    # THEN the OpenAI juror is named, under judges, with the ways out; the others are not
    assert problem["field"] == "judges"
    assert problem["message"].startswith("juror gpt-4o cannot judge here")
    assert "OPENAI_BASE_URL" in problem["message"] and "bedrock:" in problem["message"]
    assert BEDROCK_HAIKU not in problem["message"] and BEDROCK_NOVA not in problem["message"]

    # AND with an OpenAI endpoint set the same jury passes
    settings = Settings(openai_base_url="http://127.0.0.1:9/v1")
    assert judge_problems(parse_request(body), settings) == []


def test_a_jury_of_bedrock_models_needs_no_openai_settings() -> None:
    body = {**SAMPLE, "metrics": ["faithfulness"], "judges": [BEDROCK_HAIKU, BEDROCK_NOVA]}
    assert judge_problems(parse_request(body), Settings()) == []


def test_a_dollar_budget_with_an_unpriced_juror_is_refused_naming_it() -> None:
    # GIVEN a dollar budget and a jury whose one juror has no price
    body = {
        **SAMPLE,
        "metrics": ["faithfulness"],
        "judges": [BEDROCK_HAIKU, "bedrock:house.judge-v1:0", BEDROCK_NOVA],
        "max_cost_usd": 5,
    }

    # WHEN the judges are checked
    [problem] = judge_problems(parse_request(body), Settings())

    # THEN the budget is refused, naming that juror only
    assert problem["field"] == "max_cost_usd"
    assert "bedrock:house.judge-v1:0" in problem["message"]
    assert BEDROCK_HAIKU not in problem["message"] and BEDROCK_NOVA not in problem["message"]

    # AND with a price for it the same budget is accepted
    settings = Settings(model_prices='{"bedrock:house.judge-v1:0": {"input": 1, "output": 2}}')
    assert judge_problems(parse_request(body), settings) == []


def test_the_request_summary_names_the_jury() -> None:
    # GIVEN a job judged by a jury, and one judged by one judge
    jury = parse_request({**SAMPLE, "judges": [BEDROCK_HAIKU, "gpt-4o"]})
    one = parse_request({**SAMPLE, "judge_model": "gpt-4o"})

    # WHEN their request summaries are made as a new job makes them
    with_jury = new_job(jury, Settings()).request_summary
    with_one = new_job(one, Settings()).request_summary

    # THEN the jury is the judge, named "a + b", and listed; one judge lists no jury
    assert with_jury["judge_model"] == f"{BEDROCK_HAIKU} + gpt-4o"
    assert with_jury["judges"] == [BEDROCK_HAIKU, "gpt-4o"]
    assert (with_one["judge_model"], with_one["judges"]) == ("gpt-4o", [])


# --- weighted score and coverage --------------------------------------------------------


def test_weighted_score_weighs_every_metric_equally_by_default() -> None:
    assert weighted_score({"a": 0.2, "b": 0.6}) == 0.4


def test_weighted_score_applies_given_weights() -> None:
    # 0.2 * 3 + 0.6 * 1 = 1.2, over 4
    assert weighted_score({"a": 0.2, "b": 0.6}, {"a": 3}) == 0.3


def test_metrics_that_did_not_score_drop_out_of_the_weighted_score() -> None:
    # GIVEN one metric that did not score
    scores = {"a": 0.5, "b": None, "c": 1.0}

    # THEN the weighted score is over the rest
    assert weighted_score(scores) == 0.75


def result(scores: dict[str, float | None], **reasons: str) -> SampleResult:
    return SampleResult(sample_id="s", scores=scores, reasons=reasons)


def test_coverage_is_the_share_of_scorable_pairs_that_scored() -> None:
    # GIVEN 2 samples x 3 metrics: one pair lacks its inputs, one failed
    results = [
        result({"a": 0.5, "b": None, "c": 1.0}, b="missing_input"),
        result({"a": 0.5, "b": 0.2, "c": None}, c="judge_error"),
    ]

    # THEN of the 5 pairs that could score, 4 did
    assert coverage(results, ["a", "b", "c"]) == 0.8


def test_one_scored_sample_of_fifty_is_not_coverage_of_its_metric() -> None:
    results = [result({"a": 1.0})] + [result({"a": None}, a="timeout")] * 49
    assert coverage(results, ["a"]) == 0.02


def test_nothing_scored_gives_no_weighted_score_and_zero_coverage() -> None:
    assert weighted_score({"a": None, "b": None}) is None
    assert coverage([result({"a": None, "b": None}, a="timeout", b="timeout")], ["a", "b"]) == 0.0
    assert coverage([result({"a": None}, a="missing_input")], ["a"]) is None


def test_weighted_score_is_rounded_to_four_decimals() -> None:
    assert weighted_score({"a": 1 / 3, "b": 0.0}, {"a": 1, "b": 1}) == 0.1667


def test_request_schema_refuses_zero_samples() -> None:
    # GIVEN an empty samples list WHEN it is parsed THEN `samples` is named
    problem = only_problem({"samples": []})
    assert problem["field"] == "samples"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"max_judge_calls": "5"}, "max_judge_calls"),
        ({"max_cost_usd": "1.5"}, "max_cost_usd"),
        ({"metrics": ["exact_match"], "weights": {"exact_match": "2"}}, "weights.exact_match"),
        ({"max_judge_calls": True}, "max_judge_calls"),
        ({"dry_run": "true"}, "dry_run"),
    ],
)
def test_a_number_or_flag_given_as_text_is_refused_naming_the_field(
    body: dict[str, object], field: str
) -> None:
    # GIVEN a field whose JSON type is a number (or true/false), given in another JSON type
    # WHEN the request is parsed THEN it is refused, naming the field, wherever it is
    with pytest.raises(RequestInvalid) as refused:
        parse_request({"question": "q", **body})

    assert [p["field"] for p in refused.value.problems] == [field]


def test_numbers_are_taken_as_json_writes_them() -> None:
    request = parse_request(
        {
            "question": "q",
            "metrics": ["exact_match"],
            "weights": {"exact_match": 2},
            "max_judge_calls": 5.0,
            "max_cost_usd": 1,
        }
    )

    assert (request.max_judge_calls, request.max_cost_usd, request.weights) == (
        5,
        1.0,
        {"exact_match": 2.0},
    )
