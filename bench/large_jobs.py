"""Jobs of any size: scaling with workers, a small job beside a large one, planning and fan-in.

    python -m bench.large_jobs scaling --rows 10000 --workers 1 2 4 8
    python -m bench.large_jobs scaling --rows 2000 --llm --latency 0.2 --workers 1 2 4 8
    python -m bench.large_jobs fairness --rows 10000 --workers 2
    python -m bench.large_jobs planning --rows 100000
    python -m bench.large_jobs fan-in --rows 100000
    python -m bench.large_jobs full --rows 100000 --workers 2

`scaling` and `fairness` run the local stack with worker processes (as Lambda's execution
environments are); the judge, when one is used, is the scripted judge in a process of its
own. `planning` and `fan-in` run the worker's own code on a folder store, each in a fresh
process so that its peak RSS is its own.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import ROOT, JudgeProcess, table
from bench.datasets import write as write_dataset
from rag_eval.domain.settings import Settings

MODEL_FREE = ["exact_match", "chrf_score", "non_llm_string_similarity"]
LLM = ["faithfulness", "context_recall"]


def _stack(workers: int, environment: dict[str, str]):
    from rag_eval.local.stack import LocalStack

    return LocalStack(
        port=0,
        moto_port=0,
        visibility_timeout=120,
        parameters={"LogLevel": "WARNING"},
        worker_concurrency=workers,
        worker_isolation="process",
        environment=environment,
    )


def _run(client, dataset: Path, metrics: list[str], timeout: float = 7200) -> tuple[dict, float]:
    started = time.monotonic()
    upload = client.upload_file(dataset)
    job = client.submit({"dataset": {"upload_id": upload}, "metrics": metrics})
    done = client.wait(job["job_id"], timeout=timeout, max_interval=1.0)
    if done["status"] != "completed":
        raise RuntimeError(f"job ended {done['status']}: {done.get('error')}")
    return done, time.monotonic() - started


def _warm(client, workers: int, metrics: list[str], folder: Path, shard_size: int) -> None:
    """One shard per worker first: each execution environment imports ragas once."""
    warm = write_dataset(folder / "warm.jsonl", shard_size * workers)
    _run(client, warm, metrics, timeout=600)


def scaling(
    rows: int, workers: list[int], llm: bool, latency: float, shard_size: int | None
) -> None:
    metrics = LLM if llm else MODEL_FREE
    defaults = Settings()
    size = shard_size or (defaults.shard_size if llm else defaults.model_free_shard_size)
    results = []
    with tempfile.TemporaryDirectory() as folder:
        dataset = write_dataset(Path(folder) / "set.jsonl", rows)
        judge = JudgeProcess(latency, None) if llm else None
        environment = {"OPENAI_BASE_URL": judge.base_url, "OPENAI_API_KEY": "test"} if judge else {}
        if shard_size:
            environment["RAGAS_SHARD_SIZE"] = str(shard_size)
        try:
            for count in workers:
                from rag_eval.client import ScoreJobsClient

                with _stack(count, environment) as stack:
                    client = ScoreJobsClient(stack.endpoint, timeout=60)
                    _warm(client, count, metrics, Path(folder), size)
                    before = judge.stats()["total_calls"] if judge else 0
                    done, seconds = _run(client, dataset, metrics)
                    calls = (judge.stats()["total_calls"] - before) if judge else 0
                    in_flight = count * int(os.environ.get("RAGAS_MAX_CONCURRENCY", "8"))
                    bound = calls * latency / in_flight if judge else None
                    results.append(
                        [
                            count,
                            done["progress"]["shards_total"],
                            seconds,
                            rows / seconds,
                            calls,
                            f"{bound:.1f}" if bound else "-",
                            f"{bound / seconds:.2f}" if bound else "-",
                        ]
                    )
                    print(results[-1], file=sys.stderr, flush=True)
        finally:
            if judge:
                judge.__exit__()
    kind = (
        f"LLM metrics {', '.join(metrics)}, judge {latency * 1000:.0f} ms"
        if llm
        else (f"model-free metrics {', '.join(metrics)}, no judge")
    )
    print(f"{rows} samples, {kind}, shards of {size}; wall = upload + submit -> completed")
    print(
        table(
            [
                "workers",
                "shards",
                "wall s",
                "samples/s",
                "judge calls",
                "judge bound s (calls x latency / (workers x 8))",
                "bound / wall",
            ],
            results,
        )
    )


def fairness(rows: int, workers: int) -> None:
    from rag_eval.client import ScoreJobsClient

    small = {"question": "q", "answer": "a", "ground_truth": "a", "metrics": MODEL_FREE}
    with tempfile.TemporaryDirectory() as folder, _stack(workers, {}) as stack:
        client = ScoreJobsClient(stack.endpoint, timeout=60)
        _warm(client, workers, MODEL_FREE, Path(folder), Settings().model_free_shard_size)
        alone = []
        for _ in range(5):
            started = time.monotonic()
            client.wait(client.submit(small).job_id, timeout=120, poll_interval=0.05)
            alone.append(time.monotonic() - started)
        dataset = write_dataset(Path(folder) / "set.jsonl", rows)
        upload = client.upload_file(dataset)
        large = client.submit({"dataset": {"upload_id": upload}, "metrics": MODEL_FREE})
        while client.get_job(large.job_id).progress.shards_done < 5:
            time.sleep(0.2)
        beside = []
        for _ in range(5):
            started = time.monotonic()
            client.wait(client.submit(small).job_id, timeout=600, poll_interval=0.05)
            beside.append(time.monotonic() - started)
        shards = client.get_job(large.job_id).progress
        client.cancel(large.job_id)
    print(f"a 1-sample job, submit -> completed, {workers} worker(s) per queue (5 runs each)")
    print(
        table(
            ["when", "median s", "max s"],
            [
                ["stack idle", sorted(alone)[2], max(alone)],
                [
                    f"beside a {rows}-sample job ({shards.shards_done}/"
                    f"{shards.shards_total} shards done at the end)",
                    sorted(beside)[2],
                    max(beside),
                ],
            ],
        )
    )


# --- planning and fan-in, each in a process of its own ------------------------------------

_PLAN = """
import json, sys, time, resource
from pathlib import Path
from rag_eval.adapters.local_files import LocalObjectStore
from rag_eval.app.planning import Planner
from rag_eval.domain.job import new_job
from rag_eval.domain.request import DatasetJob
from rag_eval.domain.settings import Settings
root, upload = Path(sys.argv[1]), sys.argv[2]
store = LocalObjectStore(root)
request = DatasetJob.model_validate(
    {"dataset": {"upload_id": upload}, "metrics": ["exact_match", "chrf_score"]}
)
job = new_job(request, Settings(), job_id="b" * 24)
start = time.perf_counter()
planned = Planner(Settings(), store).plan(job, request)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "shards": planned.plan.shards_total,
    "samples": planned.plan.sample_count,
    "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

