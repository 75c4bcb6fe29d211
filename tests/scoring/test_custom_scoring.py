"""A job's own metrics scored: the numbers ragas' own classes give, the category beside the
number, the judge's reason as evidence, and the verdict cache keyed by the definition."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from rag_eval.adapters.local_files import DiskVerdictStore, LocalObjectStore
from rag_eval.app.pipeline import ScoringPipeline
from rag_eval.domain.job import JobStatus, new_job
from rag_eval.domain.request import parse_request
from rag_eval.domain.results import ReasonCode, ScoreRun
from rag_eval.domain.settings import Settings
from rag_eval.domain.states import JobState
from rag_eval.scoring.scorer import Scorer
from testkit.scripted_judge import ScriptedJudge

SAMPLES = [
    {
        "sample_id": "en",
        "question": "When was the Eiffel Tower completed?",
        "answer": "It was completed in 1889 [1].",
        "contexts": ["The Eiffel Tower was completed in 1889.", "It is in Paris."],
        "ground_truth": "In 1889.",
    },
    {
        "sample_id": "zh",
        "question": "长城有多长？",
        "answer": "长城全长约两万一千多公里。",
        "contexts": ["长城全长约两万一千多公里。"],
        "ground_truth": "约两万一千公里。",
    },
    {
        "sample_id": "evasive",
        "question": "Who designed the tower?",
        "answer": "I don't know.",
        "contexts": ["The tower was designed by Gustave Eiffel's company."],
        "ground_truth": "Gustave Eiffel's company.",
    },
]
DISCRETE = {
    "name": "cites_its_contexts",
    "instructions": "Question: {question}\nAnswer: {answer}\nContexts:\n{contexts}\n"
    "Does every claim of the answer cite a context that supports it? "
    "Answer yes, partly or no.",
    "kind": "discrete",
    "values": {"yes": 1, "partly": 0.5, "no": 0},
}
NUMERIC = {
    "name": "directness",
    "instructions": "How directly does {answer} answer {question}? 0 to 10.",
    "kind": "numeric",
    "range": [0, 10],
}
RUBRIC = {
    "name": "reference_depth",
    "instructions": "Judge how completely {answer} covers {ground_truth}.",
    "kind": "rubric",
    "rubric": {
        "1": "misses the reference",
        "2": "touches it",
        "3": "half of it",
        "4": "most of it",
        "5": "all of it",
    },
}
# What the judge is shown for {contexts} in a job's own metric, written out here.
SHOWN_CONTEXTS = {
    "en": "[1] The Eiffel Tower was completed in 1889.\n\n[2] It is in Paris.",
    "zh": "[1] 长城全长约两万一千多公里。",
    "evasive": "[1] The tower was designed by Gustave Eiffel's company.",
}


def scored(judge: ScriptedJudge, definition: dict[str, Any]) -> ScoreRun:
    settings = Settings(openai_base_url=judge.base_url, openai_api_key="test", max_retries=1)
    request = parse_request(
        {"samples": SAMPLES, "metrics": [definition["name"]], "custom_metrics": [definition]}
    )
    return Scorer(settings).score(request)


async def ragas_results(base_url: str, definition: dict[str, Any]) -> list[Any]:
    """ragas' class for the kind, called as ragas documents it, on the same judge."""
    from openai import AsyncOpenAI
    from ragas.llms import llm_factory
    from ragas.metrics import DiscreteMetric, NumericMetric
    from ragas.metrics.collections import DomainSpecificRubrics

    client = AsyncOpenAI(base_url=base_url, api_key="test")
    llm = llm_factory("gpt-4o-mini", client=client)
    results = []
    try:
        for sample in SAMPLES:
            if definition["kind"] == "rubric":
                metric = DomainSpecificRubrics(
                    llm=llm,
                    rubrics={f"score{k}_description": v for k, v in definition["rubric"].items()},
                    with_reference=True,
                    name=definition["name"],
                )
                metric.scoring_prompt.instruction = (
                    "Judge how completely the response covers the reference.\n\n"
                    + metric.scoring_prompt.instruction
                )
                results.append(
                    await metric.ascore(response=sample["answer"], reference=sample["ground_truth"])
                )
                continue
            texts = {
                "question": sample["question"],
                "answer": sample["answer"],
                "contexts": SHOWN_CONTEXTS[sample["sample_id"]],
            }
            if definition["kind"] == "discrete":
                simple: Any = DiscreteMetric(
                    name=definition["name"],
                    prompt=definition["instructions"],
                    allowed_values=list(definition["values"]),
                )
                results.append(await simple.ascore(llm=llm, **texts))
            else:
                simple = NumericMetric(
                    name=definition["name"],
                    prompt=definition["instructions"],
                    allowed_values=tuple(definition["range"]),
                )
                results.append(
                    await simple.ascore(llm=llm, answer=texts["answer"], question=texts["question"])
                )
        return results
    finally:
        await client.close()


