"""The optimization advice: rule-based diagnosis, its markdown, and the optional narrative."""

from __future__ import annotations

import asyncio

import pytest

from rag_eval.advice.diagnosis import diagnose
from rag_eval.advice.findings import AdviceNarrative, Diagnosis, Finding
from rag_eval.advice.guides import POOR_BELOW
from rag_eval.advice.narrative import advise
from rag_eval.advice.render import render_advice
from rag_eval.domain.request import ScoreRequest
from rag_eval.domain.results import SampleResult, ScoreRun
from rag_eval.domain.sample import Sample

Scores = dict[str, list[float | None]]


def make_case(
    scores: Scores,
    *,
    skipped: dict[str, str] | None = None,
    reasons: dict[tuple[int, str], str] | None = None,
    questions: list[str] | None = None,
    answer: str = "The warranty lasts two years.",
    ground_truth: str | None = "The warranty lasts two years from purchase.",
) -> tuple[ScoreRun, ScoreRequest]:
    """A scored run as the scorer would leave it: one list of per-sample scores per metric."""
    skipped = skipped or {}
    reasons = reasons or {}
    count = len(next(iter(scores.values()))) if scores else len(questions or [""])
    questions = questions or [f"Question {i} about the product warranty?" for i in range(count)]
    samples = [
        Sample(
            question=q,
            answer=answer,
            contexts=["Products carry a two-year warranty from the date of purchase."],
            ground_truth=ground_truth,
        )
        for q in questions
    ]
    metrics = [*scores, *skipped]
    request = ScoreRequest(samples=samples, metrics=metrics)
    results = []
    for i in range(count):
        result = SampleResult(
            sample_id=f"sample-{i + 1:04d}",
            scores={m: (scores[m][i] if m in scores else None) for m in metrics},
        )
        for metric in skipped:
            result.reasons[metric] = "missing_input"
        for (index, metric), code in reasons.items():
            if index == i:
                result.reasons[metric] = code
        results.append(result)
    return ScoreRun(metrics=metrics, results=results, skipped=skipped), request


def rules(diagnosis: Diagnosis) -> list[str]:
    return [f.rule for f in diagnosis.findings]


def finding(diagnosis: Diagnosis, rule: str) -> Finding:
    matches = [f for f in diagnosis.findings if f.rule == rule]
    assert matches, f"rule {rule} did not fire; fired: {rules(diagnosis)}"
    return matches[0]


class FakeNarrativeLLM:
    """Answers like an instructor-backed ragas LLM: an instance of the response model."""

    def __init__(self, summary: str, actions: list[str]) -> None:
        self.summary = summary
        self.actions = actions
        self.prompts: list[str] = []

    async def agenerate(self, prompt, response_model):
        self.prompts.append(prompt)
        return response_model(summary=self.summary, actions=self.actions)


class BrokenLLM:
    async def agenerate(self, prompt, response_model):
        raise ConnectionError("judge endpoint unreachable")


class SlowLLM:
    async def agenerate(self, prompt, response_model):
        await asyncio.sleep(10)


@pytest.mark.parametrize(
    ("scores", "rule", "component", "silenced"),
    [
        pytest.param(
            {"faithfulness": [0.2, 0.4, 0.3], "context_recall": [0.9, 0.95, 1.0]},
            "generator_ignores_context",
            "generator",
            "low_faithfulness",
            id="high-recall-low-faithfulness",
        ),
        pytest.param(
            {"faithfulness": [1.0, 0.9, 0.95], "context_recall": [0.3, 0.5, 0.4]},
            "retriever_bottleneck",
            "retriever",
            "low_context_recall",
            id="low-recall-high-faithfulness",
        ),
        pytest.param(
            {"context_precision": [0.2, 0.3, 0.5], "context_recall": [0.9, 1.0, 0.8]},
            "noisy_ranking",
            "retriever",
            "low_context_precision",
            id="low-precision-good-recall",
        ),
        pytest.param(
            {"faithfulness": [1.0, 0.95, 0.9], "answer_correctness": [0.3, 0.4, 0.2]},
            "contexts_wrong",
            "reference data",
            "answers_disagree_with_reference",
            id="faithful-but-incorrect",
        ),
        pytest.param(
            {"faithfulness": [0.3, 0.2, 0.4], "context_recall": [0.2, 0.3, 0.1]},
            "gaps_filled_from_memory",
            "retriever",
            "low_faithfulness",
            id="low-recall-low-faithfulness",
        ),
    ],
)
def test_combination_rule_names_the_component_at_fault(scores, rule, component, silenced):
    # GIVEN a run whose metrics show the rule's pattern
    run, request = make_case(scores)

    # WHEN it is diagnosed
    diagnosis = diagnose(run, request)

    # THEN the combination rule fires, blames the right component, and the single-metric
    # rule it explains stays quiet
    assert finding(diagnosis, rule).component == component
    assert silenced not in rules(diagnosis)
    assert not diagnosis.all_good


