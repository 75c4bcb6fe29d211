"""How the CLI shows jobs to a person: a job's state and means, progress on long waits."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from rag_eval.app.answers import Estimate
from rag_eval.client.upload import human_bytes
from rag_eval.domain.job import JobStatus
from rag_eval.domain.states import FINAL_STATES

# The first invalid rows shown under a job; --json has all the job keeps.
_SHOWN_ROW_PROBLEMS = 5

# The request's options as the API names them in its messages, and the flag each is here.
_API_OPTION_FLAGS = {
    "on_invalid": "--on-invalid",
    "column_map": "--column-map",
    "judge_model": "--judge-model",
    "judges": "--judges",
    "embedding_model": "--embedding-model",
    "max_cost_usd": "--max-cost-usd",
    "max_judge_calls": "--max-judge-calls",
}
_OPTIONS = "|".join(_API_OPTION_FLAGS)
_OPTION_WITH_VALUE = re.compile(rf'"({_OPTIONS})": "([^"]*)"')  # "on_invalid": "skip"
_OPTION = re.compile(rf"\b(?:dataset\.)?({_OPTIONS})\b")  # judge_model, dataset.column_map


def in_flags(message: str) -> str:
    """A message of the service (or of the code it shares with `score`) in the words of
    this CLI: the options it names as the flags that set them, so that the advice can be
    followed as written (`"on_invalid": "skip"` -> `--on-invalid skip`)."""
    message = _OPTION_WITH_VALUE.sub(lambda m: f"{_API_OPTION_FLAGS[m[1]]} {m[2]}", message)
    message = _OPTION.sub(lambda m: _API_OPTION_FLAGS[m[1]], message)
    return message.replace("with a column map", "with --column-map THEIRS=question")


def print_job(job, run_root: Path | None = None) -> None:
    """A person's view of a job: state, metric means, why anything did not score."""
    print(f"job {job.job_id}: {job.status}")
    if job.partial:
        done, total = job.progress.samples_done, job.progress.samples_total
        print(
            f"  partial: {done:,} of {total:,} samples were scored before the cancel and "
            f"{job.progress.samples_cancelled:,} were not; the means are theirs only"
        )
    if job.error:
        print(f"  error: {in_flags(job.error)}")
    skipped = job.progress.samples_skipped
    if skipped or job.invalid_rows:
        print(f"  invalid rows: {skipped:,} skipped" if skipped else "  invalid rows:")
        for row in job.invalid_rows[:_SHOWN_ROW_PROBLEMS]:
            print(f"    line {row.line}: {row.field}: {row.message}")
        if len(job.invalid_rows) > _SHOWN_ROW_PROBLEMS:
            print(f"    and {len(job.invalid_rows) - _SHOWN_ROW_PROBLEMS} more (--json)")
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
    if job.low_coverage:
        print(
            "  warning: low coverage: too few sample x metric pairs scored for these means to "
            "stand for the whole set (see the reasons above)"
        )
    _print_spend(job)
    if job.run_id:
        where = Path(run_root) / "score-async" / job.run_id if run_root else job.run_id
        print(f"  run folder: {where}")
        if run_root and "report.html" in job.artifact_keys:
            print(f"  report: {Path(run_root) / job.artifact_keys['report.html']}")


def _print_spend(job) -> None:
    """Dollars, what the cache saved, and the budget, where the job has them."""
    if job.cost is not None:
        total = "unknown" if job.cost.total_usd is None else f"${job.cost.total_usd:.4f}"
        print(f"  cost: {total}" + (f" ({job.cost.reason})" if job.cost.reason else ""))
    if job.cache is not None and job.cache.mode != "off":
        saved = job.cost.saved_usd if job.cost is not None else None
        print(
            f"  cache: {job.cache.hits:,} hits, {job.cache.misses:,} judge calls"
            + (f", ${saved:.4f} saved" if saved else "")
        )
    if job.budget is not None and job.budget.exhausted:
        print(
            f"  budget exhausted after {job.budget.judge_calls:,} judge calls "
            f"(${job.budget.cost_usd:.4f}): the pairs not scored by then are budget_exhausted"
        )


