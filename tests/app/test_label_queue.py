"""What to label next (GET /score-jobs/{job_id}/label-queue, `LabelService.queue`) on
in-memory ports, and the draws behind it (rag_eval/domain/trust.py): samples nobody has
labelled, in the order drawn, with the probability each had; stored labels announced to
the worker."""

from __future__ import annotations

import json
from collections import Counter
from itertools import islice

import pytest

from rag_eval.app.jobs import JobService
from rag_eval.app.labels import LabelService
from rag_eval.domain.errors import Conflict, JobNotFound, RequestInvalid
from rag_eval.domain.messages import QUEUE_MESSAGE, TrustMessage
from rag_eval.domain.settings import Settings
from rag_eval.domain.trust import (
    LABEL_QUEUE_FILE,
    LABEL_SAMPLES_FILE,
    QueueFile,
    QueueMetric,
    draws,
    labelled_draws,
    next_to_label,
)
from tests.app.fakes import InMemoryJobs, InMemoryQueue
from tests.app.test_labels import (
    JOB,
    ME,
    METADATA,
    OTHER,
    RUN,
    CountingStore,
    InMemoryLabels,
    a_job,
    label,
    label_files,
)

SAMPLES = [f"s{i}" for i in range(6)]  # the judge scored s0..s4; s5 it could not


@pytest.fixture
def labelling() -> tuple[LabelService, InMemoryQueue, InMemoryJobs]:
    jobs, store, queue = InMemoryJobs(), CountingStore(), InMemoryQueue()
    jobs.create(a_job(), "hash", 0)
    jobs.create(a_job("1" * 24, written=False), "hash", 0)
    store.put(f"score-async/{RUN}/metadata.json", json.dumps(METADATA).encode(), "")
    samples, queued = label_files(SAMPLES)
    store.put(f"score-async/{RUN}/{LABEL_SAMPLES_FILE}", samples, "")
    store.put(f"score-async/{RUN}/{LABEL_QUEUE_FILE}", queued, "")
    service = JobService(Settings(), jobs, InMemoryQueue(), store)
    return LabelService(service, store, InMemoryLabels(), queue), queue, jobs


def test_stored_labels_are_announced_to_the_worker(labelling) -> None:
    service, queue, _ = labelling

    service.post(JOB, [label("s0")], caller=ME)

    [body] = queue.sent
    assert QUEUE_MESSAGE.validate_json(body) == TrustMessage(job_id=JOB)


def test_the_queue_hands_out_unlabelled_samples_in_the_order_drawn_with_their_chance(
    labelling,
) -> None:
    service, _, _ = labelling

    # WHEN the queue is asked for three samples, then again after one of them is labelled
    first = service.queue(JOB, caller=ME, metric="faithfulness", n="3")
    service.post(JOB, [label(first.samples[0].sample_id)], caller=ME)
    second = service.queue(JOB, caller=ME, metric="faithfulness", n="3")

    # THEN each answer holds distinct scored samples, with their texts and the judge's view
    assert (first.run_id, first.metric, first.scored, first.labelled) == (RUN, "faithfulness", 5, 0)
    assert (first.low, first.high, first.higher_is_better) == (0.0, 1.0, True)
    ids = [s.sample_id for s in first.samples]
    assert len(set(ids)) == 3 and "s5" not in ids
    for sample in first.samples:
        assert sample.probability == pytest.approx(1 / 5)
        assert sample.question == f"question of {sample.sample_id}"
        assert sample.contexts == [f"context of {sample.sample_id}"]
        assert (sample.judge.score, sample.judge.why) == (0.5, f"why {sample.sample_id}")
        assert sample.draws == sorted(sample.draws) and sample.draws[0] >= 1
    # AND the labelled sample is no longer handed out; the others keep their draws
    assert second.labelled == 1 and first.samples[0].sample_id not in {
        s.sample_id for s in second.samples
    }
    assert [s.sample_id for s in second.samples][:2] == ids[1:]
    assert second.answered >= 1  # the first draw is answered by the label