def test_combination_rules_stay_quiet_when_both_metrics_are_good():
    # GIVEN good recall, faithfulness and precision
    run, request = make_case(
        {
            "faithfulness": [0.9, 0.8],
            "context_recall": [0.9, 1.0],
            "context_precision": [0.8, 0.9],
        }
    )

    # WHEN it is diagnosed
    diagnosis = diagnose(run, request)

    # THEN there is nothing to fix
    assert diagnosis.findings == []
    assert diagnosis.all_good


def test_faithful_but_incorrect_with_low_recall_blames_retrieval_not_the_documents():
    # GIVEN grounded answers that disagree with the reference because the facts were not
    # retrieved
    run, request = make_case(
        {
            "faithfulness": [1.0, 0.9],
            "context_recall": [0.2, 0.3],
            "answer_correctness": [0.3, 0.2],
        }
    )

    # WHEN it is diagnosed
    diagnosis = diagnose(run, request)

    # THEN the retriever is named, not the knowledge base
    assert "retriever_bottleneck" in rules(diagnosis)
    assert "contexts_wrong" not in rules(diagnosis)
    assert "missing retrieval" in finding(diagnosis, "answers_disagree_with_reference").meaning


def test_findings_are_ordered_worst_first():
    # GIVEN a weak answer_relevancy and a poor context_precision
    run, request = make_case({"answer_relevancy": [0.6, 0.65], "context_precision": [0.1, 0.2]})

    # WHEN it is diagnosed and rendered
    diagnosis = diagnose(run, request)
    markdown = render_advice(diagnosis)

    # THEN the poor finding comes first, in the data and in the document
    assert [(f.rule, f.severity) for f in diagnosis.findings] == [
        ("low_context_precision", "poor"),
        ("low_answer_relevancy", "weak"),
    ]
    assert markdown.index("[poor]") < markdown.index("[weak]")
    assert "Fix first (retriever): Useful chunks are ranked below useless ones." in (
        diagnosis.verdict
    )


def test_worst_three_samples_are_the_evidence():
    # GIVEN five samples, one with a long question, scored on context_recall
    questions = [f"Question {i}?" for i in range(4)] + ["Why " + "very " * 40 + "long?"]
    run, request = make_case(
        {"context_recall": [0.9, 0.1, 0.6, 0.95, 0.3], "faithfulness": [1.0] * 5},
        questions=questions,
    )

    # WHEN it is diagnosed and rendered
    diagnosis = diagnose(run, request)
    markdown = render_advice(diagnosis)

    # THEN the three lowest context_recall samples are listed, lowest first
    evidence = finding(diagnosis, "retriever_bottleneck").evidence
    assert [(e.sample_id, e.score) for e in evidence] == [
        ("sample-0002", 0.1),
        ("sample-0005", 0.3),
        ("sample-0003", 0.6),
    ]
    assert evidence[0].other_scores == {"faithfulness": 1.0}
    # AND the long question is cut to about 80 characters
    assert len(evidence[1].question) <= 80
    assert evidence[1].question.endswith("…")
    # AND the document shows them in an evidence table
    assert "| sample-0002 | Question 1? | 0.10 | 1.00 |" in markdown
    assert "sample-0004" not in markdown


def test_skipped_metric_says_which_input_unlocks_it():
    # GIVEN samples without ground_truth, so context_recall was skipped
    run, request = make_case(
        {"faithfulness": [0.9, 0.95]},
        skipped={"context_recall": "missing input: ground_truth"},
        ground_truth=None,
    )

    # WHEN the advice is rendered
    diagnosis = diagnose(run, request)
    markdown = render_advice(diagnosis)

    # THEN the reader learns to add ground_truth to unlock context_recall
    (entry,) = diagnosis.unscored
    assert (entry.metric, entry.status) == ("context_recall", "skipped")
    assert "## Metrics that could not score" in markdown
    assert "### context_recall: skipped" in markdown
    assert "add a reference answer (`ground_truth`) to every sample to unlock context_recall" in (
        markdown
    )


