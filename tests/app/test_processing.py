"""JobProcessor, the worker's state machine, on the template's table, queues and bucket in
moto: planning, shards under at-least-once delivery and concurrent copies, fan-in, crashes,
poison shards, cancel, datasets, and the invocation's time limit.

Messages are delivered by hand (as often and in whatever order a test needs); the real
scoring pipeline scores model-free metrics, wrapped to count and to fail on demand.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import boto3
import pytest
from moto import mock_aws

from rag_eval.adapters.aws.dynamodb import DynamoJobRepository
from rag_eval.adapters.aws.s3 import S3ObjectStore
from rag_eval.adapters.aws.sqs import SqsJobQueue
from rag_eval.app.jobs import JobService
from rag_eval.app.pipeline import ScoringPipeline
from rag_eval.app.processing import JobProcessor
from rag_eval.cli.render import print_job
from rag_eval.domain.errors import Conflict, MalformedMessage, RequestInvalid, ShardBusy
from rag_eval.domain.layout import RUN_PREFIX, upload_key
from rag_eval.domain.results import Interval
from rag_eval.domain.settings import Settings
from rag_eval.domain.states import JobState
from rag_eval.local.deploy import deploy
from rag_eval.local.dynamodb_writes import serialize_writes
from tests.support.loopback import LoopbackServer
from tests.support.run_folder import RUN_FILES
from tests.support.trust import metric_trust

METRICS = ["exact_match", "chrf_score"]


@pytest.fixture(scope="module")
def aws() -> Iterator[dict[str, str]]:
    """GIVEN the template deployed into moto (in this process)."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }.items():
            patch.setenv(name, value)
        patch.delenv("AWS_ENDPOINT_URL", raising=False)
        serialize_writes()  # DynamoDB's per-item atomicity, for the copies run at once
        with mock_aws():
            yield deploy(boto3.client("cloudformation"), stack_name="processing")


class CountingPipeline(ScoringPipeline):
    """The real pipeline, counting the samples it scores and failing when told to."""

    def __init__(self, settings: Settings, store: Any, verdicts: Any, world: World) -> None:
        super().__init__(settings, store, verdicts)
        self._world = world

    async def score_shard(self, options, samples, *args, **kwargs):
        self._world.held.set()  # inside scoring, with the shard's lease
        self._world.scoring.wait()  # a test may hold scoring to overlap two copies
        first = samples[0].sample_id
        if self._world.fail_shards.get(first, 0) > 0:
            self._world.fail_shards[first] -= 1
            raise RuntimeError(f"the worker crashed on the shard of {first}")
        with self._world.lock:
            self._world.scored.update(s.sample_id for s in samples)
        return await super().score_shard(options, samples, *args, **kwargs)

    async def fan_in(self, *args, **kwargs):
        if self._world.fail_fan_ins > 0:
            self._world.fail_fan_ins -= 1
            raise RuntimeError("the worker crashed during fan-in")
        self._world.fan_ins += 1
        return await super().fan_in(*args, **kwargs)


CALLER = "arn:aws:iam::123456789012:role/team-a"


class AsCaller:
    """The job service as one caller calls it (every call is a caller's)."""

    def __init__(self, service: JobService, caller: str) -> None:
        self._service = service
        self._caller = caller

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._service, name)
        return lambda *args, **kwargs: method(*args, caller=self._caller, **kwargs)