def test_once_every_scored_sample_is_labelled_the_queue_is_empty(labelling) -> None:
    service, _, _ = labelling

    service.post(JOB, [label(sid) for sid in SAMPLES], caller=ME)
    answer = service.queue(JOB, caller=ME, metric="faithfulness", n="10")

    assert answer.samples == [] and answer.labelled == 6


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"metric": None}, "metric"),
        ({"metric": "answer_correctness"}, "metric"),
        ({"metric": "faithfulness", "n": "0"}, "n"),
        ({"metric": "faithfulness", "n": "101"}, "n"),
        ({"metric": "faithfulness", "n": "ten"}, "n"),
    ],
)
def test_a_bad_query_is_refused_naming_its_field_and_what_is_allowed(
    labelling, query, field
) -> None:
    service, _, _ = labelling

    with pytest.raises(RequestInvalid) as raised:
        service.queue(JOB, caller=ME, **query)

    [problem] = raised.value.problems
    assert problem["field"] == field and problem["allowed"]
    if field == "metric":
        assert "faithfulness" in problem["allowed"]


def test_another_callers_job_is_not_found_and_a_job_without_a_run_is_a_conflict(
    labelling,
) -> None:
    service, _, _ = labelling

    with pytest.raises(JobNotFound):
        service.queue(JOB, caller=OTHER, metric="faithfulness")
    with pytest.raises(Conflict, match="has no run yet"):
        service.queue("1" * 24, caller=ME, metric="faithfulness")


# --- the draws ---------------------------------------------------------------------------


def test_draws_are_fixed_by_their_seed_and_follow_the_probabilities() -> None:
    q = [0.5, 0.3, 0.2, 0.0]

    first = list(islice(draws(q, seed=7), 20_000))
    again = list(islice(draws(q, seed=7), 20_000))
    other = list(islice(draws(q, seed=8), 20_000))

    assert first == again and first != other
    counts = Counter(first)
    assert counts[3] == 0  # a probability of 0 is never drawn
    for index, p in enumerate(q[:3]):
        # within five standard deviations of the binomial count
        spread = 5 * (20_000 * p * (1 - p)) ** 0.5
        assert abs(counts[index] - 20_000 * p) < spread, counts
    assert list(draws([0.0, 0.0], seed=1)) == []


def a_queue(probabilities: list[float]) -> QueueFile:
    ids = [f"s{i}" for i in range(len(probabilities))]
    metric = QueueMetric(scores=[0.5] * len(ids), probabilities=probabilities, leaning="")
    return QueueFile(
        run_id=RUN, sample_ids=ids, offsets=[0] * (len(ids) + 1), metrics={"m": metric}
    )


def test_the_correction_uses_the_draws_up_to_the_first_unlabelled_one() -> None:
    queue = a_queue([0.25] * 4)
    order = list(islice(draws([0.25] * 4, queue.seed("m")), 50))
    # GIVEN the samples of the first three distinct draws labelled, and one sample more
    # that the queue had not reached (labelled by hand)
    distinct = list(dict.fromkeys(order))
    human = {f"s{i}": 1.0 for i in distinct[:2]}
    human[f"s{distinct[3]}"] = 0.0

    used, outside = labelled_draws(queue, "m", human)

    # THEN the draws used run up to the first draw of the second sample, every one at q_i
    end = order.index(distinct[1]) + 1
    assert [u[0] for u in used] == order[:end]
    assert all(q == 0.25 and value == 1.0 for _, value, q in used)
    assert outside == 1  # the sample labelled by hand: compared, not used


def test_the_next_batch_skips_labelled_samples_and_says_how_far_labels_answer() -> None:
    queue = a_queue([0.25] * 4)
    order = list(islice(draws([0.25] * 4, queue.seed("m")), 50))
    first = order[0]

    picks, answered = next_to_label(queue, "m", {f"s{first}"}, 2)

    assert first not in [p.index for p in picks] and len(picks) == 2
    assert answered == order.index(next(i for i in order if i != first))
