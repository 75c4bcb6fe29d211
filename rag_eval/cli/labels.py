"""`rag-eval label JOB --file labels.csv|labels.jsonl [--labeler NAME]`: people's labels of a
job's run, sent to the API in batches; `rag-eval label JOB --list [--json]`: read back.

A file's rows are checked here first, each problem named by its line, so that nothing is
sent while the file has one it can tell; what only the service can tell (a sample the run
does not hold, a value off the metric's scale) comes back as its 422, named by line too.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from rag_eval.cli.exits import EXIT_OK
from rag_eval.cli.jobs import add_client_arguments, api_client
from rag_eval.cli.render import print_json
from rag_eval.cli.samples import MAX_REPORTED_PROBLEMS, line_problems, where
from rag_eval.domain.errors import RequestInvalid, validation_problems
from rag_eval.domain.labels import LABELER_RULE, MAX_LABELS_PER_REQUEST, LabelIn

COLUMNS = ("sample_id", "metric", "value", "labeler", "note")
REQUIRED = ("sample_id", "metric", "value")
SUFFIXES = (".csv", ".jsonl")
# The API takes bodies up to 5 MiB: a batch stays under 4 MiB of JSON.
BATCH_BYTES = 4 * 1024 * 1024
_API_FIELD = re.compile(r"^labels\[(\d+)\]\.?(.*)$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def read_labels(path: Path, labeler: str | None = None) -> list[tuple[int, dict[str, Any]]]:
    """The file's labels with the line each starts on; a row naming no labeler is
    `labeler`'s. RequestInvalid naming every problem by its line."""
    path = Path(path)
    if not path.is_file():
        raise RequestInvalid([{"field": "--file", "message": f"no such file: {path}"}])
    if path.suffix.lower() not in SUFFIXES:
        raise RequestInvalid(
            [
                {
                    "field": "--file",
                    "message": f"unsupported file type {path.suffix.lower()!r}",
                    "allowed": ", ".join(SUFFIXES),
                }
            ]
        )
    rows = list(_csv_rows(path) if path.suffix.lower() == ".csv" else _jsonl_rows(path))
    found: dict[tuple[str, str], list[int]] = {}
    first: dict[tuple[Any, ...], int] = {}
    labels = []
    for line, row in rows:
        if labeler and not row.get("labeler"):
            row["labeler"] = labeler
        try:
            label = LabelIn.model_validate(row)
        except ValidationError as exc:
            for problem in validation_problems(exc):
                message = problem["message"]
                if problem["field"] == "labeler" and "pattern" in message:
                    message = f"not a labeler's name; {LABELER_RULE}"
                found.setdefault((problem["field"], message), []).append(line)
            continue
        triple = (label.sample_id, label.metric, label.labeler)
        if triple in first:
            message = f"the same sample_id, metric and labeler as line {first[triple]}"
            found.setdefault(("row", message), []).append(line)
        first.setdefault(triple, line)
        labels.append((line, label.model_dump(exclude_defaults=True)))
    if found:
        raise RequestInvalid(line_problems(path, found))
    if not labels:
        raise RequestInvalid([{"field": "--file", "message": f"{path} holds no labels"}])
    return labels


def _csv_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        header = [name.strip() for name in reader.fieldnames or []]
        missing = [name for name in REQUIRED if name not in header]
        unknown = [name for name in header if name not in COLUMNS]
        if missing or unknown:
            said = [f"no column {', '.join(missing)}"] if missing else []
            said += [f"unknown column {', '.join(unknown)}"] if unknown else []
            message = f"{path} has {'; '.join(said)}"
            raise RequestInvalid([{"field": "--file", "message": message, "allowed": COLUMNS}])
        reader.fieldnames = header
        for row in reader:
            if row.get(None):  # DictReader's cells past the header's columns
                raise RequestInvalid(
                    [
                        {
                            "field": f"{path.name} line {reader.line_num}",
                            "message": "more cells than the header has columns",
                            "allowed": COLUMNS,
                        }
                    ]
                )
            # The row's (last) line; an empty cell of an optional column is no value.
            yield reader.line_num, {name: cell for name, cell in row.items() if name and cell}


def _jsonl_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(encoding="utf-8-sig") as handle:
        for line, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            try:
                row = json.loads(text)
            except ValueError as exc:
                row = exc
            if not isinstance(row, dict):
                raise RequestInvalid(
                    [
                        {
                            "field": f"{path.name} line {line}",
                            "message": "not a JSON object",
                            "allowed": '{"sample_id", "metric", "value", "labeler", "note"}',
                        }
                    ]
                )
            yield line, row


