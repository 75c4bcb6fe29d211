"""Cold start: each handler's import in a fresh process.

    .venv/bin/python -m bench.cold_start --runs 5
    .venv/bin/python -m bench.cold_start --runs 15 --against REV   # this tree vs a commit

Import time is what `python -X importtime` reports for `import app` from the
function's folder (sum of the top-level imports), median of the runs. The worker's image,
started by `sam local invoke` on a job, is `bench.sam_cold_start`'s.

`--against REV` checks REV out in a temporary git worktree and imports the API and list
handlers of both trees in turn (A B B A ...), so that a change's cost is read as a ratio
measured side by side rather than against figures from another day.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

from bench.common import ROOT, table, worktree

FUNCTIONS = {"ApiFunction": "api", "ListFunction": "list", "WorkerFunction": "worker"}
GOALS_MS = {"ApiFunction": 300, "ListFunction": 300}
_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def import_ms(folder: str, root: Path = ROOT) -> tuple[float, list[tuple[str, float]]]:
    """Total import time of `app` and its five costliest top-level imports, in ms."""
    env = os.environ | {
        "PYTHONPATH": str(root),
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "RAGAS_DO_NOT_TRACK": "true",
    }
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import app"],
        cwd=root / "functions" / folder,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    # Children are printed before their parent, one level = two more spaces.
    children: list[tuple[str, float]] = []
    for match in _LINE.finditer(result.stderr):
        _, cumulative, indent, name = match.groups()
        if len(indent) == 3:
            children.append((name, int(cumulative) / 1000))
        elif len(indent) == 1:
            if name == "app":
                return int(cumulative) / 1000, sorted(children, key=lambda c: -c[1])[:5]
            children = []
    raise RuntimeError(f"no import time for app in:\n{result.stderr[-2000:]}")


def compare(revision: str, runs: int) -> None:
    """The light handlers' import time here and at `revision`, alternately, as ratios."""
    with worktree(revision) as other:
        rows = []
        for function in GOALS_MS:
            folder = FUNCTIONS[function]
            pairs = [(import_ms(folder)[0], import_ms(folder, other)[0]) for _ in range(runs)]
            here = statistics.median(a for a, _ in pairs)
            there = statistics.median(b for _, b in pairs)
            ratio = statistics.median(a / b for a, b in pairs)
            rows.append([function, here, there, ratio])
    print(
        table(
            ["function", "this tree (ms, median)", f"{revision} (ms, median)", "ratio (median)"],
            rows,
        )
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--against", metavar="REV", help="compare with a commit, side by side")
    args = parser.parse_args(argv)
    if args.against:
        compare(args.against, args.runs)
        return
    rows = []
    for function, folder in FUNCTIONS.items():
        runs = [import_ms(folder) for _ in range(args.runs)]
        median = statistics.median(total for total, _ in runs)
        goal = GOALS_MS.get(function)
        verdict = "" if goal is None else ("meets" if median < goal else "misses")
        heaviest = ", ".join(f"{name} {ms:.0f}" for name, ms in runs[-1][1][:3])
        rows.append([function, median, f"< {goal} ms {verdict}" if goal else "-", heaviest])
    print(table(["function", "import app (ms, median)", "goal", "heaviest imports (ms)"], rows))


if __name__ == "__main__":
    main()
