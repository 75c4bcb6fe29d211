"""Labels a corrected mean needs: uncertainty-weighted draws against uniform ones.

    python -m bench.label_budget --samples 1000 --trials 100 --targets 0.05 0.03
    python -m bench.label_budget --error mid-scale --error-sd 0.1 --targets 0.05 0.03

A synthetic job, seeded: people's values h on 0..1 (Beta(2, 2)) and a jury of three LLM
jurors whose mean is the judge's score. Each sample has an unsureness u; the jurors' error
there has standard deviation 0.02 + 0.4 u (`--error-sd`: the 0.4), part of it shared (the
same model errs alike), part each juror's own, on top of a steady bias, clipped to 0..1.
Two models of u (`--error`): `independent`, u ~ Beta(1, 3) whatever h is (most samples are
easy), and `mid-scale`, u = (1 - |2h - 1|)^2, as LLM judges tend to be: sure and mostly
right where the answer is plainly good or bad, wrong most often where people would put it
mid-scale.

The draws lean towards uncertain samples by one of three signals: the judge's own
unsureness (u itself: what token probabilities would give at best), the spread of the
three jurors, and the score's closeness to the middle of the scale; against uniform draws,
the service's label queue (rag_eval/scoring/label_files.py). For each, with the uniform
share `floor` of `label_draws`, the fewest labels whose corrected 95% interval
(rag_eval/scoring/judge_trust.py) is no wider than +/- the target on average over the
trials (bisection on the number of labels, to 5; each trial's labels are the first n of
one sequence of draws, as labelling in batches would give them), and how often the
interval at that budget covered people's mean.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np

from bench.common import table
from rag_eval.metrics.spec import UNIT
from rag_eval.scoring.judge_trust import (
    MIN_LABELS,
    Label,
    closeness_to_middle,
    corrected_mean,
    juror_spread,
    label_draws,
)

HUMAN_MEAN = 0.5  # of Beta(2, 2)
JURORS = 3
MOST = 4_000  # labels tried at most (with replacement, so past the sample count too)
ERRORS = ("independent", "mid-scale")
CLOSENESS = "closeness to middle"
# What GET /score-jobs/{id}/label-queue draws with (label_files.py): named so in the table.
UNIFORM = "none (uniform: the label queue)"


class Job:
    """One synthetic job: people's values, the judge's scores, and the three signals."""

    def __init__(self, seed: int, samples: int, bias: float, error: str, sd: float) -> None:
        rng = np.random.default_rng(seed)
        self.human = rng.beta(2, 2, samples)
        # Drawn under either model, so that both take the same jurors' noise from the seed.
        unsure = rng.beta(1, 3, samples)
        if error == "mid-scale":
            unsure = (1 - np.abs(2 * self.human - 1)) ** 2
        spread = 0.02 + sd * unsure
        shared = rng.normal(0, 1, samples) * spread * 0.8
        own = rng.normal(0, 1, (JURORS, samples)) * spread * 0.6
        jurors = np.clip(self.human + bias + shared + own, 0, 1)
        self.judge: list[float] = jurors.mean(axis=0).tolist()
        self.signals: dict[str, list[float] | None] = {
            UNIFORM: None,
            "judge's unsureness": unsure.tolist(),
            "juror spread": juror_spread(jurors.tolist()),
            CLOSENESS: closeness_to_middle(self.judge, UNIT),
        }


def fewest(halfwidth: Callable[[int], float], target: float) -> int | None:
    """The fewest labels (to 5) whose mean half-width is within target; None past MOST."""
    if halfwidth(MOST) > target:
        return None
    low, high = MIN_LABELS, MOST
    if halfwidth(low) <= target:
        return low
    while high - low > 5:
        middle = (low + high) // 2
        if halfwidth(middle) <= target:
            high = middle
        else:
            low = middle
    return high


def design(jobs: list[Job], signal: str, floor: float, targets: list[float]) -> list:
    labels = [
        [
            Label(d.index, float(job.human[d.index]), d.probability)
            for d in label_draws(job.judge, MOST, seed, job.signals[signal], floor)
        ]
        for seed, job in enumerate(jobs)
    ]
    seen: dict[int, tuple[float, int]] = {}

    def measure(n: int) -> tuple[float, int]:
        if n not in seen:
            widths, covered = [], 0
            for job, drawn in zip(jobs, labels, strict=True):
                interval = corrected_mean(job.judge, drawn[:n]).corrected
                assert interval is not None
                widths.append((interval.high - interval.low) / 2)
                covered += interval.low <= HUMAN_MEAN <= interval.high
            seen[n] = (float(np.mean(widths)), covered)
        return seen[n]

    row: list = [signal, "-" if signal == UNIFORM else f"{floor:g}"]
    for target in targets:
        n = fewest(lambda k: measure(k)[0], target)
        row += [f"> {MOST:,}", "-"] if n is None else [n, f"{measure(n)[1]}/{len(jobs)}"]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--targets", type=float, nargs="+", default=[0.05, 0.03])
    parser.add_argument("--biases", type=float, nargs="+", default=[0.05, 0.15])
    parser.add_argument("--floors", type=float, nargs="+", default=[0.5, 0.2])
    parser.add_argument("--error", choices=ERRORS, default=ERRORS[0], help="judge's error model")
    parser.add_argument("--error-sd", type=float, default=0.4, help="error sd: 0.02 + this u")
    args = parser.parse_args()
    header = ["judge bias", "uncertainty signal", "floor"]
    for target in args.targets:
        header += [f"labels for ±{target:g}", f"covered at ±{target:g}"]
    rows = []
    for bias in args.biases:
        jobs = [
            Job(seed, args.samples, bias, args.error, args.error_sd) for seed in range(args.trials)
        ]
        for signal in jobs[0].signals:
            floors = [1.0] if jobs[0].signals[signal] is None else args.floors
            for floor in floors:
                rows.append([f"+{bias:g}", *design(jobs, signal, floor, args.targets)])
    print(table(header, rows))


if __name__ == "__main__":
    main()
