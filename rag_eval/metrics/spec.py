"""What one metric is: its ragas class, inputs, needs, judge-call chain and advisor guide.

Light on purpose (the API lists and validates metrics with it): ragas is imported only
when a metric is built for scoring.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
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
        "rubrics": "rubrics",
        # A conversation's (ragas' MultiTurnSample names them as we do).
        "user_input": "user_input",
        "reference_tool_calls": "reference_tool_calls",
        "reference_topics": "reference_topics",
    }
)

# What a metric scores: a single-turn sample (question, answer, contexts, reference) or a
# conversation (user_input messages). A job holds one kind, and asks metrics of its kind.
Turns = Literal["single", "multi"]

# The part of a RAG system a finding blames ("agent": its tool use and conversation flow).
Component = Literal["retriever", "generator", "reference data", "judge", "agent"]


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
class Scale:
    """The values a metric gives, as ragas gives them, and which way is better."""

    low: float = 0.0
    high: float = 1.0
    higher_is_better: bool = True

    def clamp(self, value: float) -> float:
        return min(self.high, max(self.low, value))

    def normalise(self, value: float) -> float:
        """The value on 0..1 with 1 the best: what the weighted score, the advisor's bands
        and the report's colours read, so metrics of other scales sit side by side."""
        share = (value - self.low) / (self.high - self.low) if self.high > self.low else 1.0
        return share if self.higher_is_better else 1.0 - share

    def describe(self) -> dict[str, Any]:
        return {"low": self.low, "high": self.high, "higher_is_better": self.higher_is_better}

    @property
    def note(self) -> str:
        """What a column of bare values of this scale needs said in its header ("" for 0..1
        higher better): "1–5", "lower is better"."""
        span = "" if (self.low, self.high) == (0.0, 1.0) else f"{self.low:g}–{self.high:g}"
        direction = "" if self.higher_is_better else "lower is better"
        return ", ".join(part for part in (span, direction) if part)


UNIT = Scale()


@dataclass(frozen=True)
class Reading:
    """What a metric's ragas result says: the score, a category where the metric answers
    one (a custom discrete metric), the judge's reason, or why it is not a score."""

    score: float | None
    category: str | None = None
    reason: str | None = None
    problem: str | None = None  # the judge's answer is off the metric's scale


@dataclass(frozen=True)
class MetricSpec:
    name: str
    ragas_class: str  # a class of ragas.metrics.collections
    inputs: tuple[str, ...]  # sample fields the metric reads, all required
    needs_judge: bool
    needs_embeddings: bool
    description: str  # one line, for `GET /metrics`, `rag-eval metrics` and the README
    guide: MetricGuide
    # Judge calls ragas makes one after another for one sample: `chain`, plus
    # `chain_per_context` for each retrieved context. The scorer starts the longest first.
    chain: int = 0
    chain_per_context: int = 0
    # Builds the class to use instead of ragas' own (same prompts and formula, faster).
    custom_class: Callable[[], type[BaseMetric]] | None = None
    # Keyword arguments of the ragas class besides the judge (a mode, a rubric).
    ragas_options: Mapping[str, Any] = MappingProxyType({})
    # ragas' ascore() calls the blocking embed_text(): the scorer runs it in a thread.
    blocking_embeddings: bool = False
    load: JudgeLoad = JudgeLoad()
    scale: Scale = UNIT
    # A metric a job defines (rag_eval/metrics/custom.py): its definition, as the job
    # gave it, and a digest of it that keys its cached verdicts and its comparisons.
    definition: Mapping[str, Any] | None = None
    fingerprint: str = ""
    # A metric of another kind than ragas' collections: builds it, and reads its result.
    builder: Callable[[Any], Any] | None = None
    reader: Callable[[Any], Reading] | None = None
    turns: Turns = "single"

    @property
    def model_free(self) -> bool:
        return not (self.needs_judge or self.needs_embeddings)

    @property
    def key(self) -> str:
        """What the verdict cache and compare know the metric by: its name, and for a
        metric a job defines, the digest of its definition (an edit is another metric)."""
        return f"{self.name}@{self.fingerprint}" if self.fingerprint else self.name

    def build(self, llm: Any = None, embeddings: Any = None) -> Any:
        """The ragas metric object, ready for `await metric.ascore(**arguments)`."""
        if self.builder is not None:
            return self.builder(llm)
        from ragas.metrics import collections

        kwargs: dict[str, Any] = dict(self.ragas_options)
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
        if self.builder is not None:  # a job's own metric names its inputs as we do
            return {name: values[name] for name in self.inputs}
        return {RAGAS_ARGUMENT[name]: values[name] for name in self.inputs}

    def read(self, result: Any) -> Reading:
        """ragas' MetricResult as a score on this metric's scale."""
        if self.reader is not None:
            return self.reader(result)
        reason = getattr(result, "reason", None) or None
        score = _number(result.value)
        # ragas checks no range (a rubric's judge may answer 7): a value off the scale is the
        # judge's error, not a score to clamp into a true-looking one.
        if score is not None and not self.scale.low - 1e-9 <= score <= self.scale.high + 1e-9:
            scale = self.scale
            return Reading(
                None, problem=f"the judge answered {score:g}, outside {scale.low:g}..{scale.high:g}"
            )
        return Reading(score=score, reason=reason)

    def chain_length(self, contexts: list[str] | None) -> int:
        return self.chain + self.chain_per_context * len(contexts or ())

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "inputs": list(self.inputs),
            "needs_judge": self.needs_judge,
            "needs_embeddings": self.needs_embeddings,
            "scale": self.scale.describe(),
            "turns": self.turns,
        }


def _number(value: Any) -> float | None:
    """A finite number, or None for NaN and non-numbers (ragas' "could not score")."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number
