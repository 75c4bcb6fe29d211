"""Synthetic evaluation sets of any size, in our field names or ragas', as JSONL or CSV.

    python -m bench.datasets --rows 100000 --scheme ragas runs/testset.csv

Rows cycle through the bundled samples (English and Chinese) with unique questions, so
every metric has something to score and sample ids never repeat.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

from bench.common import samples as bundled

NAMES = {
    "ours": ("sample_id", "question", "answer", "contexts", "ground_truth"),
    "ragas": ("id", "user_input", "response", "retrieved_contexts", "reference"),
}


def write(path: Path, rows: int, scheme: str = "ours") -> Path:
    """`rows` samples into `path` (.csv or .jsonl, by its suffix)."""
    base = bundled(min(rows, 20))
    names = NAMES[scheme]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle) if path.suffix == ".csv" else None
        if writer:
            writer.writerow(names)
        for index in range(rows):
            sample = base[index % len(base)]
            values = [
                f"row-{index + 1:06d}",
                f"{sample['question']} (#{index + 1})",
                sample.get("answer", ""),
                sample.get("contexts", []),
                sample.get("ground_truth", ""),
            ]
            if writer:
                writer.writerow([*values[:3], json.dumps(values[3], ensure_ascii=False), values[4]])
            else:
                handle.write(json.dumps(dict(zip(names, values, strict=True)), ensure_ascii=False))
                handle.write("\n")
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the file to write (.csv or .jsonl)")
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--scheme", choices=sorted(NAMES), default="ours")
    args = parser.parse_args(argv)
    print(write(args.out, args.rows, args.scheme))


if __name__ == "__main__":
    main()
