"""`rag-eval open | compare | gate`: a job's report, two runs compared, and a pass or fail
for CI judged on confidence intervals, so that noise alone neither fails nor passes it."""

from __future__ import annotations

import argparse
import json
import sys
import time
import webbrowser
from pathlib import Path
from typing import Any

from rag_eval.cli.exits import EXIT_CANNOT_TELL, EXIT_FAILED, EXIT_OK, EXIT_TIMEOUT
from rag_eval.cli.jobs import add_client_arguments, api_client
from rag_eval.cli.scoring import metric_number
from rag_eval.client import WaitTimeout
from rag_eval.domain.errors import RequestInvalid
from rag_eval.domain.states import JobState
from rag_eval.metrics.spec import UNIT, Scale


def cmd_open(args: argparse.Namespace) -> int:
    """Download the report next to the run folders (`runs/score-async/<run_id>/`), then
    hand it to the system's browser; where there is none, say where it is."""
    client = api_client(args)
    links = client.artifacts(args.job_id)
    report = links.files["report.html"]
    path = Path(args.out) / report.key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(client.fetch(report.url))
    print(f"report: {path}")
    opened = not args.no_browser and webbrowser.open(path.resolve().as_uri())
    if not opened:
        print(f"  open it in a browser, or this URL (valid {links.expires_in} s):")
        print(f"  {report.url}")
    return EXIT_OK


def _compare(client: Any, baseline: str, candidate: str, out: Path, timeout: float = 300) -> Any:
    """The service's comparison (the worker computes it: asked again until ready), and its
    .md and .html saved beside the candidate's run folder under `out`."""
    from rag_eval.app.answers import ComparisonReady
    from rag_eval.domain.comparison import Comparison

    deadline = time.monotonic() + timeout
    answer = client.compare(candidate, baseline)
    while not isinstance(answer, ComparisonReady):
        if time.monotonic() > deadline:
            raise WaitTimeout(None, timeout, job_id=candidate, status="being compared")
        time.sleep(1.0)
        answer = client.compare(candidate, baseline)
    # The comparison alone, without the answer's status and links.
    comparison = Comparison(**{name: getattr(answer, name) for name in Comparison.model_fields})
    folder = out / "score-async" / comparison.candidate_run
    folder.mkdir(parents=True, exist_ok=True)
    name = f"compare-{comparison.baseline_run}"
    for extension, url in answer.files.items():
        (folder / f"{name}.{extension}").write_bytes(client.fetch(url))
    return comparison, folder / f"{name}.md"


def cmd_compare(args: argparse.Namespace) -> int:
    from rag_eval.report.comparison import HEADER, basis_line, rows, segment_lines, verdict_line

    try:
        comparison, written = _compare(api_client(args), args.baseline, args.candidate, args.out)
    except WaitTimeout as exc:
        print(exc, file=sys.stderr)
        return EXIT_TIMEOUT
    if args.json:
        print(comparison.model_dump_json(indent=2))
        return EXIT_OK
    print(
        f"{comparison.candidate_run} against {comparison.baseline_run}: {verdict_line(comparison)}"
    )
    print(f"  {basis_line(comparison)}")
    for warning in comparison.warnings:
        print(f"  note: {warning}")
    print_table(HEADER, rows(comparison))
    for line in segment_lines(comparison):
        print(f"  segment: {line}")
    print(f"written: {written} (and .html)")
    return EXIT_OK


