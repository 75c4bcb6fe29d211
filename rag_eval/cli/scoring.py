"""`rag-eval score` and `rag-eval metrics`: scoring in this process, no AWS."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rag_eval.cli.exits import EXIT_FAILED, EXIT_OK
from rag_eval.cli.render import print_job, scoring_progress
from rag_eval.domain.errors import RequestInvalid
from rag_eval.domain.sample import Sample
from rag_eval.domain.settings import Settings
from rag_eval.domain.states import JobState
from rag_eval.domain.turns import CONVERSATION_METRICS
from rag_eval.metrics import DEFAULT_METRICS, MODEL_FREE_METRICS, REGISTRY
from rag_eval.metrics.spec import UNIT, MetricSpec


def _csv_list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def metric_number(value: str) -> tuple[str, float]:
    name, sep, number = value.partition("=")
    try:
        if not sep:
            raise ValueError
        return name.strip(), float(number)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected METRIC=NUMBER, got {value!r}") from None


def column_pair(value: str) -> tuple[str, str]:
    """`--column-map THEIRS=OURS`, OURS one of the sample's fields."""
    theirs, sep, ours = value.rpartition("=")
    if not sep or not theirs or ours not in Sample.model_fields:
        raise argparse.ArgumentTypeError(
            f"expected THEIRS=OURS, OURS one of {', '.join(Sample.model_fields)}; got {value!r}"
        )
    return theirs, ours


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
        "--metric-file",
        type=Path,
        metavar="FILE",
        help="metrics of your own, defined in a YAML or JSON file: a list of definitions, or "
        "a mapping with custom_metrics: (`rag-eval metrics` shows how). They are scored "
        "besides --metrics (or the default set); if --metrics names some of them, just the "
        "metrics it names are scored",
    )
    parser.add_argument(
        "--weight",
        action="append",
        type=metric_number,
        dest="weights",
        metavar="METRIC=W",
        help="weight of a metric in the weighted score (repeatable; default 1 each)",
    )
    parser.add_argument("--judge-model", help="judge LLM, e.g. gpt-4o-mini or bedrock:<model-id>")
    parser.add_argument(
        "--judges",
        type=_csv_list,
        metavar="A,B,C",
        help="a jury of 2 to 5 judge LLMs, comma-separated, instead of --judge-model: each "
        "scores every judged metric, which multiplies its judge calls and cost by their number",
    )
    parser.add_argument("--embedding-model", help="embedding model for metrics that need one")
    spend = parser.add_argument_group("cache and budget")
    spend.add_argument(
        "--cache",
        choices=("use", "refresh", "off"),
        help="the judge-verdict cache: use (default) answers a request asked before from the "
        "cache; refresh asks the judge again and keeps its answers; off neither reads nor writes",
    )
    spend.add_argument(
        "--max-cost-usd", type=float, help="stop starting judge calls once this is spent"
    )
    spend.add_argument("--max-judge-calls", type=int, help="at most this many judge calls")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")


def choose_metrics(
    requested: list[str] | None, available: list[str], conversations: bool = False
) -> tuple[list[str], str]:
    """The metrics to score and why: the ones asked for, else the default set (of
    conversations: CONVERSATION_METRICS), else (when the scorer cannot score all of the
    default set) what it can of it, else the model-free metrics. `score` and `submit` share
    this, so the same flags mean the same thing."""
    if requested:
        return requested, "as requested"
    defaults = CONVERSATION_METRICS if conversations else DEFAULT_METRICS
    usable = [m for m in defaults if m in available]
    if len(usable) == len(defaults):
        return list(defaults), "the default set"
    missing = ", ".join(m for m in defaults if m not in available)
    if usable:
        return usable, f"the default set but {missing}, which cannot be scored here"
    model_free = [m for m in defaults if REGISTRY[m].model_free] or list(MODEL_FREE_METRICS)
    return model_free, (
        "model-free metrics only: no judge is configured where the scoring runs. For the LLM "
        "metrics set OPENAI_BASE_URL (and OPENAI_API_KEY) to an OpenAI-compatible endpoint "
        "there, or name a bedrock:<model-id> --judge-model"
    )


def with_defined_metrics(
    chosen: list[str], defined: list[dict[str, Any]], why: str, source: str
) -> tuple[list[str], list[dict[str, Any]], str]:
    """The metrics to ask for, the definitions to send, and why (or "") when a file defines
    metrics: those --metrics names, if it names any of them; else all of them, after the
    metrics chosen otherwise."""
    names = [definition["name"] for definition in defined]
    named = [name for name in chosen if name in names]
    if named:
        return chosen, [d for d in defined if d["name"] in named], why
    added = f"plus the {len(names)} metric{'s' if len(names) > 1 else ''} of {source}"
    return [*chosen, *names], defined, f"{why or 'as requested'}; {added}"


