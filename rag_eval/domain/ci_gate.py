"""`rag-eval gate`'s rules: pass, fail, or cannot tell.

A gate that passes whatever it could not test lets a real regression into a release, so
"cannot tell" is an outcome of its own: a rule whose data are too few to decide. A rule
fails only on what the run shows (a whole interval below a minimum or above a maximum, a
significant loss larger than allowed); it passes only when the data could have shown a
failure and did not. `--drift` is the one exception, by design: a job of no suite, or a
suite too young for the drift test, has no trend to hold a release on; it passes, and its
line says that nothing was tested.

Bounds and losses are on each metric's own scale and follow its direction: a minimum is
for a metric higher is better of, a maximum for one lower is better of (noise_sensitivity),
and a loss of the latter is a rise. A bound the other way round, or off the metric's
scale, could never fail a worse run: it is refused (`bound_problems`), not quietly passed.

Each rule says what it rests on (`basis`): the judge's scores, or means corrected by
people's labels where the run has them (a bound) or both runs do (a loss: the comparison's
verdict rests on them then). A judge whose bias moved can pass a worse system; the gate's
output says which rules could not rule that out.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from rag_eval.domain.comparison import JUDGE_BASIS, Basis, Comparison
from rag_eval.domain.results import Interval
from rag_eval.domain.suites import Drift
from rag_eval.metrics.spec import UNIT, Scale

Outcome = Literal["pass", "fail", "cannot tell"]


class RuleResult(BaseModel):
    metric: str
    rule: str  # ">= 0.8", "loss <= 0.02"
    observed: str  # what the run shows against it
    outcome: Outcome
    # One line, for a fail or a cannot tell: why, and what to do; for a pass, what could not
    # be tested (`--drift` of a job of no suite).
    reason: str = ""
    basis: Basis = "judge"  # what `observed` rests on


class GateDecision(BaseModel):
    outcome: Outcome
    rules: list[RuleResult]

    @property
    def reasons(self) -> list[str]:
        return [r.reason for r in self.rules if r.outcome == self.outcome and r.reason]

    @property
    def basis_line(self) -> str:
        """What the rules rest on, in one line."""
        bases = {r.basis for r in self.rules}
        if bases == {"corrected"}:
            return f"every rule rests on {CORRECTED_BASIS}"
        if "corrected" in bases:
            return (
                f"the rules marked {BASIS_WORDS['corrected']} rest on {CORRECTED_BASIS}; the "
                f"others on the {JUDGE_BASIS}"
            )
        return f"every rule rests on the {JUDGE_BASIS}"


CORRECTED_BASIS = "means corrected by human labels"
# The gate's table's word for each basis.
BASIS_WORDS: dict[Basis, str] = {"judge": "judge's scores", "corrected": "human-corrected"}


def bound_problems(
    minimums: list[tuple[str, float]],
    maximums: list[tuple[str, float]],
    scales: dict[str, Scale],
) -> list[dict[str, Any]]:
    """The bounds that could never fail a worse run, each as a problem to refuse: a
    minimum of a metric lower is better of, a maximum of one higher is better of, a value
    off the metric's scale (a 0..1 minimum given to a 1-5 rubric)."""
    problems = []
    for flag, bounds, wanted in (("--min", minimums, True), ("--max", maximums, False)):
        for metric, value in bounds:
            scale = scales.get(metric, UNIT)
            span = f"{scale.low:g}..{scale.high:g}"
            if scale.higher_is_better != wanted:
                direction = "higher" if scale.higher_is_better else "lower"
                other = "--max" if wanted else "--min"
                bound = "minimum" if wanted else "maximum"
                message = (
                    f"{metric} is {direction}-is-better ({span}): a {bound} would fail a run "
                    f"for being better; use {other} {metric}=VALUE"
                )
                problems.append({"field": flag, "message": message, "allowed": [other]})
            elif not scale.low <= value <= scale.high:
                message = (
                    f"{metric}={value:g} is off its scale ({span}), so it could never fail; "
                    "give a value on the metric's own scale"
                )
                problems.append({"field": flag, "message": message, "allowed": [span]})
    return problems