def batches(
    labels: list[tuple[int, dict[str, Any]]],
) -> Iterator[list[tuple[int, dict[str, Any]]]]:
    """Requests of at most MAX_LABELS_PER_REQUEST labels and BATCH_BYTES of JSON."""
    batch: list[tuple[int, dict[str, Any]]] = []
    size = 0
    for item in labels:
        grows = len(json.dumps(item[1], ensure_ascii=False).encode("utf-8")) + 2
        if batch and (len(batch) == MAX_LABELS_PER_REQUEST or size + grows > BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(item)
        size += grows
    if batch:
        yield batch


def cmd_label(args: argparse.Namespace) -> int:
    if args.list:
        if args.labeler:
            raise RequestInvalid([{"field": "--labeler", "message": "only with --file"}])
        return _list(args)
    from rag_eval.client import ApiError

    labels = read_labels(args.file, args.labeler)
    client = api_client(args)
    stored: Counter[str] = Counter()
    run_id = ""
    for batch in batches(labels):
        try:
            answer = client.post_labels(args.job_id, [label for _, label in batch])
        except ApiError as exc:
            if sum(stored.values()):
                print(
                    f"{sum(stored.values())} label(s) of earlier rows were stored; sending the "
                    "file again, fixed, replaces them",
                    file=sys.stderr,
                )
            if exc.status == 422 and exc.details:
                raise RequestInvalid(_by_line(args.file, batch, exc.details)) from None
            raise
        stored.update(answer.by_metric)
        run_id = answer.run_id
    total = sum(stored.values())
    if args.json:
        by_metric = dict(sorted(stored.items()))
        summary = {"job_id": args.job_id, "run_id": run_id, "stored": total}
        print_json(summary | {"by_metric": by_metric})
    else:
        per_metric = ", ".join(f"{metric} {n}" for metric, n in sorted(stored.items()))
        print(f"stored {total} label(s) of job {args.job_id}: {per_metric}")
    return EXIT_OK


def _by_line(
    path: Path, batch: list[tuple[int, dict[str, Any]]], details: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The API's problems (`labels[3].value`) named by the file's lines (`line 12: value`)."""
    found: dict[tuple[str, str, str], list[int]] = {}
    for problem in details:
        field = str(problem.get("field", ""))
        named = _API_FIELD.match(field)
        allowed = problem.get("allowed")
        if named is None or int(named[1]) >= len(batch):
            found.setdefault((field, str(problem.get("message")), json.dumps(allowed)), [])
            continue
        key = (named[2] or "row", str(problem.get("message")), json.dumps(allowed))
        found.setdefault(key, []).append(batch[int(named[1])][0])
    problems = []
    for (field, message, allowed), lines in found.items():
        said = f"{Path(path).name} {where(lines)}: {field}" if lines else field
        problems.append({"field": said, "message": message, "allowed": json.loads(allowed)})
    return problems[:MAX_REPORTED_PROBLEMS]


def _list(args: argparse.Namespace) -> int:
    labels = sorted(
        api_client(args).iter_labels(args.job_id),
        key=lambda label: (label.sample_id, label.metric, label.labeler),
    )
    if args.json:
        print_json({"job_id": args.job_id, "labels": [label.model_dump() for label in labels]})
        return EXIT_OK
    if not labels:
        print(f"job {args.job_id} has no labels yet")
        return EXIT_OK
    rows = [
        [
            label.sample_id,
            label.metric,
            f"{label.value:g}" + (f" ({label.category})" if label.category else ""),
            label.labeler or "-",
            label.note,
        ]
        for label in labels
    ]
    _table(["sample_id", "metric", "value", "labeler", "note"], rows)
    by_metric = Counter(label.metric for label in labels)
    per_metric = ", ".join(f"{metric} {n}" for metric, n in sorted(by_metric.items()))
    print(f"{len(labels)} label(s): {per_metric}")
    return EXIT_OK


def _table(header: list[str], rows: list[list[str]], widest: int = 60) -> None:
    """Aligned columns; a cell on one line (the texts are people's), cut at `widest`."""

    def cell(text: str) -> str:
        flat = _CONTROL.sub(" ", text).strip()
        return flat if len(flat) <= widest else flat[: widest - 1] + "…"

    cells = [[cell(text) for text in row] for row in [header, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for row in cells:
        print(
            "  ".join(text.ljust(width) for text, width in zip(row, widths, strict=True)).rstrip()
        )


def register(commands: argparse._SubParsersAction) -> None:
    label = commands.add_parser(
        "label",
        help="give the samples of a job's run people's labels (to set against the judge's "
        "scores), or list them",
    )
    label.add_argument("job_id")
    source = label.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--file",
        type=Path,
        help="a .csv or .jsonl file with sample_id, metric, value and optionally labeler "
        "and note; a label given again (same sample_id, metric, labeler) replaces the old one",
    )
    source.add_argument("--list", action="store_true", help="show the job's labels")
    label.add_argument("--labeler", help="the labeler of the rows that name none")
    add_client_arguments(label)
    label.set_defaults(handler=cmd_label)
