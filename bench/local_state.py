"""What keeping the local stack's state costs: a snapshot and a restore, by the data held.

    python -m bench.local_state --rows 1000 10000

For each size: a model-free dataset job of that many rows is scored on a local stack that
keeps its state in a folder; then one snapshot is timed (moto is paused while it pickles),
its file size read, and a restart's restore timed. The saver waits at least four times a
snapshot's duration between two, so that saving takes at most a fifth of moto's time.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench.common import table
from bench.datasets import write as write_dataset

MODEL_FREE = ["exact_match", "chrf_score"]


def measure(rows: int) -> list[str]:
    from rag_eval.client import ScoreJobsClient
    from rag_eval.local.stack import LocalStack

    with tempfile.TemporaryDirectory() as folder:
        state = Path(folder) / "state"
        dataset = Path(folder) / "set.csv"
        write_dataset(dataset, rows, "ours")
        with LocalStack(port=0, state_dir=state, parameters={"LogLevel": "WARNING"}) as stack:
            client = ScoreJobsClient(stack.endpoint)
            upload = client.upload_file(dataset)
            job = client.submit({"dataset": {"upload_id": upload}, "metrics": MODEL_FREE})
            done = client.wait(job.job_id, timeout=3600, max_interval=1.0)
            assert done.status == "completed", done.error
            saver = stack._state
            assert saver is not None  # the stack was given a state folder
            snapshots = []
            for _ in range(3):
                saver.save()
                snapshots.append(saver.last_save_seconds)
            size = saver.last_save_bytes
        started = time.monotonic()
        with LocalStack(port=0, state_dir=state, parameters={"LogLevel": "WARNING"}) as stack:
            restart = time.monotonic() - started
            assert stack.restored
    return [
        f"{rows:,}",
        f"{size / 1024**2:.1f} MB",
        f"{sorted(snapshots)[1] * 1000:.0f} ms",
        f"{restart:.2f} s",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1000, 10000])
    args = parser.parse_args()
    print(
        table(
            ["rows scored", "state file", "snapshot (median of 3)", "restart with restore"],
            [measure(rows) for rows in args.rows],
        )
    )


if __name__ == "__main__":
    main()
