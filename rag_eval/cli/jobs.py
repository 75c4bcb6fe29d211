"""`rag-eval submit | status | wait | cancel | list | artifacts`: a client of the API."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from rag_eval.app.answers import JobPage
from rag_eval.cli.exits import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, EXIT_TIMEOUT
from rag_eval.cli.metric_files import load_metric_file
from rag_eval.cli.placement import add_placement_arguments, place
from rag_eval.cli.render import (
    UploadProgress,
    job_watcher,
    own_command,
    print_estimate,
    print_job,
    print_json,
    progress_line,
)
from rag_eval.cli.samples import holds_conversations
from rag_eval.cli.scoring import add_sample_arguments, choose_metrics, column_pair, request_body
from rag_eval.client.upload import count_rows, csv_header, human_bytes
from rag_eval.domain.errors import RequestInvalid
from rag_eval.domain.job import JobStatus
from rag_eval.domain.request import MAX_SAMPLES
from rag_eval.domain.states import FINAL_STATES, JobState

# The API takes request bodies up to 5 MiB; samples grow when written as JSON, so a file
# over this goes by upload without building a body that would be refused.
INLINE_MAX_FILE_BYTES = 4 * 1024 * 1024


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


def api_client(args: argparse.Namespace):
    from rag_eval.client import ScoreJobsClient

    return ScoreJobsClient(args.endpoint, api_key=args.api_key)


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
        print_job(job)
        _next_step(job)
    return EXIT_OK if job.status == JobState.COMPLETED else EXIT_FAILED


def _next_step(job: JobStatus) -> None:
    fetch = f"{own_command()} artifacts {job.job_id} --download runs/"
    if job.status == JobState.COMPLETED:
        print(f"  fetch it: {fetch}", file=sys.stderr)
    elif job.status == JobState.CANCELLED and job.artifact_keys:
        print(f"  fetch what was scored: {fetch}", file=sys.stderr)


def cmd_submit(args: argparse.Namespace) -> int:
    from rag_eval.client import ApiError

    _check_upload_flags(args)
    if args.metric_file:  # its definitions are refused before anything is sent
        load_metric_file(args.metric_file)
    client = api_client(args)
    # The service knows which metrics its own judge settings can score.
    listed = client.metrics().metrics
    available = [m.name for m in listed if m.available]
    if not args.metrics and len(available) < len(listed):
        _judge_settings_here_hint()
    body, why_upload = _submission(args, available)
    if why_upload:
        print(why_upload, file=sys.stderr)
        show = UploadProgress(args.file.name, args.file.stat().st_size)
        upload_id = client.upload_file(args.file, on_progress=show)
        show.done(upload_id)
        body["dataset"] = {"upload_id": upload_id}
        if args.column_map:
            body["dataset"]["column_map"] = dict(args.column_map)
        if args.on_invalid:
            body["on_invalid"] = args.on_invalid
    place(args, body, client)
    try:
        if args.dry_run:  # an estimate: nothing is created
            estimate = client.estimate(body)
            (print_json if args.json else print_estimate)(estimate)
            return EXIT_OK
        job = client.submit(body, idempotency_key=args.idempotency_key)
    except ApiError as exc:
        # A metric or a juror the service's own judge settings cannot serve.
        refusals = ("cannot be scored here", "cannot judge here")
        if any(words in str(d.get("message")) for d in exc.details for words in refusals):
            _judge_settings_here_hint()
        raise
    if args.wait:
        return _wait_and_report(client, job.job_id, args)
    if args.json:
        print_json(job)
    else:
        print(f"job {job.job_id}: {job.status}")
        print(f"  follow it: {own_command()} wait {job.job_id}", file=sys.stderr)
    return EXIT_OK


def _check_upload_flags(args: argparse.Namespace) -> None:
    """Refuse, before anything is sent, what an upload of a gigabyte would only then find."""
    flags = ("--upload", args.upload), ("--column-map", args.column_map)
    given = [flag for flag, value in (*flags, ("--on-invalid", args.on_invalid)) if value]
    if not args.file:
        if given:
            raise _invalid(given[0], "needs --file")
        return
    if args.question is not None:
        raise _invalid("--file", "give --file or --question, not both")
    if not args.file.is_file():
        raise _invalid("--file", f"no such file: {args.file}")
    if given and not args.file.stat().st_size:
        raise _invalid("--file", f"{args.file} is empty: there is nothing to score")
    if args.column_map and args.file.suffix.lower() == ".csv":
        header = csv_header(args.file)
        missing = [theirs for theirs, _ in args.column_map if theirs not in header]
        if missing:
            name = args.file.name
            raise _invalid("--column-map", f"no column {missing[0]!r} in {name}", allowed=header)


def _invalid(field: str, message: str, **more: Any) -> RequestInvalid:
    return RequestInvalid([{"field": field, "message": message, **more}])


def _submission(args: argparse.Namespace, available: list[str]) -> tuple[dict[str, Any], str]:
    """The body to submit and, when the file goes by upload instead, the line saying why
    (the body then lacks its dataset); "" when the samples travel in the body."""
    why = _why_upload(args)
    if why:
        return _body_without_samples(args, available), why
    body = request_body(args, available)
    if not args.file:
        return body, ""
    from rag_eval.app.jobs import MAX_REQUEST_BYTES

    size = len(json.dumps(body, ensure_ascii=False).encode("utf-8"))
    if size <= MAX_REQUEST_BYTES:
        return body, ""
    del body["samples"]
    return body, (
        f"{args.file.name} makes a {human_bytes(size)} request: over the API's limit of "
        f"{human_bytes(MAX_REQUEST_BYTES)}; uploading it"
    )


def _why_upload(args: argparse.Namespace) -> str:
    """Why the file is uploaded rather than sent in the request body; "" if it is not."""
    path: Path | None = args.file
    if not path:
        return ""
    name = path.name
    if args.upload:
        return f"{name}: uploading it (--upload)"
    size = path.stat().st_size
    if size > INLINE_MAX_FILE_BYTES:
        return (
            f"{name} is {human_bytes(size)}: over the inline limit of "
            f"{human_bytes(INLINE_MAX_FILE_BYTES)}; uploading it"
        )
    rows = count_rows(path)
    if rows is not None and rows > MAX_SAMPLES:
        return (
            f"{name} is {human_bytes(size)} / {rows:,} rows: over the inline limit of "
            f"{MAX_SAMPLES:,} samples; uploading it"
        )
    if args.column_map or args.on_invalid:
        flag = "--column-map" if args.column_map else "--on-invalid"
        return f"{name}: {flag} applies to an uploaded file; uploading it"
    return ""


def _body_without_samples(args: argparse.Namespace, available: list[str]) -> dict[str, Any]:
    """The metrics, weights and models the flags ask for, chosen as for inline samples."""
    # An inline question stands in for the samples, so the same flags mean the same body.
    no_file = dict.fromkeys(("file", "answer", "contexts", "ground_truth")) | {"question": ""}
    body = request_body(argparse.Namespace(**vars(args) | no_file), available)
    del body["question"]
    if not args.metrics and holds_conversations(args.file):
        body["metrics"] = choose_metrics(None, available, conversations=True)[0]
    return body


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
    job = api_client(args).get_job(args.job_id)
    if args.json:
        print_json(job)
    else:
        print_job(job)
        if job.status not in FINAL_STATES:
            print("  " + progress_line(job).split(": ", 1)[1])
        _next_step(job)
    return EXIT_OK


def cmd_wait(args: argparse.Namespace) -> int:
    return _wait_and_report(api_client(args), args.job_id, args)


def cmd_cancel(args: argparse.Namespace) -> int:
    from rag_eval.client import ApiError

    try:
        job = api_client(args).cancel(args.job_id)
    except ApiError as exc:
        if exc.status != 409:
            raise
        # Too late to cancel: how it ended is the next thing to look at.
        print(f"error: {exc.message or exc.code}", file=sys.stderr)
        print(f"next: `{own_command()} status {args.job_id}` shows how it ended", file=sys.stderr)
        if args.json:
            error = {"code": exc.code, "message": exc.message, "status": exc.status}
            print_json({"error": error | {"details": exc.details}})
        return EXIT_BAD_INPUT
    if args.json:
        print_json(job)
    elif job.status == JobState.CANCELLED:
        print_job(job)
        _next_step(job)
    else:
        print(f"job {job.job_id}: {job.status}, cancelling (the shards in flight finish)")
        print(f"  follow it: {own_command()} wait {job.job_id}", file=sys.stderr)
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    client = api_client(args)
    if args.all:
        jobs = list(client.iter_jobs(args.limit, args.status, args.cursor))
        page = JobPage(jobs=jobs, next_cursor=None)
    else:
        page = client.list_jobs(args.limit, args.cursor, args.status)
    if args.json:
        print_json(page)
        return EXIT_OK
    if not page.jobs:
        print("no jobs")
    else:
        print(_job_table(page.jobs))
    if page.next_cursor:
        print(f"more: {own_command()} list --cursor {page.next_cursor}", file=sys.stderr)
    return EXIT_OK


def _job_table(jobs: list[JobStatus]) -> str:
    """One row per job under a header, columns aligned."""
    header = ["job_id", "status", "created_at", "samples", "weighted", "run_id"]
    rows = [
        [
            job.job_id,
            str(job.status),
            job.created_at,
            str(job.sample_count),
            "–" if job.weighted_score is None else f"{job.weighted_score:.4f}",
            job.run_id or "",
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
    client = api_client(args)
    links = client.artifacts(args.job_id)
    saved = client.download_artifacts(args.job_id, args.download) if args.download else []
    if args.json:
        saved_paths = {"saved": [str(path) for path in saved]} if saved else {}
        print_json(links.model_dump(mode="json") | saved_paths)
        return EXIT_OK
    print(f"run {links.run_id} in s3://{links.bucket}/ (URLs valid {links.expires_in} s)")
    for name, file in links.files.items():
        print(f"  {name}: {file.key}")
        if not saved:
            print(f"    {file.url}")
    for path in saved:
        print(f"saved {path}")
    return EXIT_OK


def register(commands: argparse._SubParsersAction) -> None:
    submit = commands.add_parser("submit", help="submit a scoring job to the API")
    add_sample_arguments(submit)
    add_client_arguments(submit, with_json=False)
    submit.add_argument("--idempotency-key", help="a repeat with the same key returns the job")
    submit.add_argument("--wait", action="store_true", help="then wait for it (as `wait`)")
    submit.add_argument(
        "--dry-run", action="store_true", help="estimate calls, tokens, dollars, time; no job"
    )
    submit.add_argument("--timeout", type=float, default=600, help="with --wait (default 600 s)")
    large = submit.add_argument_group(
        "large files",
        f"A --file over {human_bytes(INLINE_MAX_FILE_BYTES)} or {MAX_SAMPLES:,} samples is "
        "uploaded, then read by the service.",
    )
    large.add_argument(
        "--upload", action="store_true", help="upload --file even when it would fit inline"
    )
    large.add_argument(
        "--on-invalid",
        choices=["fail", "skip"],
        help="an invalid row fails the job, or is skipped (uploads the file)",
    )
    large.add_argument(
        "--column-map",
        action="append",
        type=column_pair,
        metavar="THEIRS=OURS",
        help="read the file's column THEIRS as OURS, e.g. query=question (repeatable; "
        "uploads the file)",
    )
    add_placement_arguments(submit)
    submit.set_defaults(handler=cmd_submit)

    status = commands.add_parser("status", help="show a job")
    status.add_argument("job_id")
    add_client_arguments(status)
    status.set_defaults(handler=cmd_status)

    wait = commands.add_parser(
        "wait", help="wait for a job to finish (exit 0 completed, 1 failed or cancelled, 3 timeout)"
    )
    wait.add_argument("job_id")
    wait.add_argument("--timeout", type=float, default=600, help="seconds (default 600)")
    add_client_arguments(wait)
    wait.set_defaults(handler=cmd_wait)

    cancel = commands.add_parser(
        "cancel", help="cancel a queued or running job (what was scored stays, as partial)"
    )
    cancel.add_argument("job_id")
    add_client_arguments(cancel)
    cancel.set_defaults(handler=cmd_cancel)

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