def print_table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows, strict=True)]
    for row in (header, *rows):
        print("  " + "  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)))


def cmd_gate(args: argparse.Namespace) -> int:
    """Pass (0), fail (1), or cannot tell (5: too few samples to decide either way) on the
    job's intervals and, with a baseline, its significant regressions; bad input is 2."""
    from rag_eval.domain.ci_gate import (
        BASIS_WORDS,
        bound_problems,
        decide,
        drift_rules,
        maximum_rules,
        minimum_rules,
        regression_rules,
        segment_rules,
    )

    minimums, maximums = args.min or [], args.max or []
    if not minimums and not maximums and not args.baseline and not args.drift:
        raise RequestInvalid(
            [
                {
                    "field": "rules",
                    "message": "a gate with no rule passes anything",
                    "allowed": [
                        "--min METRIC=VALUE",
                        "--max METRIC=VALUE",
                        "--baseline JOB",
                        "--drift",
                    ],
                }
            ]
        )
    if args.per_segment and not args.baseline:
        message = "--per-segment compares each segment with a baseline's: give --baseline"
        raise RequestInvalid(
            [{"field": "--per-segment", "message": message, "allowed": ["--baseline JOB"]}]
        )
    client = api_client(args)
    job = client.get_job(args.job_id)
    if job.status != JobState.COMPLETED:
        print(f"gate: FAIL: job {args.job_id} is {job.status}, not completed")
        return EXIT_FAILED
    intervals = job.intervals
    unknown = [
        (flag, metric)
        for flag, bounds in (("--min", minimums), ("--max", maximums))
        for metric, _ in bounds
        if metric not in intervals
    ]
    if unknown:
        raise RequestInvalid(
            [
                {
                    "field": flag,
                    "message": f"job has no {metric!r} score",
                    "allowed": sorted(intervals),
                }
                for flag, metric in unknown
            ]
        )
    scales = _scales(client, args.job_id, [metric for metric, _ in minimums + maximums])
    problems = bound_problems(minimums, maximums, scales)
    if problems:
        raise RequestInvalid(problems)
    # The means corrected by people's labels, where the job has them: the bounds rest on
    # those (what people would score), else on the judge's intervals.
    corrected = {m: t.corrected for m, t in job.corrected.items() if t.corrected is not None}
    rules = minimum_rules(intervals, minimums, corrected) + maximum_rules(
        intervals, maximums, corrected
    )
    if args.drift:  # the drift test the job's fan-in ran over its suite's last runs
        rules += drift_rules(job.suite, job.drift)
    notes: list[str] = []
    if args.baseline:
        try:
            comparison, _ = _compare(client, args.baseline, args.job_id, args.out)
        except WaitTimeout as exc:
            print(exc, file=sys.stderr)
            return EXIT_TIMEOUT
        rules += regression_rules(comparison, dict(args.max_regression or []))
        if args.per_segment:
            rules += segment_rules(comparison)
        notes = comparison.warnings  # e.g. a metric left out: its definition changed
    decision = decide(rules)
    reasons = decision.reasons
    more = f" (and {len(reasons) - 1} more, below)" if len(reasons) > 1 else ""
    print(f"gate: {decision.outcome.upper()}" + (f": {reasons[0]}{more}" if reasons else ""))
    print(f"  basis: {decision.basis_line}")
    for note in notes:
        print(f"  note: {note}")
    print_table(
        ["metric", "rule", "this run", "result", "rests on"],
        [[r.metric, r.rule, r.observed, r.outcome, BASIS_WORDS[r.basis]] for r in decision.rules],
    )
    for reason in reasons[1:]:
        print(f"  - {reason}")
    return {"pass": EXIT_OK, "fail": EXIT_FAILED, "cannot tell": EXIT_CANNOT_TELL}[decision.outcome]


def _scales(client: Any, job_id: str, metrics: list[str]) -> dict[str, Scale]:
    """The scale of each metric a bound names: a built-in metric's is its own; a metric
    the job defined is read from the run's metadata.json (fetched only then)."""
    from rag_eval.domain.comparison import metadata_scales
    from rag_eval.metrics import REGISTRY

    scales = {metric: REGISTRY[metric].scale for metric in metrics if metric in REGISTRY}
    defined = [metric for metric in metrics if metric not in scales]
    if defined:
        links = client.artifacts(job_id)
        metadata = json.loads(client.fetch(links.files["metadata.json"].url))
        read = metadata_scales(metadata)
        scales |= {metric: read.get(metric, UNIT) for metric in defined}
    return scales


def register(commands: argparse._SubParsersAction) -> None:
    opener = commands.add_parser("open", help="download a job's report.html and open it")
    opener.add_argument("job_id")
    add_client_arguments(opener, with_json=False)
    opener.add_argument("--out", type=Path, default=Path("runs"), help="default: runs/")
    opener.add_argument(
        "--no-browser", action="store_true", help="only download it and print where it is"
    )
    opener.set_defaults(handler=cmd_open)

    compare = commands.add_parser("compare", help="compare two runs, sample by sample")
    compare.add_argument("baseline", help="the baseline's job id")
    compare.add_argument("candidate", help="the candidate's job id")
    add_client_arguments(compare)
    compare.add_argument("--out", type=Path, default=Path("runs"), help="default: runs/")
    compare.set_defaults(handler=cmd_compare)

    gate = commands.add_parser(
        "gate",
        help="exit 0 if a job passes, 1 if it fails, 5 if its samples are too few to tell "
        "(judged on intervals and paired tests, not raw means; on means corrected by human "
        "labels where the runs have them)",
    )
    gate.add_argument("job_id")
    gate.add_argument("--baseline", help="a job to compare with: fail on a significant loss")
    gate.add_argument(
        "--min",
        action="append",
        type=metric_number,
        metavar="METRIC=VALUE",
        help="fail when the mean's whole interval is below VALUE, on the metric's own scale "
        "(repeatable; refused for a metric lower is better of: use --max)",
    )
    gate.add_argument(
        "--max",
        action="append",
        type=metric_number,
        metavar="METRIC=VALUE",
        help="for a metric lower is better of (noise_sensitivity): fail when the mean's "
        "whole interval is above VALUE; cannot tell under 2 samples (repeatable; refused "
        "for a metric higher is better of: use --min)",
    )
    gate.add_argument(
        "--max-regression",
        action="append",
        type=metric_number,
        metavar="METRIC=DELTA",
        help="with --baseline: a significant loss up to DELTA, on the metric's own scale, "
        "passes (default 0); for a metric lower is better of, the loss is a rise",
    )
    gate.add_argument(
        "--drift",
        action="store_true",
        help="fail when the drift test over the job's suite's last runs finds a metric "
        "declining (passes, saying so, for a job of no suite or too few runs)",
    )
    gate.add_argument(
        "--per-segment",
        action="store_true",
        help="with --baseline: also fail when a metadata segment (topic=billing) regressed "
        "significantly on a metric, Holm-corrected over every segment and metric tested",
    )
    add_client_arguments(gate, with_json=False)
    gate.add_argument("--out", type=Path, default=Path("runs"), help="default: runs/")
    gate.set_defaults(handler=cmd_gate)
