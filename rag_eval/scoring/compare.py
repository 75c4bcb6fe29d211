"""Two runs of the same evaluation set, compared sample by sample.

Samples are matched by `sample_id`, or by a hash of question and contexts where the ids
were made up from positions (`sample-0001`: the caller gave none); unmatched samples are
counted and listed. Per metric, over the pairs where both runs scored it:

- the paired difference of the means (candidate - baseline) with a 95% bootstrap interval,
  on the metric's own scale (a 1-5 rubric's difference is in rubric points);
- a p-value from a paired test: Wilcoxon's signed-rank test for graded scores, McNemar's
  exact test (a binomial test on the pairs that changed) for scores that are all 0 or 1;
- Holm's correction over the metrics compared (testing four metrics at 5% each would call
  a change somewhere in one run of five from noise alone);
- a verdict: improved, regressed, or no significant change. It follows the metric's
  direction: for a metric lower is better of (noise_sensitivity), a rise is a regression.
  Where both runs have means corrected by people's labels (judge-trust.json) for a metric,
  its verdict rests on their difference instead (rag_eval/scoring/compare_corrected.py);
  every metric says which (`basis`).

The samples that got worse most (lower, or higher where lower is better) are listed with
the candidate's `why`. A change of judge, embedding model or metric set is said first: it
moves scores by itself. Each metadata segment both runs have is compared too, metric by
metric, by the same test (rag_eval/scoring/compare_segments.py).

A metric the job defines (`custom_metrics`) is compared only when both runs scored it with
the same definition (its fingerprint in metadata.json). Edited, it is another metric under
the same name, whose scores a difference would mix with the edit: it is left out of the
table and of the tests, as a metric only one run has is, and a warning names it. Leaving it
out, rather than listing it with a verdict of its own, keeps the Holm correction and the
gate to the metrics that mean the same in both runs. A run folder written before metrics
had scales reads as 0..1, higher better, as every metric then was.
"""

from __future__ import annotations

import hashlib
import json
import math
import re

import numpy as np
from scipy import stats

from rag_eval.domain.comparison import (
    Comparison,
    MetricChange,
    Regression,
    RunScores,
    Verdict,
    metadata_fingerprints,
    metadata_scales,
)
from rag_eval.domain.segment_comparison import regressed_names
from rag_eval.domain.trust import TrustReport
from rag_eval.metrics.spec import Scale
from rag_eval.scoring.compare_corrected import (
    corrected_as_of,
    corrected_basis_note,
    corrected_changes,
    corrected_verdict,
)
from rag_eval.scoring.compare_segments import row_metadata, segment_changes
from rag_eval.scoring.intervals import CONFIDENCE, bootstrap_interval

ALPHA = 1 - CONFIDENCE
MAX_LISTED = 20  # unmatched ids and regressed samples listed
_POSITIONAL_ID = re.compile(r"^sample-\d{4,}$")


def sample_key(sample_id: str, question: str, contexts: str) -> str:
    """The caller's id, or for a positional one a hash of what the sample asks."""
    if sample_id and not _POSITIONAL_ID.match(sample_id):
        return sample_id
    digest = hashlib.sha256(json.dumps([question, contexts]).encode("utf-8")).hexdigest()
    return f"#{digest[:16]}"


def _holm(p_values: list[float]) -> list[float]:
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted = [1.0] * len(p_values)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


