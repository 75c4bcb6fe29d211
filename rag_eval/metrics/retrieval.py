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
    chain_per_context=1,
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

_USEFUL_RANKING = (
    "ragas {name} asks, chunk by chunk in rank order, whether each retrieved chunk was "
    "useful to reach the answer given (not the reference: no reference is needed), and "
    "rewards useful chunks near the top. A low score means the answer rests on few of the "
    "chunks, or on chunks ranked low."
)


def _without_reference(name: str, ragas_class: str, description: str) -> MetricSpec:
    return MetricSpec(
        name,
        ragas_class,
        ("question", "answer", "contexts"),
        needs_judge=True,
        needs_embeddings=False,
        description=description,
        guide=MetricGuide(
            "retriever",
            "The answers use few of the retrieved chunks, or chunks ranked low",
            _USEFUL_RANKING.format(name=name),
            "the chunks the answers use are ranked at the top",
            RANKING_STEPS,
        ),
        chain_per_context=1,
        # Requests and tokens per sample (bench/estimate.py --fit).
        load=JudgeLoad(calls_per_context=1, prompt_tokens=1185, text_weight=1.0, output_tokens=26),
    )


CONTEXT_PRECISION_WITHOUT_REFERENCE = _without_reference(
    "context_precision_without_reference",
    "ContextPrecisionWithoutReference",
    "Whether the contexts the answer used are ranked above the others (no reference).",
)
CONTEXT_UTILIZATION = _without_reference(
    "context_utilization",
    "ContextUtilization",
    "ragas' other name for context precision without reference: the answer's contexts first.",
)

CONTEXT_ENTITY_RECALL = MetricSpec(
    "context_entity_recall",
    "ContextEntityRecall",
    ("contexts", "ground_truth"),
    needs_judge=True,
    needs_embeddings=False,
    description="Share of the reference answer's entities (names, dates, places) in the contexts.",
    guide=MetricGuide(
        "retriever",
        "The retriever misses names, numbers and dates the answers need",
        "ragas context_entity_recall has the judge list the entities of the reference answer "
        "and of the retrieved contexts, and scores the share of the reference's found in the "
        "contexts. A low score means the chunks that hold the specific names, figures or "
        "dates were not retrieved.",
        "the contexts hold the entities of the reference answers",
        RECALL_STEPS,
    ),
    chain=2,  # the reference's entities, then the contexts'
    # Requests and tokens per sample (bench/estimate.py --fit).
    load=JudgeLoad(
        calls=2, prompt_tokens=748, text_weight=1.0, output_tokens=20, output_weight=0.56
    ),
)

CONTEXT_RELEVANCE = MetricSpec(
    "context_relevance",
    "ContextRelevance",
    ("question", "contexts"),
    needs_judge=True,
    needs_embeddings=False,
    description="How relevant the retrieved contexts are to the question (two judge ratings).",
    guide=MetricGuide(
        "retriever",
        "The retrieved chunks are off the question",
        "ragas context_relevance has the judge rate, twice with two different prompts, "
        "whether the retrieved contexts are relevant to the question (0, 1 or 2) and averages "
        "the ratings on 0..1. A low score means the retriever returns chunks about something "
        "else: a query, embedding or index problem.",
        "the retrieved chunks are on the question",
        RECALL_STEPS,
    ),
    # Two judge prompts, one after the other; ragas asks each again (up to 5 times in all)
    # only when its rating is off the scale or the request fails.
    chain=2,
    # Requests and tokens per sample (bench/estimate.py --fit): both prompts carry the texts.
    load=JudgeLoad(calls=2, prompt_tokens=625, text_weight=2.01, output_tokens=4),
)

SPECS = (
    CONTEXT_PRECISION,
    CONTEXT_RECALL,
    CONTEXT_PRECISION_WITHOUT_REFERENCE,
    CONTEXT_UTILIZATION,
    CONTEXT_ENTITY_RECALL,
    CONTEXT_RELEVANCE,
)
