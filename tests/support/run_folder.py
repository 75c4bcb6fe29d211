"""What the tests expect of a run folder, written once (not the product's own constant, so
that a file the product stops writing fails them)."""

from __future__ import annotations

RUN_FILES = frozenset(
    {
        "report.html",
        "summary.md",
        "optimization_advice.md",
        "scores.csv",
        "explanations.jsonl",
        "metadata.json",
        "request.json",
        "label-samples.jsonl",
        "label-queue.json",
    }
)
