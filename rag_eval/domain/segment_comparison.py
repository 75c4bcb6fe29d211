"""A comparison of two runs, segment by segment: per metadata key=value both runs have, per
metric compared, the paired change of the segment's samples and its verdict.

Light: the API serves it inside the comparison; rag_eval/scoring/compare_segments.py
computes it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from rag_eval.metrics.spec import UNIT, Scale

# "too few samples": under 2 pairs, not tested (and not counted in Holm's correction).
SegmentVerdict = Literal["improved", "regressed", "no significant change", "too few samples"]


class SegmentChange(BaseModel):
    """One segment (`key`=`value`) and one metric: the pairs whose candidate sample carries
    the value, their means and the difference (candidate - baseline) on the metric's own
    scale, its 95% interval, and the paired test's p-value, raw and corrected (Holm's, over
    every segment x metric tested)."""

    model_config = ConfigDict(defer_build=True)  # built on first use: off the cold start

    key: str
    value: str
    metric: str
    scale: Scale = UNIT  # for a metric lower is better of, a rise is the regression
    n: int  # pairs
    baseline_mean: float | None
    candidate_mean: float | None
    difference: float | None
    low: float | None  # the difference's 95% interval
    high: float | None
    p_value: float | None
    p_adjusted: float | None
    verdict: SegmentVerdict

    @property
    def segment(self) -> str:
        return f"{self.key}={self.value}"

    @property
    def loss(self) -> float:
        """How much worse the candidate is on the metric's scale (negative: better)."""
        difference = self.difference or 0.0
        return -difference if self.scale.higher_is_better else difference

    @property
    def name(self) -> str:
        """`topic=billing: faithfulness -0.21 [-0.30, -0.12]`."""
        if self.difference is None or self.low is None or self.high is None:
            return f"{self.segment}: {self.metric} ({self.n} pair(s))"
        return (
            f"{self.segment}: {self.metric} {self.difference:+.2f} "
            f"[{self.low:+.2f}, {self.high:+.2f}]"
        )


def regressed_names(changes: list[SegmentChange]) -> list[str]:
    """The segment x metric pairs that regressed significantly, the surest first."""
    regressed = [c for c in changes if c.verdict == "regressed"]
    return [c.name for c in sorted(regressed, key=lambda c: (c.p_adjusted or 0.0, -c.loss))]
