"""`rag-eval trend | suites`: a suite's runs over time (a table, its drift, and trend.html),
and the suites of the caller. A client of `GET /suites/{name}` and `GET /suites`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rag_eval.app.jobs import MAX_LIST_LIMIT
from rag_eval.cli.exits import EXIT_OK
from rag_eval.cli.jobs import add_client_arguments, api_client
from rag_eval.cli.render import own_command, print_json
from rag_eval.cli.report import print_table
from rag_eval.domain.suites import SuitePage, SuiteRun, SuiteRuns

DEFAULT_RUNS = 52  # a year of a weekly suite
DEFAULT_SUITES = 100


def _runs(client, suite: str, limit: int) -> SuiteRuns:
    """The suite's newest `limit` runs, page after page; the drift is the first page's
    (the newest completed run's test)."""
    first = client.suite(suite, limit=min(limit, MAX_LIST_LIMIT))
    runs, cursor = list(first.runs), first.next_cursor
    while cursor and len(runs) < limit:
        page = client.suite(suite, limit=min(limit - len(runs), MAX_LIST_LIMIT), cursor=cursor)
        runs += page.runs
        cursor = page.next_cursor
    return first.model_copy(update={"runs": runs[:limit], "next_cursor": None})


def _mean(run: SuiteRun, metric: str, mean: float) -> str:
    interval = run.intervals.get(metric)
    return f"{mean:.3f}" + (
        "" if interval is None else f" ({interval.low:.3f}–{interval.high:.3f})"
    )


def _drift_word(suite: SuiteRuns, metric: str) -> str:
    drift = suite.drift.get(metric)
    if drift is None:
        return "no test"
    if drift.runs < drift.runs_needed:
        return f"too few runs ({drift.runs} of {drift.runs_needed})"
    return "DECLINING" if drift.declining else "no decline"


def _rows(suite: SuiteRuns) -> list[list[str]]:
    """Per metric: its latest mean and interval, the change from the oldest shown run that
    scored it, and what the drift test says."""
    metrics = list(dict.fromkeys(m for run in suite.runs for m in [*run.metrics, *run.scores]))
    rows = []
    for metric in metrics:
        scored = [(run, mean) for run in suite.runs if (mean := run.scores.get(metric)) is not None]
        if not scored:
            rows.append([metric, "–", "–", "no run scored it"])
            continue
        (newest, latest), (_, first) = scored[0], scored[-1]
        change = f"{latest - first:+.3f} over {len(scored)} runs" if len(scored) > 1 else "one run"
        rows.append([metric, _mean(newest, metric, latest), change, _drift_word(suite, metric)])
    return rows


def cmd_trend(args: argparse.Namespace) -> int:
    from rag_eval.report.trend import trend_html

    suite = _runs(api_client(args), args.suite, args.limit)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(trend_html(suite), encoding="utf-8")
    if args.json:
        print_json(suite)
        print(f"written: {args.out}", file=sys.stderr)
        return EXIT_OK
    if not suite.runs:
        print(f"suite {suite.suite}: no runs yet")
    else:
        oldest, newest = suite.runs[-1].created_at[:10], suite.runs[0].created_at[:10]
        count = len(suite.runs)
        print(f"suite {suite.suite}: {count} run{'s' if count > 1 else ''}, {oldest} to {newest}")
        print_table(["metric", "latest (95% interval)", "change", "drift"], _rows(suite))
        for drift in suite.drift.values():
            print(f"  {'! ' if drift.declining else ''}{drift.sentence}")
        for run in reversed(suite.runs):
            if run.changes:
                print(
                    f"  changed at {run.created_at[:10]} (job {run.job_id}): "
                    + "; ".join(run.changes)
                )
    print(f"written: {args.out}")
    return EXIT_OK


def cmd_suites(args: argparse.Namespace) -> int:
    client = api_client(args)
    page = client.suites(limit=min(args.limit, MAX_LIST_LIMIT))
    suites = list(page.suites)
    while page.next_cursor and len(suites) < args.limit:
        page = client.suites(min(args.limit - len(suites), MAX_LIST_LIMIT), page.next_cursor)
        suites += page.suites
    if args.json:
        print_json(SuitePage(suites=suites[: args.limit], next_cursor=None))
        return EXIT_OK
    if not suites:
        print("no suites: a job joins one when it names a suite")
        return EXIT_OK
    rows = [[s.name, str(s.runs), s.last_run_at[:16].replace("T", " ")] for s in suites]
    print_table(["suite", "runs", "last run"], rows[: args.limit])
    print(f"  a suite's trend: {own_command()} trend SUITE", file=sys.stderr)
    return EXIT_OK


def register(commands: argparse._SubParsersAction) -> None:
    trend = commands.add_parser(
        "trend", help="a suite's runs over time: each metric's means, drift, and trend.html"
    )
    trend.add_argument("suite", help="the suite's name, e.g. support-bot/weekly")
    trend.add_argument(
        "--limit",
        type=int,
        default=DEFAULT_RUNS,
        help=f"the newest N runs (default {DEFAULT_RUNS})",
    )
    trend.add_argument("--out", type=Path, default=Path("trend.html"), help="default: ./trend.html")
    add_client_arguments(trend)
    trend.set_defaults(handler=cmd_trend)

    suites = commands.add_parser("suites", help="your suites: each one's runs and last run")
    suites.add_argument(
        "--limit", type=int, default=DEFAULT_SUITES, help=f"default: {DEFAULT_SUITES}"
    )
    add_client_arguments(suites)
    suites.set_defaults(handler=cmd_suites)
