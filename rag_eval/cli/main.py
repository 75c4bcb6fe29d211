"""`rag-eval`: score in-process, run the stack locally, and a client of its API.

One module per command group (`scoring`, `jobs`, `report`, `labels`, `review`, `trend`,
`local`); each registers its commands.
Heavy imports (ragas, moto) happen inside the commands that need them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from rag_eval.cli import jobs, labels, local, report, review, scoring, trend
from rag_eval.cli.exits import EXIT_BAD_INPUT, EXIT_UNAVAILABLE
from rag_eval.cli.render import configure_logging, in_flags, own_command
from rag_eval.client import ApiError, RequestNotSent
from rag_eval.domain.errors import RequestInvalid, SettingsInvalid


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rag-eval", description="Score RAG answers with ragas metrics."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    scoring.register(commands)
    jobs.register(commands)
    report.register(commands)
    labels.register(commands)
    review.register(commands)
    trend.register(commands)
    local.register(commands)
    secret = commands.add_parser(
        "webhook-secret",
        help="your webhook signing secret (made on first use): verify deliveries with it",
    )
    jobs.add_client_arguments(secret)
    secret.set_defaults(handler=cmd_webhook_secret)
    return parser


def cmd_webhook_secret(args: argparse.Namespace) -> int:
    answer = jobs.api_client(args).webhook_secret()
    if args.json:
        print(answer.model_dump_json(indent=2))
    else:
        print(answer.secret)
        print(f"signature: {answer.signature_header}: {answer.scheme}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")  # ragas reads it once, at import
    args = build_parser().parse_args(argv)
    configure_logging()  # commands that log more (local start) configure it again
    from rag_eval.client.errors import describe_problems

    hints: list[str] = []
    error: dict[str, str | int]  # the JSON error: code, message, and the API's HTTP status
    try:
        return args.handler(args)
    except RequestInvalid as exc:
        error = {"code": "invalid_request", "message": "the request is not valid"}
        lines, details, code = describe_problems(exc.problems), exc.problems, EXIT_BAD_INPUT
    except SettingsInvalid as exc:
        error = {"code": "invalid_setting", "message": str(exc)}
        lines, details, code = [str(exc)], [], EXIT_BAD_INPUT
    except ApiError as exc:
        error = {"code": exc.code, "message": exc.message, "status": exc.status}
        lines, details, hints = exc.lines(), exc.details, _next_steps(exc)
        code = EXIT_BAD_INPUT if exc.client_error else EXIT_UNAVAILABLE
    except RequestNotSent as exc:
        error = {"code": "unreachable", "message": str(exc)}
        lines, details, code = [str(exc)], [], EXIT_UNAVAILABLE
    for line in lines:
        print(f"error: {in_flags(line)}", file=sys.stderr)
    for hint in hints:
        print(f"next: {hint}", file=sys.stderr)
    if getattr(args, "json", False):  # the machine-readable error, where the result would be
        print(json.dumps({"error": error | {"details": details}}, ensure_ascii=False, indent=2))
    return code


def _next_steps(exc: ApiError) -> list[str]:
    """What to do about an answer of the API, where its message cannot say it."""
    command = own_command()
    if exc.code == "job_not_found":
        return [f"`{command} list` shows your jobs"]
    if exc.code == "conflict" and "exist once it is completed" in exc.message:
        return [f"`{command} wait JOB_ID` waits for it to finish"]
    return []


if __name__ == "__main__":
    sys.exit(main())
