"""Intervals and comparisons at size: time and peak memory, each in a fresh process.

    python -m bench.statistics --samples 1000 100000

Four metrics of synthetic scores (graded, and one 0/1), the candidate a noisy shift of
the baseline.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from bench.common import ROOT, table

_CHILD = """
import json, resource, sys, time
import numpy as np
from rag_eval.domain.results import SampleResult, ScoreRun
from rag_eval.scoring.compare import RunScores, compare_runs
from rag_eval.scoring.intervals import run_intervals
what, n = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(1)
metrics = ["faithfulness", "answer_relevancy", "context_recall", "exact_match"]
def scores(shift):
    return {f"s{i}": {m: float(rng.integers(0, 2)) if m == "exact_match"
            else float(np.clip(rng.beta(2, 2) + shift, 0, 1)) for m in metrics} for i in range(n)}
base = scores(0.0)
started = time.perf_counter()
if what == "intervals":
    run = ScoreRun(metrics=metrics, skipped={},
                   results=[SampleResult(sample_id=k, scores=v) for k, v in base.items()])
    run_intervals(run)
else:
    cand = scores(0.01)
    compare_runs(RunScores(job_id="a", run_id="a", metrics=metrics, scores=base),
                 RunScores(job_id="b", run_id="b", metrics=metrics, scores=cand))
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--samples", type=int, nargs="+", default=[1000, 100000])
    rows = []
    for n in parser.parse_args().samples:
        for what in ("intervals", "comparison"):
            out = subprocess.run(
                [sys.executable, "-c", _CHILD, what, str(n)],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            figures = json.loads(out.strip().splitlines()[-1])
            rows.append([f"{n:,}", what, round(figures["seconds"], 2), round(figures["rss_mb"])])
    print(table(["samples", "what", "seconds", "peak RSS MB"], rows))


if __name__ == "__main__":
    main()