def test_a_discrete_metric_counts_ragas_category_as_its_number(judge: ScriptedJudge) -> None:
    # GIVEN a discrete metric of our own, scored by us and by ragas' DiscreteMetric directly
    run = scored(judge, DISCRETE)
    expected = asyncio.run(ragas_results(judge.base_url, DISCRETE))

    # THEN each sample's category is ragas', its number the definition's for it, and the
    # judge's reason is the evidence
    name = DISCRETE["name"]
    assert [r.categories[name] for r in run.results] == [e.value for e in expected]
    assert [r.scores[name] for r in run.results] == [DISCRETE["values"][e.value] for e in expected]
    assert [r.evidence[name]["reason"] for r in run.results] == [e.reason for e in expected]
    assert [r.evidence[name]["category"] for r in run.results] == [e.value for e in expected]
    assert run.failures == {}


@pytest.mark.parametrize("definition", [NUMERIC, RUBRIC], ids=["numeric", "rubric"])
def test_numeric_and_rubric_metrics_score_ragas_numbers(
    judge: ScriptedJudge, definition: dict[str, Any]
) -> None:
    run = scored(judge, definition)
    expected = asyncio.run(ragas_results(judge.base_url, definition))
    name = definition["name"]
    assert [r.scores[name] for r in run.results] == pytest.approx(
        [float(e.value) for e in expected], abs=1e-9
    )
    assert [r.evidence[name]["reason"] for r in run.results] == [e.reason for e in expected]
    assert all(name not in r.categories for r in run.results)
    assert run.failures == {}


def test_an_answer_off_the_metrics_scale_is_invalid_judge_output(judge: ScriptedJudge) -> None:
    # GIVEN a numeric metric whose range the judge's answers fall outside
    narrow = NUMERIC | {"range": [20, 30]}

    # WHEN it is scored
    run = scored(judge, narrow)

    # THEN no number is kept, and the reason says what the judge answered
    for result in run.results:
        assert result.scores["directness"] is None
        assert result.reasons["directness"] == ReasonCode.INVALID_JUDGE_OUTPUT
        assert result.details["directness"].endswith("outside 20..30")


def run_job(judge: ScriptedJudge, store: Any, root: Path, definition: dict[str, Any]) -> JobStatus:
    settings = Settings(openai_base_url=judge.base_url, openai_api_key="test", max_retries=1)
    request = parse_request(
        {
            "samples": SAMPLES,
            "metrics": ["faithfulness", definition["name"]],
            "custom_metrics": [definition],
        }
    )
    pipeline = ScoringPipeline(settings, LocalObjectStore(root), store)
    judge.reset_stats()
    return asyncio.run(pipeline.arun(new_job(request, settings), request))


def test_the_cache_serves_a_rerun_and_an_edit_is_asked_anew(
    judge: ScriptedJudge, tmp_path: Path
) -> None:
    store = DiskVerdictStore(tmp_path / "verdicts")
    try:
        # GIVEN a job with a metric of its own, scored once
        first = run_job(judge, store, tmp_path, DISCRETE)
        assert first.status is JobState.COMPLETED and judge.total_calls > 0

        # WHEN it is scored again: the judge is asked nothing, the numbers are the same
        again = run_job(judge, store, tmp_path, DISCRETE)
        assert judge.total_calls == 0 and again.scores == first.scores

        # WHEN its instructions are edited: the edited metric alone is asked again, once a
        # sample (faithfulness is served from the cache; the advice's narrative is asked
        # anew only because the means it is written from changed)
        edited = DISCRETE | {"instructions": DISCRETE["instructions"] + " Be strict."}
        run_job(judge, store, tmp_path, edited)
        asked = {k: n for k, n in judge.calls_by_title.items() if k != "AdviceNarrative"}
        assert asked == {"DiscreteResponseModel": len(SAMPLES)}
    finally:
        store.close()