def minimum_rules(
    intervals: dict[str, Interval],
    minimums: list[tuple[str, float]],
    corrected: dict[str, Interval] | None = None,
) -> list[RuleResult]:
    """`--min METRIC=VALUE`: fails only when the mean's whole interval is below VALUE; the
    mean corrected by people's labels where `corrected` has it, else the judge's."""
    return [_bound_rule(metric, intervals, corrected, value, True) for metric, value in minimums]


def maximum_rules(
    intervals: dict[str, Interval],
    maximums: list[tuple[str, float]],
    corrected: dict[str, Interval] | None = None,
) -> list[RuleResult]:
    """`--max METRIC=VALUE`, for a metric lower is better of: fails only when the mean's
    whole interval is above VALUE (the corrected mean's, as for `minimum_rules`)."""
    return [_bound_rule(metric, intervals, corrected, value, False) for metric, value in maximums]


def _bound_rule(
    metric: str,
    intervals: dict[str, Interval],
    corrected: dict[str, Interval] | None,
    bound: float,
    minimum: bool,
) -> RuleResult:
    found = (corrected or {}).get(metric)
    basis: Basis = "judge" if found is None else "corrected"
    interval = intervals[metric] if found is None else found
    observed = f"{interval.mean:.3f} ({interval.low:.3f} to {interval.high:.3f})"
    on = "" if found is None else f", {CORRECTED_BASIS}"
    if interval.n < 2:
        outcome: Outcome = "cannot tell"
        reason = (
            f"{metric}: {interval.n} sample scored it, too few for an interval; "
            "score the evaluation set, not one sample"
        )
    elif minimum and interval.high < bound:
        outcome, reason = (
            "fail",
            f"{metric} is below {bound:g} (interval up to {interval.high:.3f}{on})",
        )
    elif not minimum and interval.low > bound:
        outcome = "fail"
        reason = f"{metric} is above {bound:g} (interval down to {interval.low:.3f}{on})"
    else:
        outcome, reason = "pass", ""
    return RuleResult(
        metric=metric,
        rule=f"{'>=' if minimum else '<='} {bound:g}",
        observed=observed,
        outcome=outcome,
        reason=reason,
        basis=basis,
    )


def regression_rules(comparison: Comparison, allowed: dict[str, float]) -> list[RuleResult]:
    """`--baseline`: per metric compared, a significant loss larger than its allowance
    (`--max-regression`, default 0, on the metric's scale) fails; a loss the pairs are too
    few to test, or that the interval shows and the test does not confirm, cannot be told
    from noise. For a metric lower is better of, the loss is a rise. Each rule rests on
    what its metric's verdict rests on (`MetricChange.basis`)."""
    results = []
    for change in comparison.metrics:
        limit = allowed.get(change.metric, 0.0)
        loss = change.loss
        rises = not change.scale.higher_is_better
        difference = change.shown_difference
        observed = f"{difference:+.3f} ({change.verdict})" if difference is not None else "–"
        on = f"{CORRECTED_BASIS}; " if change.basis == "corrected" else ""
        word = "rise" if rises else "loss"
        rule = f"{word} <= {limit:g}"
        if change.verdict == "regressed" and loss > limit:
            outcome: Outcome = "fail"
            reason = (
                f"{change.metric} regressed by {loss:.3f} ("
                + ("a rise: lower is better; " if rises else "")
                + f"{on}p {change.adjusted_p:.3g})"
            )
        elif change.underpowered:
            outcome = "cannot tell"
            reason = (
                f"{change.metric}: too few pairs to test a {word} of more than {limit:g} "
                f"({change.note}); score more samples in both runs"
            )
        elif change.verdict == "likely regressed" and loss > limit:
            outcome = "cannot tell"
            # A corrected verdict's note says what to do: label more samples.
            todo = "" if on else "; score more samples in both runs to decide"
            reason = f"{change.metric}: {change.note}{todo}"
        else:
            outcome, reason = "pass", ""
        results.append(
            RuleResult(
                metric=change.metric,
                rule=rule,
                observed=observed,
                outcome=outcome,
                reason=reason,
                basis=change.basis,
            )
        )
    return results


