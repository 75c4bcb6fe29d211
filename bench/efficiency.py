"""How close scoring comes to the judge's limit: (a) local stack, (b) rag-eval score, (c) ragas.

A loopback scripted judge answers every call after a fixed latency and refuses more than
C calls in flight (429), like a provider's concurrency quota. The ideal time is
judge calls x latency / C; efficiency = ideal / actual.

    .venv/bin/python -m bench.efficiency --sizes 1 20 200 --latency 0.2 --cap 8
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

from bench.common import SEED_METRICS, JudgeProcess, samples, stopwatch, table


def _settings(judge: JudgeProcess, cap: int):
    from rag_eval.settings import Settings

    return Settings(
        openai_base_url=judge.base_url,
        openai_api_key="bench",
        max_concurrency=cap,
        metric_timeout_seconds=600,
        max_retries=0,  # a 429 from the cap would show up as a failure, not hide as a retry
    )


def in_process(size: int, latency: float, cap: int) -> dict:
    """(b) what `rag-eval score` runs: the scoring pipeline, run folder and advice included."""
    from rag_eval.jobs import new_job
    from rag_eval.models import ScoreRequest
    from rag_eval.pipeline import ScoringPipeline
    from rag_eval.storage import LocalObjectStore

    with JudgeProcess(latency, cap) as judge:
        settings = _settings(judge, cap)
        request = ScoreRequest.model_validate({"samples": samples(size), "metrics": SEED_METRICS})
        with tempfile.TemporaryDirectory() as folder:
            pipeline = ScoringPipeline(settings, LocalObjectStore(Path(folder)))
            job = new_job(request, settings)
            with stopwatch() as clock:
                done = asyncio.run(pipeline.arun(job, request))
        failures = sum(sum(c.values()) for c in done.metric_failures.values())
        return _result(judge, clock["seconds"], latency, cap, failures)


def ragas_direct(size: int, latency: float, cap: int) -> dict:
    """(c) ragas' collections metrics with asyncio.gather under the same cap."""
    from openai import AsyncOpenAI
    from ragas.embeddings import OpenAIEmbeddings
    from ragas.llms import llm_factory
    from ragas.metrics.collections import (
        AnswerRelevancy,
        ContextPrecision,
        ContextRecall,
        Faithfulness,
    )

    async def score(base_url: str) -> int:
        client = AsyncOpenAI(base_url=base_url, api_key="bench", max_retries=0)
        llm = llm_factory("gpt-4o-mini", client=client)
        metrics = [
            (Faithfulness(llm=llm), ("user_input", "response", "retrieved_contexts")),
            (
                AnswerRelevancy(llm=llm, embeddings=OpenAIEmbeddings(client=client)),
                ("user_input", "response"),
            ),
            (ContextPrecision(llm=llm), ("user_input", "reference", "retrieved_contexts")),
            (ContextRecall(llm=llm), ("user_input", "retrieved_contexts", "reference")),
        ]
        semaphore = asyncio.Semaphore(cap)

        async def one(metric, arguments) -> bool:
            async with semaphore:
                try:
                    await metric.ascore(**arguments)
                    return True
                except Exception:
                    return False

        jobs = []
        for sample in samples(size):
            values = {
                "user_input": sample["question"],
                "response": sample["answer"],
                "retrieved_contexts": sample["contexts"],
                "reference": sample["ground_truth"],
            }
            for metric, names in metrics:
                jobs.append(one(metric, {name: values[name] for name in names}))
        results = await asyncio.gather(*jobs)
        await client.close()
        return results.count(False)

    with JudgeProcess(latency, cap) as judge:
        with stopwatch() as clock:
            failures = asyncio.run(score(judge.base_url))
        return _result(judge, clock["seconds"], latency, cap, failures)


def _result(judge: JudgeProcess, seconds: float, latency: float, cap: int, failures: int):
    stats = judge.stats()
    ideal = stats["total_calls"] * latency / cap
    # The loopback judge takes a few ms beyond its sleep (parsing, loopback HTTP); the
    # ideal over its measured service time isolates what the client side loses.
    served = stats["busy_seconds"] / cap
    return {
        "seconds": seconds,
        "calls": stats["total_calls"],
        "ideal": ideal,
        "efficiency": ideal / seconds,
        "served_ideal": served,
        "served_efficiency": served / seconds,
        "max_in_flight": stats["max_in_flight"],
        "rejected": stats["concurrency_rejections"],
        "failures": failures,
    }


MODES = {"rag-eval score (in-process)": in_process, "ragas direct (gather)": ragas_direct}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 20, 200])
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--cap", type=int, default=8)
    parser.add_argument("--modes", nargs="+", default=list(MODES))
    args = parser.parse_args(argv)
    # And warm each mode once (first client, first prompt): a one-off cost, not throughput.
    for mode in args.modes:
        MODES[mode](1, 0.0, args.cap)
    rows = []
    for size in args.sizes:
        for mode in args.modes:
            r = MODES[mode](size, args.latency, args.cap)
            rows.append(
                [
                    mode,
                    size,
                    r["calls"],
                    r["ideal"],
                    r["seconds"],
                    r["efficiency"],
                    r["served_ideal"],
                    r["served_efficiency"],
                    r["max_in_flight"],
                    r["rejected"],
                    r["failures"],
                ]
            )
            print(table(HEADER, rows[-1:]).splitlines()[-1], flush=True)
    print()
    print(f"latency {args.latency} s per judge call, cap C = {args.cap} calls in flight")
    print(table(HEADER, rows))


HEADER = [
    "mode",
    "N",
    "judge calls",
    "ideal s",
    "actual s",
    "efficiency",
    "ideal s (served)",
    "efficiency (served)",
    "max in flight",
    "429s",
    "failed metrics",
]

if __name__ == "__main__":
    main()
