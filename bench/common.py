"""Shared pieces of the benchmarks: sample sets, timing, and a markdown table printer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")

ROOT = Path(__file__).resolve().parents[1]
SAMPLES_FILE = ROOT / "rag_eval" / "sample_data" / "samples.jsonl"


def samples(count: int, unique: str | None = None) -> list[dict]:
    """`count` samples cycled from the bundled set (English and Chinese), unique ids.

    `unique`: a tag (e.g. a fresh uuid per run) put with the sample's number in front of
    its question, answer, contexts and reference, so that no two samples, nor two runs with
    different tags, send the judge the same prompt: a verdict cache then answers nothing,
    and the pipeline, not the cache, is measured. The texts' sentences stay as many (the
    judge's calls per sample are the same); None: the bundled texts as they are.
    """
    base = [json.loads(line) for line in SAMPLES_FILE.read_text(encoding="utf-8").splitlines()]
    found = []
    for i in range(count):
        sample = dict(base[i % len(base)])
        sample["sample_id"] = f"{sample['sample_id']}-{i:04d}"
        if unique is not None:
            mark = f"[{unique} #{i}] "
            sample["sample_id"] = f"{sample['sample_id']}-{unique}"
            for name in ("question", "answer", "ground_truth"):
                sample[name] = mark + sample[name]
            sample["contexts"] = [mark + context for context in sample["contexts"]]
        found.append(sample)
    return found


@contextmanager
def worktree(revision: str) -> Iterator[Path]:
    """`revision` checked out in a temporary git worktree (to measure side by side)."""
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        other = Path(scratch) / "tree"
        subprocess.run(
            ["git", "worktree", "add", "--detach", "--quiet", str(other), revision],
            cwd=ROOT,
            check=True,
        )
        try:
            yield other
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(other)], cwd=ROOT)


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


class JudgeProcess:
    """The scripted judge in a process of its own, as a real judge would be: its work
    must not compete with the client being measured for this process's GIL.
    `module`: bench.timed_judge to have each call's start and end in stats()["spans"]."""

    def __init__(
        self, latency: float, cap: int | None, module: str = "testkit.scripted_judge"
    ) -> None:
        command = [sys.executable, "-m", module, "--latency", str(latency)]
        if cap:
            command += ["--max-concurrency", str(cap)]
        self._process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        assert self._process.stdout is not None
        self.base_url = self._process.stdout.readline().strip()

    def stats(self) -> dict:
        root = self.base_url.removesuffix("/v1")
        with urllib.request.urlopen(f"{root}/stats", timeout=10) as response:
            return json.load(response)

    def __enter__(self) -> JudgeProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self._process.terminate()
        self._process.wait(timeout=10)
