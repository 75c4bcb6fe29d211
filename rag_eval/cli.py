"""`rag-eval`: score in-process, list metrics (and, with the local stack, the API client)."""

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

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


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


def request_body(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    """The API body the flags describe. Raises RequestInvalid for contradictory flags."""
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
    elif not settings.openai_configured and not (args.judge_model or "").startswith("bedrock:"):
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
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")  # ragas reads it once, at import
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except RequestInvalid as exc:
        for problem in exc.problems:
            allowed = problem.get("allowed")
            if allowed and not isinstance(allowed, str):
                allowed = ", ".join(allowed)
            suffix = f" (allowed: {allowed})" if allowed else ""
            print(f"error: {problem['field']}: {problem['message']}{suffix}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