def request_body(args: argparse.Namespace, available: list[str]) -> dict[str, Any]:
    """The API body the flags describe. Raises RequestInvalid for contradictory flags.

    available: the metrics whoever scores can score (this process's judge settings for
    `score`, the service's GET /metrics for `submit`); which metrics were chosen, and why,
    is said on stderr (stdout stays the result, --json or not) when the flags did not name
    them all. A --metric-file is read and checked first, before the samples.
    """
    from rag_eval.cli.metric_files import load_metric_file
    from rag_eval.cli.samples import load_samples

    inline = args.question is not None
    if args.file and inline:
        raise RequestInvalid(
            [{"field": "--file", "message": "give --file or --question, not both"}]
        )
    defined = load_metric_file(args.metric_file) if args.metric_file else []
    if args.file:
        body: dict[str, Any] = {"samples": load_samples(args.file, dict(args.column_map or ()))}
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
    conversations = any(isinstance(s.get("user_input"), list) for s in body.get("samples", []))
    body["metrics"], why = choose_metrics(args.metrics, available, conversations)
    why = "" if args.metrics else why  # said when the metrics were chosen for the user
    if defined:
        body["metrics"], body["custom_metrics"], why = with_defined_metrics(
            body["metrics"], defined, why, args.metric_file.name
        )
    if why:
        print(f"metrics: {', '.join(body['metrics'])} ({why})", file=sys.stderr)
    if args.weights:
        body["weights"] = dict(args.weights)
    options = ("judge_model", "judges", "embedding_model", "cache")
    for name in (*options, "max_cost_usd", "max_judge_calls"):
        if getattr(args, name) is not None:
            body[name] = getattr(args, name)
    return body


def cmd_score(args: argparse.Namespace) -> int:
    from rag_eval.domain.request import parse_inline_request
    from rag_eval.judges.provider import available_metrics, judge_problems

    if args.column_map and not args.file:
        raise RequestInvalid([{"field": "--column-map", "message": "needs --file"}])
    settings = Settings.from_env()
    # A jury's first juror stands for its judge here; judge_problems then checks every juror.
    judge = (args.judges or [args.judge_model or ""])[0]
    available = available_metrics(settings, judge, args.embedding_model or "")
    request = parse_inline_request(request_body(args, available))
    problems = judge_problems(request, settings)
    if problems:
        raise RequestInvalid(problems)
    # Valid input: now the scoring path (ragas and its libraries) is imported.
    import asyncio

    from rag_eval.adapters.local_files import DiskVerdictStore, LocalObjectStore
    from rag_eval.app.pipeline import ScoringPipeline
    from rag_eval.domain.job import iso, new_job, utc_now
    from rag_eval.judges.preflight import judge_failure

    job = new_job(request, settings)
    unreachable = judge_failure(request, settings)
    if unreachable:  # as the service does: a judge that cannot answer fails the job at once
        failed = job.model_copy(
            update={"status": JobState.FAILED, "error": unreachable, "finished_at": iso(utc_now())}
        )
        if args.json:
            print(failed.model_dump_json(indent=2))
        else:
            print_job(failed)
        return EXIT_FAILED
    verdicts = (
        DiskVerdictStore(Path(settings.cache_dir), settings.cache_ttl_days)
        if request.cache != "off" and (request.needs_judge() or request.needs_embeddings())
        else None
    )
    pipeline = ScoringPipeline(settings, LocalObjectStore(args.out), verdicts)
    show = scoring_progress(enabled=not args.json)
    try:
        result = asyncio.run(pipeline.arun(job, request, on_progress=show))
    except Exception as exc:  # a failed job, with the error, as the service records it
        result = job.model_copy(
            update={"status": JobState.FAILED, "error": f"{type(exc).__name__}: {exc}"}
        )
    finally:
        show(None)
        if verdicts is not None:
            verdicts.close()
    if args.json:
        print(result.model_dump_json(indent=2))
    else:
        print_job(result, run_root=args.out)
    return EXIT_OK if result.status is JobState.COMPLETED else EXIT_FAILED


def _needs(spec: MetricSpec) -> str:
    needs = [("judge", spec.needs_judge), ("embeddings", spec.needs_embeddings)]
    return ", ".join(name for name, needed in needs if needed) or "nothing"


def _scale(spec: MetricSpec) -> str:
    """`0..1`, `1..5`, `0..1, lower is better`."""
    scale = spec.scale
    shown = f"{scale.low:g}..{scale.high:g}"
    return shown if scale.higher_is_better else f"{shown}, lower is better"


