"""A job's `request_summary`: what a person reads of its request at a glance, without its
samples (the first one's texts cut to 80 characters)."""

from __future__ import annotations

from typing import Any, Protocol

from rag_eval.domain.sample import Sample


class _Options(Protocol):
    """What it reads of a job's options (`ScoreOptions`, whose module calls this one)."""

    metrics: list[str]
    judges: list[str] | None

    def needs_judge(self) -> bool: ...

    def needs_embeddings(self) -> bool: ...


def request_summary(
    options: _Options,
    judge_model: str,
    embedding_model: str,
    first: Sample | None,
    inputs_present: set[str],
    sample_count: int,
) -> dict[str, Any]:
    """The request_summary: the first sample's texts cut to 80 chars, what the samples
    carry, and the judge (a jury: named "a + b + c", listed in `judges`)."""
    jury = list(options.judges or []) if options.needs_judge() else []
    return {
        "question": first.question[:80] if first else "",
        "answer": ((first.answer or "") if first else "")[:80],
        "metrics": list(options.metrics),
        "judge_model": (" + ".join(jury) or judge_model) if options.needs_judge() else "",
        "judges": jury,
        "embedding_model": embedding_model if options.needs_embeddings() else "",
        "has_contexts": "contexts" in inputs_present,
        "has_ground_truth": "ground_truth" in inputs_present,
        "sample_count": sample_count,
    }
