"""Reading samples from a JSON Lines or CSV file (the CLI's `--file`)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from rag_eval.domain.errors import RequestInvalid

SAMPLE_COLUMNS = ("sample_id", "question", "answer", "contexts", "ground_truth")


def load_samples(path: Path) -> list[dict[str, Any]]:
    """Samples as dicts, validated later with the request; `contexts` may stay a string."""
    path = Path(path)
    if not path.is_file():
        raise RequestInvalid([{"field": "--file", "message": f"no such file: {path}"}])
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".csv"):
        samples = _jsonl(path) if suffix != ".csv" else _csv(path)
        if not samples:
            what = "a header only" if suffix == ".csv" and path.stat().st_size else "nothing"
            raise RequestInvalid(
                [
                    {
                        "field": "--file",
                        "message": f"{path} has no samples (it holds {what}); add one per "
                        + ("row under the header" if suffix == ".csv" else "line"),
                    }
                ]
            )
        return samples
    raise RequestInvalid(
        [
            {
                "field": "--file",
                "message": f"unsupported file type {suffix!r}",
                "allowed": ".jsonl, .csv",
            }
        ]
    )


def _jsonl(path: Path) -> list[dict[str, Any]]:
    samples = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise RequestInvalid(
                [{"field": f"{path.name}:{number}", "message": f"not valid JSON ({exc.msg})"}]
            ) from exc
        if not isinstance(row, dict):
            raise RequestInvalid(
                [{"field": f"{path.name}:{number}", "message": "each line must be a JSON object"}]
            )
        samples.append(row)
    return samples


def _csv(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        unknown = [c for c in reader.fieldnames or () if c not in SAMPLE_COLUMNS]
        if unknown:
            raise RequestInvalid(
                [
                    {
                        "field": path.name,
                        "message": f"unknown column(s): {', '.join(unknown)}",
                        "allowed": list(SAMPLE_COLUMNS),
                    }
                ]
            )
        # Empty cells mean "not given", as a missing key does in JSON Lines.
        return [{k: v for k, v in row.items() if v not in (None, "")} for row in reader]