class World:
    """The service on moto: the API's job service, workers, and the queues between them."""

    def __init__(self, ids: dict[str, str], **settings: Any) -> None:
        self.settings = Settings(
            jobs_table=ids["ScoreJobs"],
            queue_url=ids["ScoreQueue"],
            shard_queue_url=ids["ShardQueue"],
            artifacts_bucket=ids["ArtifactsBucket"],
            # Its jobs score model-free metrics: their shards are sized by this one.
            model_free_shard_size=settings.pop("shard_size", 50),
            **settings,
        )
        self.ids = ids
        self.repository = DynamoJobRepository(self.settings.jobs_table, boto3.client("dynamodb"))
        self.s3 = boto3.client("s3")
        self.store = S3ObjectStore(self.settings.artifacts_bucket, self.s3)
        self.sqs = boto3.client("sqs")
        self.service = AsCaller(
            JobService(
                self.settings,
                self.repository,
                SqsJobQueue(self.settings.queue_url, self.sqs),
                self.store,
            ),
            CALLER,
        )
        self.scored: Counter[str] = Counter()
        self.fail_shards: dict[str, int] = {}
        self.fail_fan_ins = 0
        self.fan_ins = 0
        self.lock = threading.Lock()
        self.scoring = threading.Event()
        self.scoring.set()
        self.held = threading.Event()  # a delivery has reached scoring
        self.now = time.time()
        for queue in ("score", "shards"):  # what an earlier test left behind
            self.take(queue)

    def worker(self) -> JobProcessor:
        """A fresh worker (a new execution environment)."""
        return JobProcessor(
            self.settings,
            self.repository,
            self.store,
            SqsJobQueue(self.settings.shard_queue_url, self.sqs),
            pipeline_factory=lambda settings, store, verdicts: CountingPipeline(
                settings, store, verdicts, self
            ),
            clock=lambda: self.now,
        )

    def take(self, queue: str) -> list[str]:
        """Every message on a queue, removed from it."""
        url = self.settings.queue_url if queue == "score" else self.settings.shard_queue_url
        bodies = []
        while True:
            got = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages")
            if not got:
                return bodies
            for message in got:
                bodies.append(message["Body"])
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    def upload(self, body: str | bytes) -> str:
        upload = self.service.create_upload({"filename": "data.jsonl"})
        data = body.encode() if isinstance(body, str) else body
        self.s3.put_object(
            Bucket=self.settings.artifacts_bucket,
            Key=upload_key(upload.upload_id, CALLER),
            Body=data,
        )
        return upload.upload_id

    def job(self, job_id: str):
        return self.service.get(job_id)

    def run_folders(self, job_id: str) -> set[str]:
        listed = self.s3.list_objects_v2(
            Bucket=self.settings.artifacts_bucket, Prefix=f"{RUN_PREFIX}/"
        )
        return {
            item["Key"].split("/")[1]
            for item in listed.get("Contents", [])
            if item["Key"].split("/")[1].endswith(job_id)
        }

    def file(self, job_id: str, name: str) -> str:
        key = self.job(job_id).artifact_keys[name]
        return (
            self.s3.get_object(Bucket=self.settings.artifacts_bucket, Key=key)["Body"]
            .read()
            .decode()
        )


def samples(count: int, start: int = 1) -> list[dict[str, Any]]:
    return [
        {"question": f"q{i}", "answer": f"a{i}", "ground_truth": f"a{i}" if i % 2 else "other"}
        for i in range(start, start + count)
    ]


def jsonl(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(row) + "\n" for row in rows)


@pytest.fixture
def world(aws: dict[str, str]) -> World:
    return World(aws)


def test_a_one_sample_job_is_planned_and_scored_in_one_invocation(world: World) -> None:
    # GIVEN a one-sample job submitted inline
    job = world.service.submit({**samples(1)[0], "metrics": METRICS}).job
    (message,) = world.take("score")

    # WHEN one worker takes its message
    outcome = world.worker().process(message)

    # THEN it is completed there and then: no shard message, one run folder, its scores
    assert outcome == JobState.COMPLETED
    assert world.take("shards") == []
    done = world.job(job.job_id)
    assert done.status is JobState.COMPLETED and done.scores["exact_match"] == 1.0
    assert done.progress.shards_total == done.progress.shards_done == 1
    assert done.started_at and done.finished_at and done.latency_ms is not None
    assert len(world.run_folders(job.job_id)) == 1
    assert set(done.artifact_keys) == RUN_FILES


