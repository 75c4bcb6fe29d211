"""What the tests expect of a run folder, written once (not the product's own constant, so
that a file the product stops writing fails them)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from rag_eval.adapters.local_files import LocalObjectStore
from rag_eval.app.pipeline import ScoringPipeline
from rag_eval.domain.job import new_job
from rag_eval.domain.request import ScoreRequest, parse_request
from rag_eval.domain.settings import Settings

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


def report_on_disk(body: dict[str, Any], settings: Settings, root: Path) -> Path:
    """The report.html of a job of `body` scored in-process into a run folder under `root`
    (the pages' browser tests open it from disk)."""
    request = parse_request(body)
    assert isinstance(request, ScoreRequest)
    pipeline = ScoringPipeline(settings, LocalObjectStore(root))
    job = asyncio.run(pipeline.arun(new_job(request, settings), request))
    assert job.status == "completed", job.error
    return root / job.artifact_keys["report.html"]
