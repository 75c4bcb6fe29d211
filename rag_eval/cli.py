"""`rag-eval`: score in-process, run the stack locally, and a client of its API."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from rag_eval.errors import RequestInvalid
from rag_eval.metrics import DEFAULT_METRICS, MODEL_FREE_METRICS, REGISTRY
from rag_eval.settings import Settings

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_TIMEOUT, EXIT_UNAVAILABLE = 0, 1, 2, 3, 4


def _csv_list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def _weight(value: str) -> tuple[str, float]:
    name, sep, number = value.partition("=")
    try:
        if not sep:
            raise ValueError
        return name.strip(), float(number)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected METRIC=NUMBER, got {value!r}") from None


def add_sample_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags that describe what to score (shared by `score` and `submit`)."""
    source = parser.add_argument_group("what to score")
    source.add_argument("--file", type=Path, help="samples in a .jsonl or .csv file")
    source.add_argument("--question", help="the user's question")
    source.add_argument("--answer", help="the RAG system's answer")
    source.add_argument(
        "--context", action="append", dest="contexts", help="a retrieved context (repeatable)"
    )
    source.add_argument("--ground-truth", help="the reference answer")
    parser.add_argument(
        "--metrics",
        type=_csv_list,
        help=f"comma-separated metric names (default: {','.join(DEFAULT_METRICS)}; "
        "model-free metrics when no judge is configured)",
    )
    parser.add_argument(
        "--weight",
        action="append",
        type=_weight,
        dest="weights",
        metavar="METRIC=W",
        help="weight of a metric in the weighted score (repeatable; default 1 each)",
    )
    parser.add_argument("--judge-model", help="judge LLM, e.g. gpt-4o-mini or bedrock:<model-id>")
    parser.add_argument("--embedding-model", help="embedding model for metrics that need one")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")


def request_body(args: argparse.Namespace, settings: Settings | None) -> dict[str, Any]:
    """The API body the flags describe. Raises RequestInvalid for contradictory flags.

    settings: the judge settings of whoever scores, to fall back to the model-free metrics
    when no judge is configured; None when a service scores (it knows its own judge).
    """
    from rag_eval.sample_files import load_samples

    inline = args.question is not None
    if args.file and inline:
        raise RequestInvalid(
            [{"field": "--file", "message": "give --file or --question, not both"}]
        )
    if args.file:
        body: dict[str, Any] = {"samples": load_samples(args.file)}
    elif inline:
        body = {
            "question": args.question,
            "answer": args.answer,
            "contexts": args.contexts,
            "ground_truth": args.ground_truth,
        }
        body = {k: v for k, v in body.items() if v is not None}
    else:
        raise RequestInvalid(
            [{"field": "--question", "message": "required (or --file with samples)"}]
        )
    if args.metrics:
        body["metrics"] = args.metrics
    elif (
        settings is not None
        and not settings.openai_configured
        and not (args.judge_model or "").startswith("bedrock:")
    ):
        # No judge: score what can be scored instead of refusing the default set.
        body["metrics"] = list(MODEL_FREE_METRICS)
        print(
            "note: no judge configured, scoring model-free metrics only. Set OPENAI_BASE_URL "
            "(and OPENAI_API_KEY) to an OpenAI-compatible endpoint for the LLM metrics.",
            file=sys.stderr,
        )
    if args.weights:
        body["weights"] = dict(args.weights)
    for name in ("judge_model", "embedding_model"):
        if getattr(args, name):
            body[name] = getattr(args, name)
    return body


def cmd_score(args: argparse.Namespace) -> int:
    import asyncio

    from rag_eval.jobs import new_job
    from rag_eval.judges import judge_problems
    from rag_eval.models import parse_request
    from rag_eval.pipeline import ScoringPipeline
    from rag_eval.storage import LocalObjectStore

    settings = Settings.from_env()
    request = parse_request(request_body(args, settings))
    problems = judge_problems(request, settings)
    if problems:
        raise RequestInvalid(problems)
    job = new_job(request, settings)
    pipeline = ScoringPipeline(settings, LocalObjectStore(args.out))
    show = _progress_printer(enabled=not args.json)
    try:
        result = asyncio.run(pipeline.arun(job, request, on_progress=show))
    except Exception as exc:  # the seed's behaviour: a failed job, with the error
        result = job.model_copy(
            update={"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
        )
    finally:
        show(None)
    if args.json:
        print(result.model_dump_json(indent=2))
    else:
        print_job(result, run_root=args.out)
    return EXIT_OK if result.status == "completed" else EXIT_FAILED


def _progress_printer(enabled: bool):
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


def cmd_metrics(args: argparse.Namespace) -> int:
    rows = [spec.describe() for spec in REGISTRY.values()]
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    for row in rows:
        needs = [k for k in ("judge", "embeddings") if row[f"needs_{k}"]] or ["nothing"]
        default = " (default)" if row["name"] in DEFAULT_METRICS else ""
        print(f"{row['name']}{default}")
        print(f"    {row['description']}")
        print(f"    inputs: {', '.join(row['inputs'])}; needs: {', '.join(needs)}")
    return EXIT_OK


# --- the API client ------------------------------------------------------------------------


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


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False))


