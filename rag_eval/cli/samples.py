"""Reading samples from a JSON Lines or CSV file (the CLI's `--file`)."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rag_eval.domain.dataset import (
    SUFFIXES,
    DatasetReader,
    DatasetRow,
    RowError,
)
from rag_eval.domain.dataset_columns import SAMPLE_FIELDS
from rag_eval.domain.errors import DatasetInvalid, RequestInvalid

# Enough to fix a file in a few rounds; more would scroll the first ones away.
MAX_REPORTED_PROBLEMS = 20


def load_samples(path: Path, column_map: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """The file's samples as dicts for `ScoreRequest`, its columns read through column_map
    as a dataset's are. Raises RequestInvalid naming every bad row's problems (the same one
    on many rows once, up to MAX_REPORTED_PROBLEMS)."""
    path = Path(path)
    if not path.is_file():
        raise RequestInvalid([{"field": "--file", "message": f"no such file: {path}"}])
    fmt = SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise RequestInvalid(
            [
                {
                    "field": "--file",
                    "message": f"unsupported file type {path.suffix.lower()!r}",
                    "allowed": ", ".join(SUFFIXES),
                }
            ]
        )
    samples: list[dict[str, Any]] = []
    errors: list[RowError] = []
    with path.open("rb") as handle:
        try:
            reader = DatasetReader(handle, fmt, column_map)
            for item in reader:
                if isinstance(item, DatasetRow):
                    samples.append(item.sample.model_dump(exclude_none=True))
                else:
                    errors.append(item)
        except DatasetInvalid as exc:
            raise RequestInvalid([_about_file(path, p) for p in exc.problems]) from exc
    if errors:
        raise RequestInvalid(_row_problems(path, errors))
    if reader.ignored_columns:
        print(
            f"{path.name}: ignoring {', '.join(reader.ignored_columns)} "
            f"(not sample fields: {', '.join(SAMPLE_FIELDS)})",
            file=sys.stderr,
        )
    return samples


def _about_file(path: Path, problem: dict[str, Any]) -> dict[str, Any]:
    # A column map's problem is fixed in --column-map; any other, in the file.
    flag = "--column-map" if problem["field"].startswith("dataset.column_map") else "--file"
    return problem | {"field": flag, "message": f"{path} {problem['message']}"}


def _row_problems(path: Path, errors: list[RowError]) -> list[dict[str, Any]]:
    lines: dict[tuple[str, str], list[int]] = {}
    for error in errors:
        lines.setdefault((error.field, error.message), []).append(error.line)
    return line_problems(path, lines)


def line_problems(path: Path, lines: dict[tuple[str, str], list[int]]) -> list[dict[str, Any]]:
    """One problem per distinct mistake (field, message), with the lines that make it."""
    problems = [
        {"field": f"{path.name} {where(numbers)}: {field}", "message": message}
        for (field, message), numbers in lines.items()
    ]
    if len(problems) <= MAX_REPORTED_PROBLEMS:
        return problems
    rest = len(problems) - MAX_REPORTED_PROBLEMS
    more = {"field": "--file", "message": f"{path} has {rest} more problem(s); fix these first"}
    return [*problems[:MAX_REPORTED_PROBLEMS], more]


def where(numbers: list[int]) -> str:
    """`line 3`, `lines 3, 5`, or `12 rows (line 3 .. line 40)`."""
    if len(numbers) == 1:
        return f"line {numbers[0]}"
    if len(numbers) == 2:
        return f"lines {numbers[0]}, {numbers[1]}"
    return f"{len(numbers)} rows (line {numbers[0]} .. line {numbers[-1]})"


def holds_conversations(path: Path | None) -> bool:
    """Whether a JSON Lines file's first sample is a conversation (`user_input` a list of
    messages): an uploaded file is read by the service, but the metrics of its kind are
    chosen here, as for samples sent inline."""
    if path is None or path.suffix.lower() != ".jsonl":
        return False
    with path.open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            if line.strip():
                try:
                    first = json.loads(line)
                except ValueError:
                    return False  # the service names the line
                return isinstance(first, dict) and isinstance(first.get("user_input"), list)
    return False
