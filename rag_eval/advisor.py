"""The run's `optimization_advice.md`: what to fix in the RAG system, and why, from the scores.

A rule-based diagnosis always runs (no LLM needed): each rule reads the metric means the
way ragas defines the metrics, names the component at fault and points at the worst
samples. Combination rules come first because two metrics together locate a problem
that neither does alone (good recall but poor faithfulness is the generator's fault; poor
recall with good faithfulness is the retriever's). The judge LLM may add a short
narrative on top; when it cannot, the rule-based advice stands alone. Nothing here may
fail the job.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field

from rag_eval.metrics import MODEL_FREE_METRICS, REGISTRY
from rag_eval.models import SampleResult, ScoreRequest
from rag_eval.scoring import ScoreRun, sample_ids

logger = logging.getLogger(__name__)

# Score bands for a metric mean (every ragas metric here scores in [0, 1]).
POOR_BELOW = 0.5  # most samples fail the metric
WEAK_BELOW = 0.7  # a clear problem; at or above it a metric counts as "good" in combinations
STRONG_AT = 0.85  # listed as a strength
# A metric that the judge failed to score on this share of samples gets a finding: its
# mean rests on the remaining samples only and may be biased.
JUDGE_FAILURE_SHARE = 0.2
EVIDENCE_SAMPLES = 3  # worst samples shown per finding
QUESTION_CHARS = 80  # questions are cut to this length in evidence tables
NARRATIVE_TIMEOUT_SECONDS = 60.0

Severity = Literal["poor", "weak", "note"]
Component = Literal["retriever", "generator", "reference data", "judge"]

SEVERITY_ORDER: dict[str, int] = {"poor": 0, "weak": 1, "note": 2}
COMPONENT_LABELS: dict[str, str] = {
    "retriever": "retriever (search, chunking, ranking)",
    "generator": "generator (prompt and answer model)",
    "reference data": "reference data (knowledge-base documents, ground-truth answers)",
    "judge": "judge (the scoring model or the metric itself)",
}

REFERENCE_METRICS = ("answer_correctness", "factual_correctness", "semantic_similarity")
# The model-free metrics all measure surface overlap with the reference.
OVERLAP_METRICS = MODEL_FREE_METRICS
WHITESPACE_TOKEN_METRICS = ("bleu_score", "rouge_score")
# Chinese and Japanese write words without spaces (Korean does use spaces).
_NO_SPACE_SCRIPT = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]")


class Evidence(BaseModel):
    """One of the worst samples behind a finding."""

    sample_id: str
    question: str  # cut to QUESTION_CHARS
    score: float | None  # the finding's first metric; None when it failed to score
    other_scores: dict[str, float | None] = Field(default_factory=dict)
    note: str = ""  # e.g. the reason code when the metric did not score


class Finding(BaseModel):
    rule: str  # stable id of the rule that fired, e.g. "retriever_bottleneck"
    title: str
    metrics: list[str]  # the first one orders the evidence
    severity: Severity
    component: Component
    meaning: str
    evidence: list[Evidence] = Field(default_factory=list)
    next_steps: list[str] = Field(default_factory=list)


class Strength(BaseModel):
    metric: str
    mean: float
    meaning: str


class UnscoredMetric(BaseModel):
    """A metric that was skipped outright, or that some samples could not score."""

    metric: str
    # skipped: no sample had its inputs; not scored: failed on every sample
    status: Literal["skipped", "not scored", "partly scored"]
    reason: str  # the skip reason, or a summary of the failure codes
    reason_counts: dict[str, int] = Field(default_factory=dict)  # reason code -> samples
    advice: list[str] = Field(default_factory=list)


class Diagnosis(BaseModel):
    sample_count: int
    means: dict[str, float | None]
    weighted_score: float | None
    coverage: float | None
    verdict: str
    findings: list[Finding] = Field(default_factory=list)
    strengths: list[Strength] = Field(default_factory=list)
    unscored: list[UnscoredMetric] = Field(default_factory=list)

    @property
    def scored(self) -> bool:
        return any(v is not None for v in self.means.values())

    @property
    def all_good(self) -> bool:
        """Something scored and no finding is a problem (notes are not problems)."""
        return self.scored and not any(f.severity != "note" for f in self.findings)


class AdviceNarrative(BaseModel):
    """What the judge LLM writes on top of the rule-based diagnosis."""

    summary: str = Field(description="2-4 sentences: the state of the RAG system, plainly.")
    actions: list[str] = Field(
        description="At most 5 concrete actions, most important first, each one sentence."
    )


# --- what each metric means (true to how ragas computes it) ---------------------------


@dataclass(frozen=True)
class MetricGuide:
    component: Component
    title: str  # the finding's title when this metric alone is low
    meaning: str
    strength: str
    next_steps: tuple[str, ...] = ()


_GROUNDING_STEPS = (
    "Tell the generator to answer only from the provided contexts, and to say so when they "
    "do not contain the answer.",
    "Ask for a citation (chunk id) per sentence and drop sentences without one.",
    "Lower the generation temperature, or try a stronger generator model.",
    "Check that the contexts reach the model whole: a prompt template that truncates long "
    "contexts leaves the model guessing.",
)
_RECALL_STEPS = (
    "Raise top-k (and rerank afterwards to keep the prompt short).",
    "Revisit chunking: chunk size and overlap; keep tables, lists and sections intact.",
    "Use hybrid search (BM25 keywords + dense vectors) so exact names, codes and numbers "
    "are found.",
    "Try a stronger or domain- / language-specific embedding model; add query rewriting or "
    "multi-query expansion.",
    "Confirm the facts are in the indexed documents at all: a reference answer drawn from "
    "outside the corpus cannot be recalled.",
)
_RANKING_STEPS = (
    "Add a reranker (a cross-encoder such as bge-reranker or Cohere Rerank) after the "
    "first-stage search.",
    "Pass fewer chunks to the generator (lower top-k after reranking) and use shorter, more "
    "focused chunks.",
    "Filter by metadata (product, version, date) before ranking; drop chunks below a "
    "similarity threshold.",
)

GUIDES: dict[str, MetricGuide] = {
    "faithfulness": MetricGuide(
        "generator",
        "Answers make claims the contexts do not support",
        "ragas faithfulness splits the answer into claims and checks each one against the "
        "retrieved contexts. A low score means the generator states things the contexts do "
        "not say: hallucinations, or knowledge from the model's own memory (true facts from "
        "outside the contexts count as unsupported too).",
        "answers stay within what the retrieved contexts say",
        _GROUNDING_STEPS,
    ),
    "answer_relevancy": MetricGuide(
        "generator",
        "Answers drift from the question or dodge it",
        "ragas answer_relevancy has the judge write the questions the answer would answer and "
        "compares them with the real question by embeddings; noncommittal answers ('I don't "
        "know', 'it depends') score 0. A low score means off-topic, padded, partial or "
        "evasive answers: usually a prompt problem.",
        "answers address the question directly",
        (
            "Make the prompt ask for a direct answer to the question first, details after.",
            "Cut boilerplate, disclaimers and restated context from the answers.",
            "Answer in the language of the question: a cross-language answer lowers the "
            "embedding similarity.",
            "If answers are evasive because the contexts lacked the facts, fix retrieval "
            "(context_recall) rather than the prompt.",
        ),
    ),
    "context_precision": MetricGuide(
        "retriever",
        "Useful chunks are ranked below useless ones",
        "ragas context_precision asks, chunk by chunk in rank order, whether each retrieved "
        "chunk helps reach the reference answer, and rewards useful chunks near the top. A "
        "low score means the useful chunks are buried under noise, or missing.",
        "useful chunks are ranked at the top",
        _RANKING_STEPS,
    ),
    "context_recall": MetricGuide(
        "retriever",
        "The retriever misses facts the answers need",
        "ragas context_recall splits the reference answer (ground_truth) into claims and "
        "checks whether each can be attributed to the retrieved contexts. A low score means "
        "the facts needed for a correct answer were not retrieved.",
        "the retrieved contexts hold the facts of the reference answers",
        _RECALL_STEPS,
    ),
    "answer_correctness": MetricGuide(
        "generator",
        "Answers disagree with the reference answers",
        "answer_correctness weighs the answer's claims against the reference (supported, "
        "wrong, missing) and blends in semantic similarity.",
        "answers agree with the reference answers",
    ),
    "factual_correctness": MetricGuide(
        "generator",
        "Answers disagree with the reference answers",
        "factual_correctness is the F1 of the answer's claims against the reference's claims: "
        "missing facts and extra claims both lower it.",
        "the answers' claims match the reference claims",
    ),
    "semantic_similarity": MetricGuide(
        "generator",
        "Answers disagree with the reference answers",
        "semantic_similarity is the embedding cosine of answer and reference: coarse, it "
        "tracks topic and wording more than facts.",
        "answers mean the same as the references",
    ),
    "bleu_score": MetricGuide(
        "generator",
        "Answers share few words with the reference answers",
        "BLEU counts n-gram overlap on whitespace tokens: harsh on paraphrase, 0 for a "
        "one-word answer, about 0 on Chinese or Japanese text.",
        "answers reuse the reference wording",
    ),
    "rouge_score": MetricGuide(
        "generator",
        "Answers share few words with the reference answers",
        "ROUGE-L measures the longest common subsequence of whitespace tokens: about 0 on "
        "Chinese or Japanese text.",
        "answers follow the reference wording",
    ),
    "chrf_score": MetricGuide(
        "generator",
        "Answers share few words with the reference answers",
        "chrF compares character n-grams: tolerant of inflection, and works on Chinese.",
        "answers are close to the references character by character",
    ),
    "exact_match": MetricGuide(
        "generator",
        "Answers share few words with the reference answers",
        "exact_match is 1 only for an identical string: meaningful for short factoid "
        "references only.",
        "answers reproduce the references exactly",
    ),
    "string_presence": MetricGuide(
        "generator",
        "Answers share few words with the reference answers",
        "string_presence is 1 when the reference appears verbatim in the answer: it needs "
        "short references (a name, a number).",
        "answers contain the reference strings",
    ),
    "non_llm_string_similarity": MetricGuide(
        "generator",
        "Answers share few words with the reference answers",
        "non_llm_string_similarity is 1 minus the normalised edit distance of the whole "
        "strings: a length difference alone lowers it.",
        "answers are textually close to the references",
    ),
}

# What to do when a metric could not score, by reason code (models.ReasonCode).
FAILURE_ADVICE: dict[str, str] = {
    "timeout": "raise RAGAS_METRIC_TIMEOUT_SECONDS, or use a faster judge model (long "
    "contexts make the judge slow).",
    "rate_limited": "lower RAGAS_MAX_CONCURRENCY, or raise the provider quota (requests and "
    "tokens per minute).",
    "invalid_judge_output": "use a stronger judge model that follows JSON instructions "
    "reliably (small local models often do not).",
    "judge_error": "check OPENAI_BASE_URL and the credentials (OPENAI_API_KEY, its SSM "
    "parameter, or the Bedrock IAM permissions), and that the judge model exists there.",
    "metric_error": "ragas could not compute the metric on these inputs (e.g. an answer with "
    "no checkable statement); read the error column of scores.csv.",
}
_JUDGE_CODES = frozenset(FAILURE_ADVICE) - {"metric_error"}
INPUT_HINTS: dict[str, str] = {
    "question": "the user's `question`",
    "answer": "the generated `answer`",
    "contexts": "the retrieved `contexts` (the chunks passed to the generator)",
    "ground_truth": "a reference answer (`ground_truth`)",
}


# --- diagnosis --------------------------------------------------------------------------


def diagnose(run: ScoreRun, request: ScoreRequest) -> Diagnosis:
    """Read the scores like a RAG engineer would; never raises on odd but valid input."""
    means = {name: _finite(value) for name, value in run.means.items()}
    view = _RunView(run, request, means)
    findings = [*_combination_findings(view)]
    explained = {m for f in findings for m in f.metrics}
    findings += _single_findings(view, explained)
    findings += _judge_findings(view)
    for finding in findings:
        finding.evidence = view.evidence(finding.metrics, failed=finding.rule == "judge_failures")
    findings.sort(key=lambda f: (SEVERITY_ORDER[f.severity], _first_mean(f, means)))
    strengths = [
        Strength(
            metric=name,
            mean=mean,
            meaning=GUIDES[name].strength if name in GUIDES else _description(name),
        )
        for name, mean in means.items()
        if mean is not None and mean >= STRONG_AT
    ]
    return Diagnosis(
        sample_count=len(run.results),
        means=means,
        weighted_score=_finite(run.weighted_score),
        coverage=_finite(run.coverage),
        verdict=_verdict(run, means, findings),
        findings=findings,
        strengths=strengths,
        unscored=_unscored(run, request),
    )


class _RunView:
    """The scores of one run, read defensively (None for anything missing or not finite)."""

    def __init__(
        self, run: ScoreRun, request: ScoreRequest, means: dict[str, float | None]
    ) -> None:
        self.run = run
        self.means = means
        self.samples = dict(zip(sample_ids(request.samples), request.samples, strict=False))

    def mean(self, metric: str) -> float | None:
        return self.means.get(metric)

    def low(self, metric: str) -> bool:
        value = self.mean(metric)
        return value is not None and value < WEAK_BELOW

    def good(self, metric: str) -> bool:
        value = self.mean(metric)
        return value is not None and value >= WEAK_BELOW

    def unspaced_text_share(self) -> float:
        texts = [f"{s.answer or ''} {s.ground_truth or ''}" for s in self.samples.values()]
        return sum(bool(_NO_SPACE_SCRIPT.search(t)) for t in texts) / len(texts) if texts else 0.0

    def question(self, sample_id: str) -> str:
        sample = self.samples.get(sample_id)
        return _cut(sample.question) if sample is not None else ""

    def evidence(self, metrics: list[str], *, failed: bool = False) -> list[Evidence]:
        """The worst samples on the first metric, or the ones the judge failed on."""
        first, others = metrics[0], metrics[1:]
        ranked: list[tuple[float, int, SampleResult]] = []
        for position, result in enumerate(self.run.results):
            score = _finite(result.scores.get(first))
            if failed and result.reasons.get(first) in _JUDGE_CODES:
                ranked.append((0.0, position, result))
            elif not failed and score is not None:
                ranked.append((score, position, result))
        ranked.sort(key=lambda item: item[:2])
        return [
            Evidence(
                sample_id=result.sample_id,
                question=self.question(result.sample_id),
                score=_finite(result.scores.get(first)),
                other_scores={m: _finite(result.scores.get(m)) for m in others},
                note=result.reasons.get(first, ""),
            )
            for _, _, result in ranked[:EVIDENCE_SAMPLES]
        ]


def _combination_findings(view: _RunView) -> Iterable[Finding]:
    recall, faith = view.mean("context_recall"), view.mean("faithfulness")
    if view.good("context_recall") and view.low("faithfulness"):
        yield Finding(
            rule="generator_ignores_context",
            title="The generator ignores good context",
            metrics=["faithfulness", "context_recall"],
            severity=_severity(faith),
            component="generator",
            meaning=(
                f"context_recall is {recall:.2f}: the retrieved contexts hold the facts of the "
                f"reference answers. Yet faithfulness is {faith:.2f}: the answers make claims "
                "those contexts do not support. The retriever did its job; the generator adds "
                "its own knowledge or misreads the contexts."
            ),
            next_steps=list(_GROUNDING_STEPS),
        )
    if view.low("context_recall") and view.good("faithfulness"):
        yield Finding(
            rule="retriever_bottleneck",
            title="The retriever is the bottleneck",
            metrics=["context_recall", "faithfulness"],
            severity=_severity(recall),
            component="retriever",
            meaning=(
                f"faithfulness is {faith:.2f}: the generator sticks to what it is given. But "
                f"context_recall is {recall:.2f}: the contexts lack facts the reference answers "
                "need, so the answers are grounded but incomplete. Prompt changes will not fix "
                "this; retrieval changes will."
            ),
            next_steps=list(_RECALL_STEPS),
        )
    if view.low("context_recall") and view.low("faithfulness"):
        yield Finding(
            rule="gaps_filled_from_memory",
            title="Missing context, filled in from the model's memory",
            metrics=["context_recall", "faithfulness"],
            severity=_severity(min(recall, faith)),
            component="retriever",
            meaning=(
                f"context_recall is {recall:.2f}: the contexts lack facts the reference answers "
                f"need; faithfulness is {faith:.2f}: the answers state things the contexts do "
                "not support. The likely chain: the retriever misses facts and the generator "
                "fills the gaps from its own memory. Fix retrieval first, then grounding."
            ),
            next_steps=[*_RECALL_STEPS[:3], _GROUNDING_STEPS[0]],
        )
    precision = view.mean("context_precision")
    if view.low("context_precision") and view.good("context_recall"):
        yield Finding(
            rule="noisy_ranking",
            title="Good recall, noisy ranking",
            metrics=["context_precision", "context_recall"],
            severity=_severity(precision),
            component="retriever",
            meaning=(
                f"context_recall is {recall:.2f}: the needed facts are retrieved. But "
                f"context_precision is {precision:.2f}: irrelevant chunks are ranked above "
                "them, which spends prompt space and distracts the generator."
            ),
            next_steps=list(_RANKING_STEPS),
        )
    # semantic_similarity alone is too coarse to call the facts wrong; it only joins in.
    wrong = sorted((m for m in REFERENCE_METRICS[:2] if view.low(m)), key=lambda m: view.mean(m))
    if wrong and view.good("faithfulness") and not view.low("context_recall"):
        correctness = wrong[0]
        also_low = [m for m in REFERENCE_METRICS if m != correctness and view.low(m)]
        steps = [
            "Read the worst samples' contexts next to their ground_truth: find the documents "
            "that state the differing fact.",
            "Remove or archive outdated document versions; prefer the newest through metadata "
            "(date, version) filters or boosts.",
            "If the reference answers are the stale side, update the ground_truth.",
        ]
        if view.mean("context_recall") is None:
            steps.append(
                "Request context_recall too: it shows whether the reference facts are in the "
                "retrieved contexts at all."
            )
        yield Finding(
            rule="contexts_wrong",
            title="Grounded answers, wrong facts: the contexts disagree with the reference",
            metrics=[correctness, *also_low, "faithfulness"],
            severity=_severity(view.mean(correctness)),
            component="reference data",
            meaning=(
                f"faithfulness is {faith:.2f}: the answers follow the retrieved contexts. Yet "
                f"{correctness} is {view.mean(correctness):.2f}: they disagree with the "
                "reference answers. So the contexts themselves carry wrong, outdated or "
                "conflicting information (old document versions next to new ones), or the "
                "reference answers are out of date."
            ),
            next_steps=steps,
        )


def _single_findings(view: _RunView, explained: set[str]) -> list[Finding]:
    findings: list[Finding] = []
    for name in ("faithfulness", "answer_relevancy", "context_precision", "context_recall"):
        if name in explained or not view.low(name):
            continue
        guide = GUIDES[name]
        meaning = guide.meaning
        if name == "faithfulness" and view.mean("context_recall") is None:
            meaning += (
                " Add ground_truth and request context_recall to tell a retrieval gap from a "
                "generator that ignores its contexts."
            )
        if name == "answer_relevancy" and view.low("context_recall"):
            meaning += (
                " context_recall is low too: some answers may decline because the contexts "
                "lacked the facts."
            )
        findings.append(
            Finding(
                rule=f"low_{name}",
                title=guide.title,
                metrics=[name],
                severity=_severity(view.mean(name)),
                component=guide.component,
                meaning=meaning,
                next_steps=list(guide.next_steps),
            )
        )
    reference_low = [m for m in REFERENCE_METRICS if m not in explained and view.low(m)]
    if reference_low:
        findings.append(_reference_finding(view, reference_low))
    findings += _overlap_findings(view)
    return findings


def _reference_finding(view: _RunView, low: list[str]) -> Finding:
    worst = min(low, key=lambda m: view.mean(m))
    meaning = " ".join(GUIDES[m].meaning for m in low)
    meaning += (
        " Low scores mean the answers miss reference facts, state different ones, or add "
        "claims the reference lacks."
    )
    if view.low("context_recall"):
        meaning += " context_recall is low too, so missing retrieval is the likely first cause."
    return Finding(
        rule="answers_disagree_with_reference",
        title=GUIDES[worst].title,
        metrics=[worst, *(m for m in low if m != worst)],
        severity=_severity(view.mean(worst)),
        component="generator",
        meaning=meaning,
        next_steps=[
            "Read the worst samples next to their ground_truth: decide whether the answer or "
            "the reference is wrong.",
            "If context_recall is low, fix retrieval first: the generator cannot state facts "
            "it never received.",
            "If the answers are right but say more than the references, the extra claims "
            "count against factual_correctness: make references complete or ask for concise "
            "answers.",
            "Keep the ground-truth answers current with the knowledge base.",
        ],
    )


def _overlap_findings(view: _RunView) -> list[Finding]:
    low = [m for m in OVERLAP_METRICS if view.low(m)]
    findings: list[Finding] = []
    if view.unspaced_text_share() >= 0.5 and any(m in low for m in WHITESPACE_TOKEN_METRICS):
        tokenised = [m for m in low if m in WHITESPACE_TOKEN_METRICS]
        low = [m for m in low if m not in WHITESPACE_TOKEN_METRICS]
        findings.append(
            Finding(
                rule="whitespace_tokens_on_cjk",
                title="BLEU / ROUGE cannot measure Chinese or Japanese text",
                metrics=tokenised,
                severity="note",
                component="judge",
                meaning=(
                    "BLEU and ROUGE split text on whitespace; Chinese and Japanese have no "
                    "spaces between words, so a whole sentence is one token and the scores "
                    "sit near 0 whatever the answer says. These numbers say nothing about "
                    "your system."
                ),
                next_steps=[
                    "Use chrf_score (character n-grams) for model-free overlap on these "
                    "languages, or semantic_similarity / answer_correctness for meaning.",
                    "Drop bleu_score and rouge_score from the request, or weigh them 0.",
                ],
            )
        )
    if not low:
        return findings
    meaning_metrics = [m for m in REFERENCE_METRICS if view.mean(m) is not None]
    paraphrase = bool(meaning_metrics) and all(view.good(m) for m in meaning_metrics)
    worst = min(low, key=lambda m: view.mean(m))
    limits = " ".join(GUIDES[m].meaning for m in low)
    if paraphrase:
        findings.append(
            Finding(
                rule="overlap_low_paraphrase",
                title="Low word overlap, but the meaning matches: paraphrase, not error",
                metrics=[worst, *(m for m in low if m != worst), *meaning_metrics],
                severity="note",
                component="judge",
                meaning=(
                    f"{', '.join(meaning_metrics)} "
                    f"{'is' if len(meaning_metrics) == 1 else 'are'} good, so the answers say "
                    f"what the references say in other words. {limits}"
                ),
                next_steps=[
                    "Judge answer quality by the meaning-level metrics; keep the overlap "
                    "metrics only where exact wording matters (codes, names, numbers).",
                    "If exact wording matters, instruct the generator to quote the source "
                    "for those items.",
                ],
            )
        )
        return findings
    findings.append(
        Finding(
            rule="low_overlap",
            title=GUIDES[worst].title,
            metrics=[worst, *(m for m in low if m != worst)],
            severity=_severity(view.mean(worst)),
            component="generator",
            meaning=(
                "The model-free metrics count surface overlap with the reference, so a low "
                "score can be a wrong answer or just a paraphrase. "
                f"{limits}"
            ),
            next_steps=[
                *(
                    []
                    if meaning_metrics
                    else [
                        "Add a meaning-level metric (semantic_similarity, answer_correctness "
                        "or factual_correctness) to tell wrong answers from paraphrases."
                    ]
                ),
                "For exact_match and string_presence, keep the references short and canonical "
                "(a number, a name).",
                "Prefer chrf_score to BLEU / ROUGE for short answers and for languages without "
                "spaces.",
            ],
        )
    )
    return findings


def _judge_findings(view: _RunView) -> list[Finding]:
    total = len(view.run.results)
    if not total:
        return []
    shares: dict[str, float] = {}
    codes: set[str] = set()
    for metric, counts in view.run.failures.items():
        failed = {c: n for c, n in counts.items() if c in _JUDGE_CODES}
        share = sum(failed.values()) / total
        if failed and share >= JUDGE_FAILURE_SHARE:
            shares[metric] = share
            codes.update(failed)
    if not shares:
        return []
    worst_share = max(shares.values())
    listed = ", ".join(f"{m} on {s:.0%} of samples" for m, s in shares.items())
    return [
        Finding(
            rule="judge_failures",
            title="The judge could not score part of the run",
            metrics=sorted(shares, key=lambda m: -shares[m]),
            severity="poor" if worst_share >= POOR_BELOW else "weak",
            component="judge",
            meaning=(
                f"The judge failed {listed}. Those means rest on the remaining samples only "
                "and may be biased: fix the judge before trusting them."
            ),
            next_steps=[f"`{c}`: {FAILURE_ADVICE[c]}" for c in sorted(codes)],
        )
    ]


def _unscored(run: ScoreRun, request: ScoreRequest) -> list[UnscoredMetric]:
    entries: list[UnscoredMetric] = []
    for metric, reason in run.skipped.items():
        missing = _missing_inputs(metric, request)
        entries.append(
            UnscoredMetric(
                metric=metric,
                status="skipped",
                reason=reason,
                reason_counts={"missing_input": len(run.results)},
                advice=[_unlock_advice(metric, missing)] if missing else [],
            )
        )
    for metric, counts in run.failures.items():
        advice = []
        for code in sorted(counts, key=lambda c: -counts[c]):
            if code == "missing_input":
                missing = _missing_inputs(metric, request)
                advice.append(f"`missing_input`: {_unlock_advice(metric, missing)}")
            else:
                text = FAILURE_ADVICE.get(code, "read the error column of scores.csv.")
                advice.append(f"`{code}`: {text}")
        summary = ", ".join(f"{code} × {n}" for code, n in counts.items())
        unscored = sum(counts.values())
        entries.append(
            UnscoredMetric(
                metric=metric,
                status="not scored" if unscored >= len(run.results) else "partly scored",
                reason=f"did not score on {unscored} of {len(run.results)} samples ({summary})",
                reason_counts=dict(counts),
                advice=advice,
            )
        )
    return entries


def _missing_inputs(metric: str, request: ScoreRequest) -> list[str]:
    spec = REGISTRY.get(metric)
    if spec is None:
        return []
    return sorted({m for s in request.samples for m in s.missing_inputs(spec.inputs)})


def _unlock_advice(metric: str, missing: list[str]) -> str:
    if not missing:
        return f"some samples lack an input {metric} needs; see the error column of scores.csv."
    wanted = " and ".join(INPUT_HINTS.get(name, f"`{name}`") for name in missing)
    return f"add {wanted} to every sample to unlock {metric}."


def _verdict(run: ScoreRun, means: dict[str, float | None], findings: list[Finding]) -> str:
    scored = sum(v is not None for v in means.values())
    score = _finite(run.weighted_score)
    samples = len(run.results)
    if score is None:
        return (
            f"Nothing could be scored: 0 of {len(means)} metric(s) produced a score over "
            f"{samples} sample(s). See the metrics that could not score below."
        )
    band = (
        "strong"
        if score >= STRONG_AT
        else "good"
        if score >= WEAK_BELOW
        else "weak"
        if score >= POOR_BELOW
        else "poor"
    )
    coverage = _finite(run.coverage)
    text = (
        f"{band.capitalize()}: weighted score {score:.4f}, coverage "
        f"{'—' if coverage is None else f'{coverage:.0%}'} ({scored} of {len(means)} metrics "
        f"scored), {samples} sample(s)."
    )
    # findings arrive sorted by severity, worst first
    first = next((f for f in findings if f.severity != "note"), None)
    if first is not None:
        text += f" Fix first ({first.component}): {first.title}."
    else:
        text += f" No metric is below {WEAK_BELOW}."
    return text


def _severity(value: float | None) -> Severity:
    return "poor" if value is not None and value < POOR_BELOW else "weak"


def _first_mean(finding: Finding, means: dict[str, float | None]) -> float:
    value = means.get(finding.metrics[0])
    return 1.0 if value is None else value


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _cut(text: str, limit: int = QUESTION_CHARS) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def _description(metric: str) -> str:
    spec = REGISTRY.get(metric)
    return spec.description if spec is not None else ""


# --- rendering --------------------------------------------------------------------------


def render_advice(
    diagnosis: Diagnosis, narrative: str | None = None, *, narrative_note: str | None = None
) -> str:
    """The markdown of `optimization_advice.md`, for a person browsing the run folder."""
    lines = ["# Optimization advice", "", f"**Verdict.** {diagnosis.verdict}", ""]
    lines += _means_table(diagnosis.means)
    if narrative or narrative_note:
        lines += ["## Narrative (written by the judge model)", ""]
        lines += [narrative.strip(), ""] if narrative else [f"_{narrative_note}_", ""]
    if diagnosis.all_good:
        lines += _all_good_section(diagnosis)
    lines += _findings_section(diagnosis)
    if diagnosis.strengths:
        lines += ["## Strengths", ""]
        lines += [f"- **{s.metric}** {s.mean:.2f}: {s.meaning}." for s in diagnosis.strengths]
        lines.append("")
    lines += _unscored_section(diagnosis.unscored)
    lines += [
        "---",
        "_Rule-based advice from the metric means (ragas metric definitions); the worst "
        f"{EVIDENCE_SAMPLES} samples per finding are listed, full scores are in scores.csv._",
        "",
    ]
    return "\n".join(lines)


def _means_table(means: dict[str, float | None]) -> list[str]:
    if not means:
        return []
    lines = ["| metric | mean | band |", "|---|---|---|"]
    for name, value in means.items():
        lines.append(f"| {name} | {_fmt(value)} | {_band(value)} |")
    legend = f"Bands: poor < {POOR_BELOW}, weak < {WEAK_BELOW}, ok, strong ≥ {STRONG_AT}."
    return [*lines, "", legend, ""]


def _findings_section(diagnosis: Diagnosis) -> list[str]:
    lines = ["## Findings", ""]
    if not diagnosis.findings:
        reason = (
            "no metric is below the weak band."
            if diagnosis.scored
            else "no metric produced a score (see the metrics that could not score)."
        )
        return [*lines, f"No findings: {reason}", ""]
    for number, finding in enumerate(diagnosis.findings, start=1):
        metrics = ", ".join(f"{m} {_fmt(diagnosis.means.get(m))}" for m in finding.metrics)
        lines += [
            f"### {number}. [{finding.severity}] {finding.title}",
            "",
            f"- **Where:** {COMPONENT_LABELS[finding.component]}",
            f"- **Metrics (mean):** {metrics}",
            "",
            f"**What it usually means.** {finding.meaning}",
            "",
        ]
        if finding.evidence:
            lines += ["**Worst samples**", "", *_evidence_table(finding), ""]
        if finding.next_steps:
            lines += ["**Next steps**", ""]
            lines += [f"{i}. {step}" for i, step in enumerate(finding.next_steps, start=1)]
            lines.append("")
    return lines


def _evidence_table(finding: Finding) -> list[str]:
    metrics = finding.metrics
    lines = [
        "| sample | question | " + " | ".join(metrics) + " |",
        "|---|---|" + "---|" * len(metrics),
    ]
    for item in finding.evidence:
        first = _fmt(item.score) if item.score is not None or not item.note else item.note
        others = [_fmt(item.other_scores.get(m)) for m in metrics[1:]]
        cells = [_cell(item.sample_id), _cell(item.question), first, *others]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _all_good_section(diagnosis: Diagnosis) -> list[str]:
    steps = [
        "Add harder questions: multi-hop ones that need facts from several documents, "
        "questions whose answer is not in the corpus (the system should say so), and "
        "paraphrased or ambiguous phrasings.",
        "Sample real user questions, including recent documents and edge cases.",
    ]
    if diagnosis.sample_count < 20:
        steps.append(
            f"Score more samples: with {diagnosis.sample_count}, the means are indicative only."
        )
    if diagnosis.unscored:
        steps.append("Unlock the metrics that could not score (below) for a fuller picture.")
    return [
        "## All good",
        "",
        f"Every scored metric is at or above {WEAK_BELOW}: nothing in these scores needs "
        "fixing. The test set may be too easy to show the weak spots; make it harder:",
        "",
        *(f"{i}. {step}" for i, step in enumerate(steps, start=1)),
        "",
    ]


def _unscored_section(unscored: list[UnscoredMetric]) -> list[str]:
    if not unscored:
        return []
    lines = ["## Metrics that could not score", ""]
    for entry in unscored:
        lines += [
            f"### {entry.metric}: {entry.status}",
            "",
            f"{entry.reason[:1].upper()}{entry.reason[1:]}.",
        ]
        lines += ["", *(f"- {advice}" for advice in entry.advice)] if entry.advice else []
        lines.append("")
    return lines


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _band(value: float | None) -> str:
    if value is None:
        return "not scored"
    if value < POOR_BELOW:
        return "poor"
    if value < WEAK_BELOW:
        return "weak"
    return "strong" if value >= STRONG_AT else "ok"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


# --- narrative and entry point ----------------------------------------------------------


async def write_narrative(llm: Any, diagnosis: Diagnosis) -> str:
    """A short narrative by the judge LLM (a ragas `InstructorBaseRagasLLM`), as markdown."""
    reply = await llm.agenerate(_narrative_prompt(diagnosis), response_model=AdviceNarrative)
    if not isinstance(reply, AdviceNarrative):
        raise TypeError(f"expected AdviceNarrative, got {type(reply).__name__}")
    summary = reply.summary.strip()
    if not summary:
        raise ValueError("the narrative summary is empty")
    actions = [a.strip() for a in reply.actions if a.strip()]
    return "\n".join([summary, "", *(f"{i}. {a}" for i, a in enumerate(actions, start=1))])


def _narrative_prompt(diagnosis: Diagnosis) -> str:
    facts = diagnosis.model_dump(
        include={"verdict", "means", "weighted_score", "coverage", "findings", "strengths"},
        exclude={"findings": {"__all__": {"next_steps"}}},
    )
    facts["metrics_not_scored"] = {u.metric: u.reason for u in diagnosis.unscored}
    return (
        "You advise the team that runs a retrieval-augmented generation (RAG) system. Below "
        "is a rule-based diagnosis of its ragas evaluation: metric means in [0, 1], findings "
        "with the component at fault and the worst samples. Write for an engineer:\n"
        "- summary: 2-4 plain sentences on the state of the system and the main bottleneck;\n"
        "- actions: at most 5 concrete actions, most important first, one sentence each.\n"
        "Use only the facts given; do not invent metrics, numbers or samples.\n\n"
        f"Diagnosis (JSON):\n{json.dumps(facts, ensure_ascii=False)}"
    )


async def advise(
    run: ScoreRun,
    request: ScoreRequest,
    llm: Any = None,
    *,
    narrative_timeout: float = NARRATIVE_TIMEOUT_SECONDS,
) -> str:
    """The advice markdown; an LLM narrative is added when `llm` is given and it works."""
    try:
        diagnosis = diagnose(run, request)
    except Exception as exc:  # advice must never fail the job
        logger.exception("advice diagnosis failed")
        return (
            "# Optimization advice\n\n"
            f"The advice could not be produced ({type(exc).__name__}); the scores are in "
            "scores.csv and summary.md.\n"
        )
    if llm is None:
        return render_advice(diagnosis)
    try:
        narrative = await asyncio.wait_for(write_narrative(llm, diagnosis), narrative_timeout)
    except Exception as exc:  # the rule-based advice stands without the narrative
        logger.warning(
            "advice narrative failed", extra={"error": f"{type(exc).__name__}: {exc}"[:300]}
        )
        note = (
            f"The narrative could not be written ({type(exc).__name__}); "
            "the rule-based advice below is complete."
        )
        return render_advice(diagnosis, narrative_note=note)
    return render_advice(diagnosis, narrative)
