"""The rules: each reads the metric means the way ragas defines the metrics, names the
component at fault, and says what to do next.

Combination rules come first because two metrics together locate a problem that neither
does alone (good recall but poor faithfulness is the generator's fault; poor recall with
good faithfulness is the retriever's).

Means are compared on 0..1 with 1 the best (`RunView.mean`: a rubric's 4 of 5 is ok, a
noise_sensitivity of 0.1 good) and said on their own scale (`RunView.shown`).
"""

from __future__ import annotations

from collections.abc import Iterable

from rag_eval.advice.findings import Finding
from rag_eval.advice.guides import (
    FAILURE_ADVICE,
    JUDGE_CODES,
    JUDGE_FAILURE_SHARE,
    OVERLAP_METRICS,
    POOR_BELOW,
)
from rag_eval.advice.view import RunView, severity
from rag_eval.metrics import REFERENCE_METRICS, REGISTRY
from rag_eval.metrics.generation import GROUNDING_STEPS
from rag_eval.metrics.overlap import WHITESPACE_TOKENISED
from rag_eval.metrics.retrieval import RANKING_STEPS, RECALL_STEPS
from rag_eval.metrics.spec import MetricGuide


def guide(metric: str) -> MetricGuide:
    return REGISTRY[metric].guide


def combination_findings(view: RunView) -> Iterable[Finding]:
    # Compared on 0..1 (view.low / view.good), said on each metric's own scale.
    recall, faith = view.shown("context_recall"), view.shown("faithfulness")
    if view.good("context_recall") and view.low("faithfulness"):
        yield Finding(
            rule="generator_ignores_context",
            title="The generator ignores good context",
            metrics=["faithfulness", "context_recall"],
            severity=severity(view.mean("faithfulness")),
            component="generator",
            meaning=(
                f"context_recall is {recall}: the retrieved contexts hold the facts of the "
                f"reference answers. Yet faithfulness is {faith}: the answers make claims "
                "those contexts do not support. The retriever did its job; the generator adds "
                "its own knowledge or misreads the contexts."
            ),
            next_steps=list(GROUNDING_STEPS),
        )
    if view.low("context_recall") and view.good("faithfulness"):
        yield Finding(
            rule="retriever_bottleneck",
            title="The retriever is the bottleneck",
            metrics=["context_recall", "faithfulness"],
            severity=severity(view.mean("context_recall")),
            component="retriever",
            meaning=(
                f"faithfulness is {faith}: the generator sticks to what it is given. But "
                f"context_recall is {recall}: the contexts lack facts the reference answers "
                "need, so the answers are grounded but incomplete. Prompt changes will not fix "
                "this; retrieval changes will."
            ),
            next_steps=list(RECALL_STEPS),
        )
    if view.low("context_recall") and view.low("faithfulness"):
        worst = view.lowest_first(["context_recall", "faithfulness"])[0]
        yield Finding(
            rule="gaps_filled_from_memory",
            title="Missing context, filled in from the model's memory",
            metrics=["context_recall", "faithfulness"],
            severity=severity(view.mean(worst)),
            component="retriever",
            meaning=(
                f"context_recall is {recall}: the contexts lack facts the reference answers "
                f"need; faithfulness is {faith}: the answers state things the contexts do "
                "not support. The likely chain: the retriever misses facts and the generator "
                "fills the gaps from its own memory. Fix retrieval first, then grounding."
            ),
            next_steps=[*RECALL_STEPS[:3], GROUNDING_STEPS[0]],
        )
    precision = view.shown("context_precision")
    if view.low("context_precision") and view.good("context_recall"):
        yield Finding(
            rule="noisy_ranking",
            title="Good recall, noisy ranking",
            metrics=["context_precision", "context_recall"],
            severity=severity(view.mean("context_precision")),
            component="retriever",
            meaning=(
                f"context_recall is {recall}: the needed facts are retrieved. But "
                f"context_precision is {precision}: irrelevant chunks are ranked above "
                "them, which spends prompt space and distracts the generator."
            ),
            next_steps=list(RANKING_STEPS),
        )
    # semantic_similarity alone is too coarse to call the facts wrong; it only joins in.
    wrong = view.lowest_first(m for m in REFERENCE_METRICS[:2] if view.low(m))
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
            severity=severity(view.mean(correctness)),
            component="reference data",
            meaning=(
                f"faithfulness is {faith}: the answers follow the retrieved contexts. Yet "
                f"{correctness} is {view.shown(correctness)}: they disagree with the "
                "reference answers. So the contexts themselves carry wrong, outdated or "
                "conflicting information (old document versions next to new ones), or the "
                "reference answers are out of date."
            ),
            next_steps=steps,
        )


