"""Per-segment figures at the fan-in: for each metadata key, each of its values' samples
scored as a run of their own (rag_eval/domain/segments.py).

A segment's means, weighted score and intervals are those the whole run's are, computed
the same way over its samples alone (`ScoreRun` and `run_intervals`): a segment's figures
and the run's read alike. A sample without a key is in none of that key's segments.
"""

from __future__ import annotations

import dataclasses

from rag_eval.domain.results import SampleResult, ScoreRun
from rag_eval.domain.sample import Sample
from rag_eval.domain.segments import Segment, Segments
from rag_eval.scoring.intervals import run_intervals


def run_segments(samples: list[Sample], run: ScoreRun) -> Segments:
    """metadata key -> value -> its segment, keys and values in sorted order; empty when
    no sample carries metadata. `samples` and `run.results` are in the same order."""
    groups: dict[str, dict[str, list[SampleResult]]] = {}
    for sample, result in zip(samples, run.results, strict=True):
        for key, value in (sample.metadata or {}).items():
            groups.setdefault(key, {}).setdefault(value, []).append(result)
    return {
        key: {value: _segment(run, groups[key][value]) for value in sorted(groups[key])}
        for key in sorted(groups)
    }


def _segment(run: ScoreRun, results: list[SampleResult]) -> Segment:
    part = dataclasses.replace(run, results=results)
    return Segment(
        count=len(results),
        means=part.means,
        intervals=run_intervals(part),
        weighted_score=part.weighted_score,
    )
