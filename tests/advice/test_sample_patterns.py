"""Advice from the samples, not only the means: on the bundled samples the retrieval miss
and the answer with an invented claim are named, with the judge's evidence, first."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from rag_eval.advice.diagnosis import diagnose
from rag_eval.advice.narrative import advise
from rag_eval.advice.render import render_advice
from rag_eval.domain.request import parse_request
from rag_eval.domain.settings import Settings
from rag_eval.scoring.scorer import Scorer
from testkit.scripted_judge import ScriptedJudge

SAMPLES = [
    json.loads(line)
    for line in (Path(__file__).parents[2] / "rag_eval/sample_data/samples.jsonl")
    .read_text(encoding="utf-8")
    .splitlines()
]
METRICS = ["faithfulness", "answer_relevancy", "context_precision", "context_recall"]


@pytest.fixture(scope="module")
def diagnosed():
    with ScriptedJudge() as judge:
        settings = Settings(openai_base_url=judge.base_url, openai_api_key="test")
        request = parse_request({"samples": SAMPLES, "metrics": METRICS})
        run = Scorer(settings).score(request)
    return run, diagnose(run, request)


def test_the_retrieval_miss_comes_first_named_with_its_evidence(diagnosed) -> None:
    _, diagnosis = diagnosed

    first = diagnosis.findings[0]
    assert first.rule == "sample_retrieval_miss" and first.component == "retriever"
    (miss,) = first.evidence
    assert miss.sample_id == "en-photosynthesis-miss"
    assert "Plants release oxygen during photosynthesis." in miss.why  # the missing fact
    # AND the verdict sends the reader to it, in the bands' own words
    assert "Fix first (retriever): Retrieval missed the facts" in diagnosis.verdict
    assert diagnosis.verdict.startswith("Weighted score ")
    assert any(w in diagnosis.verdict for w in ("(poor)", "(weak)", "(ok)", "(strong)"))


def test_the_invented_claim_is_named_with_the_statement(diagnosed) -> None:
    _, diagnosis = diagnosed

    finding = next(f for f in diagnosis.findings if f.rule == "sample_unsupported_claims")
    (sample,) = finding.evidence
    assert sample.sample_id == "en-python-release"
    assert "It is the most popular language on Mars." in sample.why


def test_findings_never_show_evidence_that_contradicts_them(diagnosed) -> None:
    run, diagnosis = diagnosed
    scores = {r.sample_id: r.scores for r in run.results}

    for finding in diagnosis.findings:
        for item in finding.evidence:
            if finding.rule == "sample_unsupported_claims":  # good context, weak grounding
                assert scores[item.sample_id]["faithfulness"] < 0.7
            if finding.rule == "overlap_low_paraphrase":  # "the meaning matches"
                for metric in ("answer_correctness", "semantic_similarity"):
                    value = scores[item.sample_id].get(metric)
                    assert value is None or value >= 0.7
    # AND the markdown names only metrics this run requested
    advice = render_advice(diagnosis)
    for name in ("answer_correctness", "factual_correctness", "bleu_score", "rouge_score"):
        assert name not in advice.split("## Findings", 1)[1].split("Next steps")[0]


class Narrator:
    """A judge LLM that writes the narrative it is told to."""

    def __init__(self, summary: str) -> None:
        self.summary = summary

    async def agenerate(self, prompt: str, response_model: type) -> object:
        return response_model(summary=self.summary, actions=["Fix retrieval first."])


def test_a_narrative_with_numbers_the_run_lacks_is_left_out(diagnosed) -> None:
    run, diagnosis = diagnosed
    request = parse_request({"samples": SAMPLES, "metrics": METRICS})
    recall = f"{diagnosis.means['context_recall']:.2f}"

    honest = asyncio.run(advise(run, request, Narrator(f"Context recall is {recall}.")))
    invented = asyncio.run(advise(run, request, Narrator("Faithfulness is 0.12 on 37% of it.")))

    assert f"Context recall is {recall}." in honest
    assert "Faithfulness is 0.12" not in invented
    assert "narrative was left out: it states numbers the run does not have: 0.12, 37" in invented


def test_a_step_naming_a_metric_the_run_lacks_says_so(judge: ScriptedJudge) -> None:
    # GIVEN a run of answer relevancy alone, low on the samples that drift
    settings = Settings(openai_base_url=judge.base_url, openai_api_key="test")
    request = parse_request({"samples": SAMPLES, "metrics": ["answer_relevancy"]})
    diagnosis = diagnose(Scorer(settings).score(request), request)

    # THEN the steps that point at context_recall say it was not scored here
    steps = [step for f in diagnosis.findings for step in f.next_steps]
    naming = [step for step in steps if "context_recall" in step]
    assert naming and all("not scored in this run; worth adding" in s for s in naming)


def test_a_finding_that_calls_a_metric_good_shows_no_sample_where_it_is_not() -> None:
    from rag_eval.domain.results import SampleResult, ScoreRun

    # GIVEN low context recall and good faithfulness on average, but one sample failing both
    scores = [(0.0, 0.0)] + [(0.4, 1.0)] * 5  # (context_recall, faithfulness)
    request = parse_request({"samples": SAMPLES, "metrics": ["context_recall", "faithfulness"]})
    results = [
        SampleResult(sample_id=s["sample_id"], scores={"context_recall": r, "faithfulness": f})
        for s, (r, f) in zip(SAMPLES, scores, strict=True)
    ]
    run = ScoreRun(metrics=["context_recall", "faithfulness"], results=results, skipped={})

    finding = next(f for f in diagnose(run, request).findings if f.rule == "retriever_bottleneck")

    # THEN "the generator sticks to what it is given" is not shown beside faithfulness 0
    assert finding.evidence
    assert all(item.other_scores["faithfulness"] >= 0.7 for item in finding.evidence)