# The metrics a rule of its own reads; every other low metric gets its guide's finding.
_CLASSIC = ("faithfulness", "answer_relevancy", "context_precision", "context_recall")


def single_findings(view: RunView, explained: set[str]) -> list[Finding]:
    findings: list[Finding] = []
    for name in _CLASSIC:
        if name in explained or not view.low(name):
            continue
        metric_guide = guide(name)
        meaning = metric_guide.meaning
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
                title=metric_guide.title,
                metrics=[name],
                severity=severity(view.mean(name)),
                component=metric_guide.component,
                meaning=meaning,
                next_steps=list(metric_guide.next_steps),
            )
        )
    reference_low = [m for m in REFERENCE_METRICS if m not in explained and view.low(m)]
    if reference_low:
        findings.append(_reference_finding(view, reference_low))
    findings += _overlap_findings(view)
    findings += _guided_findings(view, explained)
    return findings


def _guided_findings(view: RunView, explained: set[str]) -> list[Finding]:
    """A low metric no rule above reads (a rubric, noise_sensitivity, a job's own metric):
    its guide's finding, one a title (metrics that share a guide share a finding)."""
    ruled = {*_CLASSIC, *REFERENCE_METRICS, *OVERLAP_METRICS, *explained}
    by_title: dict[str, list[str]] = {}
    guides: dict[str, MetricGuide] = {}
    for name in view.lowest_first(m for m in view.run.metrics if m not in ruled):
        metric_guide = view.guide(name)
        if metric_guide is None or not view.low(name):
            continue  # a metric with no guide is shown in the means, not explained
        by_title.setdefault(metric_guide.title, []).append(name)
        guides.setdefault(metric_guide.title, metric_guide)
    return [
        Finding(
            rule=f"low_{metrics[0]}",
            title=title,
            metrics=metrics,
            severity=severity(view.mean(metrics[0])),
            component=guides[title].component,
            meaning=guides[title].meaning,
            next_steps=list(guides[title].next_steps),
        )
        for title, metrics in by_title.items()
    ]


def _reference_finding(view: RunView, low: list[str]) -> Finding:
    worst = view.lowest_first(low)[0]
    meaning = " ".join(guide(m).meaning for m in low)
    meaning += (
        " Low scores mean the answers miss reference facts, state different ones, or add "
        "claims the reference lacks."
    )
    if view.low("context_recall"):
        meaning += " context_recall is low too, so missing retrieval is the likely first cause."
    return Finding(
        rule="answers_disagree_with_reference",
        title=guide(worst).title,
        metrics=[worst, *(m for m in low if m != worst)],
        severity=severity(view.mean(worst)),
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


def _overlap_findings(view: RunView) -> list[Finding]:
    low = [m for m in OVERLAP_METRICS if view.low(m)]
    findings: list[Finding] = []
    if view.unspaced_text_share() >= 0.5 and any(m in low for m in WHITESPACE_TOKENISED):
        tokenised = [m for m in low if m in WHITESPACE_TOKENISED]
        low = [m for m in low if m not in WHITESPACE_TOKENISED]
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
    worst = view.lowest_first(low)[0]
    limits = " ".join(guide(m).meaning for m in low)
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
            title=guide(worst).title,
            metrics=[worst, *(m for m in low if m != worst)],
            severity=severity(view.mean(worst)),
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


def judge_findings(view: RunView) -> list[Finding]:
    total = len(view.run.results)
    if not total:
        return []
    shares: dict[str, float] = {}
    codes: set[str] = set()
    for metric, counts in view.run.failures.items():
        failed = {c: n for c, n in counts.items() if c in JUDGE_CODES}
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
