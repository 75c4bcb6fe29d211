"""The verdict cache and adaptive concurrency, measured.

    python -m bench.cost rescore --rows 1000 --workers 2 --latency 0.1
    python -m bench.cost storm --samples 100 --cap 3 --concurrency 8 --latency 0.1

`rescore` runs the local stack (worker processes, the scripted judge in a process of its
own): a job over an uploaded file, the same file again, then the file with 1% of its
samples changed; each after a dry run, whose estimate is set beside what the job spent.
`storm` scores in this process against a judge that answers 429 above `--cap` requests in
flight, with adaptive concurrency and without it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

from bench.common import JudgeProcess, table
from bench.estimate import varied_samples
from bench.large_jobs import _stack
from rag_eval.domain.request import parse_inline_request
from rag_eval.domain.settings import Settings
from rag_eval.judges.factory import default_gate
from rag_eval.scoring.scorer import Scorer

METRICS = ["faithfulness", "answer_relevancy", "context_precision", "context_recall"]


def _write(path: Path, samples: list[dict]) -> Path:
    path.write_text(
        "".join(json.dumps(s, ensure_ascii=False) + "\n" for s in samples), encoding="utf-8"
    )
    return path


def rescore(rows: int, workers: int, latency: float) -> None:
    samples = varied_samples(rows, seed=3)
    changed = [
        s | {"answer": s["answer"] + " This sentence is new."} if i % 100 == 0 else s
        for i, s in enumerate(samples)
    ]
    rows_out = []
    with tempfile.TemporaryDirectory() as folder, JudgeProcess(latency, None) as judge:
        files = {
            "first run": _write(Path(folder) / "a.jsonl", samples),
            "unchanged": _write(Path(folder) / "b.jsonl", samples),
            "1% changed": _write(Path(folder) / "c.jsonl", changed),
        }
        environment = {"OPENAI_BASE_URL": judge.base_url, "OPENAI_API_KEY": "bench"}
        with _stack(workers, environment) as stack:
            from rag_eval.client import ScoreJobsClient

            client = ScoreJobsClient(stack.endpoint)
            for label, path in files.items():
                body = {"dataset": {"upload_id": client.upload_file(path)}, "metrics": METRICS}
                estimate = client.estimate(body)
                calls_before = judge.stats()["total_calls"]
                started = time.monotonic()
                job = client.submit(body)
                done = client.wait(job.job_id, timeout=7200, max_interval=1.0)
                seconds = time.monotonic() - started
                assert done.status == "completed", done.error
                usage, cache, cost = done.token_usage, done.cache, done.cost
                assert cache is not None and cost is not None  # a completed job has both
                rows_out.append(
                    [
                        label,
                        judge.stats()["total_calls"] - calls_before,
                        f"{estimate.to_spend.judge_calls} ({estimate.cached_share:.0%})",
                        usage.input_tokens + usage.output_tokens,
                        f"${cost.total_usd:.4f}",
                        f"{cache.hits} / {cache.misses}",
                        f"${cost.saved_usd:.4f}",
                        round(seconds, 1),
                    ]
                )
    print(f"{rows} samples, {', '.join(METRICS)}; {workers} workers, judge {latency} s a call")
    print(
        table(
            [
                "run",
                "judge calls",
                "dry run: calls to make (cached)",
                "tokens",
                "cost",
                "cache hits / misses",
                "saved",
                "wall s",
            ],
            rows_out,
        )
    )


def storm(samples: int, cap: int, concurrency: int, latency: float) -> None:
    request = parse_inline_request(
        {"samples": varied_samples(samples, seed=4), "metrics": ["faithfulness", "context_recall"]}
    )
    rows = []
    with JudgeProcess(latency, cap) as judge:
        for adaptive in (True, False):
            settings = Settings(
                openai_base_url=judge.base_url,
                openai_api_key="bench",
                max_concurrency=concurrency,
                adaptive_concurrency=adaptive,
                metric_timeout_seconds=120,
            )
            gate = default_gate(settings)
            started = time.monotonic()
            run = asyncio.run(Scorer(settings).ascore(request, gate=gate))
            seconds = time.monotonic() - started
            failed = sum(run.failures.get(m, {}).get("rate_limited", 0) for m in run.metrics)
            report = run.concurrency
            rows.append(
                [
                    "adaptive" if adaptive else f"fixed, {settings.max_retries} retries",
                    round(seconds, 1),
                    f"{failed} of {len(run.results) * len(run.metrics)}",
                    run.usage.rate_limited,
                    report.effective if adaptive else concurrency,
                    report.lowest if adaptive else concurrency,
                ]
            )
    print(
        f"{samples} samples x 2 metrics; {concurrency} requests in flight configured, "
        f"the judge answers 429 above {cap}, {latency} s a call"
    )
    print(
        table(["concurrency", "wall s", "pairs failed", "429s", "mean in flight", "lowest"], rows)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    commands = parser.add_subparsers(dest="command", required=True)
    first = commands.add_parser("rescore")
    first.add_argument("--rows", type=int, default=1000)
    first.add_argument("--workers", type=int, default=2)
    first.add_argument("--latency", type=float, default=0.1)
    second = commands.add_parser("storm")
    second.add_argument("--samples", type=int, default=100)
    second.add_argument("--cap", type=int, default=3)
    second.add_argument("--concurrency", type=int, default=8)
    second.add_argument("--latency", type=float, default=0.1)
    args = parser.parse_args()
    if args.command == "rescore":
        rescore(args.rows, args.workers, args.latency)
    else:
        storm(args.samples, args.cap, args.concurrency, args.latency)


if __name__ == "__main__":
    main()