def drift_rules(suite: str | None, drift: dict[str, Drift]) -> list[RuleResult]:
    """`--drift`: a metric the drift test (over the suite's last runs, at the job's fan-in)
    found declining fails. A job of no suite or without a test, or a metric of too few
    runs for the test, passes: its reason says that nothing could be tested."""
    if suite is None or not drift:
        observed, why = (
            ("no suite", "the job names no suite, so there is no trend to test")
            if suite is None
            else ("no test", f"the job holds no drift test of suite {suite}, so none to pass")
        )
        return [_no_decline("–", observed, f"--drift: {why}")]
    return [_drift_rule(d) for d in drift.values()]


def _no_decline(metric: str, observed: str, reason: str = "") -> RuleResult:
    return RuleResult(
        metric=metric, rule="no decline", observed=observed, outcome="pass", reason=reason
    )


def _drift_rule(drift: Drift) -> RuleResult:
    if drift.runs < drift.runs_needed:
        too_few = f"{drift.runs} runs, too few to test a decline ({drift.runs_needed} needed)"
        return _no_decline(drift.metric, f"{drift.runs} runs", f"{drift.metric}: {too_few}")
    slope = f"{drift.slope_per_run or 0.0:+.4f} a run"  # no p-value: every mean the same
    p = "" if drift.p_value is None else f", p {drift.p_value:.3g}"
    observed = f"{slope}{p}, over {drift.runs} runs"
    if not drift.declining:
        return _no_decline(drift.metric, observed)
    return RuleResult(
        metric=drift.metric,
        rule="no decline",
        observed=observed,
        outcome="fail",
        reason=f"{drift.metric} is declining: {slope} over the last {drift.runs} runs ({p[2:]})",
    )


def decide(rules: list[RuleResult]) -> GateDecision:
    """Any failure fails; else anything untold is untold; else it passes."""
    outcomes = {r.outcome for r in rules}
    outcome: Outcome = (
        "fail" if "fail" in outcomes else "cannot tell" if "cannot tell" in outcomes else "pass"
    )
    return GateDecision(outcome=outcome, rules=rules)


def segment_rules(comparison: Comparison) -> list[RuleResult]:
    """`--per-segment`: a rule per segment x metric that regressed significantly, each a
    fail, Holm-corrected over every segment x metric tested (rag_eval/scoring/
    compare_segments.py); else one passing row. A segment too small to test counts in that
    row, not as a cannot tell: a slice of a sample or two could never be told, and would
    hold every gate. Nothing tested at all (no metadata both runs share) cannot tell."""
    tested = [s for s in comparison.segments if s.verdict != "too few samples"]
    rule = "every segment: no significant loss"
    if not tested:
        reason = (
            "--per-segment: no metadata key=value has 2 samples scored in both runs, so no "
            "segment was compared; give the samples metadata (a metadata.topic column)"
        )
        return [
            RuleResult(
                metric="every metric",
                rule=rule,
                observed="no segment tested",
                outcome="cannot tell",
                reason=reason,
            )
        ]
    regressed = sorted(
        (s for s in tested if s.verdict == "regressed"), key=lambda s: s.p_adjusted or 0.0
    )
    if not regressed:
        untested = len(comparison.segments) - len(tested)
        observed = f"{len(tested)} tested, none regressed" + (
            f"; {untested} with too few samples" if untested else ""
        )
        return [RuleResult(metric="every metric", rule=rule, observed=observed, outcome="pass")]
    return [
        RuleResult(
            metric=s.metric,
            rule=f"{s.segment}: {'loss' if s.scale.higher_is_better else 'rise'} <= 0",
            observed=f"{s.difference or 0.0:+.3f} ({s.verdict})",
            outcome="fail",
            reason=f"{s.name} regressed ("
            + ("a rise: lower is better; " if not s.scale.higher_is_better else "")
            + f"p {s.p_adjusted or 0.0:.3g}, Holm over {len(tested)} segment x metric tests)",
        )
        for s in regressed
    ]
