"""The judge's evidence per (sample, metric): what the scripted judge answered, in the
metric's terms, bounded, with a `why` for a low score; and in the run folder."""

from __future__ import annotations

import csv
import io
import json

import pytest

from rag_eval.domain.evidence import MAX_CHARS, MAX_ITEMS, evidence_for, why
from rag_eval.domain.request import parse_request
from rag_eval.domain.settings import Settings
from rag_eval.scoring.run_folder import explanations, scores_table
from rag_eval.scoring.scorer import Scorer
from testkit.scripted_judge import (
    DEFAULT_SUPPORT_THRESHOLD,
    ScriptedJudge,
    _as_question,
    overlap,
    sentences,
)

MISS = {
    "sample_id": "photosynthesis-miss",
    "question": "Which gas do plants release during photosynthesis?",
    "contexts": ["Plants need sunlight to grow.", "Chlorophyll gives leaves their green colour."],
    "answer": "Plants release carbon dioxide during photosynthesis. They grow in sunlight.",
    "ground_truth": "Plants release oxygen during photosynthesis.",
}
JUDGED = [
    "faithfulness",
    "context_recall",
    "context_precision",
    "answer_relevancy",
    "answer_correctness",
    "factual_correctness",
]


def supported(statement: str, context: str) -> bool:
    """The scripted judge's verdict on a statement against a text."""
    return overlap(statement, context) >= DEFAULT_SUPPORT_THRESHOLD


@pytest.fixture
def scored(judge: ScriptedJudge):
    settings = Settings(openai_base_url=judge.base_url, openai_api_key="test", max_retries=0)
    request = parse_request({"samples": [MISS], "metrics": [*JUDGED, "semantic_similarity"]})
    return request, Scorer(settings).score(request)


def test_the_evidence_is_what_the_judge_answered(scored) -> None:
    _, run = scored
    (result,) = run.results
    evidence = result.evidence
    contexts = "\n".join(MISS["contexts"])

    # faithfulness: the answer's statements, each with the judge's verdict on the contexts
    assert [
        (item["statement"], item["supported"]) for item in evidence["faithfulness"]["statements"]
    ] == [(s, supported(s, contexts)) for s in sentences(MISS["answer"])]
    assert all(item["reason"] for item in evidence["faithfulness"]["statements"])
    # context recall: the reference's sentences, attributed to the contexts or not
    assert [
        (i["sentence"], i["attributed"]) for i in evidence["context_recall"]["reference_sentences"]
    ] == [(s, supported(s, contexts)) for s in sentences(MISS["ground_truth"])]
    # context precision: one verdict per context, in their order
    assert [c["context"] for c in evidence["context_precision"]["contexts"]] == [1, 2]
    assert not any(c["useful"] for c in evidence["context_precision"]["contexts"])
    # answer relevancy: the three questions generated from the answer, and no evasion
    assert evidence["answer_relevancy"] == {
        "generated_questions": [_as_question(MISS["answer"])] * 3,
        "noncommittal": False,
    }
    # answer correctness: the answer's statements classified against the reference
    correctness = evidence["answer_correctness"]
    classified = correctness["true_positives"] + correctness["false_positives"]
    assert sorted(i["statement"] for i in classified) == sorted(sentences(MISS["answer"]))
    # factual correctness: the claims, and the verdict on each
    assert set(sentences(MISS["answer"])) <= set(evidence["factual_correctness"]["claims"])
    assert evidence["factual_correctness"]["verdicts"]
    # embeddings-only metrics have no intermediate output
    assert "semantic_similarity" not in evidence


def test_a_low_score_says_why_from_its_evidence(scored) -> None:
    _, run = scored
    (result,) = run.results

    assert result.scores["context_recall"] == 0.0
    assert why("context_recall", result.evidence["context_recall"], 0.0) == (
        "1 of 1 reference sentences are not in the retrieved contexts, e.g. "
        '"Plants release oxygen during photosynthesis."'
    )
    assert why("context_precision", result.evidence["context_precision"], 0.0) == (
        "none of the 2 retrieved contexts is useful for the answer"
    )
    assert why("faithfulness", result.evidence["faithfulness"], 0.9) == ""  # not low


def test_the_run_folder_carries_the_evidence_and_the_why(scored) -> None:
    request, run = scored

    lines = explanations(run).splitlines()
    table = scores_table(request, run).to_csv(index=False)

    (line,) = lines
    record = json.loads(line)
    assert record["sample_id"] == "photosynthesis-miss"
    recall = record["metrics"]["context_recall"]
    assert recall["score"] == 0.0 and recall["why"].startswith("1 of 1 reference sentences")
    assert recall["evidence"] == run.results[0].evidence["context_recall"]
    (row,) = csv.DictReader(io.StringIO(table))
    assert "context_recall: 1 of 1 reference sentences" in row["why"]


def test_evidence_is_bounded_and_says_when_it_was_cut() -> None:
    statements = [
        {"statement": "x" * (MAX_CHARS + 50), "verdict": 1, "reason": "r"}
        for _ in range(MAX_ITEMS + 5)
    ]

    evidence = evidence_for("faithfulness", [{"statements": statements}])

    assert evidence["cut"] is True
    assert len(evidence["statements"]) == MAX_ITEMS
    assert len(evidence["statements"][0]["statement"]) == MAX_CHARS
    assert evidence_for("faithfulness", []) is None
    assert evidence_for("bleu_score", [{"anything": 1}]) is None