def test_every_shard_delivered_three_times_is_scored_once_and_fanned_in_once(
    world: World,
) -> None:
    # GIVEN a 120-sample dataset: three shards of 50, 50 and 20
    upload = world.upload(jsonl(samples(120)))
    job = world.service.submit({"dataset": {"upload_id": upload}, "metrics": METRICS}).job
    (plan,) = world.take("score")

    # WHEN it is planned twice (a redelivery) and every shard message comes three times
    assert world.worker().process(plan) == "planned"
    assert world.worker().process(plan, receive_count=2) == "planned"
    shard_messages = world.take("shards")
    assert sorted(json.loads(m)["shard"] for m in shard_messages) == [0, 0, 1, 1, 2, 2]
    assert {json.loads(m)["kind"] for m in shard_messages} == {"shard"}
    outcomes = [world.worker().process(m) for m in shard_messages * 3 + shard_messages]

    # THEN every sample was scored once, the folder written once, the counts are right
    assert set(world.scored.values()) == {1} and len(world.scored) == 120
    assert world.fan_ins == 1 and outcomes.count(JobState.COMPLETED) == 1
    done = world.job(job.job_id)
    assert done.status is JobState.COMPLETED
    assert (done.sample_count, done.progress.samples_done) == (120, 120)
    assert (done.progress.shards_done, done.progress.shards_total) == (3, 3)
    assert done.scores["exact_match"] == 0.5  # the odd samples match their ground truth
    assert len(world.run_folders(job.job_id)) == 1
    rows = world.file(job.job_id, "scores.csv").splitlines()
    assert len(rows) == 121 and rows[1].startswith("sample-0001,q1,")
    assert json.loads(world.file(job.job_id, "request.json"))["dataset"]["upload_id"] == upload


def two_copies_at_once(world: World, message: str) -> tuple[Any, Any]:
    """Deliver a message twice at the same moment: the first copy is held inside scoring
    while the second arrives. What each delivery returned (or raised)."""
    world.scoring.clear()
    world.held.clear()
    results: dict[int, Any] = {}

    def deliver(copy: int) -> None:
        try:
            results[copy] = world.worker().process(message)
        except ShardBusy as exc:
            results[copy] = exc

    first = threading.Thread(target=deliver, args=(1,))
    first.start()
    assert world.held.wait(30)  # the first copy holds the lease and is inside scoring
    deliver(2)
    world.scoring.set()
    first.join()
    return results[1], results[2]


def test_two_copies_of_a_shard_at_once_score_it_once(world: World) -> None:
    # GIVEN a two-shard job whose shard 0 is delivered twice at the same moment
    job = world.service.submit({"samples": samples(100), "metrics": METRICS}).job
    world.worker().process(world.take("score")[0])
    first, second = world.take("shards")
    one, two = two_copies_at_once(world, first)

    # THEN the second copy is told to come back later, and the shard is scored once
    assert isinstance(two, ShardBusy) and one == "shard_done"
    assert world.worker().process(first) == "shard_done"  # its redelivery: counted already
    assert world.worker().process(second) == JobState.COMPLETED
    assert set(world.scored.values()) == {1} and len(world.scored) == 100
    assert world.job(job.job_id).progress.samples_done == 100


def test_two_copies_of_a_small_jobs_message_at_once_score_it_once(world: World) -> None:
    # GIVEN a one-shard job whose message is delivered twice at the same moment
    job = world.service.submit({"samples": samples(10), "metrics": METRICS}).job
    (message,) = world.take("score")
    one, two = two_copies_at_once(world, message)

    # THEN the second copy comes back later; the job is scored once and completed
    assert isinstance(two, ShardBusy) and one == JobState.COMPLETED
    assert world.worker().process(message) == "duplicate"
    assert set(world.scored.values()) == {1} and len(world.scored) == 10
    assert world.job(job.job_id).status is JobState.COMPLETED


