"""The judge canary's figures: an anchor whose judge moved is found and said by how much,
a steady judge's noise rarely is, and a changed anchor says nothing of the judge."""

from __future__ import annotations

from rag_eval.scoring.canary import canary_of, first_anchor
from tests.support.runs import paired_runs

METRICS = ["faithfulness", "answer_correctness"]


def test_a_judge_that_scores_lower_is_found_with_its_move() -> None:
    before, after = paired_runs(7, 40, METRICS, shift=-0.15, noise=0.05)
    canary = canary_of("anchor-b", "anchor-a", before, after)
    assert canary.judge_changed
    assert {m.metric for m in canary.metrics if m.moved} == set(METRICS)
    moved = canary.metrics[0]
    assert moved.difference is not None and moved.low is not None and moved.high is not None
    assert moved.low < moved.difference < moved.high < 0
    assert -0.2 < moved.difference < -0.1
    assert canary.sentence.startswith("The judge changed: the anchor's 40 unchanged samples")
    assert "faithfulness -0.1" in canary.sentence


def test_a_steady_judge_is_said_to_hold_and_noise_rarely_moves_it() -> None:
    called = 0
    for seed in range(200):
        before, after = paired_runs(seed, 40, METRICS, noise=0.05)
        canary = canary_of("b", "a", before, after)
        called += canary.judge_changed
    assert called / 200 <= 0.08  # Holm over the metrics: at most ~5% of steady runs
    before, after = paired_runs(3, 40, METRICS, noise=0.05)
    held = canary_of("b", "a", before, after)
    if not held.judge_changed:
        assert held.sentence.startswith("The judge held: the anchor's 40 unchanged samples")
        assert "not significant" in held.sentence


def test_an_anchor_whose_inputs_changed_says_nothing_of_the_judge() -> None:
    before, after = paired_runs(5, 30, METRICS, shift=-0.3)
    after.scores = {f"other-{key}": row for key, row in after.scores.items()}
    canary = canary_of("b", "a", before, after)
    assert not canary.judge_changed and not canary.metrics
    assert "inputs changed" in canary.sentence


def test_the_first_anchor_waits_for_the_next_run() -> None:
    canary = first_anchor("a")
    assert canary.baseline_anchor_job is None and not canary.judge_changed
    assert "first run with this anchor" in canary.sentence