class _Tested:
    """One metric's paired test: its name, p-value, the difference's interval, and the
    smallest p-value the test could give on pairs of this size (all moving one way)."""

    def __init__(self, metric: str, base: np.ndarray, cand: np.ndarray) -> None:
        self.metric = metric
        differences = cand - base
        binary = bool(np.all(np.isin(base, (0.0, 1.0))) and np.all(np.isin(cand, (0.0, 1.0))))
        self.test = "McNemar (exact)" if binary else "Wilcoxon signed-rank"
        # McNemar's test reads only the pairs that changed; Wilcoxon's reads every pair.
        self.informative = int(np.count_nonzero(differences)) if binary else len(differences)
        if not np.any(differences):  # as if every pair had moved one way: 2 / 2**n
            self.p, self.p_min, self.interval = 1.0, min(1.0, 2.0 ** (1 - len(base))), (0.0, 0.0)
            self.informative = len(base)
            return
        if binary:
            gained, lost = int(np.sum(differences > 0)), int(np.sum(differences < 0))
            self.p = float(stats.binomtest(gained, gained + lost, 0.5).pvalue)
            self.p_min = float(stats.binomtest(gained + lost, gained + lost, 0.5).pvalue)
        else:
            self.p = float(stats.wilcoxon(differences, zero_method="zsplit").pvalue)
            self.p_min = float(stats.wilcoxon(np.abs(differences), zero_method="zsplit").pvalue)
        if np.all(differences == differences[0]):  # every pair moved alike: no spread
            self.interval = (float(differences[0]), float(differences[0]))
            return
        low, high = bootstrap_interval((differences,), np.mean)
        if not (np.isfinite(low) and np.isfinite(high)):
            low = high = float(differences.mean())
        self.interval = (low, high)


def _verdict(change: MetricChange, tested: int, informative: int) -> tuple[Verdict, str]:
    """The verdict that agrees with both the corrected test and the interval, and a note
    when they disagree or when no outcome of these pairs could have been significant."""
    assert change.adjusted_p is not None and change.low is not None and change.high is not None
    gained = change.loss < 0  # better, in the metric's own direction
    significant = change.adjusted_p < ALPHA and bool(change.difference)
    excludes_zero = change.low > 0 or change.high < 0
    likely: Verdict = "likely improved" if gained else "likely regressed"
    if informative == change.pairs:
        counted, unit = f"{change.pairs} pairs cannot be tested", "pairs"
    else:  # McNemar's test reads only the pairs that changed
        counted = f"only {informative} of {change.pairs} pairs changed (the 0/1 test reads those)"
        unit = "changed pairs"
    untestable = (
        f"{counted}: with {tested} metric(s) compared, no change can be shown significant "
        f"under {change.min_pairs} {unit}"
    )
    if significant and excludes_zero:
        return ("improved" if gained else "regressed"), ""
    if excludes_zero:
        because = (
            untestable
            if change.underpowered
            else f"the paired test, corrected for {tested} metric(s), does not reach 5% "
            f"(p {change.adjusted_p:.3g})"
        )
        return likely, f"the interval excludes zero, but {because}"
    if significant:
        return likely, "the paired test is significant, but the interval reaches zero"
    if change.underpowered:
        return "no significant change", untestable
    return "no significant change", ""