def test_a_shard_whose_holder_died_is_taken_over_once_its_lease_runs_out(world: World) -> None:
    job = world.service.submit({"samples": samples(60), "metrics": METRICS}).job
    world.worker().process(world.take("score")[0])
    first, second = world.take("shards")
    # GIVEN a delivery that took shard 0's lease and died without a word
    world.repository.claim_shard(job.job_id, 0, "dead-worker", world.now, 900)

    # WHEN its redelivery comes while the lease runs, and again after
    with pytest.raises(ShardBusy):
        world.worker().process(first, receive_count=2)
    world.now += 901
    assert world.worker().process(first, receive_count=3) == "shard_done"
    assert world.worker().process(second) == JobState.COMPLETED
    assert world.job(job.job_id).status is JobState.COMPLETED


def test_on_its_last_delivery_a_shard_waits_out_a_dead_holders_lease(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("rag_eval.app.delivery.LEASE_POLL_SECONDS", 0.05)
    job = world.service.submit({"samples": samples(60), "metrics": METRICS}).job
    world.worker().process(world.take("score")[0])
    first, second = world.take("shards")
    # GIVEN shard 0's lease held by a delivery that died, and this its message's last receive
    world.repository.claim_shard(job.job_id, 0, "dead-worker", world.now, 900)

    def lease_runs_out() -> None:
        world.now += 901

    threading.Timer(0.5, lease_runs_out).start()

    # THEN the last delivery takes the shard over once the lease ends, instead of dropping it
    assert world.worker().process(first, receive_count=3, seconds_left=60) == "shard_done"
    assert world.worker().process(second) == JobState.COMPLETED
    assert len(world.scored) == 60


def test_a_last_delivery_that_cannot_get_the_lease_in_time_fails_for_the_dlq(
    world: World,
) -> None:
    job = world.service.submit({"samples": samples(60), "metrics": METRICS}).job
    world.worker().process(world.take("score")[0])
    first, _ = world.take("shards")
    world.repository.claim_shard(job.job_id, 0, "slow-worker", world.now, 900)

    with pytest.raises(ShardBusy):
        world.worker().process(first, receive_count=3, seconds_left=15.5)


def test_a_worker_killed_mid_shard_or_during_fan_in_completes_on_redelivery(
    world: World,
) -> None:
    job = world.service.submit({"samples": samples(60), "metrics": METRICS}).job
    world.worker().process(world.take("score")[0])
    first, second = world.take("shards")
    world.fail_shards["sample-0001"] = 1
    world.fail_fan_ins = 1

    # WHEN shard 0 crashes once, and the fan-in after the last shard crashes once
    with pytest.raises(RuntimeError, match="crashed on the shard"):
        world.worker().process(first)
    assert world.worker().process(second) == "shard_done"
    with pytest.raises(RuntimeError, match="crashed during fan-in"):
        world.worker().process(first, receive_count=2)
    assert world.job(job.job_id).status is JobState.RUNNING  # nothing lost, nothing final

    # THEN the redelivery completes it: one folder, every sample once
    assert world.worker().process(first, receive_count=3) == JobState.COMPLETED
    assert world.fan_ins == 1 and len(world.run_folders(job.job_id)) == 1
    assert set(world.scored.values()) == {1} and len(world.scored) == 60


def test_a_poison_shard_leaves_its_samples_unscored_and_the_job_completes(world: World) -> None:
    job = world.service.submit({"samples": samples(100), "metrics": METRICS}).job
    world.worker().process(world.take("score")[0])
    first, second = world.take("shards")
    world.fail_shards["sample-0051"] = 99  # shard 1 fails every delivery

    for receive in (1, 2):
        with pytest.raises(RuntimeError):
            world.worker().process(second, receive_count=receive)
    assert world.worker().process(second, receive_count=3) == "shard_done"
    assert world.worker().process(first) == JobState.COMPLETED

    done = world.job(job.job_id)
    assert done.status is JobState.COMPLETED and done.error is None
    assert done.metric_failures["exact_match"] == {"worker_error": 50}
    assert done.scores["exact_match"] == 0.5  # the means of the 50 samples that scored
    rows = [r for r in world.file(job.job_id, "scores.csv").splitlines() if "worker_error" in r]
    assert len(rows) == 50


def test_a_job_every_shard_of_which_failed_is_failed_not_completed(world: World) -> None:
    job = world.service.submit({"samples": samples(3), "metrics": METRICS}).job
    (plan,) = world.take("score")
    world.fail_shards["sample-0001"] = 99

    for receive in (1, 2):
        with pytest.raises(RuntimeError):
            world.worker().process(plan, receive_count=receive)
    assert world.worker().process(plan, receive_count=3) == JobState.FAILED

    failed = world.job(job.job_id)
    assert failed.status is JobState.FAILED
    assert failed.error == "RuntimeError: the worker crashed on the shard of sample-0001"
    assert world.run_folders(job.job_id) == set()


def test_a_shard_that_would_outlive_the_invocation_stops_in_time(world: World) -> None:
    world.scoring.clear()  # scoring never ends
    job = world.service.submit({"samples": samples(2), "metrics": METRICS}).job
    (plan,) = world.take("score")

    threading.Timer(3.0, world.scoring.set).start()  # let the held thread go afterwards
    assert world.worker().process(plan, seconds_left=16.0) == JobState.FAILED

    failed = world.job(job.job_id)
    assert failed.error.startswith("JobTimeout: scoring 2 sample(s) took longer than")


def test_progress_shows_shards_samples_running_means_and_an_eta(world: World) -> None:
    job = world.service.submit({"samples": samples(150), "metrics": METRICS}).job
    world.worker().process(world.take("score")[0])
    queued = world.job(job.job_id)
    assert (queued.progress.samples_total, queued.progress.shards_total) == (150, 3)
    assert queued.progress.eta_seconds is None

    world.worker().process(world.take("shards")[0])

    running = world.job(job.job_id)
    assert running.status is JobState.RUNNING
    assert (running.progress.samples_done, running.progress.shards_done) == (50, 1)
    # the shard scored faster than a live report: its counted samples give its calls
    calls_per_sample = len(METRICS)
    assert running.progress.metric_calls_total == 150 * calls_per_sample
    assert running.progress.metric_calls_done == 50 * calls_per_sample
    assert running.progress.running_scores["exact_match"] == 0.5
    assert running.progress.eta_seconds is not None and running.progress.eta_seconds >= 0


def test_cancel_of_a_running_job_stops_judge_work_and_keeps_a_partial_folder(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a three-shard job of which one shard is scored
    job = world.service.submit({"samples": samples(150), "metrics": METRICS}).job
    world.worker().process(world.take("score")[0])
    shard_messages = world.take("shards")
    world.worker().process(shard_messages[0])

    # WHEN it is cancelled (twice: idempotent) and its other shards are delivered
    cancelled = world.service.cancel(job.job_id)
    assert world.service.cancel(job.job_id) == world.job(job.job_id)
    outcomes = [world.worker().process(m) for m in shard_messages[1:]]

    # THEN no further sample was scored, and what was scored is kept as a partial folder
    assert cancelled.status is JobState.CANCELLED and cancelled.finished_at
    assert len(world.scored) == 50
    assert outcomes == ["shard_done", JobState.CANCELLED]
    done = world.job(job.job_id)
    assert done.status is JobState.CANCELLED and done.partial and done.run_id
    assert done.scores["exact_match"] == 0.5
    assert done.metric_failures["exact_match"] == {"cancelled": 100}
    # AND every count says 50 scored and 100 cancelled: the job, summary.md, metadata.json,
    # report.html and the command line's view
    progress = done.progress
    assert (progress.samples_total, progress.samples_done, progress.samples_cancelled) == (
        150,
        50,
        100,
    )
    assert progress.metric_calls_done == 50 * len(METRICS)
    said = "50 of 150 samples were scored before it and 100 were not"
    assert f"**Partial**: the job was cancelled: {said}" in world.file(job.job_id, "summary.md")
    assert said in world.file(job.job_id, "report.html")
    metadata = json.loads(world.file(job.job_id, "metadata.json"))
    assert metadata["partial"] is True
    assert (metadata["samples"]["total"], metadata["samples"]["cancelled"]) == (150, 100)
    print_job(done)
    assert "partial: 50 of 150 samples were scored before the cancel and 100 were not" in (
        capsys.readouterr().out
    )
    assert set(world.service.artifact_links(job.job_id).files) >= {"scores.csv"}
    # a late duplicate changes nothing
    assert world.worker().process(shard_messages[1]) == "duplicate"


def test_cancel_of_a_queued_job_scores_nothing_and_cancel_of_an_ended_one_is_a_conflict(
    world: World,
) -> None:
    job = world.service.submit({"samples": samples(2), "metrics": METRICS}).job
    world.service.cancel(job.job_id)
    assert world.worker().process(world.take("score")[0]) == "duplicate"
    assert world.job(job.job_id).status is JobState.CANCELLED and not world.scored

    done = world.service.submit({"samples": samples(1), "metrics": METRICS}).job
    world.worker().process(world.take("score")[0])
    with pytest.raises(Conflict, match="is completed; only a queued or running job"):
        world.service.cancel(done.job_id)


CSV_RAGAS = "user_input,response,retrieved_contexts,reference,synthesizer_name\n" + "".join(
    f"q{i},a{i},\"['c{i}']\",a{i},single_hop\n" for i in range(1, 8)
)


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("ragas CSV", CSV_RAGAS),
        ("ragas JSONL", jsonl([{"user_input": "q", "response": "a", "reference": "a"}] * 7)),
        ("our JSONL", jsonl(samples(7))),
    ],
)
def test_datasets_in_either_naming_and_format_are_scored(
    world: World, name: str, body: str
) -> None:
    upload = world.upload(body)
    job = world.service.submit({"dataset": {"upload_id": upload}, "metrics": METRICS}).job

    assert world.worker().process(world.take("score")[0]) == JobState.COMPLETED, name
    assert world.job(job.job_id).sample_count == 7


