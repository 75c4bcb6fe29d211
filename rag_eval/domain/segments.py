"""A job's results by slice: per metadata key, per value of it (a segment), the count and
the means. An overall mean can hide a collapse on one topic, language or customer.

Light (the API imports it through the job record): the figures are computed at the
fan-in (rag_eval/scoring/segments.py); here are their shape and the job-level limit on
the values a key may take, checked where samples are read (an inline request, a dataset's
rows in planning).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from rag_eval.domain.results import Interval
from rag_eval.domain.sample import Sample

# Each value of a key is a segment, with a row in summary.md and report.html and a
# bootstrap per metric: beyond this many, the key is an id, not a slice.
MAX_SEGMENTS_PER_KEY = 50
# Distinct keys over a job: each is a table of its own (a sample carries at most
# MAX_METADATA_KEYS, rag_eval/domain/sample.py).
MAX_METADATA_KEYS_PER_JOB = 10
# Segments over all keys: their figures ride on the job record, a DynamoDB item of at most
# 400 KB. A segment of 4 metrics takes about 0.5 KB of it, one of 35 (every built-in and
# ten of the job's own) about 4 KB: 60 of those still leave the item room.
MAX_SEGMENTS_PER_JOB = 60


class Segment(BaseModel):
    """The samples whose metadata key has one value: how many, and how they scored."""

    count: int
    # metric -> mean over the segment's samples that scored it (on the metric's own scale)
    means: dict[str, float | None] = Field(default_factory=dict)
    # metric (and "weighted_score") -> the mean's 95% bootstrap interval
    intervals: dict[str, Interval] = Field(default_factory=dict)
    weighted_score: float | None = None


# metadata key -> its value -> the segment
Segments = dict[str, dict[str, Segment]]


class SegmentValues:
    """The distinct values of each metadata key, as samples stream past: `add` says what
    is wrong once a sample brings one key or value too many, else None."""

    def __init__(self) -> None:
        self._values: dict[str, set[str]] = {}
        self._segments = 0

    def add(self, metadata: dict[str, str] | None) -> str | None:
        """Counts the sample's values, or none of them when it breaks a limit (a dataset
        row left out must not use up the room of the rows after it)."""
        metadata = metadata or {}
        new_keys = [key for key in metadata if key not in self._values]
        if new_keys and len(self._values) + len(new_keys) > MAX_METADATA_KEYS_PER_JOB:
            return (
                f"key {new_keys[0]} is one too many: a job's samples use at most "
                f"{MAX_METADATA_KEYS_PER_JOB} distinct metadata keys"
            )
        for key, value in metadata.items():
            values = self._values.get(key, set())
            if value not in values and len(values) >= MAX_SEGMENTS_PER_KEY:
                return (
                    f"{key}: value {value!r} is one too many: a key takes at most "
                    f"{MAX_SEGMENTS_PER_KEY} distinct values over a job (it is a slice to "
                    "report by, not an id; put ids in sample_id)"
                )
        new = sum(value not in self._values.get(key, ()) for key, value in metadata.items())
        if new and self._segments + new > MAX_SEGMENTS_PER_JOB:
            return (
                f"one segment too many: a job's samples give at most {MAX_SEGMENTS_PER_JOB} "
                "distinct metadata key=value pairs in all"
            )
        self._segments += new
        for key, value in metadata.items():
            self._values.setdefault(key, set()).add(value)
        return None


def metadata_problems(samples: list[Sample], *, listed: bool = True) -> list[dict[str, Any]]:
    """The first sample whose metadata breaks the job's limits, as a request problem
    (`samples[i].metadata`; `metadata` for a single sample sent inline)."""
    seen = SegmentValues()
    for index, sample in enumerate(samples):
        if said := seen.add(sample.metadata):
            field = f"samples[{index}].metadata" if listed else "metadata"
            return [{"field": field, "message": said}]
    return []
