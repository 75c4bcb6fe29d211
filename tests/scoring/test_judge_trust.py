"""How far to trust the judge, tested like statistics: the corrected interval covers the
human mean about as often as it says (with uniform and with uncertainty-weighted draws)
where the judge's own misses it, the agreement figures are the libraries', and the draws
are reproducible, never impossible, and lean towards uncertain samples. Seeded."""

from __future__ import annotations

import sys
import warnings

import krippendorff
import numpy as np
import pytest
from numpy.typing import NDArray
from sklearn.metrics import cohen_kappa_score

from rag_eval.metrics.spec import Scale
from rag_eval.scoring import judge_trust
from rag_eval.scoring.judge_trust import (
    MIN_LABELS,
    Label,
    agreement,
    corrected_mean,
    jury_agreement,
    label_draws,
    largest_gaps,
    sampling_probabilities,
)

SAMPLES = 1_000
TRIALS = 200  # seeded synthetic jobs per coverage test
LABELS = 100
BIAS = 0.1  # the judge scores this much higher than people, on average
HUMAN_MEAN = 0.5  # of Beta(2, 2), people's values


def synthetic_job(seed: int) -> tuple[NDArray[np.float64], NDArray[np.float64], list[float]]:
    """People's values on 0..1, a judge with a known bias whose noise grows with its own
    unsureness, and that unsureness (what the judge could report beside its score)."""
    rng = np.random.default_rng(seed)
    human = rng.beta(2, 2, SAMPLES)
    unsure = rng.beta(1, 3, SAMPLES)
    judge = np.clip(human + BIAS + rng.normal(0, 1, SAMPLES) * (0.02 + 0.3 * unsure), 0, 1)
    return human, judge, unsure.tolist()


def labels_for(
    human: NDArray[np.float64], judge: NDArray[np.float64], seed: int, uncertainty=None
) -> list[Label]:
    draws = label_draws(judge.tolist(), LABELS, seed, uncertainty)
    return [Label(d.index, float(human[d.index]), d.probability) for d in draws]


@pytest.mark.parametrize("draws", ["uniform", "uncertainty-weighted"])
def test_the_corrected_interval_covers_the_human_mean_where_the_judges_own_misses(
    draws: str,
) -> None:
    covered = {"distribution": 0, "job": 0, "judge alone": 0}
    for seed in range(TRIALS):
        human, judge, unsure = synthetic_job(seed)
        labels = labels_for(human, judge, seed, unsure if draws != "uniform" else None)

        result = corrected_mean(judge.tolist(), labels)

        assert result.corrected is not None
        assert result.bias is not None and 0.05 < result.bias < 0.15
        low, high = result.corrected.low, result.corrected.high
        covered["distribution"] += low <= HUMAN_MEAN <= high
        covered["job"] += low <= human.mean() <= high
        covered["judge alone"] += result.judge.low <= HUMAN_MEAN <= result.judge.high

    # PPI's interval is for the mean of the distribution the samples come from; for the
    # job's own mean it is conservative (it counts the samples' own sampling variance).
    # 90-99% of the trials: about 95%, the nominal level, give or take the trials' own
    # spread (200 trials: a 93% coverage falls below 90% once in about 40 seed sets).
    assert 0.90 * TRIALS <= covered["distribution"] <= 0.99 * TRIALS, covered
    assert covered["job"] >= 0.90 * TRIALS, covered
    assert covered["judge alone"] <= 0.10 * TRIALS, covered


def test_with_a_perfect_judge_the_correction_costs_little_width() -> None:
    ratios: dict[str, list[float]] = {"uniform": [], "uncertainty-weighted": []}
    for seed in range(10):
        human, _, unsure = synthetic_job(seed)
        for draws, uncertainty in (("uniform", None), ("uncertainty-weighted", unsure)):
            result = corrected_mean(human.tolist(), labels_for(human, human, seed, uncertainty))

            assert result.corrected is not None and result.bias == 0
            assert result.sentence.startswith("the judge scores as people do")
            width = result.corrected.high - result.corrected.low
            ratios[draws].append(width / (result.judge.high - result.judge.low))

    # PPI++'s lam, estimated from the labels, leans on a perfect judge almost fully; from
    # 100 weighted labels it once lands at 0.74 (seed 7), 22% wider than the judge alone.
    assert max(ratios["uniform"]) <= 1.2, ratios
    assert max(ratios["uncertainty-weighted"]) <= 1.25, ratios
    assert np.mean(ratios["uniform"] + ratios["uncertainty-weighted"]) <= 1.05, ratios


