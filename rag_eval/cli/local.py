"""`rag-eval local start | env-vars | sqs-event` and `rag-eval invoke`: the stack on this
machine, what `sam local invoke` needs from it, one handler."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from rag_eval.cli.exits import EXIT_BAD_INPUT, EXIT_OK, EXIT_TIMEOUT, EXIT_UNAVAILABLE
from rag_eval.cli.render import aws_command, configure_logging, own_command, print_json
from rag_eval.domain.errors import RequestInvalid
from rag_eval.domain.settings import Settings


def _parameter(value: str) -> tuple[str, str]:
    name, sep, setting = value.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {value!r}")
    return name, setting


# In the state dir: the handlers' JSON lines, kept across restarts as the state is.
HANDLER_LOG = "handlers.jsonl"


def cmd_local_start(args: argparse.Namespace) -> int:
    import signal
    import threading

    from rag_eval.local.handler_output import HandlerLog
    from rag_eval.local.stack import LocalStack
    from rag_eval.local.state import STATE_FILE

    visibility_timeout = (
        args.visibility_timeout
        if args.visibility_timeout is not None
        else Settings.from_env().local_visibility_timeout
    )
    configure_logging(logging.INFO, timestamps=True)
    print(
        "starting the local stack: moto, template.yaml's resources, the API"
        + (" (a few seconds)" if args.no_worker else ", the pollers (a few seconds)"),
        file=sys.stderr,
        flush=True,
    )
    moto_port = args.moto_port
    if moto_port is None:
        moto_port = args.port + 1 if args.port else 0
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    state_dir = args.state_dir or Path(Settings.from_env().local_state_dir)
    if args.fresh:
        (state_dir / STATE_FILE).unlink(missing_ok=True)
    stack = LocalStack(
        args.port,
        moto_port=moto_port,
        visibility_timeout=visibility_timeout,
        parameters=dict(args.parameters or []),
        worker_concurrency=args.worker_concurrency,
        worker_isolation="process",
        state_dir=state_dir,
        handler_log=HandlerLog(state_dir / HANDLER_LOG, echo=args.verbose),
        moto_host=args.moto_host,
        workers=not args.no_worker,
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
    rag_eval, aws = own_command(), aws_command()
    exports = " ".join(f"{name}={value}" for name, value in stack.client_environment().items())
    judge = stack.environment.get("OPENAI_BASE_URL") or (
        "api.openai.com" if stack.environment.get("OPENAI_API_KEY") else ""
    )
    return "\n".join(
        [
            "",
            "The local stack is up: template.yaml's resources in moto, the API's handlers in "
            + (
                "this process, the worker's in processes of their own."
                if stack.workers
                else "this process, no worker."
            ),
            f"  API          {stack.endpoint}   (Swagger UI: {stack.endpoint}/docs)",
            f"  AWS (moto)   {stack.moto_url}",
            f"  bucket       {stack.bucket}",
            f"  table        {stack.table}",
            f"  queues       {stack.queue_url} (jobs), {stack.physical_ids['ShardQueue']} (shards)",
            f"  judge        {judge or 'none (model-free metrics only; set OPENAI_BASE_URL)'}",
            *containers_lines(stack, rag_eval),
            f"  state        {state_line(stack)}",
            f"  logs         {stack.handler_log.path} (the handlers' JSON logs and EMF metrics; "
            + ("shown here too)" if stack.handler_log.echo else "--verbose: here too)"),
            "",
            "In another shell:",
            f"  export {exports}",
            f"  {rag_eval} submit --file rag_eval/sample_data/samples.jsonl "
            "--metrics chrf_score --wait",
            f"  {rag_eval} list",
            f"  {aws} --endpoint-url {stack.moto_url} s3 ls s3://{stack.bucket}/score-async/ "
            "--recursive",
            "",
            "Ctrl-C stops it"
            + (
                f"; its state stays in {stack.state_dir} for the next start (--fresh: start empty)."
                if stack.state_dir
                else " (everything is in memory and goes with it)."
            ),
        ]
    )


def containers_lines(stack, rag_eval: str) -> list[str]:
    """What `sam local invoke` needs to know, when the stack is started for it."""
    lines = []
    if not stack.workers:
        lines.append(
            "  worker       none (--no-worker): jobs wait in the queues; "
            f"`{rag_eval} local sqs-event` takes the next one as the worker's event"
        )
    from rag_eval.local.containers import is_loopback

    if not is_loopback(stack.moto_host):
        relay = stack.judge_relay
        judge = f", the judge relayed on port {relay.port}" if relay else ""
        lines.append(
            f"  containers   moto on {stack.moto_host}{judge}: "
            f"`{rag_eval} local env-vars > env.json` for `sam local invoke --env-vars`"
        )
    return lines


def state_line(stack) -> str:
    if stack.state_dir is None:
        return "in memory only"
    jobs = stack.client("dynamodb").scan(
        TableName=stack.table, Select="COUNT", FilterExpression="attribute_exists(listing)"
    )["Count"]
    if stack.restored:
        return f"restored from {stack.state_dir}: {jobs} job(s), the same resources as before"
    return f"kept in {stack.state_dir} (new)"


def cmd_invoke(args: argparse.Namespace) -> int:
    import contextlib

    from rag_eval.local.environment import LocalStackNotFound
    from rag_eval.local.runtime import resolve_function
    from rag_eval.local.stack import invoke

    try:
        function = resolve_function(args.function)
    except ValueError as exc:
        raise RequestInvalid([{"field": "FUNCTION", "message": str(exc)}]) from None
    source = sys.stdin if str(args.event) == "-" else args.event.open(encoding="utf-8")
    with source:
        event = json.load(source)
    endpoint = _moto_url(args)
    # The handler's logs go to stderr, so that stdout is the response alone.
    try:
        with contextlib.redirect_stdout(sys.stderr):
            response = invoke(function, event, endpoint)
    except LocalStackNotFound as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    print_json(response)
    return EXIT_OK


def _moto_url(args: argparse.Namespace) -> str:
    return args.endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or "http://127.0.0.1:3001"


def cmd_env_vars(args: argparse.Namespace) -> int:
    from rag_eval.local.containers import NotReachableFromContainers, sam_env_vars
    from rag_eval.local.environment import LocalStackNotFound

    try:
        env_vars = sam_env_vars(
            _moto_url(args), container_host=args.container_host, judge_url=args.judge_url
        )
    except (LocalStackNotFound, NotReachableFromContainers) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    some = next(iter(env_vars.values()))
    judge = some.get("OPENAI_BASE_URL") or "none (model-free metrics only)"
    print(
        f"{', '.join(env_vars)}: AWS at {some['AWS_ENDPOINT_URL']}, judge {judge}",
        file=sys.stderr,
    )
    print_json(env_vars)
    return EXIT_OK


def cmd_sqs_event(args: argparse.Namespace) -> int:
    from rag_eval.local.containers import QueueEmpty, next_sqs_event
    from rag_eval.local.environment import LocalStackNotFound

    try:
        event = next_sqs_event(_moto_url(args), args.queue, wait_seconds=args.wait)
    except LocalStackNotFound as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    except QueueEmpty as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_TIMEOUT
    print_json(event)
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from rag_eval.cli.demo import run_demo

    return run_demo(timeout=args.timeout, out=args.out, verbose=args.verbose)


def register(commands: argparse._SubParsersAction) -> None:
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
        metavar="SECONDS",
        help="the score queue's visibility timeout, i.e. how soon a failed job is retried "
        "(default: $RAG_EVAL_VISIBILITY_TIMEOUT, else the template's 5400 s)",
    )
    start.add_argument(
        "--worker-concurrency",
        type=int,
        default=1,
        metavar="N",
        help="N worker execution environments, each its own process, as on Lambda (default 1)",
    )
    start.add_argument(
        "--state-dir",
        type=Path,
        metavar="DIR",
        help="where the stack keeps its jobs, run folders and queues across restarts "
        "(default: $RAG_EVAL_STATE_DIR, else runs/local-stack)",
    )
    start.add_argument(
        "--fresh", action="store_true", help="start empty: forget the state kept in --state-dir"
    )
    start.add_argument(
        "--verbose",
        action="store_true",
        help="show the handlers' JSON logs and EMF metrics here too, not only in the state "
        f"dir's {HANDLER_LOG}",
    )
    start.add_argument(
        "--parameter",
        action="append",
        type=_parameter,
        dest="parameters",
        metavar="NAME=VALUE",
        help="a template parameter, e.g. LogLevel=WARNING (repeatable)",
    )
    start.add_argument(
        "--moto-host",
        metavar="ADDR",
        help="the address moto listens on (default 127.0.0.1). For `sam local invoke`: "
        "Docker's bridge gateway (usually 172.17.0.1), where containers reach this machine; "
        "a judge on loopback is then relayed there too, on its port",
    )
    start.add_argument(
        "--no-worker",
        action="store_true",
        help="no worker pollers: jobs stay in the queues, for `sam local invoke "
        "WorkerFunction` (`local sqs-event` takes the next one as its event)",
    )
    start.set_defaults(handler=cmd_local_start)

    endpoint_help = (
        "the local stack's moto URL (default: $AWS_ENDPOINT_URL, else http://127.0.0.1:3001)"
    )
    env_vars = local_commands.add_parser(
        "env-vars",
        help="the `sam local invoke --env-vars` file of the running local stack, on stdout",
        description="For each function of template.yaml, the variables the template declares "
        "(SAM sets no other): the stack's resource names, AWS_ENDPOINT_URL at its moto and the "
        "judge's URL, both as a container reaches them.",
    )
    env_vars.add_argument("--endpoint-url", help=endpoint_help)
    env_vars.add_argument(
        "--container-host",
        metavar="ADDR",
        help="where containers reach this machine (default: moto's address when it is not "
        "loopback, else the bridge gateway `docker network inspect bridge` gives)",
    )
    env_vars.add_argument(
        "--judge-url",
        help="the judge's OpenAI-compatible base URL (default: $OPENAI_BASE_URL, else the "
        "stack's OpenAIBaseUrl parameter); a loopback host becomes the container host",
    )
    env_vars.set_defaults(handler=cmd_env_vars)

    sqs_event = local_commands.add_parser(
        "sqs-event",
        help="the next message of a queue as the worker's SQS event, on stdout (the message "
        "is taken off the queue)",
    )
    sqs_event.add_argument(
        "--queue",
        choices=("jobs", "shards"),
        default="jobs",
        help="the score queue (jobs, default) or the shard queue (a planned job's shards)",
    )
    sqs_event.add_argument(
        "--wait", type=int, default=5, metavar="SECONDS", help="how long to wait for one (5)"
    )
    sqs_event.add_argument("--endpoint-url", help=endpoint_help)
    sqs_event.set_defaults(handler=cmd_sqs_event)

    invoke = commands.add_parser(
        "invoke",
        help="run one function's handler on an event against the running local stack "
        "(what `sam local invoke -e` does with Docker)",
    )
    invoke.add_argument("function", help="ApiFunction, ListFunction, WorkerFunction (or api, ...)")
    invoke.add_argument(
        "-e", "--event", type=Path, required=True, help="the event JSON file (- for stdin)"
    )
    invoke.add_argument("--endpoint-url", help=endpoint_help)
    invoke.set_defaults(handler=cmd_invoke)

    demo = commands.add_parser(
        "demo", help="start the local stack, score the bundled samples through the API, stop"
    )
    demo.add_argument("--timeout", type=float, default=600, help="seconds to wait for the job")
    demo.add_argument(
        "--out",
        type=Path,
        default=Path("runs"),
        help="where the run folder is kept (default: runs/, as DIR/score-async/<run_id>/)",
    )
    demo.add_argument(
        "--verbose",
        action="store_true",
        help="show the handlers' JSON logs and EMF metrics here too, not only in the file "
        "the demo names",
    )
    demo.set_defaults(handler=cmd_demo)