def print_estimate(estimate: Estimate) -> None:
    """A dry run's estimate, as a person reads it."""
    total, spend = estimate.total, estimate.to_spend

    def dollars(value: float | None) -> str:
        return "unknown" if value is None else f"${value:.4f}"

    print(
        f"dry run: {estimate.samples:,} samples x {len(estimate.metrics)} metrics; "
        "nothing was created"
    )
    print(
        f"  judge calls: {spend.judge_calls:,} to make ({total.judge_calls:,} in all, "
        f"{estimate.cached_share:.0%} cached)"
    )
    print(f"  tokens: {spend.input_tokens:,} in, {spend.output_tokens:,} out")
    if len(estimate.judges) > 1:  # the multiplication, said before anything is spent
        print(
            f"  jury: {' + '.join(estimate.judges)}: each judged metric's calls and tokens "
            f"counted {len(estimate.judges)} times"
        )
    print(
        f"  cost: {dollars(spend.cost_usd)} (without the cache {dollars(total.cost_usd)})"
        + (f"; {estimate.cost_reason}" if estimate.cost_reason else "")
    )
    assumed = estimate.assumptions
    print(
        f"  duration: about {estimate.duration_seconds:,} s "
        f"({assumed['seconds_per_judge_call']} s a call, {assumed['judge_calls_in_flight']} "
        "in flight)"
    )
    if estimate.exceeds_budget:
        print("  warning: this exceeds the job's budget; it would end with pairs unscored")


def print_json(data: Any) -> None:
    """JSON for programs: an answer of the API as its body is (`model_dump(mode="json")`)."""
    if isinstance(data, BaseModel):
        data = data.model_dump(mode="json")
    print(json.dumps(data, indent=2, ensure_ascii=False))


def progress_line(job: JobStatus) -> str:
    """One line of where a job is: counts, shards, the means so far, the time left."""
    progress = job.progress
    status = job.status
    line = f"job {job.job_id}: {status}"
    total = progress.samples_total
    if not total:
        # A dataset job counts its samples once the file is read.
        return line if status in FINAL_STATES else f"{line}, planning"
    line += f", {progress.samples_done:,}/{total:,} samples"
    if progress.samples_skipped:
        line += f" ({progress.samples_skipped:,} invalid skipped)"
    line += f", {progress.metric_calls_done:,}/{progress.metric_calls_total:,} metric calls"
    if progress.shards_total > 1:
        line += f", {progress.shards_done:,}/{progress.shards_total:,} shards"
    means = [
        f"{name} {value:.3f}"
        for name, value in progress.running_scores.items()
        if value is not None
    ]
    if means and status not in FINAL_STATES:
        line += ", so far " + " ".join(means)
    if progress.eta_seconds is not None and status not in FINAL_STATES:
        line += f", ETA {duration(progress.eta_seconds)}"
    return line


def duration(seconds: int) -> str:
    """45 -> "45s", 250 -> "4m 10s", 3720 -> "1h 02m"."""
    minutes, secs = divmod(max(0, int(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def job_watcher(stream=None):
    """A progress display on stderr: one rewritten line on a terminal, else a line per change."""
    stream = stream or sys.stderr
    interactive = stream.isatty()
    state = {"last": ""}

    def show(job: JobStatus) -> None:
        line = progress_line(job)
        if line == state["last"]:
            return
        if interactive:
            end = "\n" if job.status in FINAL_STATES else ""
            # A line wider than the terminal wraps, and the next one could not overwrite it.
            width = shutil.get_terminal_size().columns - 1
            shown = line if len(line) <= width else line[: width - 1] + "…"
            stream.write(f"\r\033[K{shown}{end}")
        else:
            stream.write(line + "\n")
        stream.flush()
        state["last"] = line

    return show


class UploadProgress:
    """Bytes of a file sent: a bar rewritten in place on a terminal; elsewhere only the
    end, when `done` is called with the upload's id."""

    def __init__(self, name: str, total: int, stream=None) -> None:
        self.name, self.total = name, total
        self.stream = stream or sys.stderr
        self.interactive = self.stream.isatty()
        self.shown = -1

    def __call__(self, sent: int, total: int) -> None:
        if not self.interactive:
            return
        self.total = total
        percent = 100 * sent // total if total else 100
        if percent == self.shown:
            return
        self.shown = percent
        bar = ("#" * (percent // 5)).ljust(20, ".")
        self.stream.write(
            f"\r\033[Kuploading {self.name} [{bar}] {human_bytes(sent)} / "
            f"{human_bytes(total)} {percent}%"
        )
        self.stream.flush()

    def done(self, upload_id: str) -> None:
        line = f"uploaded {self.name}: {human_bytes(self.total)} (upload {upload_id})"
        self.stream.write(f"\r\033[K{line}\n" if self.interactive else f"{line}\n")
        self.stream.flush()


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
