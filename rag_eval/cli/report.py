"""`rag-eval open JOB_ID`: a job's report.html, downloaded and opened in a browser."""

from __future__ import annotations

import argparse
import webbrowser
from pathlib import Path

from rag_eval.cli.exits import EXIT_OK
from rag_eval.cli.jobs import add_client_arguments, api_client


def cmd_open(args: argparse.Namespace) -> int:
    """Download the report next to the run folders (`runs/score-async/<run_id>/`), then
    hand it to the system's browser; where there is none, say where it is."""
    client = api_client(args)
    links = client.artifacts(args.job_id)
    report = links["files"]["report.html"]
    path = Path(args.out) / report["key"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(client.fetch(report["url"]))
    print(f"report: {path}")
    opened = not args.no_browser and webbrowser.open(path.resolve().as_uri())
    if not opened:
        print(f"  open it in a browser, or this URL (valid {links['expires_in']} s):")
        print(f"  {report['url']}")
    return EXIT_OK


def register(commands: argparse._SubParsersAction) -> None:
    opener = commands.add_parser("open", help="download a job's report.html and open it")
    opener.add_argument("job_id")
    add_client_arguments(opener, with_json=False)
    opener.add_argument(
        "--out", type=Path, default=Path("runs"), help="where it goes (default: runs/)"
    )
    opener.add_argument(
        "--no-browser", action="store_true", help="only download it and print where it is"
    )
    opener.set_defaults(handler=cmd_open)