def compare_runs(
    baseline: RunScores,
    candidate: RunScores,
    baseline_trust: TrustReport | None = None,
    candidate_trust: TrustReport | None = None,
) -> Comparison:
    """The candidate against the baseline; with both runs' judge-trust.json, a metric both
    have corrected means of is judged on those (rag_eval/scoring/compare_corrected.py)."""
    warnings = []
    for what, one, other in (
        ("judge model", baseline.judge_model, candidate.judge_model),
        ("embedding model", baseline.embedding_model, candidate.embedding_model),
    ):
        if one != other:
            warnings.append(
                f"the {what} changed ({one or 'none'} -> {other or 'none'}): it moves the "
                "scores by itself, so a difference is not the RAG system's alone"
            )
    both = [m for m in candidate.metrics if m in baseline.metrics]
    redefined = {m: why for m in both if (why := _redefined(m, baseline, candidate))}
    shared = [m for m in both if m not in redefined]
    if set(baseline.metrics) != set(candidate.metrics):
        warnings.append(
            "the metrics differ: only those of both runs are compared "
            f"({', '.join(shared) or 'none'})"
        )
    warnings += redefined.values()
    keys = [k for k in candidate.scores if k in baseline.scores]
    only_base = [k for k in baseline.scores if k not in candidate.scores]
    only_cand = [k for k in candidate.scores if k not in baseline.scores]
    if only_base or only_cand:
        warnings.append(
            f"{len(only_base)} sample(s) only in the baseline and {len(only_cand)} only in the "
            "candidate are left out of the comparison"
        )
    changes: list[MetricChange] = []
    results: list[_Tested] = []
    for metric in shared:
        pairs = [
            (baseline.scores[k][metric], candidate.scores[k][metric], k)
            for k in keys
            if baseline.scores[k].get(metric) is not None
            and candidate.scores[k].get(metric) is not None
        ]
        if len(pairs) < 2:
            changes.append(
                MetricChange(
                    metric=metric,
                    pairs=len(pairs),
                    baseline=None,
                    candidate=None,
                    difference=None,
                    low=None,
                    high=None,
                    test="",
                    p_value=None,
                    adjusted_p=None,
                    verdict="too few pairs",
                    underpowered=True,
                    note=f"{len(pairs)} sample(s) scored by both runs: nothing to compare",
                )
            )
            continue
        base = np.array([p[0] for p in pairs], dtype=float)
        cand = np.array([p[1] for p in pairs], dtype=float)
        result = _Tested(metric, base, cand)
        (low, high), test, p = result.interval, result.test, result.p
        results.append(result)
        changes.append(
            MetricChange(
                metric=metric,
                scale=candidate.scale(metric),
                pairs=len(pairs),
                baseline=round(float(base.mean()), 4),
                candidate=round(float(cand.mean()), 4),
                difference=round(float((cand - base).mean()), 4),
                low=round(low, 4),
                high=round(high, 4),
                test=test,
                p_value=p,
                adjusted_p=None,
                verdict="no significant change",
            )
        )
    corrected, judged, trust_warnings = corrected_changes(
        shared, (baseline.run_id, baseline_trust), (candidate.run_id, candidate_trust)
    )
    warnings += trust_warnings
    for change in changes:
        if change.metric in corrected:
            change.basis, change.corrected = "corrected", corrected[change.metric]
            change.basis_note = corrected_basis_note(corrected[change.metric])
        else:
            change.basis_note = judged.get(change.metric, change.basis_note)
    by_metric = {r.metric: r for r in results}
    # The verdicts Holm corrects together: each metric's, on its own basis.
    tested = [c for c in changes if c.basis == "corrected" or c.p_value is not None]
    paired = [c for c in tested if c.basis == "judge"]
    # The smallest two-sided p-value n pairs can give is 2 / 2**n (every pair moved the same
    # way); after Holm over m metrics, m times that. Below it no change can be shown.
    needed = math.ceil(1 + math.log2(max(1, len(tested)) / ALPHA))
    if paired and min(c.pairs for c in paired) < needed:
        warnings.append(
            f"only {min(c.pairs for c in paired)} paired samples: with {len(tested)} metric(s) "
            f"compared, no change can be shown significant under {needed} pairs, however "
            "large; score more samples (the differences' intervals still say how large a "
            "change could be)"
        )
    adjusted_p = _holm([_verdict_p(c) for c in tested])
    for change, adjusted in zip(tested, adjusted_p, strict=True):
        change.adjusted_p = adjusted
        change.min_pairs = needed
        if change.basis == "corrected":
            change.underpowered = False  # a normal test: any labels could show a change
            change.verdict, change.note = corrected_verdict(change, len(tested))
            continue
        result = by_metric[change.metric]
        # Holm's first step multiplies the smallest p-value by the number of metrics.
        change.underpowered = len(tested) * result.p_min >= ALPHA
        change.verdict, change.note = _verdict(change, len(tested), result.informative)
    segments = segment_changes(baseline, candidate, keys, shared, _Tested, _holm)
    return Comparison(
        baseline_job=baseline.job_id,
        candidate_job=candidate.job_id,
        baseline_run=baseline.run_id,
        candidate_run=candidate.run_id,
        warnings=warnings,
        matched=len(keys),
        only_in_baseline=len(only_base),
        only_in_candidate=len(only_cand),
        unmatched_ids={"baseline": only_base[:MAX_LISTED], "candidate": only_cand[:MAX_LISTED]},
        metrics=changes,
        regressions=_regressions(baseline, candidate, keys, shared),
        corrected_as_of=corrected_as_of(
            (baseline.run_id, baseline_trust), (candidate.run_id, candidate_trust)
        ),
        segments=segments,
        regressed_segments=regressed_names(segments),
    )


