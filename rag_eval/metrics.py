"""The metric registry: our metric names -> the ragas metric that computes each.

Light on purpose (the API lists metrics from it): ragas is imported only when a
metric is built for scoring.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from types import MappingProxyType
from typing import Any

# Our sample fields, and the ragas argument each one feeds.
RAGAS_ARGUMENT = MappingProxyType(
    {
        "question": "user_input",
        "answer": "response",
        "contexts": "retrieved_contexts",
        "ground_truth": "reference",
    }
)


@dataclass(frozen=True)
class MetricSpec:
    name: str
    ragas_class: str  # a class of ragas.metrics.collections
    inputs: tuple[str, ...]  # sample fields the metric reads, all required
    needs_judge: bool
    needs_embeddings: bool
    description: str
    # Judge calls ragas makes one after another for one sample (per context where the
    # metric judges each context): the scorer starts the longest chains first.
    chain: int = 0
    chain_per_context: bool = False

    @property
    def model_free(self) -> bool:
        return not (self.needs_judge or self.needs_embeddings)

    def build(self, llm: Any = None, embeddings: Any = None) -> Any:
        """The ragas metric object, ready for `await metric.ascore(**arguments)`."""
        from ragas.metrics import collections

        kwargs: dict[str, Any] = {}
        if self.needs_judge:
            kwargs["llm"] = llm
        if self.needs_embeddings:
            kwargs["embeddings"] = embeddings
        if self.ragas_class == "AnswerRelevancy":
            metric = _concurrent_answer_relevancy()(**kwargs)
        else:
            metric = getattr(collections, self.ragas_class)(**kwargs)
        # Set after construction: some classes (ContextPrecision) fix their own name and
        # refuse a `name` argument.
        metric.name = self.name
        return metric

    def arguments(self, values: dict[str, Any]) -> dict[str, Any]:
        """Map a sample's fields to this metric's ragas keyword arguments."""
        return {RAGAS_ARGUMENT[name]: values[name] for name in self.inputs}

    def chain_length(self, contexts: list[str] | None) -> int:
        return self.chain * (len(contexts or ()) if self.chain_per_context else 1)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "inputs": list(self.inputs),
            "needs_judge": self.needs_judge,
            "needs_embeddings": self.needs_embeddings,
        }


@cache
def _concurrent_answer_relevancy() -> type:
    """ragas' AnswerRelevancy with its judge calls sent at once rather than one by one.

    ragas 0.4.3 awaits its `strictness` (3) question generations one after another, then
    embeds the user's question, then the generated questions: a chain of 5 judge calls,
    the longest of the seed metrics, which bounds a small job's time. Here the generations
    go out together and the question is embedded in the same request as the generated
    ones: a chain of 2, one call fewer. Same prompts, same formula, same score.
    """
    import asyncio

    import numpy as np
    from ragas.metrics.collections import AnswerRelevancy
    from ragas.metrics.collections.answer_relevancy.util import (
        AnswerRelevanceInput,
        AnswerRelevanceOutput,
    )
    from ragas.metrics.result import MetricResult

    class ConcurrentAnswerRelevancy(AnswerRelevancy):
        async def ascore(self, user_input: str, response: str) -> MetricResult:
            if not user_input:
                raise ValueError("user_input cannot be empty")
            if not response:
                raise ValueError("response cannot be empty")
            prompt = self.prompt.to_string(AnswerRelevanceInput(response=response))
            failure = None
            try:
                async with asyncio.TaskGroup() as group:  # one failure cancels the others
                    tasks = [
                        group.create_task(self.llm.agenerate(prompt, AnswerRelevanceOutput))
                        for _ in range(self.strictness)
                    ]
            except ExceptionGroup as failed:
                failure = failed.exceptions[0]
            if failure is not None:
                # The first failure itself, its causes intact, as ragas' loop raises it
                # (raised outside the except block, its __context__ is left as it was).
                raise failure
            generated = [task.result() for task in tasks if task.result().question]
            if not generated:
                return MetricResult(value=0.0)
            vectors = np.asarray(
                await self.embeddings.aembed_texts([user_input, *(g.question for g in generated)])
            )
            question, questions = vectors[:1], vectors[1:]
            cosine = (questions @ question.T).reshape(-1) / (
                np.linalg.norm(questions, axis=1) * np.linalg.norm(question, axis=1)
            )
            committal = not all(g.noncommittal for g in generated)
            return MetricResult(value=float(cosine.mean() * int(committal)))

    return ConcurrentAnswerRelevancy


_SPECS = (
    MetricSpec(
        "faithfulness",
        "Faithfulness",
        ("question", "answer", "contexts"),
        needs_judge=True,
        needs_embeddings=False,
        description="Share of the answer's claims that the retrieved contexts support.",
        chain=2,
    ),
    MetricSpec(
        "answer_relevancy",
        "AnswerRelevancy",
        ("question", "answer"),
        needs_judge=True,
        needs_embeddings=True,
        description="How directly the answer addresses the question (no evasion, no drift).",
        chain=2,  # 3 generations at once, then 1 embedding call (_concurrent_answer_relevancy)
    ),
    MetricSpec(
        "context_precision",
        "ContextPrecision",
        ("question", "contexts", "ground_truth"),
        needs_judge=True,
        needs_embeddings=False,
        description="Whether the useful contexts are ranked above the useless ones.",
        chain=1,
        chain_per_context=True,
    ),
    MetricSpec(
        "context_recall",
        "ContextRecall",
        ("question", "contexts", "ground_truth"),
        needs_judge=True,
        needs_embeddings=False,
        description="Share of the reference answer's claims found in the retrieved contexts.",
        chain=1,
    ),
    MetricSpec(
        "answer_correctness",
        "AnswerCorrectness",
        ("question", "answer", "ground_truth"),
        needs_judge=True,
        needs_embeddings=True,
        description="Factual overlap with the reference answer, blended with semantic similarity.",
        chain=5,
    ),
    MetricSpec(
        "factual_correctness",
        "FactualCorrectness",
        ("answer", "ground_truth"),
        needs_judge=True,
        needs_embeddings=False,
        description="F1 of the answer's claims against the reference answer's claims.",
        chain=4,
    ),
    MetricSpec(
        "semantic_similarity",
        "SemanticSimilarity",
        ("answer", "ground_truth"),
        needs_judge=False,
        needs_embeddings=True,
        description="Cosine similarity of answer and reference embeddings.",
        chain=2,
    ),
    MetricSpec(
        "bleu_score",
        "BleuScore",
        ("answer", "ground_truth"),
        needs_judge=False,
        needs_embeddings=False,
        description="BLEU n-gram overlap with the reference (whitespace tokens).",
    ),
    MetricSpec(
        "rouge_score",
        "RougeScore",
        ("answer", "ground_truth"),
        needs_judge=False,
        needs_embeddings=False,
        description="ROUGE-L F-measure against the reference (whitespace tokens).",
    ),
    MetricSpec(
        "chrf_score",
        "CHRFScore",
        ("answer", "ground_truth"),
        needs_judge=False,
        needs_embeddings=False,
        description="chrF character n-gram F-score against the reference (works for Chinese).",
    ),
    MetricSpec(
        "exact_match",
        "ExactMatch",
        ("answer", "ground_truth"),
        needs_judge=False,
        needs_embeddings=False,
        description="1 if the answer equals the reference exactly, else 0.",
    ),
    MetricSpec(
        "string_presence",
        "StringPresence",
        ("answer", "ground_truth"),
        needs_judge=False,
        needs_embeddings=False,
        description="1 if the reference string appears in the answer, else 0.",
    ),
    MetricSpec(
        "non_llm_string_similarity",
        "NonLLMStringSimilarity",
        ("answer", "ground_truth"),
        needs_judge=False,
        needs_embeddings=False,
        description="1 - normalised Levenshtein distance between answer and reference.",
    ),
)

REGISTRY: MappingProxyType[str, MetricSpec] = MappingProxyType({s.name: s for s in _SPECS})

# The seed application's default set.
DEFAULT_METRICS: tuple[str, ...] = (
    "faithfulness",
    "answer_relevancy",
    "context_precision",
    "context_recall",
)
MODEL_FREE_METRICS: tuple[str, ...] = tuple(s.name for s in _SPECS if s.model_free)


def get_metric(name: str) -> MetricSpec:
    return REGISTRY[name]