def _job_model(job: dict[str, Any]):
    from rag_eval.models import JobStatus

    return JobStatus.model_validate(job)


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
            end = "\n" if job["status"] in ("completed", "failed") else ""
            stream.write(f"\r\033[K{line}{end}")
        else:
            stream.write(line + "\n")
        stream.flush()
        state["last"] = line

    return show


def _wait_and_report(client, job_id: str, args: argparse.Namespace) -> int:
    from rag_eval.client import WaitTimeout

    try:
        job = client.wait(job_id, timeout=args.timeout, on_update=job_watcher())
    except WaitTimeout as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_TIMEOUT
    if args.json:
        _print_json(job)
    else:
        print_job(_job_model(job))
    return EXIT_OK if job["status"] == "completed" else EXIT_FAILED


def cmd_submit(args: argparse.Namespace) -> int:
    client = _client(args)
    job = client.submit(request_body(args, settings=None), idempotency_key=args.idempotency_key)
    if args.wait:
        return _wait_and_report(client, job["job_id"], args)
    if args.json:
        _print_json(job)
    else:
        print(f"job {job['job_id']}: {job['status']}")
        print(f"  follow it: rag-eval wait {job['job_id']}", file=sys.stderr)
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    job = _client(args).get_job(args.job_id)
    if args.json:
        _print_json(job)
    else:
        print_job(_job_model(job))
        if job["status"] not in ("completed", "failed"):
            print("  " + progress_line(job).split(": ", 1)[1])
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
        _print_json(page)
        return EXIT_OK
    for job in page["jobs"]:
        weighted = job.get("weighted_score")
        print(
            f"{job['job_id']}  {job['status']:<9}  {job['created_at']}  "
            f"{job.get('sample_count', 0):>4} sample(s)  "
            f"{'–' if weighted is None else f'{weighted:.4f}':>6}  {job.get('run_id') or ''}"
        )
    if not page["jobs"]:
        print("no jobs")
    if page.get("next_cursor"):
        print(f"more: rag-eval list --cursor {page['next_cursor']}", file=sys.stderr)
    return EXIT_OK


def cmd_artifacts(args: argparse.Namespace) -> int:
    client = _client(args)
    links = client.artifacts(args.job_id)
    saved = client.download_artifacts(args.job_id, args.download) if args.download else []
    if args.json:
        _print_json(links | ({"saved": [str(path) for path in saved]} if saved else {}))
        return EXIT_OK
    print(f"run {links['run_id']} in s3://{links['bucket']}/ (URLs valid {links['expires_in']} s)")
    for name, file in links["files"].items():
        print(f"  {name}: {file['key']}")
        if not saved:
            print(f"    {file['url']}")
    for path in saved:
        print(f"saved {path}")
    return EXIT_OK


# --- the local stack -----------------------------------------------------------------------


def _configure_logging() -> None:
    import logging

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("botocore").setLevel(logging.WARNING)


def _int_env(name: str) -> int | None:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else None


def _parameter(value: str) -> tuple[str, str]:
    name, sep, setting = value.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {value!r}")
    return name, setting


def cmd_local_start(args: argparse.Namespace) -> int:
    import signal
    import threading

    from rag_eval.local.stack import LocalStack

    _configure_logging()
    moto_port = args.moto_port
    if moto_port is None:
        moto_port = args.port + 1 if args.port else 0
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    stack = LocalStack(
        args.port,
        moto_port=moto_port,
        visibility_timeout=args.visibility_timeout,
        parameters=dict(args.parameters or []),
        worker_concurrency=args.worker_concurrency,
    )
    try:
        stack.start()
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        print(local_stack_banner(stack), flush=True)
        while not stopping.wait(0.5):
            pass
        print("stopping the local stack", file=sys.stderr)
    finally:
        stack.stop()
    return EXIT_OK