def _verdict_p(change: MetricChange) -> float:
    """The p-value of the test the metric's verdict rests on."""
    if change.basis == "corrected" and change.corrected is not None:
        return change.corrected.p_value
    assert change.p_value is not None
    return change.p_value


def _redefined(metric: str, baseline: RunScores, candidate: RunScores) -> str:
    """Why the metric's scores of the two runs are not the same metric's, or ""."""
    before, after = baseline.fingerprints.get(metric, ""), candidate.fingerprints.get(metric, "")
    if before != after:
        return (
            f"the definition of {metric} changed between the runs (fingerprint "
            f"{before or 'none'} -> {after or 'none'}): it is another metric under the same "
            "name, left out of the comparison; score the baseline again with the new "
            "definition to compare it"
        )
    one, other = baseline.scale(metric), candidate.scale(metric)
    if one != other:
        return (
            f"the scale of {metric} changed between the runs ({_range(one)} -> "
            f"{_range(other)}): its scores are not comparable, so it is left out"
        )
    return ""


def _range(scale: Scale) -> str:
    return (
        f"{scale.low:g}..{scale.high:g}, {'higher' if scale.higher_is_better else 'lower'} better"
    )


def _regressions(
    baseline: RunScores, candidate: RunScores, keys: list[str], metrics: list[str]
) -> list[Regression]:
    lost: list[tuple[float, Regression]] = []
    for key in keys:
        for metric in metrics:
            before, after = baseline.scores[key].get(metric), candidate.scores[key].get(metric)
            if before is None or after is None:
                continue
            scale = candidate.scale(metric)
            # On 0..1 with 1 the best: a rubric's point and a 0..1 metric's tenth rank alike.
            loss = scale.normalise(before) - scale.normalise(after)
            if loss > 0:
                why = candidate.why.get(key, {}).get(metric, "")
                lost.append(
                    (
                        loss,
                        Regression(
                            sample_id=key, metric=metric, baseline=before, candidate=after, why=why
                        ),
                    )
                )
    lost.sort(key=lambda pair: -pair[0])
    return [regression for _, regression in lost[:MAX_LISTED]]


def run_scores(metadata: bytes, scores_csv: bytes, explanations: bytes | None = None) -> RunScores:
    """A run as its folder holds it: metadata.json, scores.csv, explanations.jsonl."""
    import csv
    import io

    meta = json.loads(metadata)
    metrics = list(meta.get("metrics") or {})
    rows = csv.DictReader(io.StringIO(scores_csv.decode("utf-8")))
    scores: dict[str, dict[str, float | None]] = {}
    keys: dict[str, str] = {}  # sample_id -> key
    labels: dict[str, dict[str, str]] = {}  # key -> the sample's metadata
    for row in rows:
        key = sample_key(row["sample_id"], row.get("question", ""), row.get("contexts", ""))
        keys[row["sample_id"]] = key
        scores[key] = {m: float(row[m]) if row.get(m) not in (None, "") else None for m in metrics}
        labels[key] = row_metadata(row)
    why: dict[str, dict[str, str]] = {}
    for line in (explanations or b"").decode("utf-8").splitlines():
        record = json.loads(line)
        record_key = keys.get(record["sample_id"])  # None: a sample scores.csv does not hold
        if record_key is not None:
            why[record_key] = {m: v.get("why") or "" for m, v in record["metrics"].items()}
    return RunScores(
        job_id=meta.get("job_id", ""),
        run_id=meta.get("run_id", ""),
        judge_model=meta.get("judge_model", ""),
        embedding_model=meta.get("embedding_model", ""),
        metrics=metrics,
        scores=scores,
        why=why,
        scales=metadata_scales(meta),
        fingerprints=metadata_fingerprints(meta),
        metadata=labels,
    )