_RESULTS = """
import random, sys
from pathlib import Path
from rag_eval.adapters.local_files import LocalObjectStore
from rag_eval.app.work_files import WorkFiles
from rag_eval.domain.results import SampleResult, ShardResult
files, job_id = WorkFiles(LocalObjectStore(Path(sys.argv[1]))), "b" * 24
plan = files.plan(job_id)
rng = random.Random(7)
for index in range(plan.shards_total):
    ids = [s.sample_id for s in files.shard(job_id, index)]
    files.put_result(job_id, index, ShardResult(results=[
        SampleResult(sample_id=i, scores={"exact_match": float(rng.random() < 0.5),
                                          "chrf_score": rng.random()}) for i in ids]))
"""

_FAN_IN = """
import asyncio, json, sys, time, resource
from pathlib import Path
from rag_eval.adapters.local_files import LocalObjectStore
from rag_eval.app.pipeline import ScoringPipeline
from rag_eval.app.work_files import WorkFiles
from rag_eval.domain.job import JobStatus, iso, utc_now
from rag_eval.domain.settings import Settings
store = LocalObjectStore(Path(sys.argv[1]))
files, job_id = WorkFiles(store), "b" * 24
plan = files.plan(job_id)
job = JobStatus(job_id=job_id, status="running", created_at=iso(utc_now()))
pipeline = ScoringPipeline(Settings(), store)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
start = time.perf_counter()
samples, results, usage = files.gather(plan, {})
read = time.perf_counter() - start
final = asyncio.run(pipeline.fan_in(job, plan, samples, results, usage))
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "read_seconds": read, "samples": len(results),
    "rss_before_mb": before,
    "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "scores_csv_mb": (Path(sys.argv[1]) / final.artifact_keys["scores.csv"]).stat().st_size / 1e6}))
"""


