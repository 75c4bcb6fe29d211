"""Messages from the dead-letter queue: every delivery died (a timeout, out of memory)
before it could record a failure. The worker closes their work without trying it again.

On the template's resources in moto, with the World of test_processing.py.
"""

from __future__ import annotations

import json

import pytest

from rag_eval.app.delivery import from_queue
from rag_eval.app.score_shard import DIED_EVERY_DELIVERY
from rag_eval.domain.messages import CompareMessage, TrustMessage
from rag_eval.domain.states import JobState
from tests.app.test_processing import METRICS, World, aws, samples, world

__all__ = ["aws", "world"]  # fixtures, used by name


def test_a_dead_lettered_shard_is_stored_unscored_and_the_job_completes_with_the_rest(
    world: World,
) -> None:
    # GIVEN a job of two shards, shard 1 of which died on every delivery (nothing recorded)
    job = world.service.submit({"samples": samples(100), "metrics": METRICS}).job
    world.worker().process(world.take("score")[0])
    first, second = world.take("shards")
    world.fail_shards["sample-0051"] = 99  # were it scored again, it would fail: it is not

    # WHEN its message comes from the dead-letter queue, and shard 0 is scored as usual
    assert world.worker().process(second, receive_count=4, dead_letter=True) == "shard_done"
    assert world.worker().process(first) == JobState.COMPLETED

    # THEN shard 1 was never scored again; its samples are unscored worker_error, and the
    # job completed with shard 0's scores
    assert world.fail_shards["sample-0051"] == 99
    assert len(world.scored) == 50 and "sample-0051" not in world.scored
    done = world.job(job.job_id)
    assert done.status is JobState.COMPLETED and done.error is None
    assert done.metric_failures["exact_match"] == {"worker_error": 50}
    assert done.scores["exact_match"] == 0.5
    rows = [r for r in world.file(job.job_id, "scores.csv").splitlines() if "worker_error" in r]
    assert len(rows) == 50
    assert DIED_EVERY_DELIVERY in world.file(job.job_id, "explanations.jsonl")


def test_the_last_dead_lettered_shard_fans_in(world: World) -> None:
    job = world.service.submit({"samples": samples(100), "metrics": METRICS}).job
    world.worker().process(world.take("score")[0])
    first, second = world.take("shards")

    assert world.worker().process(first) == "shard_done"
    assert world.worker().process(second, receive_count=4, dead_letter=True) == JobState.COMPLETED

    done = world.job(job.job_id)
    assert done.status is JobState.COMPLETED
    assert done.metric_failures["exact_match"] == {"worker_error": 50}
    assert len(world.run_folders(job.job_id)) == 1


def test_a_duplicate_dead_letter_or_one_for_an_ended_job_changes_nothing(world: World) -> None:
    job = world.service.submit({"samples": samples(100), "metrics": METRICS}).job
    world.worker().process(world.take("score")[0])
    first, second = world.take("shards")
    assert world.worker().process(second, receive_count=4, dead_letter=True) == "shard_done"

    # WHEN the same dead letter comes again before the job ends: counted once
    assert world.worker().process(second, receive_count=5, dead_letter=True) == "shard_done"
    assert world.job(job.job_id).progress.shards_done == 1

    # AND after it ended, whether a shard's or the job's own message: nothing moves
    assert world.worker().process(first) == JobState.COMPLETED
    before = world.job(job.job_id)
    assert world.worker().process(second, dead_letter=True) == "duplicate"
    plan = json.dumps({"job_id": job.job_id, "request_key": "gone"})
    assert world.worker().process(plan, dead_letter=True) == "duplicate"
    after = world.job(job.job_id)
    assert after.status is JobState.COMPLETED
    assert after.model_dump() == before.model_dump()
    assert len(world.run_folders(job.job_id)) == 1


def test_a_dead_lettered_job_message_fails_the_job_without_planning_it(world: World) -> None:
    job = world.service.submit({"samples": samples(60), "metrics": METRICS}).job
    (plan,) = world.take("score")

    assert world.worker().process(plan, receive_count=4, dead_letter=True) == JobState.FAILED

    failed = world.job(job.job_id)
    assert failed.status is JobState.FAILED and failed.finished_at
    assert failed.error.startswith("WorkerDied: planning failed every delivery")
    assert world.take("shards") == [] and not world.scored
    # A second copy of the dead letter finds the job ended
    assert world.worker().process(plan, receive_count=5, dead_letter=True) == "duplicate"


@pytest.mark.parametrize(
    "message",
    [
        CompareMessage(job_id="0" * 24, baseline="1" * 24),
        TrustMessage(job_id="0" * 24),
    ],
)
def test_a_dead_lettered_comparison_or_labels_message_is_dropped(
    world: World, message: CompareMessage | TrustMessage
) -> None:
    assert world.worker().process(message.body(), dead_letter=True) == "dropped"


@pytest.mark.parametrize(
    ("source_arn", "dlq_url", "dead"),
    [
        (
            "arn:aws:sqs:us-east-1:123456789012:stack-ScoreDLQ-AB12",
            "https://sqs.us-east-1.amazonaws.com/123456789012/stack-ScoreDLQ-AB12",
            True,
        ),
        (
            "arn:aws:sqs:us-east-1:123456789012:stack-ShardQueue-CD34",
            "https://sqs.us-east-1.amazonaws.com/123456789012/stack-ScoreDLQ-AB12",
            False,
        ),
        ("arn:aws:sqs:us-east-1:123456789012:stack-ScoreDLQ-AB12", "", False),  # not set
    ],
)
def test_a_dead_letter_is_told_by_its_queue(source_arn: str, dlq_url: str, dead: bool) -> None:
    assert from_queue(source_arn, dlq_url) is dead


def test_a_dead_letter_whose_closing_died_twice_too_fails_its_job(world: World) -> None:
    # GIVEN a job of two shards, the first counted, the second in the dead-letter queue,
    # whose two deliveries from there died as well (its fan-in kills the process)
    job = world.service.submit({"samples": samples(100), "metrics": METRICS}).job
    world.worker().process(world.take("score")[0])
    first, second = world.take("shards")
    assert world.worker().process(first) == "shard_done"

    # WHEN it is delivered a third time from the dead-letter queue (receive count 6)
    outcome = world.worker().process(second, receive_count=6, dead_letter=True)

    # THEN the job is failed, saying why, rather than left running for the queue's 14 days
    assert outcome == JobState.FAILED
    failed = world.job(job.job_id)
    assert failed.status is JobState.FAILED
    assert failed.error is not None and "dead-letter queue died twice" in failed.error
    assert not world.run_folders(job.job_id)
