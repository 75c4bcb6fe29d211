"""A one-sample job's submit -> completed time on the local stack, this tree against a
commit, side by side (alternating runs, fresh stacks).

    .venv/bin/python -m bench.small_job --against HEAD~1 --rounds 4 --jobs 15

Each round starts one stack per tree in its own process, warms it with one job (the
worker's ragas import), then times jobs one at a time; the ratio is taken per round.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from bench.common import ROOT, table, worktree

_ROUND = """
import json, sys, time
from rag_eval.client import ScoreJobsClient
from rag_eval.local.stack import LocalStack
body = {"question": "When was it built?", "answer": "In 1889.", "ground_truth": "In 1889.",
        "contexts": ["It was built in 1889."], "metrics": ["exact_match", "chrf_score"]}
with LocalStack(port=0, moto_port=0, parameters={"LogLevel": "WARNING"}) as stack:
    client = ScoreJobsClient(stack.endpoint)
    client.wait(client.submit(body)["job_id"], timeout=300)
    times = []
    for _ in range(int(sys.argv[1])):
        start = time.perf_counter()
        client.wait(client.submit(body)["job_id"], timeout=120, poll_interval=0.01,
                    max_interval=0.01)
        times.append(time.perf_counter() - start)
print(json.dumps(times))
"""


def one_round(root: Path, jobs: int) -> float:
    """The median submit -> completed seconds of `jobs` one-sample jobs on `root`'s code."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("OPENAI_")} | {
        "PYTHONPATH": str(root),
        "RAGAS_DO_NOT_TRACK": "true",
    }
    done = subprocess.run(
        [sys.executable, "-c", _ROUND, str(jobs)],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return statistics.median(json.loads(done.stdout.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", metavar="REV", required=True)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--jobs", type=int, default=15)
    args = parser.parse_args(argv)
    pairs = []
    with worktree(args.against) as other:
        for index in range(args.rounds):
            # ABBA: which tree goes first alternates, so drift favours neither.
            if index % 2:
                there, here = one_round(other, args.jobs), one_round(ROOT, args.jobs)
            else:
                here, there = one_round(ROOT, args.jobs), one_round(other, args.jobs)
            pairs.append((here, there))
            print(
                f"round {index + 1}: {here * 1000:.0f} ms vs {there * 1000:.0f} ms", file=sys.stderr
            )
    print(f"one-sample job, submit -> completed (model-free metrics), {args.rounds} rounds")
    print(
        table(
            ["this tree ms (median)", f"{args.against} ms (median)", "ratio (median of rounds)"],
            [
                [
                    statistics.median(a for a, _ in pairs) * 1000,
                    statistics.median(b for _, b in pairs) * 1000,
                    statistics.median(a / b for a, b in pairs),
                ]
            ],
        )
    )


if __name__ == "__main__":
    main()