def local_stack_banner(stack) -> str:
    exports = " ".join(f"{name}={value}" for name, value in stack.client_environment().items())
    judge = stack.environment.get("OPENAI_BASE_URL") or (
        "api.openai.com" if stack.environment.get("OPENAI_API_KEY") else ""
    )
    return "\n".join(
        [
            "",
            "The local stack is up: template.yaml's resources in moto, its handlers in this "
            "process.",
            f"  API          {stack.endpoint}   (Swagger UI: {stack.endpoint}/docs)",
            f"  AWS (moto)   {stack.moto_url}",
            f"  bucket       {stack.bucket}",
            f"  table        {stack.table}",
            f"  queue        {stack.queue_url}",
            f"  judge        {judge or 'none (model-free metrics only; set OPENAI_BASE_URL)'}",
            "",
            "In another shell:",
            f"  export {exports}",
            "  rag-eval submit --file rag_eval/sample_data/samples.jsonl --metrics chrf_score "
            "--wait",
            "  rag-eval list",
            f"  aws --endpoint-url {stack.moto_url} s3 ls s3://{stack.bucket}/score-async/ "
            "--recursive",
            "",
            "Ctrl-C stops it (everything is in memory and goes with it).",
        ]
    )


def cmd_invoke(args: argparse.Namespace) -> int:
    import contextlib

    from rag_eval.local.stack import LocalStackNotFound, invoke, resolve_function

    try:
        function = resolve_function(args.function)
    except ValueError as exc:
        raise RequestInvalid([{"field": "FUNCTION", "message": str(exc)}]) from None
    source = sys.stdin if str(args.event) == "-" else args.event.open(encoding="utf-8")
    with source:
        event = json.load(source)
    endpoint = args.endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or "http://127.0.0.1:3001"
    # The handler's logs go to stderr, so that stdout is the response alone.
    try:
        with contextlib.redirect_stdout(sys.stderr):
            response = invoke(function, event, endpoint)
    except LocalStackNotFound as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    _print_json(response)
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from rag_eval.local.demo import run_demo

    return run_demo(timeout=args.timeout)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rag-eval", description="Score RAG answers with ragas metrics."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    score = commands.add_parser("score", help="score samples in this process (no AWS)")
    add_sample_arguments(score)
    score.add_argument(
        "--out", type=Path, default=Path("runs"), help="where run folders go (default: runs/)"
    )
    score.set_defaults(handler=cmd_score)

    metrics = commands.add_parser("metrics", help="list the supported metrics")
    metrics.add_argument("--json", action="store_true")
    metrics.set_defaults(handler=cmd_metrics)

    local = commands.add_parser("local", help="run the whole stack on this machine")
    local_commands = local.add_subparsers(dest="local_command", required=True)
    start = local_commands.add_parser(
        "start",
        help="moto with template.yaml's resources, the API on loopback, the worker's poller",
    )
    start.add_argument("--port", type=int, default=3000, help="the API's port (default 3000)")
    start.add_argument(
        "--moto-port", type=int, help="moto's port (default: the API's port + 1; 0: any free)"
    )
    start.add_argument(
        "--visibility-timeout",
        type=int,
        default=_int_env("RAG_EVAL_VISIBILITY_TIMEOUT"),
        metavar="SECONDS",
        help="the score queue's visibility timeout, i.e. how soon a failed job is retried "
        "(default: $RAG_EVAL_VISIBILITY_TIMEOUT, else the template's 5400 s)",
    )
    start.add_argument(
        "--worker-concurrency", type=int, default=1, help="batches scored at once (default 1)"
    )
    start.add_argument(
        "--parameter",
        action="append",
        type=_parameter,
        dest="parameters",
        metavar="NAME=VALUE",
        help="a template parameter, e.g. LogLevel=WARNING (repeatable)",
    )
    start.set_defaults(handler=cmd_local_start)

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
    listing.add_argument("--status", choices=["queued", "running", "completed", "failed"])
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

    invoke = commands.add_parser(
        "invoke",
        help="run one function's handler on an event against the running local stack "
        "(what `sam local invoke -e` does with Docker)",
    )
    invoke.add_argument("function", help="ApiFunction, ListFunction, WorkerFunction (or api, ...)")
    invoke.add_argument(
        "-e", "--event", type=Path, required=True, help="the event JSON file (- for stdin)"
    )
    invoke.add_argument(
        "--endpoint-url",
        help="the local stack's moto URL (default: $AWS_ENDPOINT_URL, else http://127.0.0.1:3001)",
    )
    invoke.set_defaults(handler=cmd_invoke)

    demo = commands.add_parser(
        "demo", help="start the local stack, score the bundled samples through the API, stop"
    )
    demo.add_argument("--timeout", type=float, default=600, help="seconds to wait for the job")
    demo.set_defaults(handler=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")  # ragas reads it once, at import
    args = build_parser().parse_args(argv)
    from rag_eval.client import ApiError, RequestNotSent, describe_problem

    try:
        return args.handler(args)
    except RequestInvalid as exc:
        for problem in exc.problems:
            print(f"error: {describe_problem(problem)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except ApiError as exc:
        for line in exc.lines():
            print(f"error: {line}", file=sys.stderr)
        return EXIT_BAD_INPUT if exc.client_error else EXIT_UNAVAILABLE
    except RequestNotSent as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE


if __name__ == "__main__":
    sys.exit(main())
