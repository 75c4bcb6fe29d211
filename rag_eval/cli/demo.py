"""`rag-eval demo` (`make demo`): the whole service on this machine, start to finish.

Starts the local stack, submits the bundled samples (English and Chinese) through the HTTP
API with the client, then the bundled agent conversations as a second job, waits for the
worker, prints the scores and the first run's folder in S3, keeps a copy of that folder on
disk (runs/score-async/<run_id>/) and stops. With no judge configured it scores the
model-free metrics (for the agent, its tool calls); with OPENAI_BASE_URL (or OPENAI_API_KEY)
set it scores the LLM metrics too, the agent's goal and topics among them (`make
demo-judge`: with the scripted judge, testkit/demo_judge.py).
The handlers' JSON logs and EMF metrics go to a file beside the run folders, not the console.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import sys
from importlib.resources import files
from pathlib import Path
from typing import Any

from rag_eval.cli.render import aws_command, configure_logging, job_watcher, print_job
from rag_eval.client import ScoreJobsClient, WaitTimeout
from rag_eval.domain.layout import run_folder
from rag_eval.domain.settings import Settings
from rag_eval.domain.states import JobState
from rag_eval.local.handler_output import HandlerLog
from rag_eval.local.stack import LocalStack
from rag_eval.metrics import DEFAULT_METRICS, MODEL_FREE_METRICS

SAMPLES = files("rag_eval") / "sample_data" / "samples.jsonl"
# A support agent with a `search` tool (ragas' MultiTurnSample): scored as a second job,
# since a job holds one kind of sample.
AGENTS = files("rag_eval") / "sample_data" / "agents.jsonl"
AGENT_METRICS = ("tool_call_accuracy", "tool_call_f1")
AGENT_JUDGED_METRICS = ("agent_goal_accuracy", "topic_adherence")
# Columns of the per-sample table are 9 wide: names that would be cut alike are abridged.
_SHORT = {
    "tool_call_accuracy": "tool_acc",
    "tool_call_f1": "tool_f1",
    "agent_goal_accuracy": "goal_acc",
    "topic_adherence": "topics",
}
# Beside the run folders (--out): the handlers' JSON lines of the last demo.
HANDLER_LOG = "demo-handlers.jsonl"


def run_demo(timeout: float = 600.0, out: Path = Path("runs"), verbose: bool = False) -> int:
    """0 when the job completed, 1 otherwise. `verbose`: the handlers' JSON lines are shown
    too, not only kept in the file the demo names."""
    # The demo's own lines tell the story; the stack logs only what goes wrong.
    configure_logging(logging.WARNING)
    handler_log = HandlerLog(out / HANDLER_LOG, echo=verbose)
    handler_log.path.unlink(missing_ok=True)  # this run's lines only
    settings = Settings.from_env()
    has_judge = settings.openai_configured
    metrics = [*DEFAULT_METRICS, *MODEL_FREE_METRICS] if has_judge else list(MODEL_FREE_METRICS)
    samples = [json.loads(line) for line in SAMPLES.read_text("utf-8").splitlines() if line]

    print("rag-eval demo: the serverless stack on this machine (template.yaml in moto, ")
    print("the real Lambda handlers behind a local API Gateway and SQS poller)\n")
    print("[1/6] starting the local stack")
    with LocalStack(port=0, worker_isolation="process", handler_log=handler_log) as stack:
        print(f"      API {stack.endpoint}   AWS (moto) {stack.moto_url}")
        print(
            f"      the handlers' JSON logs and EMF metrics: {handler_log.path}"
            + ("" if verbose else " (--verbose: here too)")
            + "\n"
        )
        client = ScoreJobsClient(stack.endpoint)

        print(f"[2/6] POST /score-jobs: {len(samples)} samples from {SAMPLES.name}")
        print(f"      metrics: {', '.join(metrics)}")
        if has_judge:
            print(f"      judge: {settings.openai_base_url or 'api.openai.com'}")
        else:
            print(
                "      no judge configured: model-free metrics only. For the LLM metrics too:\n"
                "      OPENAI_BASE_URL=https://api.openai.com/v1 OPENAI_API_KEY=sk-... make demo\n"
                "      or offline, with a scripted stand-in for a model: make demo-judge"
            )
        submitted = client.submit({"samples": samples, "metrics": metrics})
        print(f"      202 job {submitted.job_id} ({submitted.status})\n")

        print("[3/6] waiting for the worker (the first job imports ragas: a few seconds)")
        try:
            job = client.wait(submitted.job_id, timeout=timeout, on_update=job_watcher(sys.stdout))
        except WaitTimeout as exc:
            print(f"      {exc}")
            return 1
        print()

        print("[4/6] scores")
        print_job(job)
        if job.status != JobState.COMPLETED or job.run_id is None:
            return 1
        links = client.artifacts(job.job_id)
        print()
        print(per_sample_table(client.fetch(links.files["scores.csv"].url), metrics))
        print()
        if not _agent_job(client, has_judge, timeout):
            return 1

        prefix = run_folder(job.run_id)
        print(f"[6/6] the run folder: s3://{stack.bucket}/{prefix}")
        listing = stack.client("s3").list_objects_v2(Bucket=stack.bucket, Prefix=prefix)
        for item in listing.get("Contents", []):
            stamp = item["LastModified"].strftime("%Y-%m-%d %H:%M:%S")
            print(f"      {stamp} {item['Size']:>8} {item['Key']}")
        print(
            "\n      The same with the AWS CLI, against `rag-eval local start` (it prints the\n"
            "      bucket's name, which stays the same across its restarts):\n"
            f"      {aws_command()} --endpoint-url http://127.0.0.1:3001 s3 ls "
            "s3://<bucket>/score-async/ --recursive"
        )
        # The stack's bucket goes with the stack: keep a copy of the folder to read later.
        saved = {path.name: path for path in client.download_artifacts(job.job_id, out)}
    print(f"\nstopped the local stack; its run folder is kept in {saved['summary.md'].parent}/:")
    for name in ("report.html", "summary.md", "optimization_advice.md"):
        print(f"  {saved[name]}")
    print(f"Open {saved['report.html']} in a browser: what to fix, on which samples, and why.")
    print("Next: README.md, 'The local stack'.")
    return 0


def _agent_job(client: ScoreJobsClient, has_judge: bool, timeout: float) -> bool:
    """The bundled agent conversations scored as a job of their own; whether it completed."""
    metrics = [*AGENT_METRICS, *(AGENT_JUDGED_METRICS if has_judge else ())]
    conversations = [json.loads(line) for line in AGENTS.read_text("utf-8").splitlines() if line]
    print(f"[5/6] POST /score-jobs: {len(conversations)} agent conversations from {AGENTS.name}")
    print(
        "      a support agent with a search tool (ragas' MultiTurnSample): its tool calls "
        "against the expected ones"
        + (", whether it reached the user's goal and kept to its topics" if has_judge else "")
    )
    print(f"      metrics: {', '.join(metrics)}")
    submitted = client.submit({"samples": conversations, "metrics": metrics})
    print(f"      202 job {submitted.job_id} ({submitted.status})")
    try:
        job = client.wait(submitted.job_id, timeout=timeout, on_update=job_watcher(sys.stdout))
    except WaitTimeout as exc:
        print(f"      {exc}")
        return False
    print()
    print_job(job)
    if job.status != JobState.COMPLETED:
        return False
    print()
    scores = client.fetch(client.artifacts(job.job_id).files["scores.csv"].url)
    print(per_sample_table(scores, metrics))
    print(
        "  (en-off-topic is a question to decline, not to look up: with no "
        "reference_tool_calls, its tool calls are not scored)\n"
    )
    return True


def per_sample_table(scores_csv: bytes, metrics: list[str]) -> str:
    """scores.csv as a narrow table: a row per sample, a column per metric."""
    rows = list(csv.DictReader(io.StringIO(scores_csv.decode("utf-8"))))
    columns = [m for m in metrics if rows and m in rows[0]] + ["weighted_score"]
    headers = [_short(name) for name in columns]
    id_width = max([len("sample"), *(len(row["sample_id"]) for row in rows)])
    lines = ["  " + "sample".ljust(id_width) + "".join(f"  {h:>9}" for h in headers)]
    for row in rows:
        cells = "".join(f"  {_cell(row.get(name, '')):>9}" for name in columns)
        lines.append("  " + row["sample_id"].ljust(id_width) + cells)
    return "\n".join(lines)


def _short(metric: str) -> str:
    return _SHORT.get(metric) or metric.removesuffix("_score")[:9]


def _cell(value: Any) -> str:
    try:
        return f"{float(value):.4f}"
    except (TypeError, ValueError):
        return "–"
