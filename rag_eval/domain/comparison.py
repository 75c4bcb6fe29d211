"""A comparison of two runs: what it reads of each, and what it answers (the API's body,
the CLI's JSON). Light: the API serves it; rag_eval/scoring/compare.py computes it."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from rag_eval.domain.results import Interval
from rag_eval.domain.segment_comparison import SegmentChange
from rag_eval.metrics.spec import UNIT, Scale

# "likely ...": the difference's interval excludes zero but the paired test, corrected for
# the metrics compared, does not confirm it (often: too few pairs for any test to).
Verdict = Literal[
    "improved",
    "regressed",
    "likely improved",
    "likely regressed",
    "no significant change",
    "too few pairs",
]

# What a metric's verdict rests on: the judge's scores, paired sample by sample, or both
# runs' means corrected by people's labels (judge-trust.json), when both runs have them.
Basis = Literal["judge", "corrected"]
JUDGE_BASIS = "judge's scores; not corrected by human labels"


class RunScores(BaseModel):
    """What a comparison reads of one run: its identity, models, and per-sample scores."""

    model_config = ConfigDict(defer_build=True)  # built on first use: off the cold start

    job_id: str
    run_id: str
    judge_model: str = ""
    embedding_model: str = ""
    metrics: list[str]
    # sample key -> metric -> score, on the metric's own scale (None: not scored)
    scores: dict[str, dict[str, float | None]]
    why: dict[str, dict[str, str]] = Field(default_factory=dict)  # sample key -> metric -> why
    # metric -> its range and direction; a metric not named is 0..1, higher better (what
    # every metric was before metrics had scales)
    scales: dict[str, Scale] = Field(default_factory=dict)
    # a metric the job defined -> the digest of its definition (an edit changes it)
    fingerprints: dict[str, str] = Field(default_factory=dict)
    # sample key -> its metadata (key -> value), as scores.csv's `metadata.<key>` columns say
    metadata: dict[str, dict[str, str]] = Field(default_factory=dict)

    def scale(self, metric: str) -> Scale:
        return self.scales.get(metric, UNIT)


def metadata_scales(metadata: dict[str, Any]) -> dict[str, Scale]:
    """metric -> its scale, as metadata.json's `metrics` describe them; a metric whose entry
    has no `scale` (a run folder written before metrics had scales) is 0..1, higher better."""
    scales = {}
    for metric, entry in (metadata.get("metrics") or {}).items():
        given = entry.get("scale") if isinstance(entry, dict) else None
        scales[metric] = (
            Scale(float(given["low"]), float(given["high"]), bool(given["higher_is_better"]))
            if isinstance(given, dict)
            else UNIT
        )
    return scales


def metadata_fingerprints(metadata: dict[str, Any]) -> dict[str, str]:
    """metric -> the fingerprint of its definition, for the metrics the job defined."""
    return {
        metric: str(entry["fingerprint"])
        for metric, entry in (metadata.get("metrics") or {}).items()
        if isinstance(entry, dict) and entry.get("fingerprint")
    }


class CorrectedChange(BaseModel):
    """Both runs' means corrected by people's labels, and the difference between them
    (candidate - baseline) with its 95% interval and p-value: rag_eval/scoring/compare.py
    says how, and why it is conservative."""

    model_config = ConfigDict(defer_build=True)

    baseline: Interval  # the baseline's corrected mean; n: the labels it rests on
    candidate: Interval
    difference: float
    low: float
    high: float
    p_value: float


class MetricChange(BaseModel):
    model_config = ConfigDict(defer_build=True)

    metric: str
    # Its range and direction: the means and the difference are on it; for a metric lower
    # is better of, a rise is the regression.
    scale: Scale = UNIT
    pairs: int
    baseline: float | None
    candidate: float | None
    difference: float | None
    low: float | None  # the difference's 95% interval
    high: float | None
    test: str
    p_value: float | None
    # Holm's, over the metrics compared, of the test the verdict rests on (`basis`): this
    # p-value's, or for a corrected basis `corrected.p_value`'s
    adjusted_p: float | None
    verdict: Verdict
    # No outcome of these pairs could reach significance: even every pair moving the same
    # way would give an adjusted p-value of 0.05 or more.
    underpowered: bool = False
    min_pairs: int = 0  # the fewest pairs that could show a change, with the metrics compared
    note: str = ""  # why the verdict is "likely ..." or the test could not decide
    # What the verdict (and `adjusted_p`, `loss`) rests on, in a word and in words. The
    # fields above the verdict stay the judge's paired figures either way; `corrected` holds
    # the corrected means and their difference when both runs have them.
    basis: Basis = "judge"
    basis_note: str = JUDGE_BASIS
    corrected: CorrectedChange | None = None

    @property
    def shown_difference(self) -> float | None:
        """The difference the verdict rests on."""
        if self.basis == "corrected" and self.corrected is not None:
            return self.corrected.difference
        return self.difference

    @property
    def shown_interval(self) -> tuple[float | None, float | None]:
        """Its 95% interval."""
        if self.basis == "corrected" and self.corrected is not None:
            return self.corrected.low, self.corrected.high
        return self.low, self.high

    @property
    def loss(self) -> float:
        """How much worse the candidate is, on the metric's scale (negative: better), by
        the difference the verdict rests on."""
        difference = self.shown_difference or 0.0
        return -difference if self.scale.higher_is_better else difference


class Regression(BaseModel):
    """A sample whose score got worse: lower, or for a metric lower is better of, higher."""

    model_config = ConfigDict(defer_build=True)

    sample_id: str
    metric: str
    baseline: float
    candidate: float
    why: str = ""


class Comparison(BaseModel):
    model_config = ConfigDict(defer_build=True)

    baseline_job: str
    candidate_job: str
    baseline_run: str
    candidate_run: str
    warnings: list[str]
    matched: int
    only_in_baseline: int
    only_in_candidate: int
    unmatched_ids: dict[str, list[str]]
    metrics: list[MetricChange]
    regressions: list[Regression]
    # Per run ("baseline", "candidate"): when the newest label behind the corrected means
    # used was given; the API makes the comparison again once a run has later labels.
    corrected_as_of: dict[str, str] = Field(default_factory=dict)
    # Per metadata key=value both runs have, per metric compared: the segment's paired
    # change, Holm-corrected over every segment x metric tested
    # (rag_eval/scoring/compare_segments.py); and those that regressed, named.
    segments: list[SegmentChange] = Field(default_factory=list)
    regressed_segments: list[str] = Field(default_factory=list)
