"""Shared pieces of the benchmarks: sample sets, timing, and a markdown table printer."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")

ROOT = Path(__file__).resolve().parents[1]
SAMPLES_FILE = ROOT / "rag_eval" / "sample_data" / "samples.jsonl"
SEED_METRICS = ["faithfulness", "answer_relevancy", "context_precision", "context_recall"]


def samples(count: int) -> list[dict]:
    """`count` samples cycled from the bundled set (English and Chinese), unique ids."""
    base = [json.loads(line) for line in SAMPLES_FILE.read_text(encoding="utf-8").splitlines()]
    return [
        {**base[i % len(base)], "sample_id": f"{base[i % len(base)]['sample_id']}-{i:04d}"}
        for i in range(count)
    ]


@contextmanager
def stopwatch() -> Iterator[dict]:
    result: dict = {}
    start = time.perf_counter()
    try:
        yield result
    finally:
        result["seconds"] = time.perf_counter() - start


def table(header: list[str], rows: list[list]) -> str:
    def cell(value) -> str:
        return f"{value:.3f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)