def _python(code: str, *args: str) -> dict:
    finished = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "RAGAS_DO_NOT_TRACK": "true"},
    )
    return json.loads(finished.stdout.strip().splitlines()[-1]) if finished.stdout else {}


def _planned_folder(folder: Path, rows: int) -> tuple[dict, float]:
    upload = "a" * 24
    dataset = write_dataset(folder / "score-uploads" / f"{upload}.jsonl", rows)
    dataset.rename(folder / "score-uploads" / upload)
    size_mb = (folder / "score-uploads" / upload).stat().st_size / 1e6
    return _python(_PLAN, str(folder), upload), size_mb


def planning(rows: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        planned, size_mb = _planned_folder(Path(folder), rows)
    print(f"planning a {rows}-row JSONL file ({size_mb:.0f} MB) from a folder store")
    print(
        table(
            ["rows", "shards", "seconds", "rows/s", "peak RSS MB"],
            [
                [
                    rows,
                    planned["shards"],
                    planned["seconds"],
                    rows / planned["seconds"],
                    f"{planned['rss_mb']:.0f}",
                ]
            ],
        )
    )


def fan_in(rows: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        _planned_folder(Path(folder), rows)
        _python(_RESULTS, folder)
        measured = _python(_FAN_IN, folder)
    print(f"fan-in of {rows} samples (2 metrics) from a folder store, in a fresh process")
    print(
        table(
            [
                "samples",
                "read shards s",
                "total s",
                "RSS before MB",
                "peak RSS MB",
                "scores.csv MB",
            ],
            [
                [
                    measured["samples"],
                    measured["read_seconds"],
                    measured["seconds"],
                    f"{measured['rss_before_mb']:.0f}",
                    f"{measured['rss_mb']:.0f}",
                    f"{measured['scores_csv_mb']:.0f}",
                ]
            ],
        )
    )


def full(rows: int, workers: int) -> None:
    """The whole path at full size: upload, plan, shard, score, fan in."""
    from rag_eval.client import ScoreJobsClient

    with tempfile.TemporaryDirectory() as folder, _stack(workers, {}) as stack:
        dataset = write_dataset(Path(folder) / "set.csv", rows, "ragas")
        size_mb = dataset.stat().st_size / 1e6
        client = ScoreJobsClient(stack.endpoint, timeout=120)
        started = time.monotonic()
        upload = client.upload_file(dataset)
        uploaded = time.monotonic() - started
        job = client.submit({"dataset": {"upload_id": upload}, "metrics": MODEL_FREE})
        planned_at = None
        while True:
            now = client.get_job(job.job_id)
            if planned_at is None and now.progress.shards_total:
                planned_at = time.monotonic() - started
            if now.status in ("completed", "failed", "cancelled"):
                break
            time.sleep(1.0)
        total = time.monotonic() - started
    print(
        f"{rows} rows (CSV, ragas names, {size_mb:.0f} MB), model-free "
        f"metrics, {workers} worker processes, local stack"
    )
    print(
        table(
            [
                "status",
                "samples",
                "shards",
                "upload s",
                "planned at s",
                "completed at s",
                "samples/s",
            ],
            [
                [
                    now.status,
                    now.sample_count,
                    now.progress.shards_total,
                    uploaded,
                    planned_at or 0.0,
                    total,
                    rows / total,
                ]
            ],
        )
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["scaling", "fairness", "planning", "fan-in", "full"])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--llm", action="store_true", help="LLM metrics, scripted judge")
    parser.add_argument("--latency", type=float, default=0.2, help="judge latency (s)")
    parser.add_argument("--shard-size", type=int, help="RAGAS_SHARD_SIZE (default 50)")
    args = parser.parse_args(argv)
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "OPENAI_API_KEY_PARAMETER"):
        os.environ.pop(name, None)
    resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
    if args.what == "scaling":
        scaling(args.rows, args.workers, args.llm, args.latency, args.shard_size)
    elif args.what == "fairness":
        fairness(args.rows, args.workers[0])
    elif args.what == "planning":
        planning(args.rows)
    elif args.what == "fan-in":
        fan_in(args.rows)
    else:
        full(args.rows, args.workers[0])


if __name__ == "__main__":
    main()
