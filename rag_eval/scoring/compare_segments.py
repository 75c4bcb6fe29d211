"""Two runs compared segment by segment: per metadata key=value both runs have, per metric
compared overall, the paired change of the segment's samples.

An overall mean can hold still while one topic collapses. A segment's pairs are the
matched samples whose candidate carries the value (the candidate's metadata is the one
read: a sample relabelled since the baseline counts where it now belongs). Each segment x
metric is tested as the whole run's metric is, by the paired test and bootstrap interval
of rag_eval/scoring/compare.py (handed in as `test`, since that module calls this one);
a segment of fewer than 2 pairs is reported, not tested.

Holm's correction runs over every segment x metric tested, together: 60 segments of 4
metrics are 240 tests, of which noise alone at 5% each would call a dozen changed. It
keeps the chance of calling any segment changed from noise alone at 5%, at the price of
power: a small segment must move a lot to be shown. The verdicts rest on the judge's
scores (means corrected by people's labels are a whole run's, not a segment's).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np

from rag_eval.domain.comparison import RunScores
from rag_eval.domain.dataset_columns import metadata_key
from rag_eval.domain.segment_comparison import SegmentChange, SegmentVerdict
from rag_eval.domain.segments import MAX_SEGMENTS_PER_JOB
from rag_eval.scoring.intervals import CONFIDENCE

ALPHA = 1 - CONFIDENCE


class PairedTest(Protocol):
    """What a segment reads of the overall comparison's paired test."""

    p: float
    interval: tuple[float, float]


Test = Callable[[str, np.ndarray, np.ndarray], PairedTest]


def row_metadata(row: dict[str, str]) -> dict[str, str]:
    """A scores.csv row's metadata: its `metadata.<key>` cells; an empty cell is a sample
    without the key."""
    return {key: value for name, value in row.items() if (key := metadata_key(name)) and value}


def segment_changes(
    baseline: RunScores,
    candidate: RunScores,
    keys: list[str],
    metrics: list[str],
    test: Test,
    holm: Callable[[list[float]], list[float]],
) -> list[SegmentChange]:
    """Per key=value of both runs (sorted, at most MAX_SEGMENTS_PER_JOB), per metric: the
    change over the matched samples `keys` whose candidate has the value."""
    both = _values(baseline) & _values(candidate)
    members: dict[tuple[str, str], list[str]] = {segment: [] for segment in both}
    for key in keys:
        for segment in candidate.metadata.get(key, {}).items():
            if segment in members:
                members[segment].append(key)
    changes: list[SegmentChange] = []
    p_values: list[float] = []
    for name, value in sorted(members)[:MAX_SEGMENTS_PER_JOB]:
        for metric in metrics:
            pairs = [
                (before, after)
                for key in members[(name, value)]
                if (before := baseline.scores[key].get(metric)) is not None
                and (after := candidate.scores[key].get(metric)) is not None
            ]
            change = SegmentChange(
                key=name,
                value=value,
                metric=metric,
                scale=candidate.scale(metric),
                n=len(pairs),
                baseline_mean=None,
                candidate_mean=None,
                difference=None,
                low=None,
                high=None,
                p_value=None,
                p_adjusted=None,
                verdict="too few samples",
            )
            changes.append(change)
            if len(pairs) < 2:
                continue
            base, cand = np.array(pairs, dtype=float).T
            result = test(metric, base, cand)
            change.baseline_mean = round(float(base.mean()), 4)
            change.candidate_mean = round(float(cand.mean()), 4)
            change.difference = round(float((cand - base).mean()), 4)
            low, high = result.interval
            change.low, change.high = round(low, 4), round(high, 4)
            change.p_value = result.p
            p_values.append(result.p)
    tested = [c for c in changes if c.p_value is not None]
    for change, adjusted in zip(tested, holm(p_values), strict=True):
        change.p_adjusted = adjusted
        change.verdict = _verdict(change)
    return changes


def _values(run: RunScores) -> set[tuple[str, str]]:
    """Every key=value a run's samples carry."""
    return {segment for metadata in run.metadata.values() for segment in metadata.items()}


def _verdict(change: SegmentChange) -> SegmentVerdict:
    assert change.p_adjusted is not None
    if change.p_adjusted >= ALPHA or not change.loss:
        return "no significant change"
    return "regressed" if change.loss > 0 else "improved"