BAD_ROWS = jsonl(samples(3)) + "not json\n" + json.dumps({"answer": "no question"}) + "\n"


def test_invalid_rows_fail_the_job_before_any_judge_call(world: World) -> None:
    upload = world.upload(BAD_ROWS)
    job = world.service.submit({"dataset": {"upload_id": upload}, "metrics": METRICS}).job

    assert world.worker().process(world.take("score")[0]) == JobState.FAILED

    failed = world.job(job.job_id)
    assert not world.scored
    assert failed.error.startswith("DatasetInvalid: 2 invalid row(s); first: line 4")
    assert [(p.line, p.field) for p in failed.invalid_rows][:1] == [(4, "line")]
    assert failed.invalid_rows[1].line == 5 and "question" in failed.invalid_rows[1].field


def test_invalid_rows_are_skipped_and_reported_when_asked(world: World) -> None:
    upload = world.upload(BAD_ROWS)
    job = world.service.submit(
        {"dataset": {"upload_id": upload}, "metrics": METRICS, "on_invalid": "skip"}
    ).job

    assert world.worker().process(world.take("score")[0]) == JobState.COMPLETED

    done = world.job(job.job_id)
    assert done.sample_count == 3 and done.progress.samples_skipped == 2
    assert len(done.invalid_rows) == 2 and len(world.scored) == 3


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"", "DatasetInvalid"),
        (b"\n\n", "DatasetInvalid"),
        (jsonl(samples(11)).encode(), "more than 10 rows"),
    ],
    ids=["empty", "blank lines", "over the row limit"],
)
def test_a_dataset_that_cannot_be_scored_fails_with_a_reason(
    aws: dict[str, str], body: bytes, error: str
) -> None:
    world = World(aws, max_dataset_rows=10)
    upload = world.upload(body) if body else None
    if upload is None:  # an empty file: S3's policy refuses it; a hand-made one is read
        upload = world.service.create_upload({}).upload_id
        world.s3.put_object(
            Bucket=world.settings.artifacts_bucket, Key=upload_key(upload, CALLER), Body=b""
        )
    job = world.service.submit({"dataset": {"upload_id": upload}, "metrics": METRICS}).job

    assert world.worker().process(world.take("score")[0]) == JobState.FAILED
    assert error in world.job(job.job_id).error