def test_the_sentence_says_the_bias_and_the_corrected_mean_in_plain_words() -> None:
    human, judge, _ = synthetic_job(1)
    labels = labels_for(human, judge, 1)

    result = corrected_mean(judge.tolist(), labels)

    assert result.corrected is not None and result.labels == LABELS
    assert result.sentence.startswith(f"the judge scores {result.bias:.2f} higher than people do")
    c = result.corrected
    assert f"corrected: {c.mean:.2f} [{c.low:.2f}, {c.high:.2f}] from {LABELS} labels" in (
        result.sentence
    )
    # about the judge's mean less its bias: PPI++ leans on a judge this close almost fully
    assert abs(c.mean - (result.judge.mean - result.bias)) < 0.02


def test_a_judge_that_gives_every_sample_the_same_score_leaves_the_labels_to_speak() -> None:
    human, _, _ = synthetic_job(6)
    constant = np.ones(SAMPLES)  # no spread: PPI++'s tuning would divide by zero
    labels = labels_for(human, constant, 6)

    result = corrected_mean(constant.tolist(), labels)

    assert result.corrected is not None
    assert result.corrected.mean == pytest.approx(np.mean([label.human for label in labels]))
    assert result.corrected.low < result.corrected.mean < result.corrected.high


def test_too_few_labels_are_said_not_raised() -> None:
    human, judge, _ = synthetic_job(2)
    few = labels_for(human, judge, 2)[: MIN_LABELS - 1]
    one_sample = [Label(7, 0.5, 0.001)] * 20

    for labels in ([], few, one_sample):
        result = corrected_mean(judge.tolist(), labels)

        assert result.corrected is None
        assert result.sentence.startswith("too few labels to correct the judge")
        assert f"the judge alone says {result.judge.mean:.2f}" in result.sentence
    assert corrected_mean(judge.tolist(), []).bias is None


def test_samples_the_judge_did_not_score_are_not_in_the_job() -> None:
    human, judge, unsure = synthetic_job(3)
    scores: list[float | None] = [None if i % 10 == 0 else float(s) for i, s in enumerate(judge)]

    draws = label_draws(scores, 500, 3, unsure)
    result = corrected_mean(scores, [Label(d.index, human[d.index], d.probability) for d in draws])

    assert all(d.index % 10 for d in draws)
    assert result.judge.n == 900 and result.corrected is not None
    with pytest.raises(ValueError, match="did not score"):
        corrected_mean(scores, [Label(0, 0.5, 0.01)])
    with pytest.raises(ValueError, match="probability"):
        corrected_mean(scores, [Label(1, 0.5, 0.0)])


def test_a_rubric_is_corrected_on_its_own_scale_and_kept_within_it() -> None:
    rng = np.random.default_rng(4)
    human = rng.integers(1, 6, SAMPLES).astype(float)
    judge = np.clip(human + rng.integers(0, 2, SAMPLES), 1, 5)  # a lenient 1-5 judge
    rubric = Scale(low=1.0, high=5.0)

    result = corrected_mean(judge.tolist(), labels_for(human, judge, 4), scale=rubric)

    assert result.corrected is not None
    assert 1 <= result.corrected.low <= result.corrected.mean <= result.corrected.high <= 5
    assert result.corrected.low <= human.mean() <= result.corrected.high
    assert result.bias is not None and result.bias > 0.2


