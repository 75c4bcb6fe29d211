"""How close scoring comes to the judge's limit: (a) local stack, (b) rag-eval score, (c) ragas.

A loopback scripted judge answers every call after a fixed latency and refuses more than
C calls in flight (429), like a provider's concurrency quota. The ideal time is
judge calls x latency / C; efficiency = ideal / actual.

    .venv/bin/python -m bench.efficiency --sizes 1 20 200 --latency 0.2 --cap 8

(a) runs one LocalStack (moto, the API front and the worker's poller, in this process) for
every size: a judge process is started for each run on one fixed port, the stack's
OPENAI_BASE_URL. The worker is warmed once (a one-sample job, not timed), so its first
import of ragas is not counted; the time is submit -> the client sees `completed`.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import ROOT, JudgeProcess, samples, stopwatch, table
from rag_eval.metrics import DEFAULT_METRICS

POLL_SECONDS = 0.05  # how often (a) asks the API for the job: its timing granularity


def _settings(judge: JudgeProcess, cap: int):
    from rag_eval.domain.settings import Settings

    return Settings(
        openai_base_url=judge.base_url,
        openai_api_key="bench",
        max_concurrency=cap,
        metric_timeout_seconds=600,
        max_retries=0,  # a 429 from the cap would show up as a failure, not hide as a retry
    )


def in_process(size: int, latency: float, cap: int) -> dict:
    """(b) what `rag-eval score` runs: the scoring pipeline, run folder and advice included."""
    from rag_eval.adapters.local_files import LocalObjectStore
    from rag_eval.app.pipeline import ScoringPipeline
    from rag_eval.domain.job import new_job
    from rag_eval.domain.request import ScoreRequest

    with JudgeProcess(latency, cap) as judge:
        settings = _settings(judge, cap)
        request = ScoreRequest.model_validate(
            {"samples": samples(size), "metrics": list(DEFAULT_METRICS)}
        )
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


class _JudgeOnPort(JudgeProcess):
    """The scripted judge on a given port: (a)'s stack keeps one OPENAI_BASE_URL."""

    def __init__(self, latency: float, cap: int | None, port: int) -> None:
        command = [
            sys.executable,
            "-m",
            "testkit.scripted_judge",
            "--latency",
            str(latency),
            "--port",
            str(port),
        ]
        if cap:
            command += ["--max-concurrency", str(cap)]
        self._process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        self.base_url = self._process.stdout.readline().strip()
        if not self.base_url:
            raise RuntimeError(f"the scripted judge did not start on port {port}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class StackRunner:
    """(a) the local stack end to end: POST /score-jobs -> SQS -> worker -> S3 + DynamoDB,
    polled through the API every POLL_SECONDS until the job is completed."""

    def __init__(self, cap: int, poll_seconds: float = POLL_SECONDS) -> None:
        from rag_eval.client import ScoreJobsClient
        from rag_eval.local.stack import LocalStack

        self.cap = cap
        self.poll_seconds = poll_seconds
        self.port = _free_port()
        self.stack = LocalStack(
            port=0,
            moto_port=0,
            visibility_timeout=900,  # no redelivery while a 200-sample job runs
            environment={
                "OPENAI_BASE_URL": f"http://127.0.0.1:{self.port}/v1",
                "OPENAI_API_KEY": "bench",
                "RAGAS_MAX_CONCURRENCY": str(cap),
                "RAGAS_MAX_RETRIES": "0",
                "RAGAS_METRIC_TIMEOUT_SECONDS": "600",
            },
            parameters={"LogLevel": "WARNING"},
            worker_concurrency=1,
            wait_time_seconds=1,
        )
        self.stack.start()
        self.client = ScoreJobsClient(self.stack.endpoint, timeout=60)
        self.last: dict = {}
        # The worker's first job imports ragas and builds its pipeline: a one-off, not timed.
        with _JudgeOnPort(0.0, cap, self.port):
            self._run(1)

    def _run(self, size: int) -> tuple[float, dict]:
        body = {"samples": samples(size), "metrics": list(DEFAULT_METRICS)}
        started = time.time()
        clock = time.perf_counter()
        submitted = self.client.submit(body)
        submit_seconds = time.perf_counter() - clock
        while True:
            job = self.client.get_job(submitted["job_id"])
            if job["status"] in ("completed", "failed"):
                break
            time.sleep(self.poll_seconds)
        seconds = time.perf_counter() - clock
        if job["status"] != "completed":
            raise RuntimeError(f"stack job {job['job_id']} failed: {job.get('error')}")
        self.last = {
            "submit": submit_seconds,
            "created": _epoch(job["created_at"]) - started,
            "finished": _epoch(job["finished_at"]) - started,
            "latency": job["latency_ms"] / 1000,
            "seen": seconds,
        }
        return seconds, job

    def __call__(self, size: int, latency: float, cap: int) -> dict:
        if cap != self.cap:
            raise ValueError(f"the stack was started for cap {self.cap}, not {cap}")
        with _JudgeOnPort(latency, cap, self.port) as judge:
            seconds, job = self._run(size)
            failures = sum(sum(c.values()) for c in job["metric_failures"].values())
            return _result(judge, seconds, latency, cap, failures)

    def close(self) -> None:
        self.stack.stop()


def _epoch(stamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


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


STACK = "local stack (submit -> completed)"
MODES = {
    STACK: None,  # a StackRunner, made in main() when asked for
    "rag-eval score (in-process)": in_process,
    "ragas direct (gather)": ragas_direct,
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 20, 200])
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--cap", type=int, default=8)
    parser.add_argument("--modes", nargs="+", default=list(MODES))
    parser.add_argument(
        "--poll", type=float, default=POLL_SECONDS, help="(a): seconds between GETs of the job"
    )
    args = parser.parse_args(argv)
    unknown = set(args.modes) - set(MODES)
    if unknown:
        parser.error(f"unknown modes {sorted(unknown)}; choose from {list(MODES)}")
    runners = dict(MODES)
    if STACK in args.modes:
        runners[STACK] = StackRunner(args.cap, args.poll)  # warms its worker itself
    try:
        rows, breakdown = _measure(args, runners)
    finally:
        if runners[STACK] is not None:
            runners[STACK].close()
    print()
    print(f"latency {args.latency} s per judge call, cap C = {args.cap} calls in flight")
    print(table(HEADER, rows))
    if breakdown:
        print()
        print(f"where (a)'s time goes (s from the POST; the API is polled every {args.poll} s)")
        print(table(BREAKDOWN_HEADER, breakdown))


def _measure(args: argparse.Namespace, runners: dict) -> tuple[list[list], list[list]]:
    # And warm each in-process mode once (first client, first prompt): a one-off cost.
    for mode in args.modes:
        if mode != STACK:
            runners[mode](1, 0.0, args.cap)
    rows, breakdown = [], []
    for size in args.sizes:
        for mode in args.modes:
            r = runners[mode](size, args.latency, args.cap)
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
            if mode == STACK:
                t = runners[STACK].last
                breakdown.append(
                    [
                        size,
                        t["submit"],
                        t["finished"] - t["latency"] - t["created"],
                        t["latency"],
                        t["seen"] - t["finished"],
                        t["seen"],
                        r["ideal"],
                    ]
                )
    return rows, breakdown


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

BREAKDOWN_HEADER = [
    "N",
    "POST round trip",
    "queued, job start (created -> scoring starts)",
    "worker scoring + advice (latency_ms)",
    "run folder, DynamoDB, poll (finished -> seen)",
    "total",
    "ideal",
]

if __name__ == "__main__":
    main()
