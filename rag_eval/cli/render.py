"""How the CLI shows jobs to a person: a job's state and means, progress on long waits."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from rag_eval.domain.states import FINAL_STATES


def print_job(job, run_root: Path | None = None) -> None:
    """A person's view of a job: state, metric means, why anything did not score."""
    print(f"job {job.job_id}: {job.status}")
    if job.error:
        print(f"  error: {job.error}")
    if job.scores:
        width = max(len(name) for name in job.scores)
        for name, value in job.scores.items():
            shown = "–" if value is None else f"{value:.4f}"
            why = job.skip_reasons.get(name) or ", ".join(
                f"{reason} x{count}" for reason, count in job.metric_failures.get(name, {}).items()
            )
            print(f"  {name:<{width}}  {shown}" + (f"   ({why})" if why else ""))
    if job.weighted_score is not None:
        print(f"  weighted score: {job.weighted_score:.4f} (coverage {job.coverage:.2f})")
    if job.run_id:
        where = Path(run_root) / "score-async" / job.run_id if run_root else job.run_id
        print(f"  run folder: {where}")


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False))


def progress_line(job: dict[str, Any]) -> str:
    progress = job.get("progress") or {}
    line = f"job {job['job_id']}: {job['status']}"
    if progress.get("samples_total"):
        line += (
            f", {progress.get('samples_done', 0)}/{progress['samples_total']} samples, "
            f"{progress.get('metric_calls_done', 0)}/{progress.get('metric_calls_total', 0)} "
            "metric calls"
        )
    return line


def job_watcher(stream=None):
    """A progress display on stderr: one rewritten line on a terminal, else a line per change."""
    stream = stream or sys.stderr
    interactive = stream.isatty()
    state = {"last": ""}

    def show(job: dict[str, Any]) -> None:
        line = progress_line(job)
        if line == state["last"]:
            return
        if interactive:
            end = "\n" if job["status"] in FINAL_STATES else ""
            stream.write(f"\r\033[K{line}{end}")
        else:
            stream.write(line + "\n")
        stream.flush()
        state["last"] = line

    return show


def scoring_progress(enabled: bool):
    """A one-line progress display on stderr for interactive terminals."""
    interactive = enabled and sys.stderr.isatty()
    state = {"last": -1}

    def show(progress) -> None:
        if not interactive:
            return
        if progress is None:
            if state["last"] >= 0:
                sys.stderr.write("\n")
            return
        if progress.metric_calls_done == state["last"]:
            return
        state["last"] = progress.metric_calls_done
        sys.stderr.write(
            f"\rscoring: {progress.samples_done}/{progress.samples_total} samples, "
            f"{progress.metric_calls_done}/{progress.metric_calls_total} metric calls"
        )
        sys.stderr.flush()

    return show


def own_command() -> str:
    """How the user can call rag-eval again: as on the PATH, or the path just used."""
    import shutil

    used = os.path.abspath(sys.argv[0])
    if os.path.basename(used) != "rag-eval" or shutil.which("rag-eval") == used:
        return "rag-eval"  # on the PATH, or called some other way (python -m, a test)
    relative = os.path.relpath(used)
    return relative if not relative.startswith("..") else used


def aws_command() -> str:
    """The AWS CLI installed beside rag-eval (awscli is a dev dependency), or `aws`."""
    rag_eval = own_command()
    return os.path.join(os.path.dirname(rag_eval), "aws") if os.sep in rag_eval else "aws"


class _OwnLines(logging.Filter):
    """Only our own log lines reach a person's screen: libraries' internals (instructor's
    retries, botocore's credential lookups) are not theirs to read."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.name.startswith("rag_eval")


def configure_logging(level: int = logging.WARNING, *, timestamps: bool = False) -> None:
    """stderr gets rag_eval's lines at `level` and above, nothing else."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_OwnLines())
    stamp = "%(asctime)s " if timestamps else ""
    handler.setFormatter(logging.Formatter(f"{stamp}%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    # A metric that did not score is in the job's summary, with its reason and count.
    logging.getLogger("rag_eval.scoring").setLevel(max(level, logging.ERROR))