def test_label_draws_are_reproducible_never_impossible_and_lean_to_uncertain_samples() -> None:
    _, judge, _ = synthetic_job(5)
    uncertainty = [1.0 if i < SAMPLES // 2 else 0.0 for i in range(SAMPLES)]

    q = sampling_probabilities(judge.tolist(), uncertainty)
    draws = label_draws(judge.tolist(), 4_000, 5, uncertainty)

    assert np.all(q > 0) and q.sum() == pytest.approx(1.0)
    assert q[-1] == pytest.approx(judge_trust.DEFAULT_FLOOR / SAMPLES)  # the uniform share
    assert draws == label_draws(judge.tolist(), 4_000, 5, uncertainty)
    assert draws != label_draws(judge.tolist(), 4_000, 6, uncertainty)
    assert all(d.probability == q[d.index] for d in draws)
    uncertain = sum(d.index < SAMPLES // 2 for d in draws) / len(draws)
    assert uncertain == pytest.approx(0.75, abs=0.03)  # 0.5 * 1/2 + 0.5 * 1
    # without uncertainty, or with none anywhere, the draws are uniform
    assert np.allclose(sampling_probabilities(judge.tolist()), 1 / SAMPLES)
    assert np.allclose(sampling_probabilities(judge.tolist(), [0.0] * SAMPLES), 1 / SAMPLES)
    assert label_draws([None, None], 5, 1) == [] and label_draws(judge.tolist(), 0, 1) == []


def test_the_uncertainty_signals_flag_the_middle_of_the_scale_and_juror_disagreement() -> None:
    rubric = Scale(low=1.0, high=5.0)

    assert judge_trust.closeness_to_middle([1.0, 3.0, 4.0, 5.0, None], rubric) == [
        0.0,
        1.0,
        0.5,
        0.0,
        0.0,
    ]
    assert judge_trust.juror_spread([[1.0, 0.0, None], [1.0, 1.0, 0.5]]) == [0.0, 0.5, 0.0]


def test_the_largest_gaps_come_first_once_per_sample() -> None:
    judge = [0.9, 0.2, 0.5, 0.7]
    labels = [Label(0, 0.1, 0.25), Label(1, 0.3, 0.25), Label(0, 0.1, 0.25), Label(3, 1.0, 0.25)]

    gaps = largest_gaps(judge, labels, limit=2)

    assert [(g.index, round(g.difference, 2)) for g in gaps] == [(0, 0.8), (3, -0.3)]


FIXED_JUDGE: list[float | None] = [1, 2, 3, 3, 2, 1, 4, 1, 2, 5, 1, 3, None]
FIXED_HUMAN: list[float | None] = [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 4, 2]


@pytest.mark.parametrize("level", ["interval", "ordinal", "nominal"])
def test_agreement_figures_are_the_libraries(level: str) -> None:
    pairs = [(j, h) for j, h in zip(FIXED_JUDGE, FIXED_HUMAN, strict=True) if None not in (j, h)]
    data = np.array([FIXED_JUDGE, FIXED_HUMAN], dtype=float)  # None: NaN, the library's gap

    found = agreement(FIXED_JUDGE, FIXED_HUMAN, level)

    # the library's alpha: a unit either rater left out has no pair, whichever drops it
    assert found.alpha == pytest.approx(krippendorff.alpha(data, level_of_measurement=level))
    assert found.pairs == len(pairs) == 11
    assert found.mean_abs_difference == pytest.approx(sum(abs(j - h) for j, h in pairs) / 11)
    assert found.mean_difference == pytest.approx(sum(j - h for j, h in pairs) / 11)
    if level == "nominal":
        humans, judges = [h for _, h in pairs], [j for j, _ in pairs]
        assert found.kappa == pytest.approx(cohen_kappa_score(judges, humans))
    else:
        assert found.kappa is None


def test_a_jury_of_identical_judges_agrees_completely() -> None:
    juror = [0.2, 0.9, None, 0.5, 0.5]

    assert jury_agreement([juror, juror, juror]) == 1.0
    assert jury_agreement([[1.0, 1.0], [1.0, 1.0]], "nominal") == 1.0  # one value only
    assert jury_agreement([[1.0, None], [None, 0.0]]) is None  # no sample scored twice
    # Krippendorff's own example (krippendorff.alpha's docstring): three coders
    coders = [
        [None, None, None, None, None, 3, 4, 1, 2, 1, 1, 3, 3, None, 3],
        [1, None, 2, 1, 3, 3, 4, 3, None, None, None, None, None, None, None],
        [None, None, 2, 1, 3, 4, 4, None, 2, 1, 1, 3, 3, None, 4],
    ]
    assert jury_agreement(coders, "nominal") == pytest.approx(0.691358, abs=1e-6)
    assert jury_agreement(coders, "interval") == pytest.approx(0.810845, abs=1e-6)
    assert agreement([1.0, 0.0], [None, None]).alpha is None


def test_importing_ppi_py_leaves_the_warning_filters_as_they_were(monkeypatch) -> None:
    # ppi_py runs warnings.simplefilter("ignore") at import: re-imported here, to see it
    for name in [m for m in sys.modules if m == "ppi_py" or m.startswith("ppi_py.")]:
        monkeypatch.delitem(sys.modules, name)
    before = list(warnings.filters)

    judge_trust._ppi()

    assert warnings.filters == before
