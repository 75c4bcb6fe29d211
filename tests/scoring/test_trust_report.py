"""People's labels set against a lenient judge (rag_eval/scoring/trust_report.py): the
queue's draws correct its mean, agreement is the libraries', the largest gaps come with
the judge's reasons and the labelers' notes, labels the queue did not draw are kept apart."""

from __future__ import annotations

from itertools import islice

import numpy as np
import pytest

from rag_eval.domain.labels import HumanLabel, LabelTarget
from rag_eval.domain.trust import JudgeView, LabelSample, QueueFile, QueueMetric, draws
from rag_eval.metrics.spec import Scale
from rag_eval.scoring.judge_trust import agreement, closeness_to_middle, sampling_probabilities
from rag_eval.scoring.trust_report import level_of, trust_report

N = 200
LENIENCY = 0.2  # the judge scores this much higher than people


def lenient_run(seed: int = 3) -> tuple[QueueFile, list[float]]:
    rng = np.random.default_rng(seed)
    human = rng.beta(2, 3, N)
    judge = np.clip(human + LENIENCY + rng.normal(0, 0.05, N), 0, 1).tolist()
    q = sampling_probabilities(judge, closeness_to_middle(judge, Scale())).tolist()
    queue = QueueFile(
        run_id="20261205T100000Z-j",
        sample_ids=[f"s{i}" for i in range(N)],
        offsets=[0] * (N + 1),
        metrics={"faithfulness": QueueMetric(scores=judge, probabilities=q, leaning="")},
    )
    return queue, human.tolist()


def labels_of(queue: QueueFile, human: list[float], count: int, **more) -> list[HumanLabel]:
    """People's labels of the samples of the queue's first `count` draws."""
    order = islice(
        draws(queue.metrics["faithfulness"].probabilities, queue.seed("faithfulness")), count
    )
    return [
        HumanLabel(
            sample_id=f"s{i}",
            metric="faithfulness",
            value=human[i],
            labeled_at="2026-12-05T10:00:00.000Z",
            **more,
        )
        for i in dict.fromkeys(order)
    ]


def line(index: int) -> LabelSample:
    return LabelSample(
        sample_id=f"s{index}",
        question=f"question {index}",
        answer="x" * 2_000,
        metrics={"faithfulness": JudgeView(score=0.9, why="every claim supported", evidence=[1])},
    )


def test_labels_from_the_queue_correct_a_lenient_judge_and_say_so_in_plain_words() -> None:
    queue, human = lenient_run()
    labels = labels_of(queue, human, 60, note="too generous")

    report = trust_report("j", queue, {"faithfulness": LabelTarget()}, labels, line, "now")

    trust = report.metrics["faithfulness"]
    assert trust.corrected is not None and trust.labels >= 10
    # the judge's own interval misses people's mean; the corrected one holds it
    true_mean = float(np.mean(human))
    assert not trust.judge.low <= true_mean <= trust.judge.high
    assert trust.corrected.low <= true_mean <= trust.corrected.high
    assert trust.bias == pytest.approx(LENIENCY, abs=0.05)
    assert trust.sentence.startswith(f"the judge scores {trust.bias:.2f} higher than people do")
    assert trust.labels_outside_queue == 0
    # agreement is the library's, on every labelled sample
    judged = [queue.metrics["faithfulness"].scores[int(x.sample_id[1:])] for x in labels]
    expected = agreement(judged, [x.value for x in labels])
    assert trust.agreement == expected and trust.agreement.pairs == len(labels)
    # the largest gaps first, with the judge's reasons and what people wrote, texts cut
    gaps = report.gaps["faithfulness"]
    assert len(gaps) == 5
    assert [abs(g.difference) for g in gaps] == sorted(
        (abs(g.difference) for g in gaps), reverse=True
    )
    assert gaps[0].why == "every claim supported" and gaps[0].notes == ["too generous"]
    assert len(gaps[0].answer) == 600


def test_labels_the_queue_did_not_draw_are_compared_but_do_not_correct() -> None:
    queue, human = lenient_run()
    drawn = {x.sample_id for x in labels_of(queue, human, 60)}
    by_hand = [
        HumanLabel(sample_id=s, metric="faithfulness", value=0.1, labeled_at="t")
        for s in [f"s{i}" for i in range(N)]
        if s not in drawn
    ][:12]

    report = trust_report("j", queue, {"faithfulness": LabelTarget()}, by_hand, line, "now")

    trust = report.metrics["faithfulness"]
    assert trust.corrected is None and trust.labels == 0
    assert trust.labels_outside_queue == 12 and trust.agreement.pairs == 12
    assert "12 labelled sample(s) the label queue did not draw" in trust.sentence
    assert trust.sentence.startswith("too few labels to correct the judge")


def test_several_labelers_of_a_sample_count_as_their_mean() -> None:
    queue, human = lenient_run()
    alice = labels_of(queue, human, 40, labeler="alice")
    bob = [x.model_copy(update={"labeler": "bob", "value": 1.0}) for x in alice]

    both = trust_report("j", queue, {"faithfulness": LabelTarget()}, alice + bob, line, "now")

    means = [(x.value + 1.0) / 2 for x in alice]
    judged = [queue.metrics["faithfulness"].scores[int(x.sample_id[1:])] for x in alice]
    assert both.metrics["faithfulness"].agreement == agreement(judged, means)


def test_the_level_of_agreement_follows_the_metric() -> None:
    assert level_of(LabelTarget()) == "interval"
    assert level_of(LabelTarget(Scale(1, 5))) == "ordinal"
    assert level_of(LabelTarget(categories={"yes": 1.0, "no": 0.0})) == "nominal"