def test_a_submission_of_an_upload_that_never_arrived_is_refused(world: World) -> None:
    upload = world.service.create_upload({"filename": "x.csv"}).upload_id

    with pytest.raises(RequestInvalid) as refused:
        world.service.submit({"dataset": {"upload_id": upload}, "metrics": METRICS})

    assert refused.value.problems[0]["field"] == "dataset.upload_id"


@pytest.mark.parametrize(
    "body",
    ["not json", '{"request": {}}', '{"job_id": "x"}', '{"job_id": "x", "shard": "0"}'],
)
def test_a_message_that_is_not_a_job_or_shard_message_is_malformed(world: World, body: str) -> None:
    with pytest.raises(MalformedMessage):
        world.worker().process(body)


def test_a_message_for_an_unknown_job_is_dropped(world: World) -> None:
    assert world.worker().process(json.dumps({"job_id": "0" * 24, "shard": 0})) == "unknown_job"


def test_shards_counted_at_the_same_time_are_each_counted(world: World) -> None:
    # GIVEN a job of 20 shards whose messages are taken by 8 workers at once
    job = world.service.submit({"samples": samples(200), "metrics": METRICS}).job
    world.settings = world.settings.model_copy(update={"model_free_shard_size": 10})
    world.worker().process(world.take("score")[0])
    messages = world.take("shards")
    assert len(messages) == 20
    outcomes: list[str] = []

    def work(batch: list[str]) -> None:
        worker = world.worker()
        outcomes.extend(worker.process(message) for message in batch)

    threads = [threading.Thread(target=work, args=(messages[i::8],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # THEN every count landed: the job completed with all of its samples
    done = world.job(job.job_id)
    assert outcomes.count(JobState.COMPLETED) == 1
    assert (done.status, done.progress.shards_done, done.progress.samples_done) == (
        JobState.COMPLETED,
        20,
        200,
    )


class RefusingJudge(LoopbackServer):
    """An OpenAI-compatible endpoint that refuses every key."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = (
                    b'{"error": {"message": "Incorrect API key", "type": "invalid_request_error"}}'
                )
                self.send_response(401)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        super().__init__(Handler)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("judge", ["down", "refusing"])
def test_a_judge_that_cannot_answer_fails_the_job_before_scoring(
    aws: dict[str, str], judge: str
) -> None:
    with RefusingJudge() as refusing:
        url = (
            f"{refusing.base}/v1" if judge == "refusing" else f"http://127.0.0.1:{closed_port()}/v1"
        )
        world = World(aws, openai_base_url=url, openai_api_key="sk-secret-value")
        job = world.service.submit({"samples": samples(3), "metrics": ["faithfulness"]}).job

        assert world.worker().process(world.take("score")[0]) == JobState.FAILED

    failed = world.job(job.job_id)
    assert failed.error.startswith("JudgeUnreachable: ")
    assert url in failed.error and "sk-secret" not in failed.error
    assert ("refused its API key (401)" in failed.error) == (judge == "refusing")
    assert not world.scored and world.run_folders(job.job_id) == set()


def test_a_job_with_little_scored_is_flagged_low_coverage(world: World) -> None:
    # GIVEN a job one of whose two shards is lost to worker errors (half its pairs)
    job = world.service.submit({"samples": samples(100), "metrics": METRICS}).job
    world.worker().process(world.take("score")[0])
    first, second = world.take("shards")
    world.fail_shards["sample-0051"] = 99
    world.worker().process(first)
    assert world.worker().process(second, receive_count=3) == JobState.COMPLETED

    done = world.job(job.job_id)
    assert done.coverage == 0.5 and done.low_coverage is True
    assert "**Low coverage**" in world.file(job.job_id, "summary.md")


def test_a_small_job_cancelled_while_it_is_scored_keeps_all_it_scored(world: World) -> None:
    # GIVEN a one-shard job held inside scoring
    job = world.service.submit({"samples": samples(4), "metrics": METRICS}).job
    (message,) = world.take("score")
    world.scoring.clear()
    world.held.clear()
    outcome: list[str] = []
    worker = threading.Thread(target=lambda: outcome.append(world.worker().process(message)))
    worker.start()
    assert world.held.wait(30)

    # WHEN it is cancelled then, and its scoring ends
    assert world.service.cancel(job.job_id).status is JobState.CANCELLED
    world.scoring.set()
    worker.join()

    # THEN it stays cancelled, with every sample it scored and its run folder
    done = world.job(job.job_id)
    assert outcome == [JobState.CANCELLED]
    assert done.status is JobState.CANCELLED and done.run_id and not done.partial
    assert done.progress.samples_done == 4 and done.scores["exact_match"] == 0.5


def test_a_job_in_which_nothing_scored_is_failed_with_why(world: World) -> None:
    # GIVEN samples that carry none of the inputs the metrics need
    job = world.service.submit(
        {"samples": [{"question": "q1"}, {"question": "q2"}], "metrics": METRICS}
    ).job

    # WHEN a worker scores it
    outcome = world.worker().process(world.take("score")[0])

    # THEN it is failed, not completed, saying why each metric scored nothing; its folder stays
    done = world.job(job.job_id)
    assert outcome == JobState.FAILED and done.status is JobState.FAILED
    assert done.error == (
        "NothingScored: no sample scored any metric (exact_match skipped (missing input: "
        "answer, ground_truth); chrf_score skipped (missing input: answer, ground_truth))"
    )
    assert done.coverage is None and done.weighted_score is None and done.run_id


def test_figures_from_older_labels_never_replace_those_from_newer_ones(world: World) -> None:
    # GIVEN a completed job
    job = world.service.submit({**samples(1)[0], "metrics": METRICS}).job
    (message,) = world.take("score")
    world.worker().process(message)
    done = world.job(job.job_id)
    judge = Interval(mean=0.6, low=0.5, high=0.7, n=40)
    newer, older = (
        {"exact_match": metric_trust(judge, Interval(mean=0.5, low=0.4, high=0.6, n=12))},
        {"exact_match": metric_trust(judge, None)},
    )

    # WHEN figures from labels given at 10:05 are recorded, then (late) those from 10:00
    first = world.repository.record_trust(done, newer, "k", "2026-12-05T10:05:00.000Z")
    late = world.repository.record_trust(done, older, "k", "2026-12-05T10:00:00.000Z")
    again = world.repository.record_trust(done, newer, "k", "2026-12-05T10:05:00.000Z")

    # THEN the late one is refused, a duplicate of the newest is taken, and the job keeps it
    assert (first, late, again) == (True, False, True)
    kept = world.job(job.job_id)
    assert kept.corrected == newer and kept.corrected_as_of == "2026-12-05T10:05:00.000Z"
    assert kept.artifact_keys["judge-trust.json"] == "k"