@pytest.mark.parametrize(
    ("code", "advice"),
    [
        ("timeout", "raise RAGAS_METRIC_TIMEOUT_SECONDS, or use a faster judge model"),
        ("rate_limited", "lower RAGAS_MAX_CONCURRENCY, or raise the provider quota"),
        ("invalid_judge_output", "stronger judge model that follows JSON instructions"),
        ("judge_error", "check OPENAI_BASE_URL and the credentials"),
        ("metric_error", "error column of scores.csv"),
    ],
)
def test_failed_metric_gets_advice_for_its_reason_code(code, advice):
    # GIVEN faithfulness failing on one of four samples with a reason code
    run, request = make_case(
        {"faithfulness": [0.9, None, 0.95, 0.9], "answer_relevancy": [0.9] * 4},
        reasons={(1, "faithfulness"): code},
    )

    # WHEN the advice is rendered
    diagnosis = diagnose(run, request)
    markdown = render_advice(diagnosis)

    # THEN the code is reported with what to do about it
    (entry,) = diagnosis.unscored
    assert entry.reason_counts == {code: 1}
    assert "### faithfulness: partly scored" in markdown
    assert "Did not score on 1 of 4 samples" in markdown
    assert f"- `{code}`: " in markdown
    assert advice in markdown


def test_widespread_judge_failures_become_a_judge_finding():
    # GIVEN the judge timing out on three of four samples for faithfulness
    run, request = make_case(
        {"faithfulness": [None, None, 0.9, None]},
        reasons={(0, "faithfulness"): "timeout", (1, "faithfulness"): "timeout"}
        | {(3, "faithfulness"): "rate_limited"},
    )

    # WHEN it is diagnosed
    diagnosis = diagnose(run, request)

    # THEN the judge is named, with the failed samples as evidence
    judge = finding(diagnosis, "judge_failures")
    assert judge.component == "judge"
    assert judge.severity == "poor"
    assert [(e.sample_id, e.note) for e in judge.evidence] == [
        ("sample-0001", "timeout"),
        ("sample-0002", "timeout"),
        ("sample-0004", "rate_limited"),
    ]
    assert any("RAGAS_MAX_CONCURRENCY" in step for step in judge.next_steps)


def test_all_good_run_says_so_and_suggests_a_harder_test_set():
    # GIVEN every metric strong
    run, request = make_case(
        {
            "faithfulness": [0.95, 1.0],
            "answer_relevancy": [0.9, 0.92],
            "context_precision": [1.0, 0.99],
            "context_recall": [1.0, 0.9],
        }
    )

    # WHEN the advice is rendered
    diagnosis = diagnose(run, request)
    markdown = render_advice(diagnosis)

    # THEN it says nothing needs fixing, lists the strengths and asks for harder questions
    assert diagnosis.all_good
    assert diagnosis.verdict.startswith("Weighted score 0.9575 (strong)")
    assert "## All good" in markdown
    assert "harder" in markdown and "multi-hop" in markdown
    assert "No findings" in markdown
    assert {s.metric for s in diagnosis.strengths} == {
        "faithfulness",
        "answer_relevancy",
        "context_precision",
        "context_recall",
    }
    assert "- **faithfulness** 0.97: answers stay within what the retrieved contexts say." in (
        markdown
    )


def test_bleu_and_rouge_on_chinese_are_flagged_as_a_metric_limit():
    # GIVEN Chinese answers: BLEU and ROUGE near 0, chrF fine
    run, request = make_case(
        {"bleu_score": [0.0, 0.01], "rouge_score": [0.0, 0.0], "chrf_score": [0.8, 0.75]},
        answer="保修期为两年。",
        ground_truth="产品自购买之日起保修两年。",
    )

    # WHEN it is diagnosed
    diagnosis = diagnose(run, request)

    # THEN the low scores are explained as whitespace tokenisation, not a system problem
    note = finding(diagnosis, "whitespace_tokens_on_cjk")
    assert note.severity == "note"
    assert set(note.metrics) == {"bleu_score", "rouge_score"}
    assert any("chrf_score" in step for step in note.next_steps)
    assert "low_overlap" not in rules(diagnosis)
    assert diagnosis.all_good


def test_low_overlap_with_matching_meaning_is_called_paraphrase():
    # GIVEN English answers that share few words with the reference but mean the same
    run, request = make_case({"rouge_score": [0.2, 0.3], "semantic_similarity": [0.9, 0.92]})

    # WHEN it is diagnosed
    diagnosis = diagnose(run, request)

    # THEN the finding is a note about paraphrase, not an error of the generator
    note = finding(diagnosis, "overlap_low_paraphrase")
    assert note.severity == "note"
    assert "paraphrase" in note.title


def test_low_overlap_alone_warns_about_its_limits():
    # GIVEN only model-free overlap metrics, all low
    run, request = make_case({"exact_match": [0.0, 0.0], "bleu_score": [0.1, 0.2]})

    # WHEN it is diagnosed
    diagnosis = diagnose(run, request)

    # THEN the advice says low overlap may be paraphrase and asks for a meaning-level metric
    low = finding(diagnosis, "low_overlap")
    assert low.component == "generator"
    assert "paraphrase" in low.meaning
    assert any("semantic_similarity" in step for step in low.next_steps)


