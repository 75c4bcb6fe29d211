"""The metric registry: our metric names -> everything about each metric (`MetricSpec`).

One module per family holds its metrics whole (ragas class, inputs, needs, chain, guide);
adding a metric is a spec in its family's module, or a new module and one line here.
"""

from __future__ import annotations

from types import MappingProxyType

from rag_eval.metrics import agents, generation, overlap, reference, retrieval, rubrics
from rag_eval.metrics.spec import MetricSpec

_SPECS: tuple[MetricSpec, ...] = (
    *generation.SPECS,
    *retrieval.SPECS,
    *reference.SPECS,
    *rubrics.SPECS,
    *overlap.SPECS,
    *agents.SPECS,
)

REGISTRY: MappingProxyType[str, MetricSpec] = MappingProxyType({s.name: s for s in _SPECS})

# The default set: the four classic RAG metrics.
DEFAULT_METRICS: tuple[str, ...] = (
    "faithfulness",
    "answer_relevancy",
    "context_precision",
    "context_recall",
)
# The model-free metrics of single-turn samples (the demo's and `rag-eval score`'s).
MODEL_FREE_METRICS: tuple[str, ...] = tuple(
    s.name for s in _SPECS if s.model_free and s.turns == "single"
)
# The metrics of conversations (ragas' MultiTurnSample): the agent's tool calls, goal,
# topics and rubrics.
CONVERSATION_METRIC_NAMES: tuple[str, ...] = agents.CONVERSATION_METRIC_NAMES
# Meaning-level comparisons with the reference answer (judge or embeddings).
REFERENCE_METRICS: tuple[str, ...] = tuple(s.name for s in reference.SPECS)