def metric_families() -> list[tuple[str, list[MetricSpec]]]:
    """The registry's metrics by family (its modules), in the registry's order."""
    from rag_eval.metrics import agents, generation, overlap, reference, retrieval, rubrics

    families = [
        ("the answer: grounded in its contexts, on the question", generation.SPECS),
        ("the retrieval: the needed facts retrieved, and ranked first", retrieval.SPECS),
        ("against the reference answer, by a judge or embeddings", reference.SPECS),
        ("rubrics: the judge's score from 1 to 5", rubrics.SPECS),
        ("text overlap with the reference answer, no model", overlap.SPECS),
        ("agents' conversations (user_input messages): tool calls, goal, topics", agents.SPECS),
    ]
    grouped = [(title, [REGISTRY[s.name] for s in specs]) for title, specs in families]
    listed = {spec.name for _, specs in grouped for spec in specs}
    others = [spec for spec in REGISTRY.values() if spec.name not in listed]
    return grouped + ([("other", others)] if others else [])


def metrics_markdown() -> str:
    """The README's metric table, made from the registry (a test holds the README to it)."""
    lines = [
        "| metric | what it measures | inputs | scale | needs |",
        "|---|---|---|---|---|",
    ]
    for spec in REGISTRY.values():
        default = " (default)" if spec.name in DEFAULT_METRICS else ""
        lines.append(
            f"| `{spec.name}`{default} | {spec.description} | {', '.join(spec.inputs)} "
            f"| {_scale(spec)} | {_needs(spec)} |"
        )
    return "\n".join(lines)


def cmd_metrics(args: argparse.Namespace) -> int:
    if args.json:
        print(json.dumps([spec.describe() for spec in REGISTRY.values()], indent=2))
        return EXIT_OK
    if args.markdown:
        print(metrics_markdown())
        return EXIT_OK
    for title, specs in metric_families():
        print(f"{title[0].upper()}{title[1:]}")
        for spec in specs:
            default = " (default)" if spec.name in DEFAULT_METRICS else ""
            unusual = "" if spec.scale == UNIT else f"; scale {_scale(spec)}"
            print(f"  {spec.name}{default}")
            print(f"      {spec.description}")
            print(f"      inputs: {', '.join(spec.inputs)}; needs: {_needs(spec)}{unusual}")
        print()
    _print_define_your_own()
    return EXIT_OK


def _print_define_your_own() -> None:
    """How to score metrics of one's own, with the bundled examples by name."""
    from importlib.resources import files

    from rag_eval.cli.metric_files import load_metric_file
    from rag_eval.cli.render import own_command
    from rag_eval.metrics.custom import MAX_CUSTOM_METRICS, PLACEHOLDERS

    examples = Path(str(files("rag_eval") / "sample_data" / "criteria.yaml"))
    here = Path.cwd()
    shown = examples.relative_to(here) if examples.is_relative_to(here) else examples
    command = own_command()
    print("Define your own: a metric described in words, scored by the judge")
    print(f"  {command} score --file samples.jsonl --metric-file {shown}")
    print(f"  {command} submit --file samples.jsonl --metric-file {shown}")
    print(
        "  The file, YAML or JSON, is a list of definitions (or holds them under custom_metrics:,"
        "\n  the API's field for them). A definition has a name, instructions for the judge "
        "that name\n  the sample's "
        + " ".join("{" + p + "}" for p in PLACEHOLDERS)
        + " (the contexts come numbered [1], [2], ...),\n  and a kind:\n"
        "    discrete  values: each answer the judge may give -> its number\n"
        "    numeric   range: [low, high]\n"
        "    rubric    rubric: what an answer of score 1, 2, 3, 4 and 5 is like\n"
        f"  At most {MAX_CUSTOM_METRICS} a job; scored in addition to --metrics (or the "
        "default set).\n"
        f"  Examples, in {shown}:"
    )
    for definition in load_metric_file(examples):
        print(f"    {definition['name']}: {definition.get('description', '')}")


def register(commands: argparse._SubParsersAction) -> None:
    score = commands.add_parser("score", help="score samples in this process (no AWS)")
    add_sample_arguments(score)
    score.add_argument(
        "--column-map",
        action="append",
        type=column_pair,
        metavar="THEIRS=OURS",
        help="read the file's column THEIRS as OURS, e.g. query=question (repeatable)",
    )
    score.add_argument(
        "--out", type=Path, default=Path("runs"), help="where run folders go (default: runs/)"
    )
    score.set_defaults(handler=cmd_score)

    metrics = commands.add_parser("metrics", help="list the supported metrics")
    shape = metrics.add_mutually_exclusive_group()
    shape.add_argument("--json", action="store_true", help="as the API's GET /metrics lists them")
    shape.add_argument("--markdown", action="store_true", help="as the README's table")
    metrics.set_defaults(handler=cmd_metrics)
