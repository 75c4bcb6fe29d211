"""`submit`'s flags that place a job among others: the suite it is a run of, the anchor
dataset the suite's judge canary scores with it, and the webhook told of its states."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from rag_eval.cli.render import UploadProgress
from rag_eval.client.api import ScoreJobsClient
from rag_eval.domain.errors import RequestInvalid


def add_placement_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("suites and webhooks")
    group.add_argument(
        "--suite",
        metavar="NAME",
        help="a run of this suite, e.g. support-bot/weekly (`rag-eval trend NAME` shows them)",
    )
    group.add_argument(
        "--anchor",
        type=Path,
        metavar="FILE",
        help="with --suite: a dataset that never changes, uploaded and scored with the run, "
        "cache off, to tell a change of the judge from one of the RAG system (the run's canary)",
    )
    group.add_argument(
        "--notify",
        metavar="URL",
        help="an https URL that receives the job's state changes, signed "
        "(`rag-eval webhook-secret` gives the key)",
    )


def place(args: argparse.Namespace, body: dict[str, Any], client: ScoreJobsClient) -> None:
    """Add the flags' suite, anchor (uploaded first) and webhook to the request body."""
    if args.suite:
        body["suite"] = args.suite
    if args.notify:
        body["notify"] = {"url": args.notify}
    if args.anchor:
        path: Path = args.anchor
        if not path.is_file():
            raise RequestInvalid([{"field": "--anchor", "message": f"no such file: {path}"}])
        print(f"{path.name}: uploading the anchor", file=sys.stderr)
        show = UploadProgress(path.name, path.stat().st_size)
        upload_id = client.upload_file(path, on_progress=show)
        show.done(upload_id)
        body["anchor"] = {"upload_id": upload_id}
