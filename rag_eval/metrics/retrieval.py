"""Metrics of the retriever: are the needed facts retrieved, and ranked first?"""

from __future__ import annotations

from rag_eval.metrics.spec import JudgeLoad, MetricGuide, MetricSpec

RECALL_STEPS = (
    "Raise top-k (and rerank afterwards to keep the prompt short).",
    "Revisit chunking: chunk size and overlap; keep tables, lists and sections intact.",
    "Use hybrid search (BM25 keywords + dense vectors) so exact names, codes and numbers "
    "are found.",
    "Try a stronger or domain- / language-specific embedding model; add query rewriting or "
    "multi-query expansion.",
    "Confirm the facts are in the indexed documents at all: a reference answer drawn from "
    "outside the corpus cannot be recalled.",
)
RANKING_STEPS = (
    "Add a reranker (a cross-encoder such as bge-reranker or Cohere Rerank) after the "
    "first-stage search.",
    "Pass fewer chunks to the generator (lower top-k after reranking) and use shorter, more "
    "focused chunks.",
    "Filter by metadata (product, version, date) before ranking; drop chunks below a "
    "similarity threshold.",
)

CONTEXT_PRECISION = MetricSpec(
    "context_precision",
    "ContextPrecision",
    ("question", "contexts", "ground_truth"),
    needs_judge=True,
    needs_embeddings=False,
    description="Whether the useful contexts are ranked above the useless ones.",
    guide=MetricGuide(
        "retriever",
        "Useful chunks are ranked below useless ones",
        "ragas context_precision asks, chunk by chunk in rank order, whether each retrieved "
        "chunk helps reach the reference answer, and rewards useful chunks near the top. A "
        "low score means the useful chunks are buried under noise, or missing.",
        "useful chunks are ranked at the top",
        RANKING_STEPS,
    ),
    chain=1,
    chain_per_context=True,
    # Requests and tokens per sample (bench/estimate.py --fit).
    load=JudgeLoad(calls_per_context=1, prompt_tokens=1185, text_weight=1.01, output_tokens=26),
)

CONTEXT_RECALL = MetricSpec(
    "context_recall",
    "ContextRecall",
    ("question", "contexts", "ground_truth"),
    needs_judge=True,
    needs_embeddings=False,
    description="Share of the reference answer's claims found in the retrieved contexts.",
    guide=MetricGuide(
        "retriever",
        "The retriever misses facts the answers need",
        "ragas context_recall splits the reference answer (ground_truth) into claims and "
        "checks whether each can be attributed to the retrieved contexts. A low score means "
        "the facts needed for a correct answer were not retrieved.",
        "the retrieved contexts hold the facts of the reference answers",
        RECALL_STEPS,
    ),
    chain=1,
    # Requests and tokens per sample (bench/estimate.py --fit).
    load=JudgeLoad(
        calls=1, prompt_tokens=1809, text_weight=1.0, output_tokens=78, output_weight=0.1
    ),
)

SPECS = (CONTEXT_PRECISION, CONTEXT_RECALL)
