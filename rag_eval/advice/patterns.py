"""Failure patterns of single samples, read first: one sample failing several metrics at
once says what went wrong on it, and a run whose means look good can hide it (a retrieval
miss among five good samples moves no mean below a band).

Each pattern needs only the metrics that show it, among those requested; its evidence is
the samples that show it, each with the judge's own `why` (rag_eval/domain/evidence.py).
Scores are read on 0..1 with 1 the best (`RunView.score`), as the bands are.
"""

from __future__ import annotations

from collections.abc import Callable

from rag_eval.advice.findings import Evidence, Finding
from rag_eval.advice.guides import POOR_BELOW, WEAK_BELOW
from rag_eval.advice.view import RunView, finite
from rag_eval.domain.evidence import why
from rag_eval.domain.results import SampleResult
from rag_eval.metrics.generation import GROUNDING_STEPS
from rag_eval.metrics.retrieval import RECALL_STEPS

MAX_SAMPLES_SHOWN = 5


def _poor(view: RunView, result: SampleResult, metric: str) -> bool:
    value = view.score(result, metric)
    return value is not None and value < POOR_BELOW


def _good(view: RunView, result: SampleResult, metric: str) -> bool:
    value = view.score(result, metric)
    return value is not None and value >= WEAK_BELOW


def _retrieval_miss(view: RunView, result: SampleResult) -> bool:
    return _poor(view, result, "context_recall") and (
        _poor(view, result, "faithfulness") or _poor(view, result, "context_precision")
    )


def _unsupported_with_good_context(view: RunView, result: SampleResult) -> bool:
    value = view.score(result, "faithfulness")
    good_context = _good(view, result, "context_recall") or _good(view, result, "context_precision")
    return value is not None and value < WEAK_BELOW and good_context


def _noncommittal(view: RunView, result: SampleResult) -> bool:
    return bool((result.evidence.get("answer_relevancy") or {}).get("noncommittal"))


def _off_question(view: RunView, result: SampleResult) -> bool:
    return _poor(view, result, "answer_relevancy") and not _noncommittal(view, result)


def _disagrees_with_reference(view: RunView, result: SampleResult) -> bool:
    grounded = _good(view, result, "faithfulness") and _good(view, result, "context_recall")
    return grounded and (
        _poor(view, result, "answer_correctness") or _poor(view, result, "factual_correctness")
    )


# rule, title, component, the metrics it reads (the first orders the evidence), the test,
# what it means, next steps
_Test = Callable[[RunView, SampleResult], bool]
_PATTERNS: tuple[tuple[str, str, str, tuple[str, ...], _Test, str, list[str]], ...] = (
    (
        "sample_retrieval_miss",
        "Retrieval missed the facts these answers needed",
        "retriever",
        ("context_recall", "faithfulness", "context_precision"),
        _retrieval_miss,
        "On these samples the contexts lack what the reference says (low context_recall) "
        "and the answer is not grounded in them, or no context was useful: the retriever "
        "returned the wrong passages, and the generator answered anyway.",
        [*RECALL_STEPS[:2], GROUNDING_STEPS[0]],
    ),
    (
        "sample_unsupported_claims",
        "Answers add claims their good contexts do not support",
        "generator",
        ("faithfulness", "context_recall", "context_precision"),
        _unsupported_with_good_context,
        "The contexts of these samples hold the facts (good context recall or precision), "
        "yet the answers state things the contexts do not support: the generator adds its "
        "own knowledge or invents.",
        list(GROUNDING_STEPS[:3]),
    ),
    (
        "sample_noncommittal",
        "Evasive answers",
        "generator",
        ("answer_relevancy",),
        _noncommittal,
        "The judge found these answers noncommittal ('I don't know', 'it depends'): ragas "
        "scores them 0 on answer relevancy.",
        [
            "If the contexts hold the answer, tell the generator to answer from them; if they "
            "do not, fix retrieval first (context_recall)."
        ],
    ),
    (
        "sample_off_question",
        "Answers that address another question",
        "generator",
        ("answer_relevancy",),
        _off_question,
        "The questions these answers would answer, as the judge wrote them, differ from the "
        "question asked: off-topic, partial or padded answers.",
        ["Make the prompt ask for a direct answer to the question first, details after."],
    ),
    (
        "sample_reference_disagrees",
        "Grounded answers that disagree with their reference",
        "reference data",
        ("answer_correctness", "factual_correctness", "faithfulness", "context_recall"),
        _disagrees_with_reference,
        "These answers follow their contexts, and the contexts hold the reference's facts, "
        "yet the answers score low against the reference: check the reference answers (and "
        "the documents), or the metric's reading of a paraphrase.",
        ["Review these references against the source documents; fix or drop wrong ones."],
    ),
)


def pattern_findings(view: RunView) -> list[Finding]:
    """One finding a pattern some samples show, most samples first."""
    requested = set(view.run.metrics)
    findings = []
    for rule, title, component, metrics, test, meaning, steps in _PATTERNS:
        used = [m for m in metrics if m in requested]
        if not used or used[0] != metrics[0]:
            continue  # the metric that defines the pattern was not requested
        hits = [result for result in view.run.results if test(view, result)]
        if not hits:
            continue
        hits.sort(key=lambda r: view.score(r, used[0]) or 0.0)
        findings.append(
            Finding(
                rule=rule,
                title=f"{title} ({len(hits)} of {len(view.run.results)} samples)",
                metrics=used,
                severity="poor" if len(hits) > 1 or len(view.run.results) < 20 else "weak",
                component=component,
                meaning=meaning,
                evidence=[_evidence(view, result, used) for result in hits[:MAX_SAMPLES_SHOWN]],
                next_steps=steps,
            )
        )
    return findings  # in the order of _PATTERNS: a cause before its consequences


def _evidence(view: RunView, result: SampleResult, metrics: list[str]) -> Evidence:
    said = [
        f"{m}: {line}"
        for m in metrics
        if (line := why(m, result.evidence.get(m), view.score(result, m), WEAK_BELOW))
    ]
    return Evidence(
        sample_id=result.sample_id,
        question=view.question(result.sample_id),
        score=finite(result.scores.get(metrics[0])),
        other_scores={m: finite(result.scores.get(m)) for m in metrics[1:]},
        why="; ".join(said),
    )
