"""`rag-eval submit | status | wait | list | artifacts`: a client of the API."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from rag_eval.cli.exits import EXIT_FAILED, EXIT_OK, EXIT_TIMEOUT
from rag_eval.cli.render import job_watcher, own_command, print_job, print_json, progress_line
from rag_eval.cli.scoring import add_sample_arguments, request_body
from rag_eval.domain.states import FINAL_STATES, JobState


def add_client_arguments(parser: argparse.ArgumentParser, with_json: bool = True) -> None:
    parser.add_argument(
        "--endpoint",
        help="the API's base URL (default: $RAG_EVAL_ENDPOINT, else http://127.0.0.1:3000/v1)",
    )
    parser.add_argument(
        "--api-key",
        help="send it as x-api-key (default: $RAG_EVAL_API_KEY); without one, requests to a "
        "non-local endpoint are signed with SigV4 from the usual AWS credentials",
    )
    if with_json:
        parser.add_argument("--json", action="store_true", help="print the API's JSON")


def _client(args: argparse.Namespace):
    from rag_eval.client import ScoreJobsClient

    return ScoreJobsClient(args.endpoint, api_key=args.api_key)


def _job_model(job: dict[str, Any]):
    from rag_eval.domain.job import JobStatus

    return JobStatus.model_validate(job)


def _wait_and_report(client, job_id: str, args: argparse.Namespace) -> int:
    from rag_eval.client import WaitTimeout

    try:
        job = client.wait(job_id, timeout=args.timeout, on_update=job_watcher())
    except WaitTimeout as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_TIMEOUT
    if args.json:
        print_json(job)
    else:
        print_job(_job_model(job))
        _next_step(job)
    return EXIT_OK if job["status"] == JobState.COMPLETED else EXIT_FAILED


def _next_step(job: dict[str, Any]) -> None:
    if job["status"] == JobState.COMPLETED:
        print(
            f"  fetch it: {own_command()} artifacts {job['job_id']} --download runs/",
            file=sys.stderr,
        )


def cmd_submit(args: argparse.Namespace) -> int:
    from rag_eval.client import ApiError

    client = _client(args)
    # The service knows which metrics its own judge settings can score.
    listed = client.metrics()["metrics"]
    available = [m["name"] for m in listed if m.get("available", True)]
    if not args.metrics and len(available) < len(listed):
        _judge_settings_here_hint()
    body = request_body(args, available)
    try:
        job = client.submit(body, idempotency_key=args.idempotency_key)
    except ApiError as exc:
        if any("cannot be scored here" in str(d.get("message")) for d in exc.details):
            _judge_settings_here_hint()
        raise
    if args.wait:
        return _wait_and_report(client, job["job_id"], args)
    if args.json:
        print_json(job)
    else:
        print(f"job {job['job_id']}: {job['status']}")
        print(f"  follow it: {own_command()} wait {job['job_id']}", file=sys.stderr)
    return EXIT_OK


def _judge_settings_here_hint() -> None:
    """Judge settings in the client's shell do not reach a service: say so, once."""
    here = [name for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY") if os.environ.get(name)]
    if here:
        print(
            f"note: {' and '.join(here)} {'is' if len(here) == 1 else 'are'} set in this "
            "shell, but the judge is the service's own: set it where the service runs (for "
            "the local stack, in the shell of `rag-eval local start`, then restart it; on AWS, "
            "the stack's OpenAIBaseUrl / OpenAIApiKeyParameter)",
            file=sys.stderr,
        )


def cmd_status(args: argparse.Namespace) -> int:
    job = _client(args).get_job(args.job_id)
    if args.json:
        print_json(job)
    else:
        print_job(_job_model(job))
        if job["status"] not in FINAL_STATES:
            print("  " + progress_line(job).split(": ", 1)[1])
        _next_step(job)
    return EXIT_OK


def cmd_wait(args: argparse.Namespace) -> int:
    return _wait_and_report(_client(args), args.job_id, args)


def cmd_list(args: argparse.Namespace) -> int:
    client = _client(args)
    if args.all:
        page = {"jobs": list(client.iter_jobs(args.limit, args.status, args.cursor))}
        page["next_cursor"] = None
    else:
        page = client.list_jobs(args.limit, args.cursor, args.status)
    if args.json:
        print_json(page)
        return EXIT_OK
    if not page["jobs"]:
        print("no jobs")
    else:
        print(_job_table(page["jobs"]))
    if page.get("next_cursor"):
        print(f"more: {own_command()} list --cursor {page['next_cursor']}", file=sys.stderr)
    return EXIT_OK


def _job_table(jobs: list[dict[str, Any]]) -> str:
    """One row per job under a header, columns aligned."""
    header = ["job_id", "status", "created_at", "samples", "weighted", "run_id"]
    rows = [
        [
            job["job_id"],
            job["status"],
            job["created_at"],
            str(job.get("sample_count", 0)),
            "–" if job.get("weighted_score") is None else f"{job['weighted_score']:.4f}",
            job.get("run_id") or "",
        ]
        for job in jobs
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    right = {3, 4}  # numbers
    return "\n".join(
        "  ".join(
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ).rstrip()
        for row in [header, *rows]
    )


def cmd_artifacts(args: argparse.Namespace) -> int:
    client = _client(args)
    links = client.artifacts(args.job_id)
    saved = client.download_artifacts(args.job_id, args.download) if args.download else []
    if args.json:
        print_json(links | ({"saved": [str(path) for path in saved]} if saved else {}))
        return EXIT_OK
    print(f"run {links['run_id']} in s3://{links['bucket']}/ (URLs valid {links['expires_in']} s)")
    for name, file in links["files"].items():
        print(f"  {name}: {file['key']}")
        if not saved:
            print(f"    {file['url']}")
    for path in saved:
        print(f"saved {path}")
    return EXIT_OK


def register(commands: argparse._SubParsersAction) -> None:
    submit = commands.add_parser("submit", help="submit a scoring job to the API")
    add_sample_arguments(submit)
    add_client_arguments(submit, with_json=False)
    submit.add_argument("--idempotency-key", help="a repeat with the same key returns the job")
    submit.add_argument("--wait", action="store_true", help="then wait for it (as `wait`)")
    submit.add_argument("--timeout", type=float, default=600, help="with --wait (default 600 s)")
    submit.set_defaults(handler=cmd_submit)

    status = commands.add_parser("status", help="show a job")
    status.add_argument("job_id")
    add_client_arguments(status)
    status.set_defaults(handler=cmd_status)

    wait = commands.add_parser(
        "wait", help="wait for a job to finish (exit 0 completed, 1 failed, 3 timeout)"
    )
    wait.add_argument("job_id")
    wait.add_argument("--timeout", type=float, default=600, help="seconds (default 600)")
    add_client_arguments(wait)
    wait.set_defaults(handler=cmd_wait)

    listing = commands.add_parser("list", help="list jobs, newest first")
    listing.add_argument("--limit", type=int, help="jobs per page (1..100; default 20)")
    listing.add_argument("--cursor", help="the page after the one that gave this cursor")
    listing.add_argument("--status", choices=[state.value for state in JobState])
    listing.add_argument("--all", action="store_true", help="follow the cursors to the end")
    add_client_arguments(listing)
    listing.set_defaults(handler=cmd_list)

    artifacts = commands.add_parser("artifacts", help="a job's run folder files")
    artifacts.add_argument("job_id")
    artifacts.add_argument(
        "--download", type=Path, metavar="DIR", help="save the files as DIR/score-async/<run_id>/"
    )
    add_client_arguments(artifacts)
    artifacts.set_defaults(handler=cmd_artifacts)
