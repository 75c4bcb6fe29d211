"""What one metric is: its ragas class, inputs, needs, judge-call chain and advisor guide.

Light on purpose (the API lists and validates metrics with it): ragas is imported only
when a metric is built for scoring.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from ragas.metrics.collections.base import BaseMetric

# Our sample fields, and the ragas argument each one feeds.
RAGAS_ARGUMENT = MappingProxyType(
    {
        "question": "user_input",
        "answer": "response",
        "contexts": "retrieved_contexts",
        "ground_truth": "reference",
    }
)

# The part of a RAG system a finding blames.
Component = Literal["retriever", "generator", "reference data", "judge"]


@dataclass(frozen=True)
class MetricGuide:
    """How the advisor reads the metric (true to how ragas computes it)."""

    component: Component
    title: str  # a finding's title when this metric alone is low
    meaning: str  # what a low score means
    strength: str  # what a high score says, for the strengths list
    next_steps: tuple[str, ...] = ()


@dataclass(frozen=True)
class JudgeLoad:
    """What scoring one sample asks of the judge, on average: requests and tokens, for the
    dry run's estimate. Fitted with the scripted judge, whose token counts follow OpenAI's
    rule of thumb (bench/estimate.py prints the fit and its error)."""

    calls: float = 0.0  # chat requests per sample
    calls_per_context: float = 0.0  # more chat requests for each retrieved context
    embedding_calls: float = 0.0  # embedding requests per sample
    embedding_weight: float = 0.0  # embedded tokens per token of the texts read
    prompt_tokens: float = 0.0  # input tokens per chat request besides the sample's texts
    text_weight: float = 0.0  # input tokens per token of the sample's texts the metric reads
    output_tokens: float = 0.0  # output tokens per chat request
    output_weight: float = 0.0  # more output tokens per token of the texts read


@dataclass(frozen=True)
class MetricSpec:
    name: str
    ragas_class: str  # a class of ragas.metrics.collections
    inputs: tuple[str, ...]  # sample fields the metric reads, all required
    needs_judge: bool
    needs_embeddings: bool
    description: str  # one line, for `GET /metrics`, `rag-eval metrics` and the README
    guide: MetricGuide
    # Judge calls ragas makes one after another for one sample (per context where the
    # metric judges each context): the scorer starts the longest chains first.
    chain: int = 0
    chain_per_context: bool = False
    # Builds the class to use instead of ragas' own (same prompts and formula, faster).
    custom_class: Callable[[], type[BaseMetric]] | None = None
    # ragas' ascore() calls the blocking embed_text(): the scorer runs it in a thread.
    blocking_embeddings: bool = False
    load: JudgeLoad = JudgeLoad()

    @property
    def model_free(self) -> bool:
        return not (self.needs_judge or self.needs_embeddings)

    def build(self, llm: Any = None, embeddings: Any = None) -> BaseMetric:
        """The ragas metric object, ready for `await metric.ascore(**arguments)`."""
        from ragas.metrics import collections

        kwargs: dict[str, Any] = {}
        if self.needs_judge:
            kwargs["llm"] = llm
        if self.needs_embeddings:
            kwargs["embeddings"] = embeddings
        cls: type[BaseMetric] = (
            self.custom_class() if self.custom_class else getattr(collections, self.ragas_class)
        )
        metric = cls(**kwargs)
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