@pytest.mark.parametrize(
    ("run", "request_"),
    [
        pytest.param(
            ScoreRun(metrics=["faithfulness"], results=[], skipped={}),
            ScoreRequest(samples=[Sample(question="q?")], metrics=["faithfulness"]),
            id="no-results",
        ),
        pytest.param(
            *make_case(
                {},
                skipped={
                    "context_recall": "missing input: contexts, ground_truth",
                    "faithfulness": "missing input: contexts",
                },
            ),
            id="all-skipped",
        ),
        pytest.param(
            *make_case({"faithfulness": [None, None]}, reasons={(0, "faithfulness"): "timeout"}),
            id="none-scores",
        ),
        pytest.param(
            *make_case({"faithfulness": [float("nan"), 0.2]}),
            id="nan-score",
        ),
    ],
)
def test_odd_runs_still_produce_advice(run, request_):
    # GIVEN a run where little or nothing scored

    # WHEN the advice is written without a narrative
    markdown = asyncio.run(advise(run, request_))

    # THEN a document comes out, never an exception
    assert markdown.startswith("# Optimization advice")
    assert "**Verdict.**" in markdown


def test_nothing_scored_says_so():
    # GIVEN samples with only questions, so every metric was skipped
    run, request = make_case(
        {}, skipped={"faithfulness": "missing input: answer, contexts"}, ground_truth=None
    )

    # WHEN it is diagnosed and rendered
    diagnosis = diagnose(run, request)
    markdown = render_advice(diagnosis)

    # THEN the verdict says nothing scored, and it is not called "all good"
    assert diagnosis.verdict.startswith("Nothing could be scored")
    assert not diagnosis.all_good
    assert "## All good" not in markdown
    assert "### faithfulness: skipped" in markdown


def test_narrative_from_the_judge_is_included():
    # GIVEN a weak context_recall run and a judge that writes a narrative
    run, request = make_case({"context_recall": [0.4, 0.6], "faithfulness": [0.9, 1.0]})
    llm = FakeNarrativeLLM(
        "Retrieval misses facts; the generator is fine.",
        ["Raise top-k to 10.", "Add BM25 hybrid search."],
    )

    # WHEN the advice is written with the judge
    markdown = asyncio.run(advise(run, request, llm))

    # THEN the narrative sits under its own heading, above the rule-based findings
    assert "## Narrative (written by the judge model)" in markdown
    assert "Retrieval misses facts; the generator is fine.\n\n1. Raise top-k to 10.\n" in markdown
    assert "2. Add BM25 hybrid search." in markdown
    assert markdown.index("## Narrative") < markdown.index("## Findings")
    # AND the judge was given the diagnosis to write from
    assert "retriever_bottleneck" in llm.prompts[0]


@pytest.mark.parametrize(
    ("llm", "error"),
    [
        pytest.param(BrokenLLM(), "ConnectionError", id="raises"),
        pytest.param(SlowLLM(), "TimeoutError", id="hangs"),
        pytest.param(FakeNarrativeLLM("   ", []), "ValueError", id="empty"),
    ],
)
def test_failing_narrative_still_yields_the_rule_based_advice(llm, error):
    # GIVEN a run with a weak context_recall and a judge that cannot write a narrative
    run, request = make_case({"context_recall": [0.4, 0.6], "faithfulness": [0.9, 1.0]})

    # WHEN the advice is written with it
    markdown = asyncio.run(advise(run, request, llm, narrative_timeout=0.05))

    # THEN the rule-based advice is complete, with a one-line note about the narrative
    assert f"_The narrative could not be written ({error}); " in markdown
    assert "The retriever is the bottleneck" in markdown


def test_advice_narrative_schema_is_what_the_judge_fills():
    # GIVEN the response model handed to the judge
    schema = AdviceNarrative.model_json_schema()

    # THEN it asks for a summary and a list of actions
    assert schema["title"] == "AdviceNarrative"
    assert set(schema["required"]) == {"summary", "actions"}
    assert schema["properties"]["actions"]["type"] == "array"


def test_severity_bands_follow_the_documented_thresholds():
    # GIVEN one metric just under the poor threshold and one just above it
    run, request = make_case({"answer_relevancy": [POOR_BELOW - 0.01], "faithfulness": [0.55]})

    # WHEN it is diagnosed
    diagnosis = diagnose(run, request)

    # THEN the first is poor and the second weak
    assert finding(diagnosis, "low_answer_relevancy").severity == "poor"
    assert finding(diagnosis, "low_faithfulness").severity == "weak"
